"""Per-edge OpenZiti identities, asked for by the tenant's own Odoo.

The tenant's Odoo holds no controller credentials: its administrator clicks Enroll, Re-issue or Revoke on an
edge, and the tenant's Odoo asks the operator's (``POST /hyperfactory/tenant/ziti``), signed with the
instance's tenant key (a random secret written into the tenant's system parameters at provisioning; only
its SHA-256 is kept here). The operator resolves the key to its instance and then acts *as that instance's
tenant user*, whose record rule reaches only that instance's edges; the provisioner in turn only ever touches
identities its registry lists for that tenant. The one-time token travels back in the response and is kept
nowhere on either side."""

import hashlib
import logging
import secrets

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from hf_core.uns import is_valid_segment
from hf_saas.errors import HfSaasError
from hf_saas.ziti import NOT_CONFIGURED, PENDING

_logger = logging.getLogger(__name__)

ACTIONS = ("enroll", "reissue", "revoke", "status")
REVOKED = "revoked"


def hash_tenant_key(key):
    """The stored form of a tenant key: a 256-bit random secret needs no slow hash, only no clear text."""
    return hashlib.sha256(key.encode()).hexdigest()


class TenantApiError(Exception):
    """A tenant request refused: the HTTP status and the sentence the tenant's administrator reads."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class HfCloudEdge(models.Model):
    """One edge (collector) of an instance and its OpenZiti identity on the cloud's controller."""

    _name = "hf.cloud.edge"
    _description = "Hyperfactory edge's OpenZiti identity"
    _order = "instance_id, name"

    instance_id = fields.Many2one("hf.cloud.instance", required=True, index=True, ondelete="cascade", readonly=True)
    name = fields.Char(string="Edge", required=True, readonly=True, help="The edge's name in the tenant's Odoo.")
    company_id = fields.Many2one(related="instance_id.company_id", store=True, index=True)
    partner_id = fields.Many2one(related="instance_id.partner_id", store=True, index=True)
    tenant_user_id = fields.Many2one(related="instance_id.tenant_user_id", store=True, index=True)
    state = fields.Selection(
        [("active", "Identity"), (REVOKED, "Revoked")], default="active", required=True, readonly=True
    )
    identity_name = fields.Char(string="OpenZiti identity", readonly=True)
    identity_id = fields.Char(string="Identity id", readonly=True, copy=False)
    ziti_status = fields.Char(string="OpenZiti", readonly=True, default=PENDING)
    status_date = fields.Datetime(string="Status read", readonly=True)
    issued_date = fields.Datetime(string="Last token issued", readonly=True)

    _sql_constraints = [("name_unique", "unique(instance_id, name)", "An instance has one record per edge name.")]

    # ------------------------------------------------------------------ the tenant's requests
    @api.model
    def _hf_tenant_request(self, address, authorization, payload):
        """One request of a tenant's Odoo: ``(status, body)``. Authenticated, rate-limited and validated
        before anything is done; the one-time token is only in the body handed back."""
        requests_log = self.env["hf.cloud.tenant.request"].sudo()
        if not requests_log._hf_allowed(address):
            return 429, {"error": _("Too many requests from this address: try again in an hour.")}
        scheme, _sep, key = (authorization or "").partition(" ")
        instance = self.env["hf.cloud.instance"].sudo()
        if scheme.lower() == "bearer" and len(key) >= 32:
            instance = instance.search([("tenant_key_hash", "=", hash_tenant_key(key.strip()))], limit=1)
        if not instance or not instance.tenant_user_id:
            _logger.warning("tenant request from %s refused: unknown key", address)
            return 401, {"error": _("This Hyperfactory is not known to the cloud (its operator key is wrong).")}
        if not requests_log._hf_allowed(address, instance):
            return 429, {"error": _("Too many OpenZiti requests for this Hyperfactory: try again in an hour.")}
        try:
            action, edge = self._hf_parse_payload(payload)
            if instance.state != "ready":
                raise TenantApiError(409, _("This Hyperfactory is %s: edges cannot be changed now.", instance.state))
            # as the instance's own tenant user: its record rule reaches this instance's edges only
            edges = self.with_user(instance.tenant_user_id).with_context(active_test=False)
            result = getattr(edges, f"_hf_tenant_{action}")(instance, edge)
        except TenantApiError as exc:
            return exc.status, {"error": exc.message}
        except HfSaasError as exc:
            _logger.warning("OpenZiti %s of %s/%s failed: %s", action, instance.db_name, edge, exc)
            return 502, {"error": exc.message}
        _logger.info("OpenZiti %s of %s/%s done for the tenant", action, instance.db_name, edge or "*")
        return 200, result

    @api.model
    def _hf_parse_payload(self, payload):
        if not isinstance(payload, dict) or payload.get("action") not in ACTIONS:
            raise TenantApiError(400, _("The request must name an action: %s.", ", ".join(ACTIONS)))
        edge = payload.get("edge") or ""
        if payload["action"] != "status" and not (isinstance(edge, str) and is_valid_segment(edge)):
            raise TenantApiError(
                400, _("The edge's name %r may only contain letters, digits, '_' and '-'.", str(edge)[:80])
            )
        return payload["action"], edge

    def _hf_tenant_enroll(self, instance, edge):
        record = self.search([("instance_id", "=", instance.id), ("name", "=", edge)], limit=1)
        if record.state == "active" and record.identity_id:
            raise TenantApiError(
                409, _("Edge %s has an OpenZiti identity already: re-issue its enrollment instead.", edge)
            )
        made = instance._hf_provisioner().ziti_add_edge(instance.db_name, edge)
        values = {
            "state": "active",
            "identity_id": made["identity_id"],
            "identity_name": made["identity_name"],
            "ziti_status": PENDING,
            "issued_date": fields.Datetime.now(),
            "status_date": fields.Datetime.now(),
        }
        if record:
            record.write(values)
        else:
            record = self.create({**values, "instance_id": instance.id, "name": edge})
        return record._hf_answer(jwt=made["enrollment_jwt"])

    def _hf_tenant_reissue(self, instance, edge):
        record = self._hf_active_edge(instance, edge)
        jwt = instance._hf_provisioner().ziti_reissue_edge(instance.db_name, record.identity_id)
        now = fields.Datetime.now()
        record.write({"ziti_status": PENDING, "issued_date": now, "status_date": now})
        return record._hf_answer(jwt=jwt)

    def _hf_tenant_revoke(self, instance, edge):
        record = self._hf_active_edge(instance, edge)
        instance._hf_provisioner().ziti_revoke_edge(instance.db_name, record.identity_id)
        record.write(
            {"state": REVOKED, "identity_id": False, "ziti_status": REVOKED, "status_date": fields.Datetime.now()}
        )
        return record._hf_answer()

    def _hf_tenant_status(self, instance, edge):
        domain = [("instance_id", "=", instance.id)] + ([("name", "=", edge)] if edge else [])
        records = self.search(domain)
        records._hf_refresh_status(instance)
        return {"edges": [record._hf_answer() for record in records]}

    # ------------------------------------------------------------------ helpers
    def _hf_active_edge(self, instance, edge):
        record = self.search([("instance_id", "=", instance.id), ("name", "=", edge), ("state", "=", "active")])
        if not record.identity_id:
            raise TenantApiError(404, _("Edge %s has no OpenZiti identity: enroll it first.", edge))
        return record

    def _hf_refresh_status(self, instance):
        provisioner = instance._hf_provisioner()
        for record in self.filtered(lambda r: r.state == "active" and r.identity_id):
            try:
                status = provisioner.ziti_edge_status(instance.db_name, record.identity_id)
            except HfSaasError as exc:
                _logger.warning("OpenZiti status of %s/%s not read: %s", instance.db_name, record.name, exc)
                continue
            record.write({"ziti_status": status, "status_date": fields.Datetime.now()})

    def _hf_answer(self, jwt=None):
        self.ensure_one()
        answer = {"edge": self.name, "identity": self.identity_name or "", "status": self.ziti_status or ""}
        if jwt is not None:
            answer["jwt"] = jwt
        return answer


class HfCloudInstance(models.Model):
    """The instance's side of its edges: the tenant key and the tenant user its requests act as."""

    _inherit = "hf.cloud.instance"

    edge_ids = fields.One2many("hf.cloud.edge", "instance_id", string="Edges", readonly=True)
    tenant_user_id = fields.Many2one(
        "res.users",
        string="Tenant user",
        readonly=True,
        copy=False,
        groups="hf_cloud.group_hf_cloud_manager",
        help="The user the tenant's own Odoo acts as here (it reaches this instance's edges only; no password).",
    )
    tenant_key_hash = fields.Char(readonly=True, copy=False, index=True, groups="hf_cloud.group_hf_cloud_manager")

    def write(self, vals):
        if {"tenant_key_hash", "tenant_user_id"} & set(vals) and not self._hf_is_provisioner():
            raise UserError(_("The tenant key is issued by the provisioner only: use Issue tenant key."))
        return super().write(vals)

    def _hf_provision(self):
        done = super()._hf_provision()
        if done:
            # each in its own savepoint: a failure here must not undo the provisioning that just succeeded
            try:
                with self.env.cr.savepoint():
                    self._hf_issue_tenant_key()
            except (HfSaasError, UserError) as exc:
                _logger.warning("no tenant key for %s (no OpenZiti enrollment from its Odoo): %s", self.db_name, exc)
            try:
                with self.env.cr.savepoint():
                    self._hf_record_first_edge()
            except (HfSaasError, UserError) as exc:
                _logger.warning("the first edge of %s is not recorded: %s", self.db_name, exc)
        return done

    def _hf_record_first_edge(self):
        """The edge the provisioner gave an OpenZiti identity (its token is in the bundle)."""
        record = self._hf_provisioner().registry.find(self.db_name)
        identity_id = record.ziti_ids.get("identity_id") if record else ""
        if identity_id and not self.sudo().edge_ids:
            edge = self._hf_first_edge_name(record)
            self.env["hf.cloud.edge"].sudo().create(
                {
                    "instance_id": self.id,
                    "name": edge,
                    "identity_id": identity_id,
                    "identity_name": f"{record.slug}-{edge}",
                    "ziti_status": record.ziti_status if record.ziti_status != NOT_CONFIGURED else PENDING,
                    "issued_date": fields.Datetime.now(),
                }
            )

    def action_issue_tenant_key(self):
        """A new tenant key written into the tenant (the previous one stops working at once)."""
        self._hf_check_manager(_("issue the tenant key of"))
        for instance in self:
            instance._hf_issue_tenant_key()
        return True

    def _hf_issue_tenant_key(self):
        """A new tenant key, written into the tenant's system parameters with this operator's URL."""
        self.ensure_one()
        key = self._hf_new_tenant_key()
        self._hf_provisioner().set_operator_key(self.db_name, self._hf_operator_url(), key)
        self.sudo()._message_log(body=_("Tenant key issued: the tenant's Odoo may ask for its edges' enrollment."))

    def _hf_new_tenant_key(self):
        """A new random tenant key (returned once, only its hash kept) and the tenant user its requests act
        as; the previous key stops working at once."""
        self.ensure_one()
        if self.state != "ready":
            raise UserError(
                _("%(name)s is %(state)s: its tenant key is issued when it is ready.", name=self.name, state=self.state)
            )
        key = secrets.token_urlsafe(32)
        me = self.sudo()._hf_as_provisioner()
        user = me.tenant_user_id or self._hf_create_tenant_user()
        me.write({"tenant_key_hash": hash_tenant_key(key), "tenant_user_id": user.id})
        return key

    def _hf_create_tenant_user(self):
        tenant_group = self.env.ref("hf_cloud.group_hf_cloud_tenant")
        return (
            self.env["res.users"]
            .sudo()
            .with_context(no_reset_password=True, mail_create_nosubscribe=True)
            .create(
                {
                    "name": _("Tenant %s (its Odoo's requests)", self.db_name),
                    "login": f"hf-tenant-{self.id}-{self.db_name}",  # an instance's, even after a deleted one
                    "company_id": self.company_id.id,
                    "company_ids": [Command.set(self.company_id.ids)],
                    "groups_id": [Command.set([self.env.ref("base.group_portal").id, tenant_group.id])],
                }
            )
        )

    def _hf_operator_url(self):
        params = self.env["ir.config_parameter"].sudo()
        return (params.get_param("hf_cloud.operator_url") or self.get_base_url()).rstrip("/")

    @staticmethod
    def _hf_first_edge_name(record):
        # the provisioner names the first edge's identity <slug>-<edge>
        name = record.ziti_ids.get("identity_name", "")
        return name[len(record.slug) + 1 :] if name.startswith(f"{record.slug}-") else "edge"
