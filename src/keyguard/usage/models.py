"""The durable `usage_events` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
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

    __table_args__ = (
        Index("ix_usage_events_key_ts", "key_id", "ts"),
        Index("ix_usage_events_tenant_ts", "tenant_id", "ts"),
    )

    def to_json(self) -> dict[str, Any]:
        """The PRODUCT.md usage-event schema."""
        data: dict[str, Any] = {
            "ts": self.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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
        return data
