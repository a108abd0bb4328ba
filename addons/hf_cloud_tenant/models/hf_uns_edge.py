import logging

import requests

from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError

from hf_core.uns import segment_from_name

_logger = logging.getLogger(__name__)
OPERATOR_URL_PARAM = "hf_cloud.operator_url"
OPERATOR_KEY_PARAM = "hf_cloud.operator_key"
TIMEOUT_S = 30


class HfUnsEdge(models.Model):
    """An edge's OpenZiti identity, asked for from the operator's Odoo: this database holds no controller
    credentials, only its own tenant key (``hf_cloud.operator_key``, written at provisioning)."""

    _inherit = "hf.uns.edge"

    ziti_status = fields.Char(
        string="OpenZiti",
        readonly=True,
        copy=False,
        help="The edge's identity on the cloud's OpenZiti controller, as the operator last reported it.",
    )

    def action_hf_ziti_enroll(self):
        """A new OpenZiti identity for this edge; its one-time enrollment token is shown once."""
        return self._hf_ziti_token("enroll")

    def action_hf_ziti_reissue(self):
        """A new one-time token for the edge's identity; the certificate it enrolled with stops working."""
        return self._hf_ziti_token("reissue")

    def action_hf_ziti_revoke(self):
        """Delete the edge's OpenZiti identity: the edge can no longer reach the cloud through OpenZiti."""
        self.ensure_one()
        answer = self._hf_operator_request("revoke")
        self.write({"ziti_status": answer.get("status") or "revoked"})
        return True

    def action_hf_ziti_refresh(self):
        """The OpenZiti status of these edges, as the cloud's controller knows it."""
        self._hf_check_admin()
        answer = self[:1]._hf_operator_request("status", all_edges=True)
        by_name = {row.get("edge"): row for row in answer.get("edges") or []}
        for edge in self:
            row = by_name.get(edge._hf_ziti_edge_name())
            edge.ziti_status = row.get("status") if row else False
        return True

    # ------------------------------------------------------------------ helpers
    def _hf_ziti_token(self, action):
        self.ensure_one()
        answer = self._hf_operator_request(action)
        jwt = answer.get("jwt")
        if not jwt:
            raise UserError(_("The cloud answered without an enrollment token; try again or contact support."))
        vals = {"ziti_status": answer.get("status") or "enrollment pending"}
        if answer.get("identity"):
            vals["ziti_identity"] = answer["identity"]
        self.write(vals)
        # As the API key's dialog: the token travels in the dialog's defaults only, no record holds it.
        return {
            "type": "ir.actions.act_window",
            "res_model": "hf.cloud.edge.enrollment",
            "view_mode": "form",
            "target": "new",
            "name": _("OpenZiti enrollment for %s", self.name),
            "context": {"default_edge_id": self.id, "default_jwt": jwt},
        }

    def _hf_check_admin(self):
        self.check_access("write")
        if not (self.env.su or self.env.user.has_group("hf_uns.group_hf_admin")):
            raise AccessError(_("Only a Hyperfactory administrator can change an edge's OpenZiti identity."))

    def _hf_ziti_edge_name(self):
        return segment_from_name(self.name)

    def _hf_operator_request(self, action, all_edges=False):
        """POST the action to the operator's Odoo, signed with this tenant's key; its JSON answer, or a
        UserError saying what to do. Neither the key nor a token is ever logged."""
        self._hf_check_admin()
        params = self.env["ir.config_parameter"].sudo()
        url, key = params.get_param(OPERATOR_URL_PARAM), params.get_param(OPERATOR_KEY_PARAM)
        if not (url and key):
            raise UserError(
                _("This Hyperfactory has no cloud operator key: ask the cloud's support to issue one for OpenZiti.")
            )
        if self and not all_edges and self.state == "revoked":
            raise UserError(_("Edge %s is revoked: create a new edge instead.", self.name))
        body = {"action": action}
        if not all_edges:
            body["edge"] = self._hf_ziti_edge_name()
        try:
            response = requests.post(
                url.rstrip("/") + "/hyperfactory/tenant/ziti",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=TIMEOUT_S,
            )
        except requests.RequestException as exc:
            _logger.warning("the cloud operator at %s cannot be reached: %s", url, type(exc).__name__)
            raise UserError(_("The cloud cannot be reached right now (%s); try again in a minute.", url)) from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200:
            _logger.warning("the cloud operator refused OpenZiti %s: HTTP %s", action, response.status_code)
            raise UserError(answer.get("error") or _("The cloud refused the request (HTTP %s).", response.status_code))
        return answer
