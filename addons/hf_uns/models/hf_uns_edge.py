import hashlib
import json
from datetime import timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessDenied, UserError, ValidationError

# The collector polls its config version every minute; five silent minutes mean it is gone.
OFFLINE_AFTER_MINUTES = 5
# The collector's own default and floor (hf_collector.model.DEFAULT_HEARTBEAT_S / MIN_HEARTBEAT_S): the
# longest a tag's last good value goes unsent. Odoo does not import the edge package, so they are repeated.
DEFAULT_HEARTBEAT_S = 60.0
MIN_HEARTBEAT_S = 1.0
# A report of the collector names at most this many refused tags (a PLC of thousands refusing them all is one
# report, not an unbounded one), each field at most REPORT_TEXT_MAX characters.
REPORT_MAX_TAGS = 10_000
REPORT_TEXT_MAX = 512


class HfUnsEdge(models.Model):
    """The collector at a site. It signs in as its own restricted user with an API key."""

    _name = "hf.uns.edge"
    _description = "Hyperfactory edge (collector)"
    _order = "site_id, name"

    name = fields.Char(required=True)
    site_id = fields.Many2one("hf.uns.site", required=True, index=True, ondelete="restrict")
    company_id = fields.Many2one(related="site_id.company_id", store=True, index=True)
    user_id = fields.Many2one(
        "res.users",
        string="Edge user",
        readonly=True,
        copy=False,
        ondelete="restrict",
        help="The restricted user the collector signs in as; it can read only this edge's configuration.",
    )
    state = fields.Selection(
        [("new", "New"), ("online", "Online"), ("offline", "Offline"), ("revoked", "Revoked")],
        default="new",
        required=True,
        readonly=True,
        copy=False,
    )
    last_seen = fields.Datetime(readonly=True, copy=False)
    config_version = fields.Integer(readonly=True, copy=False, default=0)
    config_hash = fields.Char(readonly=True, copy=False)
    ziti_identity = fields.Char(string="OpenZiti identity", copy=False)
    heartbeat_s = fields.Float(
        string="Heartbeat (s)",
        default=DEFAULT_HEARTBEAT_S,
        digits=(16, 1),
        help="The longest a tag's last good value goes unsent: the collector sends an unchanged value again "
        "after this many seconds, so a steady machine state never reads stale. A tag may set its own.",
    )
    collector_report_date = fields.Datetime(string="Last collector report", readonly=True, copy=False)
    collector_errors = fields.Text(
        readonly=True,
        copy=False,
        help="What the collector could not use in its last report: configuration errors and the tags its "
        "devices refused, each with the server's status.",
    )
    refused_tag_count = fields.Integer(compute="_compute_refused_tag_count", string="Refused tags")
    device_ids = fields.One2many("hf.uns.device", "edge_id", string="Devices")
    device_count = fields.Integer(compute="_compute_device_count")

    _sql_constraints = [
        ("name_unique", "unique(site_id, name)", "Two edges of one site cannot share a name."),
    ]

    def _compute_device_count(self):
        for edge in self:
            edge.device_count = len(edge.device_ids)

    def _compute_refused_tag_count(self):
        counts = dict(
            self.env["hf.uns.tag"]
            .sudo()
            ._read_group(
                [("device_id.edge_id", "in", self.ids), ("collector_error", "!=", False)], ["device_id"], ["__count"]
            )
        )
        for edge in self:
            edge.refused_tag_count = sum(n for device, n in counts.items() if device.edge_id == edge)

    @api.constrains("heartbeat_s")
    def _check_heartbeat_s(self):
        for edge in self:
            if not edge.heartbeat_s >= MIN_HEARTBEAT_S:
                raise ValidationError(
                    _(
                        "Edge %(edge)s: the heartbeat must be at least %(min)s s.",
                        edge=edge.name,
                        min=f"{MIN_HEARTBEAT_S:g}",
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        edges = super().create(vals_list)
        for edge in edges:
            edge.user_id = edge._hf_create_user()
        return edges

    def _hf_create_user(self):
        self.ensure_one()
        login = f"edge-{self.company_id.id}-{self.site_id.segment}-{self.name}".lower().replace(" ", "-")
        return (
            self.env["res.users"]
            .sudo()
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": _("Edge %s", self.name),
                    "login": login,
                    "company_id": self.company_id.id,
                    "company_ids": [Command.set(self.company_id.ids)],
                    "groups_id": [
                        Command.set([self.env.ref("base.group_portal").id, self.env.ref("hf_uns.group_hf_edge").id])
                    ],
                }
            )
        )

    def action_generate_api_key(self):
        """Create the edge user's API key; shown once, never stored in clear. It replaces the previous
        keys (revoked here): a key handed out again, or leaked, works only until the next one."""
        self.ensure_one()
        if self.state == "revoked":
            raise UserError(_("Edge %s is revoked: create a new edge instead.", self.name))
        # searched, not read from user_id.api_key_ids: _generate inserts with SQL, the ORM cache may not know
        self.env["res.users.apikeys"].sudo().search([("user_id", "=", self.user_id.id)]).unlink()
        key = (
            self.env["res.users.apikeys"]
            .with_user(self.user_id)
            .sudo()
            ._generate("rpc", f"Hyperfactory collector {self.name}", None)
        )
        # The key travels in the dialog's defaults only: no record holds it, so once the dialog is closed
        # nothing in the database can show it again (a saved wizard stayed readable until the vacuum).
        return {
            "type": "ir.actions.act_window",
            "res_model": "hf.uns.edge.key",
            "view_mode": "form",
            "target": "new",
            "name": _("API key for %s", self.name),
            "context": {"default_edge_id": self.id, "default_key": key},
        }

    def action_revoke(self):
        """Delete the edge's keys and disable its user: its next request is refused."""
        for edge in self:
            edge.user_id.sudo().api_key_ids.unlink()
            edge.user_id.sudo().active = False
            edge.state = "revoked"

    @api.model
    def _cron_mark_offline(self, silence=timedelta(minutes=OFFLINE_AFTER_MINUTES)):
        """An edge that has not asked for its configuration for a while is shown offline."""
        self.search([("state", "=", "online"), ("last_seen", "<", fields.Datetime.now() - silence)]).write(
            {"state": "offline"}
        )

    # --- collector configuration API (XML-RPC, called as the edge user) --------------------

    @api.model
    def _hf_current_edge(self):
        edge = self.sudo().search([("user_id", "=", self.env.uid), ("state", "!=", "revoked")], limit=1)
        if not edge:
            raise AccessDenied(_("This user is not an active Hyperfactory edge; ask an administrator for a new key."))
        return edge

    def _hf_devices_document(self):
        self.ensure_one()
        devices = self.device_ids.filtered("active").sorted("id")
        return [device._hf_config_document() for device in devices]

    def _hf_sync_version(self):
        """Bump the version when the configuration's hash changed since the last request; the hash covers
        the edge-wide settings too, so a changed heartbeat reaches the edge like a changed tag."""
        self.ensure_one()
        devices = self._hf_devices_document()
        hashed = {"heartbeat_s": self.heartbeat_s, "devices": devices}
        digest = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()
        vals = {"last_seen": fields.Datetime.now(), "state": "online"}
        if digest != self.config_hash:
            vals.update(config_hash=digest, config_version=self.config_version + 1)
        self.write(vals)
        return devices

    @api.model
    def get_collector_config(self):
        """The edge's devices and tags as one versioned document (docs/contracts.md)."""
        edge = self._hf_current_edge()
        devices = edge._hf_sync_version()
        return {
            "edge": edge.name,
            "version": edge.config_version,
            "hash": edge.config_hash,
            "heartbeat_s": edge.heartbeat_s,
            "devices": devices,
        }

    @api.model
    def get_collector_config_version(self):
        """Cheap poll: the version and hash the collector compares with its cache."""
        edge = self._hf_current_edge()
        edge._hf_sync_version()
        return {"version": edge.config_version, "hash": edge.config_hash}

    @api.model
    def report_collector_status(self, report):
        """What the collector could not use, reported by the edge user (XML-RPC, like the configuration):
        ``{"config_errors": [str, ...], "refused_tags": [{"topic": str, "status": str, "code": int}, ...]}``.

        A report is the whole current state: a tag refused before and not named now is cleared. Tags are
        named by their UNS topic; a topic that is not one of this edge's tags is counted, never written.
        :return: ``{"refused": n, "unknown": m}``
        """
        edge = self._hf_current_edge()
        config_errors, refused = self._hf_validate_report(report)
        tags = (
            self.env["hf.uns.tag"].sudo().with_context(active_test=False).search([("device_id.edge_id", "=", edge.id)])
        )
        by_topic = {tag.topic: tag for tag in tags if tag.topic}
        now = fields.Datetime.now()
        errors = {}
        for entry in refused:
            tag = by_topic.get(entry["topic"])
            if tag:
                errors[tag] = f"{entry['status']} (0x{entry['code']:08X})" if entry["code"] else entry["status"]
        unknown = len(refused) - len(errors)
        tags.filtered(lambda t: t.collector_error and t not in errors).write(
            {"collector_error": False, "collector_error_date": False}
        )
        for tag, error in errors.items():
            if tag.collector_error != error:
                tag.write({"collector_error": error, "collector_error_date": now})
        lines = list(config_errors)
        for tag, error in errors.items():
            lines.append(_("Tag %(topic)s refused by its device: %(error)s", topic=tag.topic, error=error))
        edge.write({"collector_report_date": now, "collector_errors": "\n".join(lines) or False})
        return {"refused": len(errors), "unknown": unknown}

    @api.model
    def _hf_validate_report(self, report):
        """(config errors, refused tags) of a collector's report, or a UserError saying what is malformed."""
        if not isinstance(report, dict):
            raise UserError(_("A collector report is a struct with config_errors and refused_tags."))
        config_errors = report.get("config_errors") or []
        refused = report.get("refused_tags") or []
        if not isinstance(config_errors, list) or not all(isinstance(e, str) for e in config_errors):
            raise UserError(_("config_errors of a collector report must be a list of texts."))
        if not isinstance(refused, list) or len(refused) > REPORT_MAX_TAGS or len(config_errors) > REPORT_MAX_TAGS:
            raise UserError(_("A collector report lists at most %s refused tags and errors.", REPORT_MAX_TAGS))
        checked = []
        for entry in refused:
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("topic"), str)
                or not isinstance(entry.get("status"), str)
                or not entry["status"].strip()
            ):
                raise UserError(_("Each refused tag of a collector report needs a topic and the server's status."))
            code = self._hf_status_code(entry.get("code") or 0)
            if code is None:
                raise UserError(
                    _(
                        "The status code of refused tag %s must be an OPC UA status code (0 to "
                        "0xFFFFFFFF, or as hex text).",
                        entry["topic"][:REPORT_TEXT_MAX],
                    )
                )
            checked.append(
                {
                    "topic": entry["topic"][:REPORT_TEXT_MAX],
                    "status": entry["status"].strip()[:REPORT_TEXT_MAX],
                    "code": code,
                }
            )
        return [error[:REPORT_TEXT_MAX] for error in config_errors], checked

    @api.model
    def _hf_status_code(self, code):
        """An OPC UA status code as a 32-bit unsigned int, or None. XML-RPC carries only signed 32-bit ints,
        so a Bad… code (0x80…) comes as its signed value or as hex text ("0x80340000")."""
        if isinstance(code, str):
            try:
                code = int(code.strip(), 16)
            except ValueError:
                return None
        if isinstance(code, bool) or not isinstance(code, int) or not -(2**31) <= code <= 0xFFFFFFFF:
            return None
        return code & 0xFFFFFFFF
