"""ORM models of the email service; every row is partitioned by tenant and, for data, environment.

Tables::

    mail_sender_domains        tenant → domains it may send from (any environment)
    mail_internal_recipients   tenant → addresses/@domains that test and dev mail may reach
    mail_contacts              contacts                            (tenant, env)
    mail_lists, mail_list_members                                  (tenant, env)
    mail_templates             subject/text/html with {{variables}} (tenant, env)
    mail_campaigns             a template sent to a list           (tenant, env)
    mail_messages              the outbox: one row per accepted message, with its MIME
    mail_delivery_events       what happened to each message, in order
    mail_suppressions          addresses the tenant never sends to (tenant, env)
    mail_idempotency_keys      stored answers of requests with an Idempotency-Key
    mail_quota_usage           recipients accepted per key and UTC day
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import AutoBigInt, Base, PortableJSON, UTCDateTime

TENANT_FK = "tenants.id"


class SenderDomain(Base):
    """A domain the tenant has registered; a key may only send from registered domains."""

    __tablename__ = "mail_sender_domains"

    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InternalRecipient(Base):
    """An address (or `@domain`) that test and dev mail is really delivered to."""

    __tablename__ = "mail_internal_recipients"

    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Contact(Base):
    __tablename__ = "mail_contacts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK))
    env: Mapped[str] = mapped_column(String(8))
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("tenant_id", "env", "email", name="uq_mail_contacts_email"),
        Index("ix_mail_contacts_partition", "tenant_id", "env", "id"),
    )


class ContactList(Base):
    __tablename__ = "mail_lists"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK))
    env: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("tenant_id", "env", "name", name="uq_mail_lists_name"),
        Index("ix_mail_lists_partition", "tenant_id", "env", "id"),
    )


class ListMember(Base):
    __tablename__ = "mail_list_members"

    list_id: Mapped[str] = mapped_column(
        ForeignKey("mail_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("mail_contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Template(Base):
    __tablename__ = "mail_templates"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK))
    env: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("tenant_id", "env", "name", name="uq_mail_templates_name"),
        Index("ix_mail_templates_partition", "tenant_id", "env", "id"),
    )


class Campaign(Base):
    """A template sent once to a list; `state` is draft → sent."""

    __tablename__ = "mail_campaigns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK))
    env: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[str] = mapped_column(ForeignKey("mail_templates.id"))
    list_id: Mapped[str] = mapped_column(ForeignKey("mail_lists.id"))
    sender: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    sent_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_mail_campaigns_partition", "tenant_id", "env", "id"),)


CLAIMABLE_STATES = ("queued", "deferred", "sending")
DUE = text("state IN ('queued', 'deferred', 'sending')")


class Message(Base):
    """The outbox. `rcpt` is who the worker still has to deliver to (empty when sandboxed).

    A worker claims a row by setting state `sending`, its `claim_token` and a lease in
    `next_attempt_at`; a row whose lease ran out is claimable again (the worker died).
    """

    __tablename__ = "mail_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK))
    env: Mapped[str] = mapped_column(String(8))
    key_id: Mapped[str | None] = mapped_column(String(40))
    campaign_id: Mapped[str | None] = mapped_column(String(40), index=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(PortableJSON)
    rcpt: Mapped[list[str]] = mapped_column(PortableJSON)
    subject: Mapped[str] = mapped_column(Text)
    sandboxed: Mapped[bool] = mapped_column(Boolean)
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    claim_token: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Only rows a worker may claim are indexed, in claim order: the index stays as small
        # as the backlog, however many sent messages the table keeps.
        Index(
            "ix_mail_messages_due",
            "next_attempt_at",
            sqlite_where=DUE,
            postgresql_where=DUE,
        ),
        Index("ix_mail_messages_partition", "tenant_id", "env", "id"),
        Index("ix_mail_messages_sandbox", "tenant_id", "env", "sandboxed", "id"),
    )


class DeliveryEvent(Base):
    """One step of a message's life: queued, sandboxed, delivered, deferred, bounced, dead."""

    __tablename__ = "mail_delivery_events"

    id: Mapped[int] = mapped_column(AutoBigInt, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("mail_messages.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(320))
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_mail_delivery_events_message", "message_id", "id"),)


class Suppression(Base):
    __tablename__ = "mail_suppressions"

    tenant_id: Mapped[str] = mapped_column(ForeignKey(TENANT_FK), primary_key=True)
    env: Mapped[str] = mapped_column(String(8), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """The answer given to a request with an Idempotency-Key, replayed for retries."""

    __tablename__ = "mail_idempotency_keys"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    env: Mapped[str] = mapped_column(String(8), primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class QuotaUsage(Base):
    """Recipients accepted per key and UTC day; updated in the acceptance transaction."""

    __tablename__ = "mail_quota_usage"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)
