"""ORM models of key delivery: where each key was delivered, and rotations in flight."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import Base, UTCDateTime

INTENT_OPEN = "open"
INTENT_DONE = "done"
INTENT_ROLLED_BACK = "rolled_back"
INTENT_FAILED = "failed"


class KeyDelivery(Base):
    """A key that lives in a consumer's vault secret, and how often it is rotated there.

    A successor gets its own row when it is delivered; the scheduler looks at active keys only,
    so the rows of rotated-out keys stay behind as history.
    """

    __tablename__ = "key_deliveries"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    # None: rotated by hand only. Otherwise the key's maximum age, in seconds.
    rotate_every_seconds: Mapped[int | None] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_key_deliveries_target", "target"),)


class RotationIntent(Base):
    """A delivery in flight: written before anything else, closed when it is done or undone.

    It holds the new key's id and digest, never the key. `target_lock` equals `target` while the
    intent is open and is NULL once closed; its unique constraint lets only one delivery into a
    secret be in flight at a time, on SQLite and PostgreSQL alike (NULLs never collide).
    """

    __tablename__ = "rotation_intents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "create" or "rotate"
    tenant_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    old_key_id: Mapped[str | None] = mapped_column(String(40))
    new_key_id: Mapped[str] = mapped_column(String(40))
    new_digest: Mapped[str] = mapped_column(String(64))
    pepper_version: Mapped[str] = mapped_column(String(32))
    grace_seconds: Mapped[int] = mapped_column(Integer)
    rotate_every_seconds: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    # The last step known to be complete (a hint for people; reconciliation asks the database
    # and the vault instead): opened, staged, committed, promoted.
    step: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(32))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)
    target_lock: Mapped[str | None] = mapped_column(String(300), unique=True)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_rotation_intents_state", "state", "lease_until"),)

    def __repr__(self) -> str:
        return (
            f"RotationIntent(id={self.id!r}, kind={self.kind!r}, target={self.target!r}, "
            f"old_key_id={self.old_key_id!r}, new_key_id={self.new_key_id!r}, "
            f"state={self.state!r}, step={self.step!r})"
        )
