import ipaddress
import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from hf_core.certs import normalize_fingerprint
from hf_core.errors import ConfigError
from hf_core.types import DEFAULT_PORTS

HOSTNAME_PATTERN = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# The path of an opc.tcp URL: RFC 3986's unreserved characters and '/', at most 255 of them.
ENDPOINT_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9._~/-]{0,254}$")


class HfUnsDevice(models.Model):
    """A PLC or server the edge collector reads: OPC UA, Modbus TCP or Siemens S7."""

    _name = "hf.uns.device"
    _description = "Hyperfactory device (PLC / server)"
    _order = "edge_id, name"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    protocol = fields.Selection(
        [("opcua", "OPC UA"), ("modbus", "Modbus TCP"), ("s7", "Siemens S7")], required=True, default="opcua"
    )
    host = fields.Char(required=True, help="IP address or host name the edge reaches the device at.")
    port = fields.Integer(compute="_compute_port", store=True, readonly=False, precompute=True)
    mac_address = fields.Char(string="MAC address")
    unit_id = fields.Integer(string="Modbus unit id", default=1)
    s7_rack = fields.Integer(string="S7 rack", default=0)
    s7_slot = fields.Integer(string="S7 slot", default=1)
    opcua_security_policy = fields.Selection(
        [("None", "None"), ("Basic256Sha256", "Basic256Sha256")], string="OPC UA security policy", default="None"
    )
    opcua_security_mode = fields.Selection(
        [("None", "None"), ("Sign", "Sign"), ("SignAndEncrypt", "Sign & encrypt")],
        string="OPC UA security mode",
        default="None",
    )
    opcua_username = fields.Char(string="OPC UA user")
    opcua_password = fields.Char(string="OPC UA password", groups="hf_uns.group_hf_admin")
    opcua_server_certificate_sha256 = fields.Char(
        string="Pinned server certificate (SHA-256)",
        help="The SHA-256 fingerprint of the certificate this OPC UA server must present, e.g. as "
        "`openssl x509 -noout -fingerprint -sha256 -inform der -in server.der` prints it. The edge refuses "
        "a server that presents another one (a replaced PLC, or someone in between) before it sends any "
        "password. Empty: any certificate.",
    )
    opcua_endpoint_path = fields.Char(
        string="OPC UA endpoint path",
        help="The path of the server's endpoint URL after host and port, e.g. /probe/ in "
        "opc.tcp://10.0.0.7:4840/probe/ (as the server's documentation or a discovery tool shows it). "
        "Empty: the server listens at the root.",
    )
    polling_interval_ms = fields.Integer(string="Polling interval (ms)", default=1000)
    edge_id = fields.Many2one("hf.uns.edge", index=True, ondelete="restrict")
    workcenter_id = fields.Many2one("mrp.workcenter", string="Workcell", index=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    tag_ids = fields.One2many("hf.uns.tag", "device_id", string="Tags")
    tag_count = fields.Integer(compute="_compute_tag_count")

    _sql_constraints = [
        ("name_unique", "unique(company_id, name)", "Two devices of one company cannot share a name."),
        ("port_range", "CHECK(port > 0 AND port < 65536)", "The port must be between 1 and 65535."),
        ("unit_id_range", "CHECK(unit_id >= 0 AND unit_id <= 255)", "A Modbus unit id is between 0 and 255."),
        ("polling_positive", "CHECK(polling_interval_ms >= 10)", "Poll at most every 10 ms."),
    ]

    @api.depends("protocol")
    def _compute_port(self):
        for device in self:
            if not device.port or device.port in DEFAULT_PORTS.values():
                device.port = DEFAULT_PORTS.get(device.protocol, 0)

    def _compute_tag_count(self):
        counts = dict(self.env["hf.uns.tag"]._read_group([("device_id", "in", self.ids)], ["device_id"], ["__count"]))
        for device in self:
            device.tag_count = counts.get(device, 0)

    @api.constrains("host")
    def _check_host(self):
        for device in self:
            host = (device.host or "").strip()
            try:
                ipaddress.ip_address(host)
            except ValueError:
                if not HOSTNAME_PATTERN.match(host):
                    raise ValidationError(
                        _(
                            "Device %(device)s: '%(host)s' is neither an IP address nor a host name.",
                            device=device.name,
                            host=device.host,
                        )
                    ) from None

    @api.constrains("opcua_endpoint_path")
    def _check_opcua_endpoint_path(self):
        for device in self.filtered("opcua_endpoint_path"):
            path = device.opcua_endpoint_path
            if not ENDPOINT_PATH_PATTERN.match(path):
                raise ValidationError(
                    _(
                        "Device %(device)s: endpoint path '%(path)s' must start with '/' and hold only letters, digits "
                        "and - _ . ~ / (no spaces, '?' or '#'), e.g. /probe/.",
                        device=device.name,
                        path=path,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._hf_normalize_fingerprint(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._hf_normalize_fingerprint(vals)
        return super().write(vals)

    @api.model
    def _hf_normalize_fingerprint(self, vals):
        """One spelling of a pinned fingerprint (hf_core.certs): 64 lower-case hex digits, or a clear error."""
        if vals.get("opcua_server_certificate_sha256"):
            try:
                vals["opcua_server_certificate_sha256"] = normalize_fingerprint(vals["opcua_server_certificate_sha256"])
            except ConfigError as exc:
                raise ValidationError(str(exc)) from None

    @api.constrains("protocol", "opcua_security_policy", "opcua_security_mode")
    def _check_opcua_security(self):
        for device in self.filtered(lambda d: d.protocol == "opcua"):
            if (device.opcua_security_policy == "None") != (device.opcua_security_mode == "None"):
                raise ValidationError(
                    _(
                        "Device %s: choose a security mode together with a security policy (or None for both).",
                        device.name,
                    )
                )

    @api.constrains("protocol")
    def _check_tags_fit_protocol(self):
        self.tag_ids._check_address()

    def action_view_tags(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("hf_uns.hf_uns_tag_action")
        action["domain"] = [("device_id", "=", self.id)]
        action["context"] = {"default_device_id": self.id, "default_workcenter_id": self.workcenter_id.id}
        return action

    def _hf_config_document(self):
        """This device as the collector reads it (docs/contracts.md)."""
        self.ensure_one()
        return {
            "name": self.name,
            "protocol": self.protocol,
            "host": self.host,
            "port": self.port,
            "unit_id": self.unit_id,
            "rack": self.s7_rack,
            "slot": self.s7_slot,
            "security_policy": self.opcua_security_policy or "None",
            "security_mode": self.opcua_security_mode or "None",
            "username": self.opcua_username or "",
            "password": self.sudo().opcua_password or "",
            "polling_interval_ms": self.polling_interval_ms,
            "server_certificate_sha256": self.opcua_server_certificate_sha256 or "",
            "endpoint_path": (self.opcua_endpoint_path or "") if self.protocol == "opcua" else "",
            "tags": [tag._hf_config_document() for tag in self.tag_ids.sorted("id")],
        }
