"""Notifier: what the key lifecycle and the scans call to tell a tenant of an event.

It queues the webhook messages (`emit`) and, when a mail outbox is wired in, one plain-text
e-mail to the tenant's security contacts, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyguard.webhooks.events import emit, masked
from keyguard.webhooks.models import SecurityContact


class NoticeOutbox(Protocol):
    """Queues a plain-text message in the caller's transaction (keyguard.mail.enqueue_notice
    with Keyguard's sender bound)."""

    def __call__(
        self,
        session: Session,
        *,
        tenant_id: str,
        recipients: Sequence[str],
        subject: str,
        text: str,
        now: datetime,
    ) -> object: ...


class Notifier:
    def __init__(self, mail: NoticeOutbox | None = None) -> None:
        self._mail = mail

    def __call__(
        self,
        session: Session,
        now: datetime,
        tenant_id: str,
        event_type: str,
        data: Mapping[str, Any],
    ) -> list[str]:
        """Queue `event_type` for the tenant's webhooks and security contacts."""
        ids = emit(session, now, tenant_id, event_type, data)
        if self._mail is not None:
            contacts = list(
                session.scalars(
                    select(SecurityContact.email)
                    .where(SecurityContact.tenant_id == tenant_id)
                    .order_by(SecurityContact.email)
                )
            )
            if contacts:
                subject, text = render_notice(tenant_id, event_type, now, masked(dict(data)))
                self._mail(
                    session,
                    tenant_id=tenant_id,
                    recipients=contacts,
                    subject=subject,
                    text=text,
                    now=now,
                )
        return ids


def render_notice(
    tenant_id: str, event_type: str, now: datetime, data: Mapping[str, Any]
) -> tuple[str, str]:
    """The subject and plain-text body telling a security contact of one event."""
    target = data.get("key_id") or data.get("id") or ""
    subject = f"[Keyguard] {event_type} {target}".strip()
    lines = [
        f"Keyguard event {event_type} for tenant {tenant_id} at {now.isoformat()}.",
        "",
        *(f"{name}: {_text(value)}" for name, value in sorted(data.items())),
        "",
        "You receive this as a security contact of the tenant.",
    ]
    return subject, "\n".join(lines) + "\n"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "-" if value is None else str(value)
