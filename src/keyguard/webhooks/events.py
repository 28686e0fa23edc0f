"""Event types and `emit`: one outbox row per subscribed endpoint, in the caller's transaction.

A payload follows the Standard Webhooks shape, ``{"type", "timestamp", "data"}``. Every text
in `data` is scrubbed (keyguard.logging.scrub) before it is stored: a key pasted into a name or
a reason reaches no receiver, and no caller ever passes a raw key.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput
from keyguard.logging import scrub
from keyguard.webhooks.models import WebhookEndpoint, WebhookMessage

EVENT_TYPES: Final[tuple[str, ...]] = (
    "alert.raised",
    "key.created",
    "key.rotated",
    "key.revoked",
    "key.suspended",
    "key.expiring",
    "incident.opened",
    "incident.resolved",
)
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(20))


def check_event_types(event_types: list[str]) -> list[str]:
    """The subscribed types, deduplicated and sorted; an unknown or empty list is refused."""
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"unknown event type(s): {', '.join(unknown)}",
            code="unknown_event_type",
            field="event_types",
        )
    if not event_types:
        raise InvalidInput(
            "at least one event type is required", code="event_types_required", field="event_types"
        )
    return sorted(set(event_types))


def emit(
    session: Session,
    now: datetime,
    tenant_id: str,
    event_type: str,
    data: Mapping[str, Any],
) -> list[str]:
    """Queue `event_type` for each enabled endpoint of the tenant subscribed to it; returns
    the message ids. Adds rows only: the caller's transaction commits them with its change."""
    if event_type not in EVENT_TYPES:
        raise InvalidInput(f"unknown event type {event_type!r}", code="unknown_event_type")
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": masked(dict(data))}
    endpoints = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookEndpoint.id)
    )
    ids = []
    for endpoint in endpoints:
        if event_type not in endpoint.event_types:
            continue
        message = WebhookMessage(
            id=new_id("msg_"),
            tenant_id=tenant_id,
            endpoint_id=endpoint.id,
            event_type=event_type,
            payload=payload,
            state="pending",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        session.add(message)
        ids.append(message.id)
    return ids


def masked(value: Any) -> Any:
    """`value` with key-shaped substrings of every string masked, at any depth."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value
