import logging
import re
from datetime import UTC, datetime

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from hf_core import timeutil
from hf_core.uns import TagKey, TopicError, build_topic, is_valid_segment, split_tag_group
from hf_historian import reader, retention, schema

from .hf_uns_edge import DEFAULT_HEARTBEAT_S

_logger = logging.getLogger(__name__)

OPCUA_NODE_ID = re.compile(r"^(ns=\d+;|nsu=[^;]+;)?[isgb]=.+$")
MODBUS_REGISTER_COUNT = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4, "bool": 1}
MAX_HISTORY_POINTS = 10_000


# The historian holds nothing before 2000 (hf_core.payload); a window may still start or end well outside.
MIN_QUERY_YEAR, MAX_QUERY_YEAR = 1970, 9000


def _parse_time(value, label):
    """ISO-8601 (with or without zone; naive means UTC) to an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = timeutil.parse_iso(str(value))
        except ValueError:
            raise UserError(
                _(
                    "%(label)s '%(value)s' is not an ISO-8601 time (e.g. 2026-11-24T08:00:00Z).",
                    label=label,
                    value=str(value)[:64],
                )
            ) from None
    try:
        # in UTC here: PostgreSQL refuses offsets Python accepts (-23:59), and the edges of the calendar overflow
        parsed = timeutil.as_utc(parsed)
    except (OverflowError, ValueError):
        parsed = None
    if parsed is None or not MIN_QUERY_YEAR <= parsed.year <= MAX_QUERY_YEAR:
        raise UserError(
            _(
                "%(label)s '%(value)s' is outside the years %(first)s to %(last)s.",
                label=label,
                value=str(value)[:64],
                first=MIN_QUERY_YEAR,
                last=MAX_QUERY_YEAR,
            )
        )
    return parsed


class HfUnsTag(models.Model):
    """One value of a machine in the UNS, where the collector reads it and how the historian keeps it."""

    _name = "hf.uns.tag"
    _description = "Hyperfactory UNS tag"
    _order = "workcenter_id, tag_group, name"
    _rec_name = "name"

    name = fields.Char(required=True, index=True, help="The tag's last UNS segment: letters, digits, '_' and '-'.")
    tag_group = fields.Char(
        help="Optional tag groups, '$'- or '/'-separated (e.g. 'spindle$motor'); they become topic levels.",
    )
    description = fields.Char()
    active = fields.Boolean(default=True)
    data_type = fields.Selection(
        [("float", "Float"), ("int", "Integer"), ("bool", "Boolean"), ("string", "String")],
        required=True,
        default="float",
    )
    unit = fields.Char(help="Engineering unit, e.g. °C, rpm, bar.")
    role = fields.Selection(
        [
            ("plain", "Plain value"),
            ("machine_state", "Machine state"),
            ("good_count", "Good-part counter"),
            ("scrap_count", "Scrap counter"),
            ("derived", "Derived (analytics)"),
        ],
        required=True,
        default="plain",
    )
    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", required=True, index=True, ondelete="cascade")
    device_id = fields.Many2one("hf.uns.device", index=True, ondelete="set null")
    protocol = fields.Selection(related="device_id.protocol")
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True, index=True)
    data_contract = fields.Char(
        help="The UNS data contract the tag is published under: empty is _historian (UMH Classic); _raw or a "
        "declared contract for a UMH Core publisher's tags (set by the ingest when it discovers them).",
    )
    topic = fields.Char(compute="_compute_topic", store=True, recursive=True, index=True, string="UNS topic")
    historian = fields.Boolean(default=True, help="Store this tag's values in the historian.")
    discovered = fields.Boolean(readonly=True, help="Created by the ingest from a message, not by an engineer.")
    retention_class = fields.Selection(
        [("short", "Short (7 days raw)"), ("standard", "Standard (30 days raw)"), ("long", "Long (365 days raw)")],
        default="standard",
        required=True,
    )
    sampling_interval_ms = fields.Integer(string="Sampling interval (ms)", default=1000)
    deadband = fields.Float(help="Absolute change below which a new value is not reported (OPC UA, Modbus).")
    heartbeat_s = fields.Float(
        string="Heartbeat (s)",
        digits=(16, 1),
        help="The longest this tag's last good value goes unsent (the collector repeats an unchanged value). "
        "Empty: the edge's heartbeat.",
    )
    collector_error = fields.Char(
        readonly=True,
        copy=False,
        help="Why the collector cannot read this tag, as its device's server said it (e.g. BadNodeIdUnknown), "
        "from the edge's last report; empty while it reads.",
    )
    collector_error_date = fields.Datetime(readonly=True, copy=False, string="Refused since")
    scale_gain = fields.Float(string="Gain", default=1.0, digits=(16, 6))
    scale_offset = fields.Float(string="Offset", default=0.0, digits=(16, 6))
    limit_low = fields.Float(string="Low limit")
    limit_high = fields.Float(string="High limit")
    # OPC UA address
    opcua_node_id = fields.Char(string="OPC UA node id", help="e.g. ns=2;s=Press1.Temperature")
    # Modbus address
    modbus_unit_id = fields.Integer(string="Modbus unit id", default=1)
    modbus_table = fields.Selection(
        [
            ("holding", "Holding register"),
            ("input", "Input register"),
            ("coil", "Coil"),
            ("discrete", "Discrete input"),
        ],
        string="Modbus table",
    )
    modbus_address = fields.Integer(string="Modbus address")
    modbus_type = fields.Selection(
        [
            ("int16", "INT16"),
            ("uint16", "UINT16"),
            ("int32", "INT32"),
            ("uint32", "UINT32"),
            ("float32", "FLOAT32"),
            ("float64", "FLOAT64"),
            ("bool", "BOOL"),
            ("string", "STRING"),
        ],
        string="Modbus type",
    )
    modbus_byte_order = fields.Selection([("big", "Big endian"), ("little", "Little endian")], default="big")
    modbus_word_order = fields.Selection([("big", "Big endian"), ("little", "Little endian")], default="big")
    modbus_length = fields.Integer(string="Modbus string registers")
    # Siemens S7 address
    s7_area = fields.Selection(
        [("DB", "Data block"), ("M", "Merker"), ("I", "Inputs"), ("Q", "Outputs")], string="S7 area"
    )
    s7_db_number = fields.Integer(string="S7 DB number")
    s7_offset = fields.Integer(string="S7 byte offset")
    s7_bit = fields.Integer(string="S7 bit")
    s7_type = fields.Selection(
        [
            ("BOOL", "BOOL"),
            ("INT", "INT"),
            ("DINT", "DINT"),
            ("REAL", "REAL"),
            ("WORD", "WORD"),
            ("DWORD", "DWORD"),
            ("STRING", "STRING"),
        ],
        string="S7 type",
    )
    s7_length = fields.Integer(string="S7 string length")
    # Live value (from the historian's latest-value table)
    latest_value = fields.Char(compute="_compute_latest", string="Value")
    latest_time = fields.Datetime(compute="_compute_latest", string="Last sample")
    latest_age = fields.Char(compute="_compute_latest", string="Age")

    _sql_constraints = [
        ("topic_unique", "unique(topic)", "Another tag already publishes on this UNS topic."),
        ("sampling_positive", "CHECK(sampling_interval_ms >= 10)", "Sample at most every 10 ms."),
        ("deadband_positive", "CHECK(deadband >= 0)", "The deadband cannot be negative."),
        (
            "heartbeat_positive",
            "CHECK(heartbeat_s IS NULL OR heartbeat_s = 0 OR heartbeat_s >= 1)",
            "A tag's heartbeat is at least 1 s (or empty: the edge's).",
        ),
    ]

    @api.depends("name", "tag_group", "data_contract", "workcenter_id.hf_uns_path")
    def _compute_topic(self):
        for tag in self:
            path = tag.workcenter_id.hf_uns_path
            if not (path and tag.name and is_valid_segment(tag.name)):
                tag.topic = False
                continue
            try:
                tag.topic = build_topic(
                    path.split("/"), tag.name, tag.tag_group or "", tag.data_contract or "_historian"
                )
            except (ValueError, TopicError):
                tag.topic = False

    def _compute_latest(self):
        rows = self._hf_latest_rows(self.ids)
        now = datetime.now(UTC)
        for tag in self:
            row = rows.get(tag.id)
            if not row:
                tag.latest_value = tag.latest_time = tag.latest_age = False
                continue
            time = row["time"]
            tag.latest_value = tag._hf_format_value(row)
            tag.latest_time = timeutil.utc_naive(time)
            tag.latest_age = self._hf_format_age((now - time).total_seconds())

    @api.constrains("data_contract")
    def _check_data_contract(self):
        for tag in self.filtered("data_contract"):
            if (
                not tag.data_contract.startswith("_")
                or not is_valid_segment(tag.data_contract)
                or tag.data_contract in ("_analytics", "_local")
            ):
                raise ValidationError(
                    _(
                        "Data contract %s of a tag must start with '_' and contain only letters, digits, '_' and '-' "
                        "(e.g. _raw); _analytics and _local carry no tag values.",
                        tag.data_contract,
                    )
                )

    @api.constrains("name", "tag_group")
    def _check_segments(self):
        for tag in self:
            if not is_valid_segment(tag.name):
                raise ValidationError(
                    _(
                        "Tag name '%s' may only contain letters, digits, '_' and '-' "
                        "(no spaces, '/', '+', '#' or '$').",
                        tag.name,
                    )
                )
            for group in split_tag_group(tag.tag_group or ""):
                if not is_valid_segment(group):
                    raise ValidationError(
                        _(
                            "Tag group '%(group)s' of tag %(tag)s may only contain letters, digits, '_' and '-'.",
                            group=group,
                            tag=tag.name,
                        )
                    )

    @api.constrains(
        "device_id",
        "opcua_node_id",
        "modbus_table",
        "modbus_address",
        "modbus_type",
        "modbus_length",
        "modbus_unit_id",
        "s7_area",
        "s7_db_number",
        "s7_offset",
        "s7_bit",
        "s7_type",
        "s7_length",
        "data_type",
    )
    def _check_address(self):
        for tag in self.filtered("device_id"):
            error = tag._hf_address_error()
            if error:
                raise ValidationError(
                    _(
                        "Tag %(tag)s on device %(device)s (%(protocol)s): %(error)s",
                        tag=tag.name,
                        device=tag.device_id.name,
                        protocol=dict(tag.device_id._fields["protocol"].selection)[tag.device_id.protocol],
                        error=error,
                    )
                )

    def _hf_address_error(self):
        """What is wrong with this tag's address for its device's protocol, or ''."""
        self.ensure_one()
        protocol = self.device_id.protocol
        if protocol == "opcua":
            if not self.opcua_node_id or not OPCUA_NODE_ID.match(self.opcua_node_id.strip()):
                return _("an OPC UA node id like 'ns=2;s=Machine.Temperature' or 'i=2258' is required.")
        elif protocol == "modbus":
            if not self.modbus_table or not self.modbus_type:
                return _("a Modbus table and type are required.")
            if not 0 <= self.modbus_address <= 65535:
                return _("the Modbus address must be between 0 and 65535.")
            if not 0 <= self.modbus_unit_id <= 255:
                return _("the Modbus unit id must be between 0 and 255.")
            bit_table = self.modbus_table in ("coil", "discrete")
            if bit_table != (self.modbus_type == "bool"):
                return _("coils and discrete inputs hold BOOL values, registers hold numbers and strings.")
            if self.modbus_type == "string" and not 1 <= self.modbus_length <= 125:
                return _("a STRING needs a length of 1 to 125 registers.")
            count = self.modbus_length if self.modbus_type == "string" else MODBUS_REGISTER_COUNT[self.modbus_type]
            if self.modbus_address + count > 65536:
                return _("the value runs past register 65535.")
        elif protocol == "s7":
            if not self.s7_area or not self.s7_type:
                return _("an S7 area and type are required.")
            if self.s7_area == "DB" and self.s7_db_number <= 0:
                return _("a data block address needs a DB number of 1 or more.")
            if self.s7_offset < 0:
                return _("the byte offset cannot be negative.")
            if self.s7_type == "BOOL" and not 0 <= self.s7_bit <= 7:
                return _("a BOOL needs a bit between 0 and 7.")
            if self.s7_type == "STRING" and not 1 <= self.s7_length <= 254:
                return _("a STRING needs a length of 1 to 254 characters.")
        return ""

    @api.onchange("device_id")
    def _onchange_device_id(self):
        if self.device_id.workcenter_id and not self.workcenter_id:
            self.workcenter_id = self.device_id.workcenter_id

    # --- read API (XML-RPC, screens, ML) ---------------------------------------------------

    @api.model
    def read_latest(self, paths):
        """Latest value of each tag named by its UNS topic.

        :param paths: list of UNS topics (``umh/v1/.../_historian/.../tag``)
        :return: one dict per known path: path, value, time (ISO-8601 UTC), quality, unit, data_type
                 (time, value and quality are False while a tag has no data yet: XML-RPC has no None);
                 unknown paths are left out.
        """
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
            raise UserError(_("read_latest expects a list of UNS topics."))
        tags = self.search([("topic", "in", list(paths))])
        rows = self._hf_latest_rows(tags.ids)
        result = []
        for tag in tags:
            row = rows.get(tag.id)
            result.append(
                {
                    "path": tag.topic,
                    "tag_id": tag.id,
                    "unit": tag.unit or "",
                    "data_type": tag.data_type,
                    "value": tag._hf_row_value(row) if row else False,
                    "time": timeutil.iso_utc(row["time"]) if row else False,
                    "quality": row["quality"] if row else False,
                }
            )
        return result

    @api.model
    def read_history(self, path, start, end, max_points=500):
        """Samples of one tag between two ISO-8601 times, downsampled to at most ``max_points`` buckets.

        :return: dict with path, unit, data_type, bucket_seconds (0 for raw samples) and points, each
                 ``{"time", "min", "max", "avg", "last", "quality", "gap"}`` (time ISO-8601 UTC; raw points
                 repeat the value). The first point is the value in force at ``start`` when the window holds no
                 sample at its start (a state reported on change), marked ``"in_force": True``. A gap (a
                 bad-quality sample without a value) has ``gap`` True and False for its values: XML-RPC cannot
                 carry None. ``quality`` is the sample's (0 good, 1 uncertain, 2 bad), 0 for a bucket.
        """
        tag = self.search([("topic", "=", path)], limit=1)
        if not tag:
            raise UserError(_("No tag you can read has the UNS topic '%s'.", path))
        start_dt, end_dt = _parse_time(start, _("Start")), _parse_time(end, _("End"))
        if end_dt <= start_dt:
            raise UserError(_("The end (%(end)s) must come after the start (%(start)s).", end=end, start=start))
        try:
            max_points = int(max_points)
        except (TypeError, ValueError):
            raise UserError(_("max_points must be a whole number.")) from None
        if not 1 <= max_points <= MAX_HISTORY_POINTS:
            raise UserError(_("max_points must be between 1 and %s.", MAX_HISTORY_POINTS))
        history = tag._hf_read_window(start_dt, end_dt, max_points)
        points = [tag._hf_marshal_point(point) for point in history["points"]]
        if not history["points"] or history["points"][0]["time"] > start_dt:
            before = reader.read_last_before(self.env.cr, tag.id, start_dt)
            if before:
                value = before["value"] if before["value"] is not None else before["value_text"]
                held = {
                    "time": start_dt,
                    "min": value,
                    "max": value,
                    "avg": value,
                    "last": value,
                    "quality": before["quality"],
                }
                points.insert(0, {**tag._hf_marshal_point(held), "in_force": True})
        return {
            "path": tag.topic,
            "unit": tag.unit or "",
            "data_type": tag.data_type,
            "bucket_seconds": history["bucket_seconds"],
            "points": points,
        }

    # --- historian access -------------------------------------------------------------------

    @api.model
    def _hf_ensure_historian_schema(self):
        schema.ensure_schema(self.env.cr)

    @api.model
    def _cron_historian_retention(self):
        """Drop whole raw partitions past each retention class (ir.config_parameter
        ``hf_uns.retention_days.<class>``, defaults 7 / 30 / 365 days); rollups stay."""
        params = self.env["ir.config_parameter"].sudo()
        days = {}
        for retention_class, default in schema.DEFAULT_RETENTION_DAYS.items():
            value = params.get_param(f"hf_uns.retention_days.{retention_class}", default)
            try:
                days[retention_class] = max(1, int(value))
            except (TypeError, ValueError):
                _logger.warning(
                    "hf_uns.retention_days.%s=%r is not a number of days; keeping %s", retention_class, value, default
                )
                days[retention_class] = default
        return retention.drop_expired(self.env.cr, days)

    @api.model
    def _hf_drop_historian_schema(self):
        # Timescale's continuous aggregates are views; partitions go with their parent table.
        self.env.cr.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name LIKE 'hf\\_historian\\_%%'"
        )
        for name, kind in self.env.cr.fetchall():
            if kind == "VIEW":  # a Timescale continuous aggregate is dropped as a materialized view
                try:
                    with self.env.cr.savepoint():
                        self.env.cr.execute(SQL("DROP MATERIALIZED VIEW IF EXISTS %s CASCADE", SQL.identifier(name)))
                    continue
                except psycopg2.Error:
                    statement = "DROP VIEW IF EXISTS"
            else:
                statement = "DROP TABLE IF EXISTS"
            self.env.cr.execute(SQL("%s %s CASCADE", SQL(statement), SQL.identifier(name)))

    @api.model
    def _hf_latest_rows(self, tag_ids):
        """{tag_id: {"time", "value", "value_text", "quality"}} from the historian's latest-value table."""
        if not tag_ids:
            return {}
        return {row["tag_id"]: row for row in reader.read_latest(self.env.cr, list(tag_ids))}

    def _hf_read_window(self, start, end, max_points):
        """This tag's window [start, end) of at most ``max_points`` points (aware UTC datetimes): the one read
        path of read_history, the screens' trends and ML (``hf_historian.reader.read_window``)."""
        self.ensure_one()
        return reader.read_window(self.env.cr, self.id, start, end, max_points)

    def _hf_marshal_point(self, point):
        """One point of read_history as XML-RPC can carry it (no None): ISO time, a gap marker, the quality."""
        values = {key: point[key] for key in ("min", "max", "avg", "last")}
        gap = any(value is None for value in values.values())
        return {
            "time": timeutil.iso_utc(point["time"]),
            "quality": int(point.get("quality") or 0),
            "gap": gap,
            **{key: False if value is None else value for key, value in values.items()},
        }

    def _hf_key(self):
        """This tag's name inside its workcell's message (``hf_core.uns.TagKey``: groups and name; ``str()`` is
        the ``$``-joined ``spindle$speed``), how screens bind tiles to tags by name."""
        self.ensure_one()
        return TagKey.from_group(self.tag_group or "", self.name)

    def _hf_heartbeat_seconds(self):
        """How often the edge sends this tag's value at the least (its own heartbeat, else its edge's), or 0 for
        a tag no collector reads (no device: a derived or discovered tag)."""
        self.ensure_one()
        device = self.sudo().device_id
        if not device:
            return 0.0
        return self.heartbeat_s or device.edge_id.heartbeat_s or DEFAULT_HEARTBEAT_S

    def _hf_row_value(self, row):
        if self.data_type == "string":
            return row["value_text"]
        value = row["value"]
        if value is None:
            return row["value_text"]
        if self.data_type == "bool":
            return bool(value)
        if self.data_type == "int":
            return int(value)
        return value

    def _hf_format_value(self, row):
        value = self._hf_row_value(row)
        if isinstance(value, float):
            value = f"{value:.6g}"
        return f"{value} {self.unit}".strip() if self.unit and value is not None else str(value)

    @api.model
    def _hf_format_age(self, seconds):
        seconds = max(0, int(seconds))
        if seconds < 60:
            return _("%s s", seconds)
        if seconds < 3600:
            return _("%s min", seconds // 60)
        if seconds < 86400:
            return _("%s h", seconds // 3600)
        return _("%s d", seconds // 86400)

    def _hf_config_document(self):
        """This tag as the collector reads it (docs/contracts.md)."""
        self.ensure_one()
        protocol = self.device_id.protocol
        if protocol == "opcua":
            address = {"node_id": self.opcua_node_id}
        elif protocol == "modbus":
            address = {
                "unit_id": self.modbus_unit_id,
                "table": self.modbus_table,
                "address": self.modbus_address,
                "type": self.modbus_type,
                "byte_order": self.modbus_byte_order or "big",
                "word_order": self.modbus_word_order or "big",
                "length": self.modbus_length,
            }
        elif protocol == "s7":
            address = {
                "area": self.s7_area,
                "db_number": self.s7_db_number,
                "offset": self.s7_offset,
                "bit": self.s7_bit,
                "type": self.s7_type,
                "length": self.s7_length,
            }
        else:
            address = {}
        return {
            "name": self.name,
            "tag_group": self._hf_key().tag_group,
            "topic": self.topic,
            "data_type": self.data_type,
            "sampling_interval_ms": self.sampling_interval_ms,
            "deadband": self.deadband,
            "scale_gain": self.scale_gain,
            "scale_offset": self.scale_offset,
            "address": address,
            # only when set: the edge's applies otherwise (and the documents of other tags stay as they were)
            **({"heartbeat_s": self.heartbeat_s} if self.heartbeat_s else {}),
        }
