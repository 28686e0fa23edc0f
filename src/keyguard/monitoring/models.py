"""The tables of online detection: stored alerts, the detector's cursor and lease, and each
tenant's response policy (docs/monitoring.md, "Online")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import AutoBigInt, Base, PortableJSON, UTCDateTime


class StoredAlert(Base):
    """One alert as the detector raised it, with what was done and where a person took it."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(AutoBigInt, primary_key=True, autoincrement=True)
    # None for alerts about a source rather than a key (guessing, sprays): operator-only.
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    env: Mapped[str | None] = mapped_column(String(8))
    key_id: Mapped[str | None] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="open")
    # What was done (notify|throttle|quarantine|revoke|none) and whether it is done yet:
    # pending (committed with the alert, to run after commit), done, failed, undone.
    action: Mapped[str] = mapped_column(String(16))
    action_state: Mapped[str] = mapped_column(String(16), default="done")
    # What the policy would have done in monitor-only mode, for review.
    planned_action: Mapped[str | None] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    first_event_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    event_id: Mapped[int] = mapped_column(BigInteger)  # the triggering usage event
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    # Set once the detector has learned a false positive into the key's baseline.
    learned: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_alerts_tenant_env_id", "tenant_id", "env", "id"),
        Index("ix_alerts_key_rule", "key_id", "rule"),
        Index("ix_alerts_action_state", "action_state"),
    )


class DetectorCursor(Base):
    """One row per detector stream: the last usage event processed and who may process."""

    __tablename__ = "detector_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped_ids: Mapped[int] = mapped_column(BigInteger, default=0)


class ResponsePolicy(Base):
    """A tenant's response policy; a tenant without a row gets DEFAULT_POLICY."""

    __tablename__ = "response_policies"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    by_severity: Mapped[dict[str, str]] = mapped_column(PortableJSON)
    by_rule: Mapped[dict[str, str]] = mapped_column(PortableJSON)
    throttle_per_minute: Mapped[int] = mapped_column(Integer)
    throttle_seconds: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128))
