"""Signing in and out, set-up, re-authentication: the dashboard's pages before the pages.

A sign-in form belongs to a pending server-side session (its CSRF token, its WebAuthn
challenge); signing in deletes it and opens a new session with a new token (no fixation).
Passkey pages need JavaScript for `navigator.credentials` only: /ui/static/passkey.js asks
for the options, runs the ceremony and submits the answer as an ordinary form.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from keyguard.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from keyguard.users import Relying, SessionView, new_totp_secret, totp_uri
from keyguard.web.deps import (
    Form,
    any_session,
    check_csrf,
    cookie_name,
    session_token,
    set_session_cookie,
    signed_in,
)
from keyguard.web.render import page
from keyguard.web.routing import Redirect, WebRoute
from keyguard.web.state import client_ip, web_state

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def relying(request: Request) -> Relying:
    """Passkeys belong to the host name the browser shows; the origin is checked exactly.
    Both come from the public URL when one is set, so a proxy's Host or scheme does not."""
    state = web_state(request)
    return Relying(rp_id=state.host(request), origin=state.origin(request))


def _pending(request: Request) -> tuple[SessionView, str | None]:
    """The request's session, or a new pending one (its token, to be set as the cookie)."""
    view = any_session(request)
    if view is not None:
        return view, None
    token, view = web_state(request).runtime.users.web.open_pending(client_ip(request))
    return view, token


def _with_cookie(request: Request, response: Response, token: str | None) -> Response:
    if token is not None:
        set_session_cookie(request, response, token)
    return response


def _signed_in_as(request: Request, user_id: str, *, strong: bool, to: str = "/ui/") -> Response:
    users = web_state(request).runtime.users
    token, _ = users.web.open(
        user_id, client_ip(request), strong=strong, replaces=session_token(request)
    )
    response = RedirectResponse(to, status_code=303)
    set_session_cookie(request, response, token)
    return response


def _form_session(request: Request, fields: dict[str, str]) -> SessionView:
    view = any_session(request)
    check_csrf(request, view, fields)
    assert view is not None  # noqa: S101 - check_csrf refuses a missing session
    return view


@router.get("/ui")
def root() -> Response:
    return RedirectResponse("/ui/", status_code=308)


@router.get("/ui/login")
def login(request: Request) -> Response:
    view, token = _pending(request)
    if view.signed_in:
        raise Redirect("/ui/")
    return _with_cookie(request, page(request, "login.html", csrf=view.csrf, error=None), token)


@router.post("/ui/login/password")
def login_password(request: Request, fields: Form) -> Response:
    _form_session(request, fields)
    users = web_state(request).runtime.users
    try:
        user_id = users.sign_in_password(
            fields.get("email", ""),
            fields.get("password", ""),
            fields.get("code", ""),
            ip=client_ip(request),
        )
    except AuthenticationFailed as failed:
        return _login_again(request, failed.message)
    return _signed_in_as(request, user_id, strong=True)


@router.post("/ui/login/recovery")
def login_recovery(request: Request, fields: Form) -> Response:
    _form_session(request, fields)
    users = web_state(request).runtime.users
    try:
        user_id = users.sign_in_recovery(
            fields.get("email", ""),
            fields.get("recovery_code", ""),
            password=fields.get("password", ""),
            ip=client_ip(request),
        )
    except AuthenticationFailed as failed:
        return _login_again(request, failed.message)
    # A recovery code is a last resort, not a strong factor: sensitive actions still ask for
    # a passkey or TOTP code; the account page invites the person to set up a new factor.
    return _signed_in_as(request, user_id, strong=False, to="/ui/account?recovered=1")


@router.post("/ui/login/passkey")
def login_passkey(request: Request, fields: Form) -> Response:
    view = _form_session(request, fields)
    users = web_state(request).runtime.users
    challenge = users.web.take_challenge(view.id)
    try:
        if challenge is None:
            raise AuthenticationFailed("start again", code="sign_in_failed")
        user_id = users.sign_in_passkey(
            relying(request), fields.get("credential", ""), challenge, ip=client_ip(request)
        )
    except AuthenticationFailed as failed:
        return _login_again(request, failed.message)
    return _signed_in_as(request, user_id, strong=True)


def _login_again(request: Request, message: str) -> Response:
    view, token = _pending(request)
    return _with_cookie(
        request, page(request, "login.html", status=401, csrf=view.csrf, error=message), token
    )


@router.post("/ui/passkey/options")
def passkey_options(request: Request, fields: Form) -> Response:
    """WebAuthn options for `purpose` login, register (set-up or account) or reauth."""
    view = _form_session(request, fields)
    users = web_state(request).runtime.users
    purpose = fields.get("purpose", "")
    if purpose == "register" and fields.get("token"):
        options, challenge = users.passkey_options(relying(request), token=fields["token"])
    elif purpose == "register" and view.signed_in:
        options, challenge = users.passkey_options(relying(request), user_id=view.user_id)
    elif purpose in ("login", "reauth"):
        options, challenge = users.sign_in_options(relying(request))
    else:
        raise InvalidInput("unknown purpose", code="invalid_purpose")
    users.web.set_challenge(view.id, challenge)
    return JSONResponse(json.loads(options))


@router.get("/ui/setup")
def setup(request: Request, token: Annotated[str, Query(max_length=100)] = "") -> Response:
    view, cookie = _pending(request)
    user = web_state(request).runtime.users.setup_user(token)
    secret = new_totp_secret()
    context: dict[str, Any] = {
        "csrf": view.csrf,
        "token": token,
        "user": user,
        "secret": secret,
        "uri": totp_uri(secret, user.email),
    }
    return _with_cookie(request, page(request, "setup.html", **context), cookie)


@router.post("/ui/setup/password")
def setup_password(request: Request, fields: Form) -> Response:
    _form_session(request, fields)
    users = web_state(request).runtime.users
    token = fields.get("token", "")
    user = users.setup_user(token)
    if fields.get("password", "") != fields.get("password_again", ""):
        raise InvalidInput("the two passwords differ", code="password_mismatch", field="password")
    codes = users.setup_password(
        token,
        password=fields.get("password", ""),
        totp_secret=fields.get("totp_secret", ""),
        code=fields.get("code", ""),
    )
    return _recovery_codes(request, user.id, codes)


@router.post("/ui/setup/passkey")
def setup_passkey(request: Request, fields: Form) -> Response:
    view = _form_session(request, fields)
    users = web_state(request).runtime.users
    challenge = users.web.take_challenge(view.id)
    if challenge is None:
        raise AuthenticationFailed("start again", code="passkey_refused")
    user_id, codes = users.add_passkey(
        relying(request),
        fields.get("credential", ""),
        challenge,
        token=fields.get("token", ""),
        name=fields.get("name") or None,
    )
    return _recovery_codes(request, user_id, codes)


def _recovery_codes(request: Request, user_id: str, codes: list[str]) -> Response:
    """Signed in, with the recovery codes on this one page (never stored in clear)."""
    users = web_state(request).runtime.users
    token, view = users.web.open(
        user_id, client_ip(request), strong=True, replaces=session_token(request)
    )
    request.state.web_session = view
    response = page(request, "recovery_codes.html", codes=codes)
    set_session_cookie(request, response, token)
    return response


@router.get("/ui/reauth")
def reauth(
    request: Request, view: Annotated[SessionView, Depends(signed_in)], next: str = "/ui/"
) -> Response:
    users = web_state(request).runtime.users
    return page(
        request,
        "reauth.html",
        back=_local(next),
        has_totp=users.has_totp(view.user_id or ""),
        error=None,
    )


@router.post("/ui/reauth")
def reauth_post(
    request: Request, fields: Form, view: Annotated[SessionView, Depends(signed_in)]
) -> Response:
    check_csrf(request, view, fields)
    users = web_state(request).runtime.users
    back = _local(fields.get("next", "/ui/"))
    try:
        if fields.get("credential"):
            challenge = users.web.take_challenge(view.id)
            if challenge is None:
                raise AuthenticationFailed("start again", code="reauth_failed")
            users.reauthenticate_passkey(
                view.user_id or "", relying(request), fields["credential"], challenge
            )
        else:
            users.reauthenticate_totp(view.user_id or "", fields.get("code", ""))
    except AuthenticationFailed as failed:
        has_totp = users.has_totp(view.user_id or "")
        return page(
            request, "reauth.html", status=401, back=back, has_totp=has_totp, error=failed.message
        )
    users.web.mark_reauthenticated(view.id)
    return RedirectResponse(back, status_code=303)


@router.post("/ui/logout")
def logout(
    request: Request, fields: Form, view: Annotated[SessionView, Depends(signed_in)]
) -> Response:
    check_csrf(request, view, fields)
    token = session_token(request)
    if token:
        web_state(request).runtime.users.web.end(token)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(cookie_name(request), path="/")
    return response


@router.post("/ui/switch")
def switch(
    request: Request, fields: Form, view: Annotated[SessionView, Depends(signed_in)]
) -> Response:
    check_csrf(request, view, fields)
    if fields.get("tenant", "") not in view.tenants:
        raise PermissionDenied("not a tenant of yours", code="forbidden")
    web_state(request).runtime.users.web.switch(
        view.id, tenant_id=fields["tenant"], env=fields.get("env", "live")
    )
    return RedirectResponse(_local(fields.get("next", "/ui/")), status_code=303)


def _local(target: str) -> str:
    """Only a path of the dashboard: an open redirect would lend our name to a phishing link."""
    if not target.startswith("/ui/") or target.startswith("//") or "\\" in target:
        return "/ui/"
    return quote(target, safe="/?=&-_.")
