from pathlib import Path

from odoo import _, http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import content_disposition, request

from odoo.addons.portal.controllers.portal import CustomerPortal


class HfCloudPortal(CustomerPortal):
    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "instance_count" in counters:
            model = request.env["hf.cloud.instance"]
            values["instance_count"] = model.search_count([]) if model.has_access("read") else 0
        return values

    @http.route(["/my/instances"], type="http", auth="user", website=True)
    def portal_my_instances(self, **_kw):
        # record rules pick the customer's instances; the plan (a product) is then read with sudo
        instances = request.env["hf.cloud.instance"].search([]).sudo()
        values = self._prepare_portal_layout_values()
        values.update({"instances": instances, "page_name": "hf_cloud_instances"})
        return request.render("hf_cloud.portal_my_instances", values)

    @http.route(["/my/instances/<int:instance_id>"], type="http", auth="public", website=True)
    def portal_my_instance(self, instance_id, access_token=None, message=None, **_kw):
        try:
            instance = self._document_check_access("hf.cloud.instance", instance_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        plans = request.env["product.template"].sudo().search([("hf_is_plan", "=", True), ("sale_ok", "=", True)],
                                                             order="list_price, id")
        values = self._prepare_portal_layout_values()
        values.update({"instance": instance, "plans": plans, "page_name": "hf_cloud_instance",
                       "message": message, "access_token": access_token})
        return request.render("hf_cloud.portal_my_instance", values)

    @http.route(["/my/instances/<int:instance_id>/upgrade"], type="http", auth="user", website=True,
                methods=["POST"])
    def portal_upgrade(self, instance_id, plan_id=None, **_kw):
        try:
            instance = self._document_check_access("hf.cloud.instance", instance_id)
        except (AccessError, MissingError):
            return request.redirect("/my")
        plan = request.env["product.template"].sudo().browse(int(plan_id or 0)).exists()
        if not plan or not plan.hf_is_plan or instance.state not in ("ready", "suspended"):
            return request.redirect(f"/my/instances/{instance_id}?message=invalid")
        try:
            instance.sudo().plan_id = plan
        except UserError:
            return request.redirect(f"/my/instances/{instance_id}?message=failed")
        return request.redirect(f"/my/instances/{instance_id}?message=upgraded")

    @http.route(["/my/instances/<int:instance_id>/bundle"], type="http", auth="user", website=True)
    def portal_bundle(self, instance_id, **_kw):
        try:
            instance = self._document_check_access("hf.cloud.instance", instance_id)
        except (AccessError, MissingError):
            return request.redirect("/my")
        if instance.state != "ready":
            return request.redirect(f"/my/instances/{instance_id}")
        record = instance.sudo()._hf_provisioner().registry.find(instance.db_name)
        path = Path(record.bundle) if record and record.bundle else None
        if not path or not path.exists():
            return request.not_found(_("The edge bundle is not available."))
        data = path.read_bytes()
        return request.make_response(data, headers=[
            ("Content-Type", "application/zip"), ("Content-Length", str(len(data))),
            ("Content-Disposition", content_disposition(f"hyperfactory-edge-{instance.db_name}.zip")),
            ("Cache-Control", "no-store")])

