"""The tables incidents own: one row per compromise case, and its timeline of steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import AutoBigInt, Base, PortableJSON, UTCDateTime

OPEN = "open"
CONTAINED = "contained"
RESOLVED = "resolved"


class Incident(Base):
    """A compromise case about one key. Free text (reason, URL, owner) is stored scrubbed."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    env: Mapped[str] = mapped_column(String(8))
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # open, contained, resolved
    response: Mapped[str] = mapped_column(String(16))  # revoke or quarantine
    reason: Mapped[str] = mapped_column(Text)
    # How the case came in: manual (a person), github, report (a tenant's scanner), public.
    source: Mapped[str] = mapped_column(String(20))
    source_url: Mapped[str | None] = mapped_column(Text)  # where the key was seen leaked
    owner: Mapped[str | None] = mapped_column(String(200))
    opened_by: Mapped[str] = mapped_column(String(120))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    contained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    successor_id: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_incidents_tenant_opened", "tenant_id", "opened_at", "id"),)


class IncidentStep(Base):
    """One entry of an incident's timeline: what was done, by whom, when (append-only)."""

    __tablename__ = "incident_steps"

    id: Mapped[int] = mapped_column(AutoBigInt, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
