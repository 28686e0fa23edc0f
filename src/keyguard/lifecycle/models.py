"""The tables the key lifecycle owns: tenants and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import Base, PortableJSON, UTCDateTime


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    max_key_lifetime_days: Mapped[int] = mapped_column(Integer, default=365)
    default_key_lifetime_days: Mapped[int] = mapped_column(Integer, default=90)
    # Queued mail of a key revoked before delivery is held, not sent (docs/mail.md): on by
    # default, since a revocation is most often a compromise and its mail the attacker's.
    hold_revoked_mail: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """One key. The plaintext is never stored: only its HMAC digest under a pepper version."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    env: Mapped[str] = mapped_column(String(8))
    display_prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    pepper_version: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[str]] = mapped_column(PortableJSON)
    restrictions: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))

    __table_args__ = (Index("ix_api_keys_tenant_created", "tenant_id", "created_at", "id"),)
