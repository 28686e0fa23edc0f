"""Where a review digest goes: a Protocol, the default that sends nothing, and mail to the
tenant's security contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from keyguard.lifecycle import OPERATOR
from keyguard.webhooks import NoticeOutbox, WebhookService


class DigestSink(Protocol):
    """Delivers a tenant's review digest, in the caller's transaction (which also holds the
    digest's audit event); returns how many recipients it was queued for."""

    name: str

    def deliver(
        self, session: Session, tenant_id: str, subject: str, body: str, now: datetime
    ) -> int: ...


class NoDigestSink:
    """Delivers nothing (and the audit event says so: sink `none`, 0 recipients)."""

    name: str = "none"

    def deliver(
        self, session: Session, tenant_id: str, subject: str, body: str, now: datetime
    ) -> int:
        return 0


class ContactMail:
    """The digest as plain-text mail to the tenant's security contacts (keyguard.webhooks),
    queued in Keyguard's own mail outbox in the digest's transaction: the outbox sends it
    after the commit, and a digest is never both recorded and lost."""

    name: str = "security_contacts"

    def __init__(self, webhooks: WebhookService, outbox: NoticeOutbox) -> None:
        self._webhooks = webhooks
        self._outbox = outbox

    def deliver(
        self, session: Session, tenant_id: str, subject: str, body: str, now: datetime
    ) -> int:
        contacts = [c.email for c in self._webhooks.contacts(OPERATOR, tenant_id)]
        if contacts:
            self._outbox(
                session,
                tenant_id=tenant_id,
                recipients=contacts,
                subject=subject,
                text=body,
                now=now,
            )
        return len(contacts)
