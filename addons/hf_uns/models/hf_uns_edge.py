import hashlib
import json
from datetime import timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessDenied, UserError

# The collector polls its config version every minute; five silent minutes mean it is gone.
OFFLINE_AFTER_MINUTES = 5


class HfUnsEdge(models.Model):
    """The collector at a site. It signs in as its own restricted user with an API key."""

    _name = "hf.uns.edge"
    _description = "Hyperfactory edge (collector)"
    _order = "site_id, name"

    name = fields.Char(required=True)
    site_id = fields.Many2one("hf.uns.site", required=True, index=True, ondelete="restrict")
    company_id = fields.Many2one(related="site_id.company_id", store=True, index=True)
    user_id = fields.Many2one(
        "res.users", string="Edge user", readonly=True, copy=False, ondelete="restrict",
        help="The restricted user the collector signs in as; it can read only this edge's configuration.",
    )
    state = fields.Selection(
        [("new", "New"), ("online", "Online"), ("offline", "Offline"), ("revoked", "Revoked")],
        default="new", required=True, readonly=True, copy=False,
    )
    last_seen = fields.Datetime(readonly=True, copy=False)
    config_version = fields.Integer(readonly=True, copy=False, default=0)
    config_hash = fields.Char(readonly=True, copy=False)
    ziti_identity = fields.Char(string="OpenZiti identity", copy=False)
    device_ids = fields.One2many("hf.uns.device", "edge_id", string="Devices")
    device_count = fields.Integer(compute="_compute_device_count")

    _sql_constraints = [
        ("name_unique", "unique(site_id, name)", "Two edges of one site cannot share a name."),
    ]

    def _compute_device_count(self):
        for edge in self:
            edge.device_count = len(edge.device_ids)

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
                    "groups_id": [Command.set([self.env.ref("base.group_portal").id,
                                               self.env.ref("hf_uns.group_hf_edge").id])],
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
        key = self.env["res.users.apikeys"].with_user(self.user_id).sudo()._generate(
            "rpc", f"Hyperfactory collector {self.name}", None
        )
        wizard = self.env["hf.uns.edge.key"].create({"edge_id": self.id, "key": key})
        return {
            "type": "ir.actions.act_window",
            "res_model": "hf.uns.edge.key",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "name": _("API key for %s", self.name),
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
        """Bump the version when the configuration's hash changed since the last request."""
        self.ensure_one()
        devices = self._hf_devices_document()
        digest = hashlib.sha256(json.dumps(devices, sort_keys=True, default=str).encode()).hexdigest()
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
        return {"edge": edge.name, "version": edge.config_version, "hash": edge.config_hash, "devices": devices}

    @api.model
    def get_collector_config_version(self):
        """Cheap poll: the version and hash the collector compares with its cache."""
        edge = self._hf_current_edge()
        edge._hf_sync_version()
        return {"version": edge.config_version, "hash": edge.config_hash}
