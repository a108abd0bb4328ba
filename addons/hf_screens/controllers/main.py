import logging

from odoo import _, fields, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.tools.misc import get_lang

from ..models.hf_screen import record_id
from ..models.hf_screen_kiosk import KioskRateLimited

_logger = logging.getLogger(__name__)

# What an operator may see of an error: Odoo's own user-facing exceptions, never a traceback.
USER_ERRORS = (UserError, ValidationError, AccessError, MissingError)
KIOSK_TOKEN_HEADER = "X-HF-Kiosk-Token"


def _error(error):
    """A user-facing exception as the JSON the screen client reads, with an HTTP-like code (the JSON-RPC
    response itself is always 200): 400 bad input, 403 refused, 404 gone, 429 too many."""
    code = (
        429
        if isinstance(error, KioskRateLimited)
        else 403
        if isinstance(error, AccessError)
        else 404
        if isinstance(error, MissingError)
        else 400
    )
    result = {"ok": False, "code": code, "message": error.args[0] if error.args else str(error)}
    if isinstance(error, KioskRateLimited):
        result["retry_after"] = error.retry_after
    return result


def _run_action(screen, action, params, user):
    try:
        if not isinstance(action, str) or (params is not None and not isinstance(params, dict)):
            raise UserError(_("This screen action is malformed: reload the screen."))
        with request.env.cr.savepoint():
            screen._hf_operator_action(action, params, user)
    except USER_ERRORS as error:
        return _error(error)
    return {"ok": True}


class HfScreensController(http.Controller):
    # --- kiosk: no login, one workcell, operator actions only ----------------------------------
    # The page's URL holds the token once (it is the link on the tablet); the screen's requests, once a
    # second, send it in a header or the JSON body instead, so access logs do not repeat it.

    def _kiosk(self, token):
        """(kiosk, screen as the kiosk's user, refusal sentence): the screen only when the link may be used."""
        kiosk = request.env["hf.screen.kiosk"]._hf_from_token(token)
        refusal = kiosk._hf_refusal()
        if refusal:
            return kiosk, None, refusal
        screen = kiosk._hf_screen().with_user(kiosk.user_id)  # record rules of the kiosk's operator apply
        return kiosk, screen, ""

    def _request_token(self, token=None):
        return request.httprequest.headers.get(KIOSK_TOKEN_HEADER) or token

    @staticmethod
    def _refused(kiosk, refusal):
        return {"ok": False, "refused": True, "code": 403 if kiosk else 404, "message": refusal}

    @http.route("/hf/kiosk/<string:token>", type="http", auth="public", sitemap=False)
    def kiosk_page(self, token, **kwargs):
        kiosk, screen, refusal = self._kiosk(token)
        if not screen:
            return request.render("hf_screens.kiosk_refused", {"message": refusal}, status=403 if kiosk else 404)
        if not kiosk.last_seen or (fields.Datetime.now() - kiosk.last_seen).total_seconds() > 60:
            kiosk.last_seen = fields.Datetime.now()
        return request.render(
            "hf_screens.kiosk_page",
            {
                "kiosk_info": {
                    "token": token,
                    "workcenter": kiosk.workcenter_id.name,
                    "screen_id": screen.id,
                    "lang": get_lang(request.env).code.replace("_", "-"),
                },
                "title": kiosk.workcenter_id.name,
            },
        )

    @http.route("/hf/kiosk/data", type="json", auth="public")
    def kiosk_data(self, token=None, **kwargs):
        kiosk, screen, refusal = self._kiosk(self._request_token(token))
        if not screen:
            return self._refused(kiosk, refusal)
        return {"ok": True, **screen._hf_payload()}

    @http.route("/hf/kiosk/action", type="json", auth="public")
    def kiosk_action(self, token=None, action=None, params=None, **kwargs):
        kiosk, screen, refusal = self._kiosk(self._request_token(token))
        if not screen:
            return self._refused(kiosk, refusal)
        try:
            kiosk._hf_count_action()
        except KioskRateLimited as error:
            return _error(error)
        return _run_action(screen, action, params, kiosk.user_id)

    @http.route("/hf/kiosk/history", type="json", auth="public")
    def kiosk_history(self, token=None, tag_id=None, minutes=10, end=None, **kwargs):
        kiosk, screen, refusal = self._kiosk(self._request_token(token))
        if not screen:
            return self._refused(kiosk, refusal)
        try:
            return {"ok": True, **screen._hf_trend(record_id(tag_id, _("The tag")), minutes, end)}
        except USER_ERRORS as error:
            return _error(error)

    @http.route(
        ["/hf/kiosk/<string:token>/data", "/hf/kiosk/<string:token>/action", "/hf/kiosk/<string:token>/history"],
        type="json",
        auth="public",
    )
    def kiosk_old_client(self, token, **kwargs):
        """A tablet still running the client from before the token left the URL: it reloads the page."""
        return {
            "ok": False,
            "refused": True,
            "code": 410,
            "message": _("This kiosk was updated: reload the page (or open the kiosk link again)."),
        }

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
            return {**_error(error), "refused": True}
        return {"ok": True, **screen._hf_payload()}

    @http.route("/hf/screen/<int:screen_id>/action", type="json", auth="user")
    def screen_action(self, screen_id, action=None, params=None, **kwargs):
        try:
            screen = self._screen(screen_id)
        except USER_ERRORS as error:
            return _error(error)
        return _run_action(screen, action, params, request.env.user)

    @http.route("/hf/screen/<int:screen_id>/history", type="json", auth="user")
    def screen_history(self, screen_id, tag_id=None, minutes=10, end=None, **kwargs):
        try:
            screen = self._screen(screen_id)
            return {"ok": True, **screen._hf_trend(record_id(tag_id, _("The tag")), minutes, end)}
        except USER_ERRORS as error:
            return _error(error)
