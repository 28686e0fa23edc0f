"""The durable `usage_events` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import AutoBigInt, Base, PortableJSON, UTCDateTime


class UsageEvent(Base):
    __tablename__ = "usage_events"

    id: Mapped[int] = mapped_column(AutoBigInt, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str | None] = mapped_column(String(40))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    env: Mapped[str | None] = mapped_column(String(8))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(300))
    scope: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(24))
    status: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int | None] = mapped_column(Integer)
    recipient_domains: Mapped[list[str] | None] = mapped_column(PortableJSON)
    sender: Mapped[str | None] = mapped_column(String(320))
    extra: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    # The HTTP request's id (X-Request-ID, the access log, problem JSON's `instance`).
    request_id: Mapped[str | None] = mapped_column(String(128))
    # The key's previous use as the service knew it when this request came (PRODUCT.md), so
    # that a replay of a short window still knows a key had been dormant.
    key_last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # From the IP databases when configured (KEYGUARD_GEOIP_DB, KEYGUARD_ASN_DB).
    geo: Mapped[str | None] = mapped_column(String(8))
    asn: Mapped[int | None] = mapped_column(BigInteger)
    # `ip` as 32 hex digits of its IPv6 form (IPv4 mapped): a CIDR filter is a range of
    # strings on both backends (records.ip_hex).
    ip_hex: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_usage_events_key_ts", "key_id", "ts"),
        Index("ix_usage_events_tenant_ts", "tenant_id", "ts"),
        Index("ix_usage_events_ts", "ts"),  # retention: rollup and purge walk time
    )

    def to_json(self) -> dict[str, Any]:
        """The PRODUCT.md usage-event schema."""
        data: dict[str, Any] = {
            "ts": iso(self.ts),
            "key_id": self.key_id,
            "tenant": self.tenant_id,
            "env": self.env,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "method": self.method,
            "path": self.path,
            "scope": self.scope,
            "outcome": self.outcome,
            "status": self.status,
            "recipients": self.recipients,
            "recipient_domains": self.recipient_domains,
            "sender": self.sender,
        }
        data.update(self.extra or {})
        if self.request_id is not None:
            data["request_id"] = self.request_id
        if self.key_last_used_at is not None:
            data["key_last_used_at"] = iso(self.key_last_used_at)
        if self.geo is not None:
            data["geo"] = self.geo
        if self.asn is not None:
            data["asn"] = self.asn
        return data


def iso(ts: datetime) -> str:
    """The PRODUCT.md time format: UTC, milliseconds, `Z`."""
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UsageRollup(Base):
    """One key's usage in one UTC hour: kept longer than the raw events (retention.py)."""

    __tablename__ = "usage_rollups"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    env: Mapped[str | None] = mapped_column(String(8))
    requests: Mapped[int] = mapped_column(Integer)
    outcomes: Mapped[dict[str, int]] = mapped_column(PortableJSON)  # outcome -> requests
    recipients: Mapped[int] = mapped_column(Integer)
    # The distinct networks of the hour (at most MAX_ROLLUP_NETWORKS are listed) and how
    # many there were: day buckets count the union of their hours' lists.
    networks: Mapped[list[str]] = mapped_column(PortableJSON)
    network_count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_usage_rollups_hour", "hour"),)


class UsageRollupState(Base):
    """How far the hourly rollup has gone: every hour before `rolled_until` is rolled up,
    and only events before it may be purged."""

    __tablename__ = "usage_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    rolled_until: Mapped[datetime] = mapped_column(UTCDateTime)
