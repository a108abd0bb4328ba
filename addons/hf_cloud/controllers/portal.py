from odoo import _, http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.fields import Command
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
        try:
            plan = request.env["product.template"].sudo().browse(int(plan_id or 0)).exists()
        except ValueError:
            plan = None
        # only a plan on sale: a hidden, archived or internal plan is never a customer's to pick
        if not plan or not (plan.active and plan.sale_ok and plan.hf_is_plan) \
                or instance.state not in ("ready", "suspended") or plan == instance.sudo().plan_id:
            return request.redirect(f"/my/instances/{instance_id}?message=invalid")
        # the plan changes once the order is confirmed (sale_order.action_confirm), not on a click
        order = request.env["sale.order"].sudo().create({
            "partner_id": instance.sudo().partner_id.id,
            "client_order_ref": instance.sudo().db_name,
            "hf_upgrade_instance_id": instance.id,
            "order_line": [Command.create({"product_id": plan.product_variant_id.id, "product_uom_qty": 1})],
        })
        return request.redirect(order.get_portal_url())

    @http.route(["/my/instances/<int:instance_id>/bundle"], type="http", auth="user", website=True)
    def portal_bundle(self, instance_id, **_kw):
        try:
            instance = self._document_check_access("hf.cloud.instance", instance_id)
        except (AccessError, MissingError):
            return request.redirect("/my")
        # the secrets are the customer's and the cloud managers', not every reader of instances
        user = request.env.user
        if not (user.has_group("hf_cloud.group_hf_cloud_manager")
                or instance.sudo().partner_id.commercial_partner_id == user.partner_id.commercial_partner_id):
            return request.redirect("/my")
        if instance.state != "ready":
            return request.redirect(f"/my/instances/{instance_id}")
        try:
            data = instance.sudo()._hf_rotate_bundle()
        except UserError:
            return request.not_found(_("The edge bundle is not available."))
        return request.make_response(data, headers=[
            ("Content-Type", "application/zip"), ("Content-Length", str(len(data))),
            ("Content-Disposition", content_disposition(f"hyperfactory-edge-{instance.db_name}.zip")),
            ("Cache-Control", "no-store")])

