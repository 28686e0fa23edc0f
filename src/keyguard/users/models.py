"""The tables users own: people, their memberships, passkeys, recovery codes and sessions.

Nothing secret is stored in clear: passwords are Argon2id hashes, recovery codes and set-up
tokens and session tokens are SHA-256 digests (they are high-entropy random strings), and the
TOTP seed is a stored secret (keyguard.secrets, envelope-encrypted), never a column here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyguard.storage import Base, UTCDateTime


class User(Base):
    """A person who signs in to the dashboard (not a key)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # a code is accepted once
    setup_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    setup_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    webauthn_handle: Mapped[str] = mapped_column(String(64))  # the user.id passkeys carry
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(128))


class Membership(Base):
    """A user's role in one tenant (docs/dashboard.md, the roles table)."""

    __tablename__ = "user_memberships"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebAuthnCredential(Base):
    """One passkey: its credential id, public key and signature counter."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[str] = mapped_column(String(400), primary_key=True)  # base64url credential id
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """A one-time code that replaces a lost second factor; stored as its SHA-256 digest."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_code"),)


class WebSession(Base):
    """A server-side dashboard session. `id` is the SHA-256 of the cookie's token; a session
    without a user is a sign-in in progress (its CSRF token and WebAuthn challenge)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    env: Mapped[str] = mapped_column(String(8), default="live")
    challenge: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The one form that may reveal a key (create, rotate): a reload re-posts a spent nonce.
    form_nonce: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reauth_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_web_sessions_user", "user_id"),)
