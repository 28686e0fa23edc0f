"""ORM model of envelope-encrypted secrets Keyguard stores for tenants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import Base, UTCDateTime


class StoredSecret(Base):
    """One version of a tenant's secret (SMTP credentials, webhook secret, recoverable key).

    Rows are never updated in place except by a rewrap, which replaces `wrapped_key` and
    `wrapper_key_id` only; a new value is a new row with the next `version`.
    """

    __tablename__ = "stored_secrets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    envelope_format: Mapped[int] = mapped_column(Integer)
    wrapper_kind: Mapped[str] = mapped_column(String(32))
    wrapper_key_id: Mapped[str] = mapped_column(String(300))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "purpose", "name", "version", name="uq_stored_secrets_name_version"
        ),
        Index("ix_stored_secrets_wrapper_key_id", "wrapper_kind", "wrapper_key_id"),
    )

    def __repr__(self) -> str:
        return (
            f"StoredSecret(id={self.id!r}, tenant_id={self.tenant_id!r}, "
            f"purpose={self.purpose!r}, name={self.name!r}, version={self.version!r}, "
            f"wrapper_key_id={self.wrapper_key_id!r})"
        )
