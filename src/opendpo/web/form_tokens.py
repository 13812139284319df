"""Double-submit CSRF tokens for forms people send before any session exists.

A random value goes in a short-lived SameSite=Strict cookie and the same value in a hidden
field; a site that cannot read our cookies cannot make the two match. The console sign-in
form and the public consent forms work this way (opendpo.web.pages.sign_in has its own copy
of the mechanism, with the sign-in path as the cookie's path).

    FORM_TOKEN = FormToken("opendpo_form_csrf", path="/")
    token = FORM_TOKEN.current(request)       # put in the form's hidden `csrf_token` field
    FORM_TOKEN.attach(response, settings, token)
    FORM_TOKEN.check(request, csrf_token)     # CsrfFailed unless cookie and field match
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from opendpo.security.errors import CsrfFailed
from opendpo.settings import Settings

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32), matched whole


class FormToken:
    def __init__(self, cookie: str, *, path: str, max_age: int) -> None:
        self.cookie = cookie
        self.path = path
        self.max_age = max_age

    def current(self, request: Request) -> str:
        """The token this browser already holds, or a new one.

        Keeping it while its cookie lives means two open tabs do not spoil each other, and a
        response to a browser is the same whatever the form was about.
        """
        token = request.cookies.get(self.cookie, "")
        return token if _TOKEN.fullmatch(token) else secrets.token_urlsafe(32)

    def attach(self, response: Response, settings: Settings, token: str) -> None:
        response.set_cookie(
            self.cookie,
            token,
            max_age=self.max_age,
            path=self.path,
            secure=settings.behind_tls,
            httponly=True,
            samesite="strict",
        )

    def check(self, request: Request, sent: str) -> None:
        cookie = request.cookies.get(self.cookie, "")
        # Both checked for shape first: compare_digest refuses non-ASCII text with a TypeError.
        if not (_TOKEN.fullmatch(cookie) and _TOKEN.fullmatch(sent)):
            raise CsrfFailed()
        if not secrets.compare_digest(cookie, sent):
            raise CsrfFailed()


# One token for every public form: a person moving from the opt-in form to the preference
# centre keeps the same one. Two hours: time to read the wording and decide.
PUBLIC_FORMS = FormToken("opendpo_form_csrf", path="/", max_age=2 * 3600)
