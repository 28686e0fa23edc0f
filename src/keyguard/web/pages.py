"""The dashboard's other pages: overview, alerts, incidents (and their reports), the audit
log with the chain's status, access review, users, the account (webhooks: web/webhooks.py).

Each route checks the same scope the API route over the same service requires, then calls
that service as the person's Actor; another tenant's or environment's thing is `not_found`.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keyguard.audit import list_events, verify_chain
from keyguard.errors import InvalidInput, NotFound
from keyguard.incidents import MEDIA_TYPES, OpenRequest, render
from keyguard.lifecycle import DEFAULT_GRACE, get_tenant
from keyguard.monitoring import (
    ACTIONS,
    MODES,
    SEVERITIES,
    AlertFilter,
    EngineConfig,
    default_rules,
    load_policy,
    save_policy,
    updated,
)
from keyguard.policy import parse_duration
from keyguard.users import ROLE_NAMES, ROLES
from keyguard.web.auth import relying
from keyguard.web.deps import Form, Session, check_csrf, recently_authenticated, require
from keyguard.web.keys import all_keys, environments
from keyguard.web.render import page
from keyguard.web.routing import WebRoute
from keyguard.web.state import web_state

router = APIRouter(route_class=WebRoute, include_in_schema=False)
IncidentId = Annotated[str, Path(pattern=r"^inc_[0-9A-Za-z]{1,36}$")]
FindingId = Annotated[str, Path(pattern=r"^rv_[0-9a-f]{20}$")]
ALERT_MOVES: Final = {
    "ack": "acknowledged",
    "resolve": "resolved",
    "false-positive": "false_positive",
}
EXPIRING: Final = timedelta(days=14)
# A report holds attacker-controlled text (user agents, paths): it runs and fetches nothing.
REPORT_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@router.get("/ui/")
def overview(request: Request, view: Session) -> Response:
    require(view, "keys:read")
    runtime = web_state(request).runtime
    now = runtime.clock()
    by_env = {
        env: Counter(k.state for k in all_keys(request, v)) for env, v in environments(view).items()
    }
    keys = all_keys(request, view)
    expiring = [
        k for k in keys if k.state in ("active", "rotating") and k.expires_at - now < EXPIRING
    ]
    actor = view.actor()
    alerts = (
        runtime.alerts.list(actor, AlertFilter(state="open"), limit=500)
        if view.may("alerts:read")
        else []
    )
    incidents = runtime.incidents.list(actor, state="open", limit=50)
    findings = runtime.review.review(actor).findings
    return page(
        request, "overview.html", by_env=by_env, expiring=expiring, alerts=alerts,
        incidents=incidents, findings=findings,
    )  # fmt: skip


# -- alerts ------------------------------------------------------------------------------


@router.get("/ui/alerts")
def alerts(request: Request, view: Session, state: str = "") -> Response:
    require(view, "alerts:read")
    where = AlertFilter(state=state or None)
    found = web_state(request).runtime.alerts.list(view.actor(), where, limit=200)
    return page(
        request, "alerts.html", alerts=found, state=state, may_write=view.may("alerts:write")
    )


@router.post("/ui/alerts/{alert_id}/{move}")
def move_alert(
    request: Request,
    view: Session,
    fields: Form,
    alert_id: Annotated[int, Path(ge=1, le=2**62)],
    move: str,
) -> Response:
    check_csrf(request, view, fields)
    require(view, "alerts:write")
    if move not in ALERT_MOVES:
        raise NotFound("no such action")
    web_state(request).runtime.alerts.move(view.actor(), alert_id, ALERT_MOVES[move])
    return RedirectResponse(f"/ui/alerts?done={move}", status_code=303)


@router.get("/ui/alerts/policy")
def response_policy(request: Request, view: Session) -> Response:
    require(view, "alerts:read")
    with web_state(request).runtime.sessions() as session:
        policy = load_policy(session, view.tenant_id)
    return page(
        request, "policy.html", policy=policy, modes=MODES, actions=ACTIONS,
        severities=SEVERITIES, rules=rule_names(),
        may_write=view.may("alerts:write") and view.may("keys:write"),
    )  # fmt: skip


@functools.cache
def rule_names() -> tuple[str, ...]:
    """The detector's rules, each of which may have its own action over its severity's."""
    return tuple(rule.name for rule in default_rules(EngineConfig(), {}))


@router.post("/ui/alerts/policy")
def set_response_policy(request: Request, view: Session, fields: Form) -> Response:
    """What the detector does on its own (throttle, quarantine, revoke keys): sensitive."""
    check_csrf(request, view, fields)
    require(view, "alerts:write")
    require(view, "keys:write")  # the policy quarantines and revokes keys
    recently_authenticated(request, view, "/ui/alerts/policy")
    runtime = web_state(request).runtime
    tenant = view.tenant_id or ""
    with runtime.sessions.begin() as session:
        current = load_policy(session, tenant)
        by_severity = {s: fields.get(f"severity_{s}", current.by_severity[s]) for s in SEVERITIES}
        policy = updated(
            current,
            mode=fields.get("mode") or None,
            by_severity=by_severity,
            by_rule=_by_rule(fields, current.by_rule),
            throttle_per_minute=_whole(fields.get("throttle_per_minute"), "throttle_per_minute"),
            throttle_seconds=_seconds(fields.get("throttle_for")),
        )
        save_policy(session, runtime.clock(), f"user:{view.user_id}", tenant, policy)
    return RedirectResponse("/ui/alerts/policy?done=saved", status_code=303)


def _by_rule(fields: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """A rule's own action where the form gives one; empty: its severity's (no override)."""
    chosen = dict(current)
    for name in rule_names():
        if f"rule_{name}" in fields:
            action = fields[f"rule_{name}"]
            if action:
                chosen[name] = action  # checked by updated(), as the CLI's are
            else:
                chosen.pop(name, None)
    return chosen


def _whole(text: str | None, field: str) -> int | None:
    if not text:
        return None
    if not text.strip().isdigit() or len(text.strip()) > 9:
        raise InvalidInput(f"{field} is a whole number", code="invalid_number", field=field)
    return int(text)


def _seconds(text: str | None) -> int | None:
    return int(parse_duration(text, field="throttle_for").total_seconds()) if text else None


# -- the tenant's key policy ------------------------------------------------------------


@router.get("/ui/key-policy")
def key_policy(request: Request, view: Session) -> Response:
    """The tenant's limits on keys (read-only: set by the operator) and whether a revoked
    key's queued mail is held."""
    require(view, "keys:read")
    runtime = web_state(request).runtime
    with runtime.sessions() as session:
        tenant = get_tenant(session, view.tenant_id or "")
        limits = (tenant.max_key_lifetime_days, tenant.default_key_lifetime_days)
    return page(
        request, "key_policy.html", max_days=limits[0], default_days=limits[1],
        hold=runtime.mail.domains.holds_revoked_mail(tenant.id), may_write=view.may("keys:write"),
    )  # fmt: skip


@router.post("/ui/key-policy")
def set_key_policy(request: Request, view: Session, fields: Form) -> Response:
    """Holding a revoked key's mail is what a revocation does to it: sensitive."""
    check_csrf(request, view, fields)
    require(view, "keys:write")
    recently_authenticated(request, view, "/ui/key-policy")
    if fields.get("hold_revoked_mail") not in ("on", "off"):
        raise InvalidInput("hold_revoked_mail is on or off", field="hold_revoked_mail")
    web_state(request).runtime.mail.domains.set_hold_revoked_mail(
        view.tenant_id or "", fields["hold_revoked_mail"] == "on", f"user:{view.user_id}"
    )
    return RedirectResponse("/ui/key-policy?done=saved", status_code=303)


# -- incidents ---------------------------------------------------------------------------


@router.get("/ui/incidents")
def incidents(request: Request, view: Session) -> Response:
    require(view, "keys:read")
    found = web_state(request).runtime.incidents.list(view.actor(), limit=200)
    return page(request, "incidents.html", incidents=found, may_write=view.may("keys:write"))


@router.get("/ui/incidents/new")
def new_incident(request: Request, view: Session, key_id: str = "") -> Response:
    require(view, "keys:write")
    recently_authenticated(request, view, f"/ui/incidents/new?key_id={key_id}")
    return page(request, "incident_new.html", key_id=key_id)


@router.post("/ui/incidents/new")
def open_incident(request: Request, view: Session, fields: Form) -> Response:
    check_csrf(request, view, fields)
    require(view, "keys:write")
    recently_authenticated(request, view, "/ui/incidents/new")
    if not fields.get("reason", "").strip():
        raise InvalidInput(
            "say why: the reason goes into the report", code="reason_required", field="reason"
        )
    request_ = OpenRequest(
        key_id=fields.get("key_id", "").strip(),
        reason=fields["reason"],
        quarantine=fields.get("response") == "quarantine",
        reissue=False,
        deliver=None,
        cascade=fields.get("cascade") == "yes",
        owner=view.email,
    )
    opened = web_state(request).runtime.incidents.open(view.actor(), request_)
    return RedirectResponse(f"/ui/incidents/{opened.incident.id}", status_code=303)


@router.get("/ui/incidents/{incident_id}")
def incident(request: Request, view: Session, incident_id: IncidentId) -> Response:
    require(view, "keys:read")
    found = web_state(request).runtime.incidents.show(view.actor(), incident_id)
    return page(request, "incident.html", incident=found)


@router.get("/ui/incidents/{incident_id}/report")
def incident_report(
    request: Request, view: Session, incident_id: IncidentId, format: str = "html"
) -> Response:
    require(view, "keys:read")
    if format not in MEDIA_TYPES:
        raise InvalidInput("format is html, md or json", code="invalid_format", field="format")
    facts = web_state(request).runtime.incident_reports.build(view.actor(), incident_id)
    extension = {"html": "html", "md": "md", "json": "json"}[format]
    headers = {
        "Content-Security-Policy": REPORT_CSP,
        "Content-Disposition": f'attachment; filename="{incident_id}-report.{extension}"',
    }
    return Response(render(facts, format), media_type=MEDIA_TYPES[format], headers=headers)


# -- audit -------------------------------------------------------------------------------


@router.get("/ui/audit")
def audit(request: Request, view: Session, before: int | None = None) -> Response:
    require(view, "audit:read")
    runtime = web_state(request).runtime
    with runtime.sessions() as session:
        events = list_events(
            session, view.tenant_id or "", limit=51, before_seq=before, env=view.env
        )
        chain = verify_chain(session)
    more = events[50].seq if len(events) > 50 else None
    return page(
        request,
        "audit.html",
        events=events[:50],
        chain=chain,
        more=events[49].seq if more else None,
    )


# -- access review -----------------------------------------------------------------------


@router.get("/ui/review")
def review(request: Request, view: Session) -> Response:
    require(view, "keys:read")
    found = web_state(request).runtime.review.review(view.actor())
    return page(request, "review.html", review=found, may_write=view.may("keys:write"))


@router.post("/ui/review/{finding_id}/apply")
def apply_finding(request: Request, view: Session, fields: Form, finding_id: FindingId) -> Response:
    check_csrf(request, view, fields)
    require(view, "keys:write")
    recently_authenticated(request, view, "/ui/review")
    applied = web_state(request).runtime.review.apply(
        view.actor(), finding_id, confirm=fields.get("confirm") == "yes", grace=DEFAULT_GRACE
    )
    if applied.raw is not None and applied.successor is not None:
        return page(
            request,
            "key_created.html",
            key=applied.successor,
            raw=applied.raw.reveal(),
            title="Finding applied: key rotated",
        )
    return RedirectResponse(f"/ui/keys/{applied.key.id}?done=review", status_code=303)


# -- users and the account ---------------------------------------------------------------


@router.get("/ui/users")
def users(request: Request, view: Session) -> Response:
    found = web_state(request).runtime.users.list(view.tenant_id)
    manages = sorted(ROLES[view.role or "viewer"].manages, key=ROLE_NAMES.index)
    return page(
        request, "users.html", users=found, manages=manages, roles=ROLES, invitation=None, link=None
    )


@router.post("/ui/users")
def add_user(request: Request, view: Session, fields: Form) -> Response:
    check_csrf(request, view, fields)
    recently_authenticated(request, view, "/ui/users")
    service = web_state(request).runtime.users
    base = f"{web_state(request).origin(request)}/ui/setup?token="
    invite = fields.get("invite") == "yes"
    invitation = service.add(
        f"user:{view.user_id}", email=fields.get("email", ""), tenant_id=view.tenant_id or "",
        role_name=fields.get("role", "viewer"), manager_role=view.role,
        invite_link=base + "{token}" if invite else None,
    )  # fmt: skip
    link = base + invitation.token if invitation.token and not invite else None
    found = service.list(view.tenant_id)
    manages = sorted(ROLES[view.role or "viewer"].manages, key=ROLE_NAMES.index)
    return page(
        request,
        "users.html",
        users=found,
        manages=manages,
        roles=ROLES,
        invitation=invitation,
        link=link,
    )


@router.post("/ui/users/{user_id}/remove")
def remove_user(
    request: Request,
    view: Session,
    fields: Form,
    user_id: Annotated[str, Path(pattern=r"^usr_[0-9a-f]{1,40}$")],
) -> Response:
    check_csrf(request, view, fields)
    recently_authenticated(request, view, "/ui/users")
    web_state(request).runtime.users.remove(
        f"user:{view.user_id}", user_id, tenant_id=view.tenant_id, manager_role=view.role
    )
    return RedirectResponse("/ui/users?done=removed", status_code=303)


@router.get("/ui/account")
def account(request: Request, view: Session, recovered: str = "") -> Response:
    user = web_state(request).runtime.users.show(view.user_id or "")
    return page(request, "account.html", user=user, recovered=bool(recovered))


@router.post("/ui/account/passkey")
def add_passkey(request: Request, view: Session, fields: Form) -> Response:
    check_csrf(request, view, fields)
    users = web_state(request).runtime.users
    challenge = users.web.take_challenge(view.id)
    if challenge is None:
        raise InvalidInput("start again", code="passkey_refused")
    users.add_passkey(
        relying(request),
        fields.get("credential", ""),
        challenge,
        user_id=view.user_id,
        name=fields.get("name") or None,
    )
    return RedirectResponse("/ui/account?done=passkey", status_code=303)
