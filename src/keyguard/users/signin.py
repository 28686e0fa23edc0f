"""Signing in and re-authenticating: one answer to every failure, throttled first.

A failure says `sign_in_failed` whatever went wrong, and an unknown address costs the same
Argon2 work as a known one (keyguard.users.factors), so neither the answer nor its timing
tells which addresses have accounts. Every attempt spends a token of the address's and of
the account's rate (keyguard.ratelimit) before any check runs.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.clock import Clock
from keyguard.errors import AuthenticationFailed, NotFound, RateLimited
from keyguard.ratelimit import RateLimits
from keyguard.secrets import KeyWrapper, read_secret
from keyguard.users import factors, passkeys
from keyguard.users.models import Membership, RecoveryCode, User, WebAuthnCredential
from keyguard.users.passkeys import Relying

SECRETS_TENANT = "_users"  # stored secrets of people belong to no tenant
TOTP_PURPOSE = "totp_seed"
FAILED = "wrong address, password or code"


class SignIn:
    """The sign-in half of UserService (keyguard.users.service extends it)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        limits: RateLimits,
        wrapper: Callable[[], KeyWrapper],
        *,
        account_per_minute: int = 5,
        address_per_minute: int = 30,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._limits = limits
        self._wrapper = wrapper
        self._account_rate = account_per_minute
        self._address_rate = address_per_minute

    def sign_in_password(self, email: str, password: str, code: str, *, ip: str | None) -> str:
        """The user's id when address, password and current TOTP code all match."""
        email = email.strip().lower()
        self._throttle(email, ip)
        now = self._clock()
        with self._sessions.begin() as session:
            user = session.scalar(select(User).where(User.email == email))
            ok = factors.check_password(user.password_hash if user else None, password)
            if user is not None and ok and self._totp_ok(session, user, code, now):
                self._signed_in(session, now, user, "password+totp", ip)
                return user.id
        raise self._failure(email, ip, "password+totp")

    def sign_in_recovery(self, email: str, code: str, *, password: str = "", ip: str | None) -> str:
        """A recovery code instead of the second factor, spent on use. An account with a
        password needs it too (the code replaces the lost device, not the password); for a
        passkey-only account the code replaces the passkey. The password is checked, or the
        same dummy work done, either way, so the answer's time tells nothing."""
        email = email.strip().lower()
        self._throttle(email, ip)
        now = self._clock()
        wanted = factors.digest(factors.normalize_recovery_code(code))
        with self._sessions.begin() as session:
            user = session.scalar(select(User).where(User.email == email))
            stored = user.password_hash if user is not None else None
            password_ok = factors.check_password(stored, password) or (
                user is not None and stored is None
            )
            row = None
            if user is not None and password_ok:
                row = session.scalar(select(RecoveryCode).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.code_hash == wanted,
                    RecoveryCode.used_at.is_(None),
                ))  # fmt: skip
            if user is not None and row is not None:
                row.used_at = now
                self._signed_in(session, now, user, "recovery_code", ip)
                return user.id
        raise self._failure(email, ip, "recovery_code")

    def sign_in_options(self, relying: Relying) -> tuple[str, bytes]:
        return passkeys.authentication_options(relying)

    def sign_in_passkey(
        self, relying: Relying, response: str, challenge: bytes, *, ip: str | None
    ) -> str:
        self._throttle(None, ip)
        credential_id = passkeys.credential_id_of(response)
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(WebAuthnCredential, credential_id)
            if row is not None:
                try:
                    count = passkeys.verify_authentication(
                        relying,
                        response,
                        challenge,
                        public_key=row.public_key,
                        sign_count=row.sign_count,
                    )
                except AuthenticationFailed:
                    count = None
                if count is not None:
                    row.sign_count, row.last_used_at = count, now
                    user = self._user(session, row.user_id)
                    self._signed_in(session, now, user, "passkey", ip)
                    return user.id
        raise self._failure(None, ip, "passkey")

    def reauthenticate_totp(self, user_id: str, code: str) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            user = self._user(session, user_id)
            if user.totp_enabled and self._totp_ok(session, user, code, now):
                self._record_all(
                    session, now, f"user:{user.id}", "user.reauthenticated", user, method="totp"
                )
                return
        raise AuthenticationFailed("the code does not match", code="reauth_failed")

    def reauthenticate_passkey(
        self, user_id: str, relying: Relying, response: str, challenge: bytes
    ) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(WebAuthnCredential, passkeys.credential_id_of(response))
            if row is None or row.user_id != user_id:
                raise AuthenticationFailed("the passkey was not accepted", code="reauth_failed")
            row.sign_count = passkeys.verify_authentication(
                relying, response, challenge, public_key=row.public_key, sign_count=row.sign_count
            )
            self._record_all(
                session,
                now,
                f"user:{user_id}",
                "user.reauthenticated",
                self._user(session, user_id),
                method="passkey",
            )

    def has_totp(self, user_id: str) -> bool:
        with self._sessions() as session:
            return self._user(session, user_id).totp_enabled

    # -- helpers -------------------------------------------------------------------------

    def _throttle(self, email: str | None, ip: str | None) -> None:
        """Both counters are spent by every attempt, known address or not (no enumeration)."""
        checks = [(f"signin:addr:{ip or '-'}", self._address_rate)]
        if email is not None:
            checks.append((f"signin:acct:{factors.digest(email)[:32]}", self._account_rate))
        for bucket, rate in checks:
            decision = self._limits.check(bucket, rate)
            if not decision.allowed:
                raise RateLimited(
                    "too many sign-in attempts; wait a minute",
                    code="sign_in_throttled",
                    retry_after=decision.retry_after,
                )

    def _failure(self, email: str | None, ip: str | None, method: str) -> AuthenticationFailed:
        """Audit the failure (never what was typed) and give the one answer."""
        now = self._clock()
        with self._sessions.begin() as session:
            known = session.scalar(select(User.id).where(User.email == email)) if email else None
            audit.append(
                session,
                now=now,
                actor=f"user:{known}" if known else "anonymous",
                action="user.sign_in_failed",
                target=known,
                data={"method": method, "ip": ip},
            )
        return AuthenticationFailed(FAILED, code="sign_in_failed")

    def _totp_ok(self, session: Session, user: User, code: str, now: datetime) -> bool:
        if not user.totp_enabled:
            return False
        seed = read_secret(
            session, self._wrapper(), tenant_id=SECRETS_TENANT, purpose=TOTP_PURPOSE, name=user.id
        )
        step = factors.totp_step(seed.reveal(), code, now)
        if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            return False  # a code is good once: a replayed one is refused
        user.totp_last_step = step
        return True

    def _signed_in(
        self, session: Session, now: datetime, user: User, method: str, ip: str | None
    ) -> None:
        """Audit a sign-in, as the person who signed in, by the method they used."""
        self._record_all(
            session, now, f"user:{user.id}", "user.signed_in", user, method=method, ip=ip
        )

    def _record_all(
        self, session: Session, now: datetime, by: str, action: str, user: User, **data: Any
    ) -> None:
        """One audit event per tenant of the user (each tenant's log shows its people)."""
        tenants: builtins.list[str | None] = builtins.list(
            session.scalars(select(Membership.tenant_id).where(Membership.user_id == user.id))
        )
        for tenant in tenants or [None]:
            audit.append(
                session,
                now=now,
                actor=by,
                action=action,
                tenant_id=tenant,
                target=user.id,
                data=data,
            )

    @staticmethod
    @staticmethod
    def _user(session: Session, who: str) -> User:
        by_email = "@" in who
        query = select(User).where(
            User.email == who.strip().lower() if by_email else User.id == who
        )
        user = session.scalar(query)
        if user is None:
            raise NotFound(f"no user {who!r}")
        return user
