"""Odoo's "click everywhere" over our menus: every window action behind a menu of a Hyperfactory addon opens
its list, form, kanban and search views and loads its first page, as the administrator and as a user of each
of our groups (the menus each one sees). A view or a field that does not load fails here, not at a user."""

from odoo.tests import TransactionCase, tagged
from odoo.tools.safe_eval import safe_eval

OUR_MODULES = ("hf_uns", "hf_screens", "hf_ml", "hf_cloud", "hf_cloud_tenant")


@tagged("post_install", "-at_install")
class TestClickEverywhere(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        data = cls.env["ir.model.data"].search([("module", "in", OUR_MODULES)])
        cls.our_menu_ids = set(data.filtered(lambda d: d.model == "ir.ui.menu").mapped("res_id"))
        groups = cls.env["res.groups"].browse(data.filtered(lambda d: d.model == "res.groups").mapped("res_id"))
        cls.users = cls.env.ref("base.user_admin")
        for group in groups:
            cls.users |= (
                cls.env["res.users"]
                .with_context(no_reset_password=True)
                .create(
                    {
                        "name": f"Click {group.full_name}",
                        "login": f"click_{group.id}@example.com",
                        "groups_id": [(6, 0, [cls.env.ref("base.group_user").id, group.id])],
                    }
                )
            )

    def _visible_actions(self, user):
        menus = self.env["ir.ui.menu"].with_user(user)._visible_menu_ids()
        for menu in self.env["ir.ui.menu"].browse(sorted(menus & self.our_menu_ids)):
            if menu.action and menu.action._name == "ir.actions.act_window":
                yield menu, menu.action

    def _open(self, user, menu, action):
        # What the web client does when the menu is clicked: the action's context and domain, evaluated
        # without an active record, then the views and the first page of records.
        eval_context = {**action.with_user(user)._get_eval_context(), "active_id": False, "active_ids": []}
        context = safe_eval(action.context or "{}", eval_context)
        domain = safe_eval(action.domain or "[]", eval_context)
        model = self.env(user=user, context=dict(self.env.context, **context))[action.res_model]
        modes = [mode for mode in action.view_mode.split(",") if mode in ("list", "form", "kanban")]
        views = model.get_views([(False, mode) for mode in modes] + [(False, "search")])
        self.assertTrue(views["views"], f"{menu.complete_name}: no view loads")
        in_views = views["models"][model._name]["fields"]
        fields_spec = {
            name: {}
            for name, field in model._fields.items()
            if name in in_views and field.type not in ("one2many", "many2many", "binary")
        }
        page = model.web_search_read(domain, fields_spec, limit=20)
        if "form" in modes and page["records"]:
            model.browse(page["records"][0]["id"]).web_read(fields_spec)
        if "form" in modes and model.has_access("create"):
            model.default_get(list(fields_spec))

    def test_every_menu_of_ours_opens_for_every_group(self):
        opened = 0
        for user in self.users:
            for menu, action in self._visible_actions(user):
                with self.subTest(user=user.name, menu=menu.complete_name):
                    self._open(user, menu, action)
                    opened += 1
        self.assertGreater(opened, 10, "the menus of our addons were not found")
