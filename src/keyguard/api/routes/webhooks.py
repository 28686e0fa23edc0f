"""/v1/webhooks: the calling key's tenant's webhook endpoints and their delivery logs
(webhooks:write). The signing secret is in the answer of create and rotate-secret only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from keyguard.api.context import Principal, RuntimeDep
from keyguard.api.documented import JSON_BODY, NOT_FOUND
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.webhooks import EVENT_TYPES, CreatedEndpoint, DeliveryView, EndpointView

router = APIRouter(route_class=EnforcedRoute, tags=["webhooks"])

Writer = Annotated[Principal, require_scope("webhooks:write")]
WebhookId = Annotated[
    str, Path(pattern=r"^whk_[0-9A-Za-z]{1,36}$", examples=["whk_3xK9aB7cD1eF2gH4iJ5k"])
]
EventType = Annotated[str, Field(max_length=40, examples=list(EVENT_TYPES))]


class CreateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000, description="https (http only to a loopback address).",
        examples=["https://hooks.example.com/keyguard"],
    )  # fmt: skip
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime

    @classmethod
    def of(cls, view: EndpointView) -> WebhookOut:
        return cls(
            id=view.id,
            url=view.url,
            event_types=list(view.event_types),
            description=view.description,
            enabled=view.enabled,
            created_at=view.created_at,
            secret_rotated_at=view.secret_rotated_at,
        )


class WebhookWithSecret(BaseModel):
    webhook: WebhookOut
    secret: str = Field(
        description="The signing secret (Standard Webhooks `whsec_…`), shown only this once."
    )

    @classmethod
    def of(cls, created: CreatedEndpoint) -> WebhookWithSecret:
        return cls(webhook=WebhookOut.of(created.view), secret=created.secret.reveal())


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: str = Field(description="The message id, sent as the `webhook-id` header.")
    event_type: str
    state: str = Field(description="pending, delivered or failed.")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    log: list[AttemptOut]

    @classmethod
    def of(cls, view: DeliveryView) -> DeliveryOut:
        return cls(
            id=view.id,
            event_type=view.event_type,
            state=view.state,
            attempts=view.attempts,
            created_at=view.created_at,
            next_attempt_at=view.next_attempt_at,
            finished_at=view.finished_at,
            log=[AttemptOut.model_validate(a) for a in view.log],
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


@router.post("/v1/webhooks", operation_id="webhooks_create", responses=JSON_BODY, status_code=201)
def create_webhook(
    body: CreateWebhook, principal: Writer, runtime: RuntimeDep
) -> WebhookWithSecret:
    """Add an endpoint; the answer holds its signing secret, shown only this once."""
    created = runtime.webhooks.create(
        principal.actor,
        principal.key.tenant_id,
        body.url,
        body.event_types,
        description=body.description,
    )
    return WebhookWithSecret.of(created)


@router.get("/v1/webhooks", operation_id="webhooks_list")
def list_webhooks(principal: Writer, runtime: RuntimeDep) -> WebhookList:
    """The tenant's endpoints (never their secrets)."""
    views = runtime.webhooks.endpoints(principal.actor, principal.key.tenant_id)
    return WebhookList(webhooks=[WebhookOut.of(v) for v in views])


@router.delete(
    "/v1/webhooks/{webhook_id}",
    operation_id="webhooks_delete",
    responses=NOT_FOUND,
    status_code=204,
)
def delete_webhook(webhook_id: WebhookId, principal: Writer, runtime: RuntimeDep) -> Response:
    """Remove an endpoint with its queued messages, delivery log and secret."""
    runtime.webhooks.remove(principal.actor, principal.key.tenant_id, webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/{webhook_id}/rotate-secret",
    operation_id="webhooks_rotate_secret",
    responses=NOT_FOUND,
)
def rotate_webhook_secret(
    webhook_id: WebhookId, principal: Writer, runtime: RuntimeDep
) -> WebhookWithSecret:
    """A new signing secret, used from the next delivery attempt on; shown only this once."""
    rotated = runtime.webhooks.rotate_secret(principal.actor, principal.key.tenant_id, webhook_id)
    return WebhookWithSecret.of(rotated)


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    operation_id="webhooks_deliveries",
    responses=NOT_FOUND,
)
def list_deliveries(
    webhook_id: WebhookId,
    principal: Writer,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryList:
    """The endpoint's latest messages, newest first, each with its delivery log."""
    views = runtime.webhooks.deliveries(
        principal.actor, principal.key.tenant_id, webhook_id, limit=limit
    )
    return DeliveryList(deliveries=[DeliveryOut.of(v) for v in views])
