import json
import logging

from odoo import http
from odoo.http import request

from .onboarding import HfCloudOnboarding

_logger = logging.getLogger(__name__)
MAX_BODY = 4096


class HfCloudTenantApi(http.Controller):
    """What a tenant's own Odoo asks of the operator's: its edges' OpenZiti identities (hf.cloud.edge)."""

    @http.route(
        "/hyperfactory/tenant/ziti",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,  # auth="none" routes default to a read-only cursor; this one records and changes edges
    )
    def ziti(self, **_kw):
        # auth="none" and no session: the tenant key in the Authorization header is the only credential
        address = HfCloudOnboarding._client_address(self)
        raw = request.httprequest.get_data(cache=False, as_text=False)
        if len(raw) > MAX_BODY:
            return request.make_json_response({"error": "request too large"}, status=413)
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = None
        env = request.env(su=True)
        status, body = env["hf.cloud.edge"]._hf_tenant_request(
            address, request.httprequest.headers.get("Authorization", ""), payload
        )
        response = request.make_json_response(body, status=status)
        response.headers["Cache-Control"] = "no-store"  # a one-time token may be in it
        return response
