"""Key pages: the list with filters, a key's detail and usage, create (shown once, or
straight into a vault), rotate, revoke, suspend and resume behind a confirmation.

A new key's plaintext exists in one HTTP answer only (`Cache-Control: no-store`); the form
that made it carries a one-time nonce, so a reload re-posts a spent nonce and is sent to the
key's page instead of creating, or showing, anything again.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keyguard.audit import AuditFilter, list_events
from keyguard.errors import InvalidInput
from keyguard.lifecycle import DEFAULT_GRACE, KeySpec, KeyView
from keyguard.monitoring import AlertFilter
from keyguard.policy import SCOPES, build_restrictions, parse_duration
from keyguard.rotation import rotate_handed_out
from keyguard.users import SessionView
from keyguard.verification import Owner
from keyguard.web.deps import Form, Session, check_csrf, recently_authenticated, require
from keyguard.web.render import page, usage_chart
from keyguard.web.routing import Redirect, WebRoute
from keyguard.web.state import web_state

router = APIRouter(route_class=WebRoute, include_in_schema=False)
KeyId = Annotated[str, Path(pattern=r"^key_[0-9A-Za-z]{1,36}$")]
STATES: Final = ("active", "rotating", "suspended", "revoked", "expired")
ACTIONS: Final = {
    "rotate": "Rotate: issue a successor (shown once); this key works until its grace ends.",
    "revoke": "Revoke: refuse this key everywhere, at once. This cannot be undone.",
    "suspend": "Suspend: refuse this key until it is resumed.",
    "resume": "Resume: accept this suspended key again.",
}
SENSITIVE: Final = frozenset({"rotate", "revoke"})
EXPIRIES: Final = ("30d", "90d", "180d", "365d")
WINDOWS: Final = {24: "24 hours", 48: "48 hours", 168: "7 days", 720: "30 days"}


def all_keys(request: Request, view: SessionView) -> list[KeyView]:
    return web_state(request).runtime.keys.list(view.actor(), limit=1000)


@router.get("/ui/keys")
def keys(
    request: Request, view: Session, state: str = "", q: str = "", scope: str = ""
) -> Response:
    require(view, "keys:read")
    found = [
        k for k in all_keys(request, view)
        if (not state or k.state == state)
        and (not q or q.lower() in f"{k.id} {k.name or ''} {k.display_prefix}".lower())
        and (not scope or scope in k.scopes)
    ]  # fmt: skip
    return page(
        request,
        "keys.html",
        keys=found,
        states=STATES,
        state=state,
        q=q,
        scope=scope,
        scopes=sorted(SCOPES),
    )


@router.get("/ui/keys/new")
def new_key(request: Request, view: Session) -> Response:
    require(view, "keys:write")
    recently_authenticated(request, view, "/ui/keys/new")
    return _new_form(request, view, error=None)


def _new_form(
    request: Request, view: SessionView, *, error: str | None, status: int = 200
) -> Response:
    offered = sorted(s for s in SCOPES if view.may(s))
    nonce = web_state(request).runtime.users.web.issue_nonce(view.id)
    return page(
        request,
        "key_new.html",
        status=status,
        scopes=offered,
        expiries=EXPIRIES,
        nonce=nonce,
        error=error,
    )


@router.post("/ui/keys/new")
def create_key(request: Request, view: Session, fields: Form) -> Response:
    check_csrf(request, view, fields)
    require(view, "keys:write")
    recently_authenticated(request, view, "/ui/keys/new")
    runtime = web_state(request).runtime
    if not runtime.users.web.spend_nonce(view.id, fields.get("nonce", "")):
        raise Redirect("/ui/keys?notice=shown-once")  # a reload: nothing is made or shown again
    spec = KeySpec(
        tenant_id=view.tenant_id or "",
        env=view.env,
        scopes=[s for s in fields.get("scope", "").split("\n") if s],
        restrictions=build_restrictions(
            allowed_cidrs=_lines(fields.get("allowed_cidrs", "")),
            sender_domains=_lines(fields.get("sender_domains", "")),
        ),
        expires_in=parse_duration(fields.get("expires_in") or "90d", field="expires_in"),
        name=fields.get("name") or None,
    )
    target = fields.get("deliver", "").strip()
    if target:
        delivered = runtime.rotation.create_delivered(view.actor(), spec, target)
        return page(request, "key_delivered.html", key=delivered.key, target=delivered.target)
    created = runtime.keys.create(view.actor(), spec)
    return page(
        request, "key_created.html", key=created.view, raw=created.key.reveal(), title="Key created"
    )


@router.get("/ui/keys/{key_id}")
def key_detail(request: Request, view: Session, key_id: KeyId, hours: int = 48) -> Response:
    require(view, "keys:read")
    runtime = web_state(request).runtime
    actor = view.actor()
    key = runtime.keys.show(actor, key_id)
    owner = Owner(key.tenant_id, key.env)
    now = runtime.clock()
    hours = hours if hours in WINDOWS else 48
    series = runtime.history.series(
        key_id, owner=owner, start=now - timedelta(hours=hours), end=now,
        bucket="hour" if hours <= 48 else "day",
    )  # fmt: skip
    sources = runtime.history.sources(key_id, owner=owner)
    alerts = (
        runtime.alerts.list(actor, AlertFilter(key_id=key_id), limit=20)
        if view.may("alerts:read")
        else []
    )
    with runtime.sessions() as session:
        history = list_events(
            session, key.tenant_id, limit=20, where=AuditFilter(target=key_id), env=key.env
        )
    return page(
        request, "key_detail.html", key=key, chart=usage_chart(series), series=series,
        sources=sources, alerts=alerts, history=history, actions=ACTIONS,
        may_write=view.may("keys:write"), hours=hours, windows=WINDOWS,
    )  # fmt: skip


@router.get("/ui/keys/{key_id}/{action}")
def confirm(request: Request, view: Session, key_id: KeyId, action: str) -> Response:
    """The confirmation page of an action: works without JavaScript, states the effect."""
    if action not in ACTIONS:
        raise InvalidInput("unknown action", code="not_found")
    require(view, "keys:write")
    back = f"/ui/keys/{key_id}/{action}"
    if action in SENSITIVE:
        recently_authenticated(request, view, back)
    key = web_state(request).runtime.keys.show(view.actor(), key_id)
    nonce = web_state(request).runtime.users.web.issue_nonce(view.id)
    return page(
        request, "key_confirm.html", key=key, action=action, effect=ACTIONS[action], nonce=nonce
    )


@router.post("/ui/keys/{key_id}/{action}")
def act(request: Request, view: Session, fields: Form, key_id: KeyId, action: str) -> Response:
    check_csrf(request, view, fields)
    if action not in ACTIONS:
        raise InvalidInput("unknown action", code="not_found")
    require(view, "keys:write")
    if action in SENSITIVE:
        recently_authenticated(request, view, f"/ui/keys/{key_id}/{action}")
    if fields.get("confirm") != "yes":
        raise InvalidInput("tick the confirmation box to go ahead", code="confirmation_required")
    runtime = web_state(request).runtime
    actor = view.actor()
    reason = fields.get("reason") or None
    if action == "rotate":
        if not runtime.users.web.spend_nonce(view.id, fields.get("nonce", "")):
            raise Redirect(f"/ui/keys/{key_id}?notice=shown-once")
        grace = (
            parse_duration(fields["grace"], field="grace") if fields.get("grace") else DEFAULT_GRACE
        )
        created = rotate_handed_out(runtime.keys, runtime.sessions, actor, key_id, grace)
        return page(
            request,
            "key_created.html",
            key=created.view,
            raw=created.key.reveal(),
            title="Key rotated",
        )
    if action == "revoke":
        runtime.keys.revoke(actor, key_id, reason)
    elif action == "suspend":
        runtime.keys.suspend(actor, key_id, reason)
    else:
        runtime.keys.resume(actor, key_id)
    return RedirectResponse(f"/ui/keys/{key_id}?done={action}", status_code=303)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def environments(view: SessionView) -> dict[str, SessionView]:
    """The same person in each environment (the overview counts keys in all three)."""
    return {env: dataclasses.replace(view, env=env) for env in ("live", "test", "dev")}
