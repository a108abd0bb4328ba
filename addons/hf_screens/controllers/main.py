import logging

from odoo import _, fields, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.tools.misc import get_lang

_logger = logging.getLogger(__name__)

# What an operator may see of an error: Odoo's own user-facing exceptions, never a traceback.
USER_ERRORS = (UserError, ValidationError, AccessError, MissingError)


def _run_action(screen, action, params, user):
    try:
        with request.env.cr.savepoint():
            screen._hf_operator_action(action, params, user)
    except USER_ERRORS as error:
        return {"ok": False, "message": error.args[0] if error.args else str(error)}
    return {"ok": True}


class HfScreensController(http.Controller):
    # --- kiosk: no login, one workcell, operator actions only ----------------------------------

    def _kiosk(self, token):
        kiosk = request.env["hf.screen.kiosk"]._hf_from_token(token)
        if not kiosk or kiosk.state != "active" or not kiosk.workcenter_id.active:
            return kiosk, None
        return kiosk, kiosk._hf_screen()

    def _refused(self, kiosk):
        return {
            "ok": False,
            "refused": True,
            "message": _("This kiosk link was revoked. Ask your supervisor for the new link of this machine.")
            if kiosk else _("This kiosk link is not valid. Ask your supervisor for the link of this machine."),
        }

    @http.route("/hf/kiosk/<string:token>", type="http", auth="public", sitemap=False)
    def kiosk_page(self, token, **kwargs):
        kiosk, screen = self._kiosk(token)
        if not screen:
            refused = self._refused(kiosk)
            return request.render("hf_screens.kiosk_refused", {"message": refused["message"]},
                                  status=403 if kiosk else 404)
        if not kiosk.last_seen or (fields.Datetime.now() - kiosk.last_seen).total_seconds() > 60:
            kiosk.last_seen = fields.Datetime.now()
        return request.render("hf_screens.kiosk_page", {
            "kiosk_info": {
                "token": token,
                "workcenter": kiosk.workcenter_id.name,
                "screen_id": screen.id,
                "lang": get_lang(request.env).code.replace("_", "-"),
            },
            "title": kiosk.workcenter_id.name,
        })

    @http.route("/hf/kiosk/<string:token>/data", type="json", auth="public")
    def kiosk_data(self, token, **kwargs):
        kiosk, screen = self._kiosk(token)
        if not screen:
            return self._refused(kiosk)
        return {"ok": True, **screen._hf_payload()}

    @http.route("/hf/kiosk/<string:token>/action", type="json", auth="public")
    def kiosk_action(self, token, action, params=None, **kwargs):
        kiosk, screen = self._kiosk(token)
        if not screen:
            return self._refused(kiosk)
        return _run_action(screen, action, params, kiosk.user_id)

    @http.route("/hf/kiosk/<string:token>/history", type="json", auth="public")
    def kiosk_history(self, token, tag_id, minutes=10, end=None, **kwargs):
        kiosk, screen = self._kiosk(token)
        if not screen:
            return self._refused(kiosk)
        try:
            return {"ok": True, **screen._hf_history(int(tag_id), minutes, end)}
        except USER_ERRORS as error:
            return {"ok": False, "message": error.args[0]}

    # --- backend screen (logged-in user, record rules apply) -------------------------------------

    def _screen(self, screen_id):
        screen = request.env["hf.screen"].browse(int(screen_id)).exists()
        if not screen:
            raise MissingError(_("This screen was deleted: open the workcell's machine screen again."))
        screen.check_access("read")
        screen._hf_check_operator(request.env.user)
        return screen

    @http.route("/hf/screen/<int:screen_id>/data", type="json", auth="user")
    def screen_data(self, screen_id, **kwargs):
        try:
            screen = self._screen(screen_id)
        except USER_ERRORS as error:
            return {"ok": False, "refused": True, "message": error.args[0]}
        return {"ok": True, **screen._hf_payload()}

    @http.route("/hf/screen/<int:screen_id>/action", type="json", auth="user")
    def screen_action(self, screen_id, action, params=None, **kwargs):
        try:
            screen = self._screen(screen_id)
        except USER_ERRORS as error:
            return {"ok": False, "message": error.args[0]}
        return _run_action(screen, action, params, request.env.user)

    @http.route("/hf/screen/<int:screen_id>/history", type="json", auth="user")
    def screen_history(self, screen_id, tag_id, minutes=10, end=None, **kwargs):
        try:
            screen = self._screen(screen_id)
            return {"ok": True, **screen._hf_history(int(tag_id), minutes, end)}
        except USER_ERRORS as error:
            return {"ok": False, "message": error.args[0]}
