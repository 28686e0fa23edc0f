"""Webhook endpoints and security contacts: list, create (its signing secret shown once),
disable and enable, remove behind a confirmation; add and remove contacts.

Every route needs `webhooks:write`, the scope of the API's /v1/webhooks; the checks of URL,
event types and limits are WebhookService's own. A signing secret is handled like a new key:
re-authentication first, one HTTP answer only (`Cache-Control: no-store`), and a one-time
nonce in the form, so a reload neither creates an endpoint nor shows the secret again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keyguard.errors import InvalidInput, NotFound
from keyguard.users import SessionView
from keyguard.web.deps import Form, Session, check_csrf, recently_authenticated, require
from keyguard.web.render import page
from keyguard.web.routing import Redirect, WebRoute
from keyguard.web.state import web_state
from keyguard.webhooks import EVENT_TYPES

router = APIRouter(route_class=WebRoute, include_in_schema=False)
WebhookId = Annotated[str, Path(pattern=r"^whk_[0-9A-Za-z]{1,36}$")]


def _writer(request: Request, view: SessionView, fields: dict[str, str] | None = None) -> str:
    """The checks of every route here; the tenant the person acts in."""
    if fields is not None:
        check_csrf(request, view, fields)
    require(view, "webhooks:write")
    return view.tenant_id or ""


@router.get("/ui/webhooks")
def webhooks(request: Request, view: Session) -> Response:
    tenant = _writer(request, view)
    service = web_state(request).runtime.webhooks
    endpoints = service.endpoints(view.actor(), tenant)
    contacts = service.contacts(view.actor(), tenant)
    return page(request, "webhooks.html", endpoints=endpoints, contacts=contacts)


@router.get("/ui/webhooks/new")
def new_webhook(request: Request, view: Session) -> Response:
    _writer(request, view)
    recently_authenticated(request, view, "/ui/webhooks/new")
    nonce = web_state(request).runtime.users.web.issue_nonce(view.id)
    return page(request, "webhook_new.html", event_types=EVENT_TYPES, nonce=nonce)


@router.post("/ui/webhooks/new")
def create_webhook(request: Request, view: Session, fields: Form) -> Response:
    tenant = _writer(request, view, fields)
    recently_authenticated(request, view, "/ui/webhooks/new")
    runtime = web_state(request).runtime
    if not runtime.users.web.spend_nonce(view.id, fields.get("nonce", "")):
        raise Redirect("/ui/webhooks?notice=shown-once")  # a reload: nothing made or shown
    created = runtime.webhooks.create(
        view.actor(),
        tenant,
        fields.get("url", ""),
        [t for t in fields.get("event_type", "").split("\n") if t],
        description=fields.get("description") or None,
    )
    return page(
        request, "webhook_created.html", endpoint=created.view, secret=created.secret.reveal()
    )


@router.post("/ui/webhooks/{webhook_id}/disable")
def disable_webhook(
    request: Request, view: Session, fields: Form, webhook_id: WebhookId
) -> Response:
    return _set_enabled(request, view, fields, webhook_id, enabled=False)


@router.post("/ui/webhooks/{webhook_id}/enable")
def enable_webhook(
    request: Request, view: Session, fields: Form, webhook_id: WebhookId
) -> Response:
    return _set_enabled(request, view, fields, webhook_id, enabled=True)


def _set_enabled(
    request: Request, view: SessionView, fields: dict[str, str], webhook_id: str, *, enabled: bool
) -> Response:
    tenant = _writer(request, view, fields)
    web_state(request).runtime.webhooks.set_enabled(
        view.actor(), tenant, webhook_id, enabled=enabled
    )
    done = "enabled" if enabled else "disabled"
    return RedirectResponse(f"/ui/webhooks?done={done}", status_code=303)


@router.get("/ui/webhooks/{webhook_id}/remove")
def confirm_remove(request: Request, view: Session, webhook_id: WebhookId) -> Response:
    """The confirmation page: works without JavaScript, states the effect."""
    tenant = _writer(request, view)
    recently_authenticated(request, view, f"/ui/webhooks/{webhook_id}/remove")
    endpoints = web_state(request).runtime.webhooks.endpoints(view.actor(), tenant)
    found = next((e for e in endpoints if e.id == webhook_id), None)
    if found is None:  # another tenant's endpoint looks exactly like a missing one
        raise NotFound(f"no webhook endpoint {webhook_id!r}")
    return page(request, "webhook_confirm.html", endpoint=found)


@router.post("/ui/webhooks/{webhook_id}/remove")
def remove_webhook(
    request: Request, view: Session, fields: Form, webhook_id: WebhookId
) -> Response:
    tenant = _writer(request, view, fields)
    recently_authenticated(request, view, f"/ui/webhooks/{webhook_id}/remove")
    if fields.get("confirm") != "yes":
        raise InvalidInput("tick the confirmation box to go ahead", code="confirmation_required")
    web_state(request).runtime.webhooks.remove(view.actor(), tenant, webhook_id)
    return RedirectResponse("/ui/webhooks?done=removed", status_code=303)


# -- security contacts -------------------------------------------------------------------


@router.post("/ui/contacts")
def add_contact(request: Request, view: Session, fields: Form) -> Response:
    tenant = _writer(request, view, fields)
    web_state(request).runtime.webhooks.add_contact(view.actor(), tenant, fields.get("email", ""))
    return RedirectResponse("/ui/webhooks?done=contact", status_code=303)


@router.post("/ui/contacts/remove")
def remove_contact(request: Request, view: Session, fields: Form) -> Response:
    tenant = _writer(request, view, fields)
    web_state(request).runtime.webhooks.remove_contact(
        view.actor(), tenant, fields.get("contact", "")
    )
    return RedirectResponse("/ui/webhooks?done=removed", status_code=303)
