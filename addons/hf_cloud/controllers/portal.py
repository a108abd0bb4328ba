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
        products = request.env["product.template"].sudo()
        plans = products.search([("hf_is_plan", "=", True), ("sale_ok", "=", True)], order="list_price, id")
        addons = products.search([("hf_is_addon", "=", True), ("sale_ok", "=", True)], order="list_price, id")
        # invoices and purchases are for the logged-in customer, not for whoever holds the page's token
        is_customer = not request.env.user._is_public() and bool(self._hf_customer_instance(instance_id))
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "instance": instance,
                "plans": plans,
                "addons": addons,
                "page_name": "hf_cloud_instance",
                "is_customer": is_customer,
                "addon_lines": instance._hf_confirmed_addon_lines(),
                "invoices": instance._hf_portal_invoices() if is_customer else [],
                "pending_orders": instance.sudo().order_ids.filtered(lambda o: o.state in ("draft", "sent"))
                if is_customer
                else [],
                "message": message,
                "access_token": access_token,
            }
        )
        return request.render("hf_cloud.portal_my_instance", values)

    @http.route(["/my/instances/<int:instance_id>/upgrade"], type="http", auth="user", website=True, methods=["POST"])
    def portal_upgrade(self, instance_id, plan_id=None, **_kw):
        return self._hf_order(instance_id, plan_id, "plan")

    @http.route(["/my/instances/<int:instance_id>/addon"], type="http", auth="user", website=True, methods=["POST"])
    def portal_addon(self, instance_id, product_id=None, quantity="1", **_kw):
        return self._hf_order(instance_id, product_id, "addon", quantity)

    @http.route(["/my/instances/<int:instance_id>/bundle"], type="http", auth="user", website=True)
    def portal_bundle(self, instance_id, **_kw):
        instance = self._hf_customer_instance(instance_id)
        if not instance:
            return request.redirect("/my")
        if instance.state != "ready":
            return request.redirect(f"/my/instances/{instance_id}")
        try:
            data = instance.sudo()._hf_rotate_bundle()
        except UserError:
            return request.not_found(_("The edge bundle is not available."))
        return request.make_response(
            data,
            headers=[
                ("Content-Type", "application/zip"),
                ("Content-Length", str(len(data))),
                ("Content-Disposition", content_disposition(f"hyperfactory-edge-{instance.db_name}.zip")),
                ("Cache-Control", "no-store"),
            ],
        )

    # ------------------------------------------------------------------ helpers
    def _hf_customer_instance(self, instance_id):
        """The instance when it is the logged-in customer's (or the user is a cloud administrator), else None.
        Reading is not enough: its secrets and purchases are the customer's, not every reader's."""
        try:
            instance = self._document_check_access("hf.cloud.instance", instance_id)
        except (AccessError, MissingError):
            return None
        user = request.env.user
        if not (
            user.has_group("hf_cloud.group_hf_cloud_manager")
            or instance.sudo().partner_id.commercial_partner_id == user.partner_id.commercial_partner_id
        ):
            return None
        return instance

    def _hf_order(self, instance_id, product_id, kind, quantity="1"):
        """A quotation for a plan or an add-on on sale, then Odoo's order page to pay it: the quotas change
        when the payment confirms the order (sale_order.action_confirm), never on this click."""
        instance = self._hf_customer_instance(instance_id)
        if not instance:
            return request.redirect("/my")
        try:
            product = request.env["product.template"].sudo().browse(int(product_id or 0)).exists()
            quantity = int(quantity or 1)
        except ValueError:
            return request.redirect(f"/my/instances/{instance_id}?message=invalid")
        if not product or not product[f"hf_is_{kind}"]:
            return request.redirect(f"/my/instances/{instance_id}?message=invalid")
        try:
            with request.env.cr.savepoint():
                order = instance._hf_create_order(product, quantity)
        except UserError:
            return request.redirect(f"/my/instances/{instance_id}?message=invalid")
        return request.redirect(order.get_portal_url())
