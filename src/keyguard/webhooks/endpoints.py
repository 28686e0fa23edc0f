"""WebhookService: endpoints (with their signing secrets), their delivery logs, and contacts.

Each state change is one transaction holding the change and its audit event. A signing
secret is generated here in the Standard Webhooks form (``whsec_`` + base64 of 24 random
bytes), sealed with the envelope code of keyguard.secrets, and returned once, at creation or
rotation; nothing else ever shows it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.clock import Clock
from keyguard.errors import InvalidInput, NotFound
from keyguard.lifecycle import Actor, get_tenant
from keyguard.logging import scrub
from keyguard.secrets import KeyWrapper, SecretValue, delete_secrets, read_secret, store_secret
from keyguard.webhooks.events import check_event_types, new_id
from keyguard.webhooks.models import (
    SecurityContact,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from keyguard.webhooks.urls import check_url

SECRET_PURPOSE: Final = "webhook_secret"
SECRET_BYTES: Final = 24
# How long the previous secret keeps signing beside a rotated one.
SECRET_OVERLAP: Final = timedelta(hours=24)
MAX_ENDPOINTS: Final = 20
MAX_CONTACTS: Final = 20
WrapperFactory = Callable[[], KeyWrapper]
Random = Callable[[int], bytes]


def new_signing_secret(rng: Random = os.urandom) -> SecretValue:
    return SecretValue("whsec_" + base64.b64encode(rng(SECRET_BYTES)).decode("ascii"))


@dataclass(frozen=True, slots=True)
class EndpointView:
    id: str
    tenant_id: str
    url: str
    event_types: tuple[str, ...]
    description: str | None
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    """An endpoint and its signing secret, shown this once."""

    view: EndpointView
    secret: SecretValue = field(repr=False)


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One outbox message of an endpoint, with its delivery log."""

    id: str
    event_type: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    log: tuple[AttemptView, ...]


@dataclass(frozen=True, slots=True)
class ContactView:
    id: str
    tenant_id: str
    email: str
    created_at: datetime


class WebhookService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        wrapper: WrapperFactory,
        clock: Clock,
        *,
        rng: Random = os.urandom,
    ) -> None:
        self._sessions = sessions
        self._wrapper = wrapper  # built on first use: only processes that need it pay for it
        self._clock = clock
        self._rng = rng

    # -- endpoints -----------------------------------------------------------------------

    def create(
        self,
        actor: Actor,
        tenant_id: str,
        url: str,
        event_types: list[str],
        *,
        description: str | None = None,
    ) -> CreatedEndpoint:
        url, types = check_url(url), check_event_types(event_types)
        now = self._clock()
        with self._sessions.begin() as session:
            self._tenant(session, actor, tenant_id)
            count = len(list(session.scalars(_endpoints(tenant_id))))
            if count >= MAX_ENDPOINTS:
                raise InvalidInput(
                    f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints",
                    code="too_many_webhooks",
                )
            row = WebhookEndpoint(
                id=new_id("whk_"),
                tenant_id=tenant_id,
                url=url,
                event_types=types,
                description=scrub(description) if description else None,
                enabled=True,
                created_at=now,
                secret_rotated_at=now,
            )
            session.add(row)
            secret = self._store_secret(session, row)
            session.flush()
            audit.record(
                session, now, actor.id, "webhook.created", tenant_id=tenant_id, target=row.id,
                url=url, event_types=types,
            )  # fmt: skip
            return CreatedEndpoint(view=_view(row), secret=secret)

    def endpoints(self, actor: Actor, tenant_id: str) -> list[EndpointView]:
        with self._sessions() as session:
            self._tenant(session, actor, tenant_id)
            return [_view(row) for row in session.scalars(_endpoints(tenant_id))]

    def remove(self, actor: Actor, tenant_id: str, endpoint_id: str) -> None:
        """Delete an endpoint, its undelivered and delivered messages and its secret."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._endpoint(session, actor, tenant_id, endpoint_id)
            messages = select(WebhookMessage.id).where(WebhookMessage.endpoint_id == row.id)
            session.execute(delete(WebhookAttempt).where(WebhookAttempt.message_id.in_(messages)))
            session.execute(delete(WebhookMessage).where(WebhookMessage.endpoint_id == row.id))
            delete_secrets(session, tenant_id=row.tenant_id, purpose=SECRET_PURPOSE, name=row.id)
            session.delete(row)
            audit.record(
                session, now, actor.id, "webhook.removed", tenant_id=tenant_id, target=row.id
            )

    def set_enabled(
        self, actor: Actor, tenant_id: str, endpoint_id: str, *, enabled: bool
    ) -> EndpointView:
        """Pause or resume an endpoint: a disabled one is queued no new event and its queued
        messages wait (the deliverer skips them) until it is enabled again."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._endpoint(session, actor, tenant_id, endpoint_id)
            if row.enabled != enabled:
                row.enabled = enabled
                audit.record(
                    session, now, actor.id,
                    "webhook.enabled" if enabled else "webhook.disabled",
                    tenant_id=tenant_id, target=row.id,
                )  # fmt: skip
            return _view(row)

    def rotate_secret(self, actor: Actor, tenant_id: str, endpoint_id: str) -> CreatedEndpoint:
        """A new signing secret, used from the next attempt on; the previous one signs beside
        it for SECRET_OVERLAP, then stops."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._endpoint(session, actor, tenant_id, endpoint_id)
            secret = self._store_secret(session, row)
            row.secret_rotated_at = now
            audit.record(
                session, now, actor.id, "webhook.secret_rotated", tenant_id=tenant_id,
                target=row.id,
            )  # fmt: skip
            return CreatedEndpoint(view=_view(row), secret=secret)

    def deliveries(
        self, actor: Actor, tenant_id: str, endpoint_id: str, *, limit: int = 50
    ) -> list[DeliveryView]:
        """The endpoint's latest messages, newest first, each with its attempts."""
        with self._sessions() as session:
            row = self._endpoint(session, actor, tenant_id, endpoint_id)
            messages = list(
                session.scalars(
                    select(WebhookMessage)
                    .where(WebhookMessage.endpoint_id == row.id)
                    .order_by(WebhookMessage.created_at.desc(), WebhookMessage.id.desc())
                    .limit(min(limit, 500))
                )
            )
            attempts = _attempts(session, [m.id for m in messages])
            return [_delivery(m, attempts.get(m.id, [])) for m in messages]

    def signing_secret(self, session: Session, endpoint_id: str, tenant_id: str) -> SecretValue:
        """The current signing secret of an endpoint, decrypted (for the delivery worker)."""
        return read_secret(
            session, self._wrapper(), tenant_id=tenant_id, purpose=SECRET_PURPOSE, name=endpoint_id
        )

    def signing_secrets(
        self, session: Session, endpoint: WebhookEndpoint, now: datetime
    ) -> list[SecretValue]:
        """The secrets a delivery is signed with: the current one and, for SECRET_OVERLAP
        after a rotation, the previous one too (Standard Webhooks lists both signatures), so
        that a receiver can switch to the new secret without dropping a delivery."""
        current = self.signing_secret(session, endpoint.id, endpoint.tenant_id)
        version = int(current.version or 1)
        if version == 1 or now - endpoint.secret_rotated_at >= SECRET_OVERLAP:
            return [current]
        previous = read_secret(
            session,
            self._wrapper(),
            tenant_id=endpoint.tenant_id,
            purpose=SECRET_PURPOSE,
            name=endpoint.id,
            version=version - 1,
        )
        return [current, previous]

    # -- security contacts ---------------------------------------------------------------

    def add_contact(self, actor: Actor, tenant_id: str, email: str) -> ContactView:
        email = _check_email(email)
        now = self._clock()
        with self._sessions.begin() as session:
            self._tenant(session, actor, tenant_id)
            existing = list(session.scalars(_contacts(tenant_id)))
            if any(c.email == email for c in existing):
                raise InvalidInput(
                    f"{email} is already a security contact", code="duplicate_contact"
                )
            if len(existing) >= MAX_CONTACTS:
                raise InvalidInput(
                    f"a tenant has at most {MAX_CONTACTS} security contacts",
                    code="too_many_contacts",
                )
            row = SecurityContact(
                id=new_id("sct_"), tenant_id=tenant_id, email=email, created_at=now
            )
            session.add(row)
            audit.record(
                session, now, actor.id, "security_contact.added", tenant_id=tenant_id,
                target=row.id, email=email,
            )  # fmt: skip
            return _contact(row)

    def contacts(self, actor: Actor, tenant_id: str) -> list[ContactView]:
        with self._sessions() as session:
            self._tenant(session, actor, tenant_id)
            return [_contact(row) for row in session.scalars(_contacts(tenant_id))]

    def remove_contact(self, actor: Actor, tenant_id: str, contact: str) -> None:
        """Remove a contact by id or by address."""
        now = self._clock()
        with self._sessions.begin() as session:
            self._tenant(session, actor, tenant_id)
            rows = [
                c
                for c in session.scalars(_contacts(tenant_id))
                if contact in (c.id, c.email.lower())
            ]
            if not rows:
                raise NotFound(f"no security contact {contact!r}")
            session.delete(rows[0])
            audit.record(
                session, now, actor.id, "security_contact.removed", tenant_id=tenant_id,
                target=rows[0].id,
            )  # fmt: skip

    # -- helpers -------------------------------------------------------------------------

    def _store_secret(self, session: Session, row: WebhookEndpoint) -> SecretValue:
        secret = new_signing_secret(self._rng)
        store_secret(
            session,
            self._wrapper(),
            tenant_id=row.tenant_id,
            purpose=SECRET_PURPOSE,
            name=row.id,
            value=secret,
            clock=self._clock,
            rng=self._rng,
        )
        return secret

    @staticmethod
    def _tenant(session: Session, actor: Actor, tenant_id: str) -> None:
        # Another tenant looks exactly like a missing one.
        if actor.tenant_id is not None and tenant_id != actor.tenant_id:
            raise NotFound(f"no tenant {tenant_id!r}")
        get_tenant(session, tenant_id)

    def _endpoint(
        self, session: Session, actor: Actor, tenant_id: str, endpoint_id: str
    ) -> WebhookEndpoint:
        self._tenant(session, actor, tenant_id)
        row = session.get(WebhookEndpoint, endpoint_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")
        return row


def _endpoints(tenant_id: str) -> Select[WebhookEndpoint]:
    return (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )


def _contacts(tenant_id: str) -> Select[SecurityContact]:
    return (
        select(SecurityContact)
        .where(SecurityContact.tenant_id == tenant_id)
        .order_by(SecurityContact.created_at, SecurityContact.id)
    )


def _attempts(session: Session, message_ids: list[str]) -> dict[str, list[WebhookAttempt]]:
    found: dict[str, list[WebhookAttempt]] = {}
    if not message_ids:
        return found
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.message_id.in_(message_ids))
        .order_by(WebhookAttempt.message_id, WebhookAttempt.attempt)
    )
    for attempt in session.scalars(query):
        found.setdefault(attempt.message_id, []).append(attempt)
    return found


def _check_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidInput(f"not an e-mail address: {email!r}", code="invalid_email", field="email")
    return email


def _view(row: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        id=row.id,
        tenant_id=row.tenant_id,
        url=row.url,
        event_types=tuple(row.event_types),
        description=row.description,
        enabled=row.enabled,
        created_at=row.created_at,
        secret_rotated_at=row.secret_rotated_at,
    )


def _delivery(message: WebhookMessage, attempts: list[WebhookAttempt]) -> DeliveryView:
    return DeliveryView(
        id=message.id,
        event_type=message.event_type,
        state=message.state,
        attempts=message.attempts,
        created_at=message.created_at,
        next_attempt_at=message.next_attempt_at if message.state == "pending" else None,
        finished_at=message.finished_at,
        log=tuple(
            AttemptView(a.attempt, a.at, a.status_code, a.latency_ms, a.error) for a in attempts
        ),
    )


def _contact(row: SecurityContact) -> ContactView:
    return ContactView(
        id=row.id, tenant_id=row.tenant_id, email=row.email, created_at=row.created_at
    )
