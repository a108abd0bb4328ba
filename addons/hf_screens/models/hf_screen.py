import logging
import time as monotonic_time
from datetime import UTC, datetime, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from odoo.addons.hf_uns.models.hf_uns_tag import _parse_time

from hf_core import timeutil
from hf_core.payload import MIN_TIMESTAMP_MS
from hf_historian import reader

from .mrp_workcenter import HEARTBEAT_MARGIN

_logger = logging.getLogger(__name__)

OEE_CACHE_SECONDS = 5
_oee_cache = {}
# (dbname, workcenter id) -> (monotonic expiry, payload): OEE costs a few queries, a tile needs it rarely
_static_cache = {}
WORKORDER_OPEN_STATES = ("progress", "ready", "waiting", "pending")
STALE_INTERVALS = 3
STALE_MIN_SECONDS = 3.0
TREND_POINTS = 300
# where the current state's run began is searched among this many of the newest samples
STATE_RUN_SAMPLES = 600
MAX_RECORD_ID = 2**31 - 1
MAX_TREND_MINUTES = 60 * 24 * 31
# the historian holds nothing older (hf_core.payload.MIN_TIMESTAMP_MS); a window ending before it is a mistake
EARLIEST_TREND_END = timeutil.from_epoch(MIN_TIMESTAMP_MS / 1000)


def record_id(value, what):
    """A record id a screen client sent: a whole number within PostgreSQL's integer (a larger one is an error
    of the database, not "not found"), else a UserError naming ``what``."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_RECORD_ID:
        raise UserError(_("%s is not a valid record id: reload the screen.", what))
    return value


class HfScreen(models.Model):
    """A machine screen: a grid of live widgets for one workcell (or a whole line)."""

    _name = "hf.screen"
    _description = "Hyperfactory machine screen"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", index=True, ondelete="cascade")
    line_id = fields.Many2one("hf.uns.line", index=True, ondelete="cascade")
    company_id = fields.Many2one(
        "res.company",
        compute="_compute_company_id",
        store=True,
        index=True,
        readonly=False,
        required=True,
        default=lambda self: self.env.company,
    )
    theme = fields.Selection([("dark", "Dark"), ("light", "Light")], required=True, default="dark")
    widget_ids = fields.One2many("hf.screen.widget", "screen_id", string="Widgets", copy=True)
    widget_count = fields.Integer(compute="_compute_widget_count")

    @api.depends("workcenter_id.company_id", "line_id.company_id")
    def _compute_company_id(self):
        for screen in self:
            company = screen.workcenter_id.company_id or screen.line_id.company_id
            if company:
                screen.company_id = company

    def _compute_widget_count(self):
        for screen in self:
            screen.widget_count = len(screen.widget_ids)

    @api.constrains("workcenter_id", "line_id")
    def _check_target(self):
        for screen in self:
            if bool(screen.workcenter_id) == bool(screen.line_id):
                raise ValidationError(
                    _("Screen %s belongs either to a workcell or to a line: choose one.", screen.name)
                )

    @api.constrains("company_id")
    def _check_widget_tags_company(self):
        self.widget_ids._check_tag_company()

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            # the workcell's (or line's) company, not the default one: the compute does not run over a default,
            # and the screen of another company's workcell would then refuse that workcell's own tags
            if not vals.get("company_id"):
                target = self.env["mrp.workcenter"].browse(vals.get("workcenter_id") or []) or self.env[
                    "hf.uns.line"
                ].browse(vals.get("line_id") or [])
                if target.sudo().company_id:
                    vals["company_id"] = target.sudo().company_id.id
        screens = super().create(vals_list)
        screens._check_target()  # also when neither field was given (constrains only sees written fields)
        return screens

    # --- actions ---------------------------------------------------------------------------

    def action_open(self):
        """The screen full screen, as the client action 'Machine screen'."""
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "hf_screens.machine_screen",
            "name": self.name,
            "target": "fullscreen",
            "params": {"screen_id": self.id},
        }

    def action_copy_to_same_kind(self):
        """Copy this screen to every workcell of the same machine kind, re-binding tiles by tag name."""
        self.ensure_one()
        kind = self.workcenter_id.hf_machine_kind
        if not kind:
            raise UserError(
                _(
                    "Set a machine kind on workcell %s first: the screen is copied to the workcells of the same kind.",
                    self.workcenter_id.display_name or self.name,
                )
            )
        targets = self.env["mrp.workcenter"].search(
            [
                ("hf_machine_kind", "=", kind),
                ("id", "!=", self.workcenter_id.id),
                ("company_id", "=", self.company_id.id),
            ]
        )
        unmatched = []
        for target in targets:
            unmatched += self._hf_copy_to(target)
        message = _("Copied to %(count)s workcells of kind %(kind)s.", count=len(targets), kind=kind)
        if unmatched:
            message += " " + _(
                "No tag of the same name for: %s — bind those tiles by hand.", ", ".join(sorted(set(unmatched)))
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Screen copied"),
                "message": message,
                "sticky": bool(unmatched),
                "type": "warning" if unmatched else "success",
            },
        }

    def _hf_copy_to(self, target):
        """Replace the target's screen of the same name with a copy of this one; return the unmatched tag names."""
        self.ensure_one()
        tags = {str(t._hf_key()): t for t in self.env["hf.uns.tag"].search([("workcenter_id", "=", target.id)])}
        self.search([("workcenter_id", "=", target.id), ("name", "=", self.name)]).unlink()
        copy = self.copy({"workcenter_id": target.id, "name": self.name, "widget_ids": False})
        unmatched = []
        for widget in self.widget_ids:
            vals = widget.copy_data({"screen_id": copy.id})[0]
            name = widget.bound_tag_name
            if widget.tag_id or name:
                match = tags.get(name)
                vals["tag_id"] = match.id if match else False
                vals["bound_tag_name"] = name
                if not match:
                    unmatched.append(name)
            extra = []
            for tag in widget.tag_ids:
                key = str(tag._hf_key())
                if key in tags:
                    extra.append(tags[key].id)
                else:
                    unmatched.append(key)
            vals["tag_ids"] = [fields.Command.set(extra)]
            self.env["hf.screen.widget"].create(vals)
        return unmatched

    # --- default screen ----------------------------------------------------------------------

    @api.model
    def _hf_generate_for_workcenter(self, workcenter):
        """A useful first screen from the workcell's tags: state, OEE, counters, work order, values, trends
        (the tiles as ``hf.screen.widget._hf_default_tiles`` lays them out)."""
        tags = self.env["hf.uns.tag"].search([("workcenter_id", "=", workcenter.id)], order="tag_group, name, id")
        tiles = self.env["hf.screen.widget"]._hf_default_tiles(tags)
        return self.create(
            {
                "name": _("%s machine screen", workcenter.name),
                "workcenter_id": workcenter.id,
                "widget_ids": [fields.Command.create(tile) for tile in tiles],
            }
        )

    # --- data for the screen client ------------------------------------------------------------

    def _hf_check_operator(self, user):
        if not user.has_group("hf_uns.group_hf_operator"):
            raise AccessError(
                _("Only Hyperfactory operators can use machine screens: ask an administrator for the Operator role.")
            )

    def _hf_payload(self, now=None):
        """Everything the screen client draws: layout, tag values, work order, machine state, OEE, alarms."""
        self.ensure_one()
        now = now or datetime.now(UTC)
        layout, tag_ids, role_ids, reasons, device_tag_ids = self._hf_static_part()
        workcenter = self.workcenter_id.sudo()  # its name and state; operators have no MRP rights of their own
        # tags as this user reads them (a kiosk's: its operator's), record rules applied
        Tag = self.env["hf.uns.tag"]
        role_tags = Tag.browse(role_ids)._filtered_access("read")
        tags = Tag.browse(sorted(tag_ids)).exists()._filtered_access("read")
        values, historian = self._hf_values(tags, now, Tag.browse(device_tag_ids).exists()._filtered_access("read"))
        return {
            "screen": {
                "id": self.id,
                "name": self.name,
                "theme": self.theme,
                "workcenter": {"id": workcenter.id, "name": workcenter.name} if workcenter else False,
                "line": self.line_id.name or False,
            },
            "widgets": layout,
            "server_time": now.isoformat(),
            "historian": historian,
            "values": values,
            "roles": {tag.role: tag.id for tag in role_tags if tag.role != "plain"},
            "state": self._hf_state_payload(values, role_tags, now) if workcenter else False,
            "workorder": self._hf_workorder_payload() if workcenter else False,
            "downtime": self._hf_downtime_payload(reasons, role_tags) if workcenter else False,
            "oee": self._hf_oee_payload() if workcenter else False,
            "alarms": self.env["hf.screen.alarm.ack"]._hf_alarms(tags, values),
        }

    def _hf_static_part(self):
        """Layout, tags to read, role tags, downtime reasons and the other tags of the shown tags' devices:
        cached until the screen, its widgets, the workcell's tags or the loss reasons change (one query
        decides), since every kiosk asks once a second."""
        self.env.cr.execute(
            """
            SELECT s.write_date,
                   (SELECT array_agg(ARRAY[w.id, COALESCE(w.tag_id, 0)] ORDER BY w.id)::text || max(w.write_date)::text
                      FROM hf_screen_widget w WHERE w.screen_id = s.id),
                   (SELECT count(*)::text || max(t.write_date)::text FROM hf_uns_tag t
                     WHERE t.workcenter_id = s.workcenter_id
                        OR t.id IN (SELECT tag_id FROM hf_screen_widget WHERE screen_id = s.id)
                        OR t.id IN (SELECT r.hf_uns_tag_id FROM hf_screen_widget w2
                                      JOIN hf_screen_widget_hf_uns_tag_rel r ON r.hf_screen_widget_id = w2.id
                                     WHERE w2.screen_id = s.id)),
                   (SELECT count(*)::text || max(write_date)::text FROM mrp_workcenter_productivity_loss)
              FROM hf_screen s WHERE s.id = %s
            """,
            (self.id,),
        )
        key = (self.env.cr.dbname, self.id, self.env.uid, self.env.su, self.env.lang, self.env.cr.fetchone())
        cached = _static_cache.get(key)
        if cached:
            return cached
        layout = [widget._hf_layout() for widget in self.widget_ids]
        tag_ids = set()
        for tile in layout:
            if tile["tag_id"]:
                tag_ids.add(tile["tag_id"])
            tag_ids.update(tile["tag_ids"])
        role_ids = []
        if self.workcenter_id:
            role_ids = (
                self.env["hf.uns.tag"]
                .search(
                    [
                        ("workcenter_id", "=", self.workcenter_id.id),
                        "|",
                        ("role", "in", ("machine_state", "good_count", "scrap_count")),
                        "&",
                        ("limit_high", "!=", 0),
                        ("data_type", "in", ("float", "int")),
                    ]
                )
                .ids
            )
            tag_ids.update(role_ids)
        losses = (
            self.env["mrp.workcenter.productivity.loss"]
            .sudo()
            .search(
                [("manual", "=", True), ("loss_type", "in", ("availability", "performance", "quality"))],
            )
        )
        reasons = [{"id": loss.id, "name": loss.name, "loss_type": loss.loss_type} for loss in losses]
        devices = self.env["hf.uns.tag"].browse(tag_ids)._filtered_access("read").device_id
        device_tag_ids = (
            self.env["hf.uns.tag"]
            .search(
                [("device_id", "in", devices.ids), ("id", "not in", list(tag_ids))],
            )
            .ids
            if devices
            else []
        )
        result = (layout, sorted(tag_ids), role_ids, reasons, device_tag_ids)
        if len(_static_cache) > 500:
            _static_cache.clear()
        _static_cache[key] = result
        return result

    def _hf_values(self, tags, now, device_tags=None):
        """The tags' latest values, each stale once nothing came for it for longer than its heartbeat and a margin.

        A value holds until the next one or a bad-quality sample, not until a timer runs out: it may be
        reported only when it changes (an OPC UA subscription, a deadband), and the edge sends an unchanged
        value again every heartbeat (``hf.uns.tag._hf_heartbeat_seconds``). So a value is stale only when
        neither a value nor a beat came within one and a half heartbeats (a few sampling intervals for a tag
        no edge beats); and it holds while its device keeps delivering, so its age is that of the newest good
        sample of its device's tags (``tags`` and ``device_tags``), as the machine-state job reads it too.
        """
        device_tags = device_tags if device_tags is not None else self.env["hf.uns.tag"]
        try:
            rows = self.env["hf.uns.tag"]._hf_latest_rows((tags | device_tags).ids)
            historian = True
        except ImportError:
            _logger.warning("hf_historian is not installed: screens show no values")
            rows, historian = {}, False
        device_seen = {}
        for tag in tags | device_tags:
            row = rows.get(tag.id)
            if tag.device_id and row and (row["quality"] or 0) < 2:
                seen = device_seen.get(tag.device_id.id)
                device_seen[tag.device_id.id] = max(seen, row["time"]) if seen else row["time"]
        values = {}
        for tag in tags:
            row = rows.get(tag.id)
            stale_after = max(
                STALE_MIN_SECONDS,
                STALE_INTERVALS * (tag.sampling_interval_ms or 1000) / 1000.0,
                HEARTBEAT_MARGIN * tag._hf_heartbeat_seconds(),
            )
            entry = {
                "id": tag.id,
                "name": tag.name,
                "unit": tag.unit or "",
                "data_type": tag.data_type,
                "role": tag.role,
                "limit_low": tag.limit_low,
                "limit_high": tag.limit_high,
                "stale_after": stale_after,
                "value": None,
                "time": None,
                "age": None,
                "quality": None,
                "stale": True,
            }
            if row:
                seen = device_seen.get(tag.device_id.id) if (row["quality"] or 0) < 2 else None
                age = max(0.0, (now - max(row["time"], seen or row["time"])).total_seconds())
                entry.update(
                    value=tag._hf_row_value(row),
                    time=timeutil.iso_utc(row["time"]),
                    age=age,
                    quality=row["quality"],
                    stale=age > stale_after,
                )
            values[tag.id] = entry
        return values, historian

    def _hf_state_payload(self, values, role_tags, now):
        from .hf_machine_state import classify_state

        workcenter = self.workcenter_id.sudo()
        tag = role_tags.filtered(lambda t: t.role == "machine_state")[:1]
        if not tag:
            return {"tag_id": False, "state": False, "since": None}
        entry = values.get(tag.id) or {}
        if entry.get("time") is None:
            return {"tag_id": tag.id, "state": False, "since": None}
        value = entry["value"]
        state = classify_state(
            None if isinstance(value, str) else value,
            value if isinstance(value, str) else None,
            entry["quality"],
        )
        since = workcenter.hf_state_since if state and state == workcenter.hf_state_current else None
        if state and since is None:
            since = self._hf_state_run_start(tag, state, workcenter.hf_state_last_seen)
        return {"tag_id": tag.id, "state": state or "unknown", "since": timeutil.iso_utc(since or None), "raw": value}

    def _hf_state_run_start(self, tag, state, after):
        """Start of the current run of ``state`` among the samples not yet processed by the cron."""
        from .hf_machine_state import classify_state

        after = timeutil.as_utc(after or datetime(1970, 1, 1))
        start = None
        for row in reader.read_newest(self.env.cr, tag.id, after, STATE_RUN_SAMPLES):
            if classify_state(row["value"], row["value_text"], row["quality"]) != state:
                break
            start = row["time"]
        return start

    def _hf_current_workorder(self, workorder_id=None):
        Workorder = self.env["mrp.workorder"].sudo()
        domain = [("workcenter_id", "=", self.workcenter_id.id), ("state", "in", WORKORDER_OPEN_STATES)]
        if workorder_id:
            return Workorder.search([("id", "=", workorder_id), ("workcenter_id", "=", self.workcenter_id.id)])
        orders = Workorder.search(domain, order="date_start, id", limit=20)
        order = {"progress": 0, "ready": 1, "waiting": 2, "pending": 3}
        return orders.sorted(lambda w: (order.get(w.state, 9), w.date_start or datetime.max, w.id))

    def _hf_workorder_payload(self):
        orders = self._hf_current_workorder()
        current = orders[:1]
        states = dict(self.env["mrp.workorder"]._fields["state"]._description_selection(self.env))
        payload = {"current": False, "queue": [{"id": w.id, "name": w.display_name} for w in orders[1:6]]}
        if current:
            workcenter = self.workcenter_id.sudo()
            if current._hf_machine_driven():
                # The machine is the clock here: "running" means its time is booked to this order.
                running = workcenter.hf_workorder_id == current
            else:
                running = bool(current.time_ids.filtered(lambda t: not t.date_end))
            payload["current"] = {
                "id": current.id,
                "name": current.name,
                "production": current.production_id.name,
                "product": current.product_id.display_name,
                "qty_done": current.qty_produced,
                "qty_counted": current._hf_counted_parts(),
                "qty_producing": current.qty_producing,
                "qty_planned": current.qty_production,
                "uom": current.product_uom_id.name or "",
                "state": current.state,
                "state_label": states.get(current.state, current.state),
                "running": running,
                "blocked": workcenter.working_state == "blocked",
            }
        return payload

    def _hf_downtime_payload(self, reasons, role_tags):
        open_record = (
            self.env["mrp.workcenter.productivity"]
            .sudo()
            .search(
                self.workcenter_id._hf_open_workcell_record_domain(),
                limit=1,
            )
        )
        current = False
        if open_record:
            current = {
                "id": open_record.id,
                "loss_id": open_record.loss_id.id,
                "loss": open_record.loss_id.name,
                "loss_type": open_record.loss_type,
                "since": timeutil.iso_utc(open_record.date_start or None),
                "source": open_record.hf_source or "odoo",
                "state": open_record.hf_machine_state or False,
                "reason_user": open_record.hf_reason_user_id.name or False,
            }
        return {
            "machine_driven": "machine_state" in role_tags.mapped("role"),
            "current": current,
            "reasons": reasons,
        }

    def _hf_oee_payload(self):
        key = (self.env.cr.dbname, self.workcenter_id.id)
        cached = _oee_cache.get(key)
        if cached and cached[0] > monotonic_time.monotonic():
            return cached[1]
        payload = self.workcenter_id.sudo()._hf_oee()
        _oee_cache[key] = (monotonic_time.monotonic() + OEE_CACHE_SECONDS, payload)
        return payload

    def _hf_acknowledge(self, env_user, params):
        tag_id = record_id(params.get("tag_id"), _("The alarm's tag"))
        kind = params.get("kind")
        tags = self.env["hf.uns.tag"].browse(self._hf_static_part()[1])
        tag = tags.filtered(lambda t: t.id == tag_id)._filtered_access("read")
        if not tag or kind not in ("high", "low"):
            raise UserError(_("This alarm is not on this screen any more: reload the screen."))
        value = (self.env["hf.uns.tag"]._hf_latest_rows(tag.ids).get(tag.id) or {}).get("value")
        return env_user["hf.screen.alarm.ack"].create({"tag_id": tag.id, "kind": kind, "value": value or 0.0})

    def _hf_trend(self, tag_id, minutes, end=None):
        """A trend's window: ``minutes`` up to ``end`` (now when empty) of a tag shown on this screen.

        Access is checked here (the screen shows the tag, the user may read it); the window is then read as
        ``hf.uns.tag.read_history`` reads it (``_hf_read_window``), from where the tag's data begins."""
        self.ensure_one()
        allowed = set(self.widget_ids.tag_id.ids) | set(self.widget_ids.tag_ids.ids)
        if tag_id not in allowed:
            raise AccessError(_("This screen does not show that tag."))
        tag = self.env["hf.uns.tag"].browse(tag_id).exists()
        if not tag:
            raise UserError(_("The tag no longer exists: bind the trend to another tag."))
        if not tag._filtered_access("read"):
            raise AccessError(_("This screen does not show that tag."))
        minutes, end_dt = self._hf_history_window(minutes, end)
        start_dt = end_dt - timedelta(minutes=minutes)
        try:
            start_dt = max(start_dt, self._hf_history_begins(tag, start_dt, end_dt) or start_dt)
            history = tag._hf_read_window(start_dt, end_dt, TREND_POINTS)
        except ImportError:
            return {"points": [], "bucket_seconds": 0, "unit": tag.unit or ""}
        points = [
            {**point, "time": timeutil.iso_utc(point["time"]) if isinstance(point["time"], datetime) else point["time"]}
            for point in history["points"]
        ]
        return {"unit": tag.unit or "", "bucket_seconds": history["bucket_seconds"], "points": points}

    @api.model
    def _hf_history_window(self, minutes, end, now=None):
        """(minutes, aware UTC end) of a trend request, checked: the screen client sends them, but so may anyone
        who holds a kiosk link, so a bad value is a clear UserError (the route's 400), never a traceback."""
        now = now or datetime.now(UTC)
        if minutes in (None, "", False):
            minutes = 10
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int | float | str)
            or (isinstance(minutes, str) and not minutes.strip().isdigit())
            or (isinstance(minutes, float) and not minutes.is_integer())
        ):
            raise UserError(_("The trend's window must be a whole number of minutes."))
        minutes = max(1, min(int(minutes), MAX_TREND_MINUTES))
        if end in (None, "", False):
            return minutes, now
        if not isinstance(end, str) or len(end) > 64:
            raise UserError(_("The trend's end must be a time such as 2026-11-24T08:00:00Z."))
        try:
            end_dt = _parse_time(end, _("The trend's end"))
        except OverflowError:
            end_dt = None
        if end_dt is None or not EARLIEST_TREND_END <= end_dt <= now + timedelta(days=1):
            raise UserError(
                _(
                    "The trend's end %(end)s lies outside %(first)s to tomorrow: pick a time in that range.",
                    end=end,
                    first=EARLIEST_TREND_END.date().isoformat(),
                )
            )
        return minutes, end_dt

    def _hf_history_begins(self, tag, start, end):
        """When the tag's data in [start, end) begins (aware UTC), or None when it has none there.

        The historian lays a window's buckets from its start: a day's window over a tag a minute old is one
        5-minute bucket, one point. Read from where the data begins instead, a young tag's trend gets up to
        ``TREND_POINTS`` points over what it has. The 1-hour rollup outlives the raw samples (retention), so
        where it begins earlier, the window keeps its older part.
        """
        return reader.data_begins(self.env.cr, tag.id, start, end)

    # --- operator actions ---------------------------------------------------------------------

    def _hf_operator_action(self, action, params, user):
        """Start / pause / finish a work order, record scrap, give a downtime reason — as ``user``.

        The kiosk has no login: ``user`` is the kiosk link's user. Access is checked here (operator role,
        this workcell only); the MRP methods then run with sudo as that user, so MRP logs who did what.
        """
        self.ensure_one()
        self._hf_check_operator(user)
        if not self.workcenter_id and action != "ack":
            raise UserError(_("Work orders and downtime are handled on a workcell's screen, not on a line's."))
        env_user = self.with_user(user).sudo().env
        screen = self.with_env(env_user)  # the workcell's names and orders: operators have no MRP rights
        params = params or {}
        if not isinstance(params, dict):
            raise UserError(_("This screen action is malformed: reload the screen."))
        if action in ("start", "pause", "finish", "scrap"):
            workorder = screen._hf_current_workorder(record_id(params.get("workorder_id"), _("The work order")))
            if not workorder:
                raise UserError(
                    _("This work order is no longer planned on %s: reload the screen.", screen.workcenter_id.name)
                )
            if workorder.state in ("done", "cancel"):
                raise UserError(
                    _(
                        "Work order %(wo)s is already %(state)s: pick the next one.",
                        wo=workorder.display_name,
                        state=(workorder.state == "done" and _("finished")) or _("cancelled"),
                    )
                )
            if action == "start":
                workorder.button_start()
            elif action == "pause":
                workorder.end_all()
            elif action == "finish":
                workorder.button_finish()
            else:
                workorder._hf_record_scrap(params.get("qty"))
        elif action == "reason":
            screen.workcenter_id._hf_set_downtime_reason(
                record_id(params.get("loss_id"), _("The downtime reason")), user
            )
        elif action == "ack":
            self._hf_acknowledge(env_user, params)  # as the user: only tags the user may read
        elif action == "resume":
            records = env_user["mrp.workcenter.productivity"].search(
                [
                    ("workcenter_id", "=", self.workcenter_id.id),
                    ("date_end", "=", False),
                    ("hf_source", "=", "operator"),
                ]
            )
            if not records:
                raise UserError(_("No declared downtime is open on %s.", screen.workcenter_id.name))
            records.write({"date_end": fields.Datetime.now()})
        else:
            raise UserError(_("Unknown screen action '%s'.", action))
        _oee_cache.pop((self.env.cr.dbname, self.workcenter_id.id), None)
        return True
