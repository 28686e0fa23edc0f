"""What dashboard routes depend on: the session, its form, its CSRF check, its powers.

Every POST carries the session's CSRF token in a hidden field and is compared in constant
time; a cross-site request also fails on SameSite=Strict and on its Origin header. A
sensitive action (create, rotate, revoke, reveal, policy, people) needs a factor presented in
the last five minutes: otherwise the browser is sent to /ui/reauth first.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import parse_qsl, quote

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from keyguard.errors import InvalidInput, PermissionDenied
from keyguard.users import SessionView
from keyguard.web.routing import Redirect
from keyguard.web.state import web_state

COOKIE = "kg_session"
SECURE_COOKIE = "__Host-kg_session"  # __Host-: Secure, Path=/, no Domain: no subdomain sets it
MAX_FORM = 64 * 1024


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if web_state(request).secure_cookies(request) else COOKIE


def session_token(request: Request) -> str | None:
    return request.cookies.get(cookie_name(request))


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        cookie_name(request),
        token,
        httponly=True,  # no script reads it, an injected one included
        secure=web_state(request).secure_cookies(request),
        samesite="strict",  # never sent on a request another site starts
        path="/",
    )


def any_session(request: Request) -> SessionView | None:
    view = web_state(request).runtime.users.web.current(session_token(request))
    request.state.web_session = view if view is not None and view.signed_in else None
    return view


def signed_in(request: Request) -> SessionView:
    view = any_session(request)
    if view is None or not view.signed_in:
        raise Redirect("/ui/login")
    return view


async def form(request: Request) -> dict[str, str]:
    """The urlencoded body, first value per field, bounded in size."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise InvalidInput("the form is too large", code="form_too_large")
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields[name] = f"{fields[name]}\n{value}" if name in fields else value  # checkboxes
    return fields


def check_csrf(request: Request, view: SessionView | None, fields: dict[str, str]) -> None:
    origin = request.headers.get("origin")
    own = web_state(request).origin(request)
    if origin is not None and origin != own:
        raise PermissionDenied("this form came from another site", code="csrf_refused")
    given = fields.get("csrf", "")
    if view is None or not hmac.compare_digest(given.encode(), view.csrf.encode()):
        raise PermissionDenied(
            "this form expired or did not come from this page; reload and try again",
            code="csrf_refused",
        )


Form = Annotated[dict[str, str], Depends(form)]
Session = Annotated[SessionView, Depends(signed_in)]


def posted(request: Request, view: SessionView, fields: dict[str, str]) -> None:
    """The checks of every signed-in POST: CSRF."""
    check_csrf(request, view, fields)


def require(view: SessionView, scope: str) -> None:
    """The same scope check the API makes with require_scope(), on the role's scopes."""
    if not view.may(scope):
        raise PermissionDenied(f"your role ({view.role}) does not allow {scope}", code="forbidden")


def recently_authenticated(request: Request, view: SessionView, back: str) -> None:
    users = web_state(request).runtime.users
    if not view.recently_authenticated(web_state(request).runtime.clock(), users.web.policy):
        raise Redirect(f"/ui/reauth?next={quote(back, safe='/')}")
