"""Server-side dashboard sessions: the cookie holds a random token, the table its digest.

A session ends after `idle` without a request or `absolute` after it began, whatever
happens; signing in replaces the pending session (no fixation); the CSRF token is an HMAC of
the session's token, so it is never stored and dies with the session.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import NotFound
from keyguard.users.factors import digest, new_token
from keyguard.users.models import Membership, User, WebSession
from keyguard.users.views import SessionPolicy, SessionView

ENVIRONMENTS = ("live", "test", "dev")


def csrf_of(token: str) -> str:
    return hmac.new(token.encode(), b"keyguard-csrf", hashlib.sha256).hexdigest()


class Sessions:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, policy: SessionPolicy):
        self._sessions = sessions
        self._clock = clock
        self.policy = policy

    def open_pending(self, ip: str | None) -> tuple[str, SessionView]:
        """A sign-in in progress: a CSRF token for the forms, a slot for a challenge."""
        return self._open(None, ip, strong=False)

    def open(
        self, user_id: str, ip: str | None, *, strong: bool, replaces: str | None = None
    ) -> tuple[str, SessionView]:
        """A signed-in session; `strong` (passkey, password+TOTP) counts as a re-authentication,
        a recovery code does not. The pending session it replaces is deleted."""
        if replaces is not None:
            self.end(replaces)
        return self._open(user_id, ip, strong=strong)

    def _open(
        self, user_id: str | None, ip: str | None, *, strong: bool
    ) -> tuple[str, SessionView]:
        token, now = new_token(), self._clock()
        with self._sessions.begin() as session:
            self._purge(session, now)
            tenant = None
            if user_id is not None:
                tenant = session.scalar(
                    select(Membership.tenant_id)
                    .where(Membership.user_id == user_id)
                    .order_by(Membership.tenant_id)
                    .limit(1)
                )
            row = WebSession(
                id=digest(token), user_id=user_id, tenant_id=tenant, env="live",
                created_at=now, last_seen_at=now, reauth_at=now if strong else None, ip=ip,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return token, _view(session, row, token)

    def purge(self) -> int:
        """Delete every timed-out session now (the worker's housekeeping); how many."""
        with self._sessions.begin() as session:
            return self._purge(session, self._clock())

    def _purge(self, session: Session, now: datetime) -> int:
        """Delete timed-out sessions as new ones open: a client that never sends its cookie
        back (a bot on the sign-in page) cannot grow the table without bound."""
        policy, table = self.policy, WebSession
        done = session.execute(
            delete(table).where(
                (table.user_id.is_(None) & (table.created_at < now - policy.pending))
                | (table.last_seen_at < now - policy.idle)
                | (table.created_at < now - policy.absolute)
            )
        )
        return int(done.rowcount)  # type: ignore[attr-defined]  # DML results carry rowcount

    def current(self, token: str | None) -> SessionView | None:
        """The live session of `token` (touched), or None when unknown or timed out."""
        if not token or len(token) > 100:
            return None
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(WebSession, digest(token))
            if row is None:
                return None
            if self._expired(row, now):
                session.delete(row)
                return None
            row.last_seen_at = now
            return _view(session, row, token)

    def _expired(self, row: WebSession, now: datetime) -> bool:
        if row.user_id is None:
            return now - row.created_at > self.policy.pending
        return (
            now - row.last_seen_at > self.policy.idle or now - row.created_at > self.policy.absolute
        )

    def end(self, token: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(WebSession).where(WebSession.id == digest(token)))

    def set_challenge(self, session_id: str, challenge: bytes) -> None:
        with self._sessions.begin() as session:
            self._row(session, session_id).challenge = challenge

    def take_challenge(self, session_id: str) -> bytes | None:
        """The pending WebAuthn challenge, spent: a response can be verified once."""
        with self._sessions.begin() as session:
            row = self._row(session, session_id)
            challenge, row.challenge = row.challenge, None
            return challenge

    def issue_nonce(self, session_id: str) -> str:
        """A nonce for the next form that reveals a key; a newer form replaces it."""
        nonce = new_token()
        with self._sessions.begin() as session:
            self._row(session, session_id).form_nonce = digest(nonce)
        return nonce

    def spend_nonce(self, session_id: str, nonce: str) -> bool:
        """True once for the issued nonce: a reloaded answer re-posts a spent one."""
        with self._sessions.begin() as session:
            row = self._row(session, session_id)
            if row.form_nonce is None or not hmac.compare_digest(row.form_nonce, digest(nonce)):
                return False
            row.form_nonce = None
            return True

    def mark_reauthenticated(self, session_id: str) -> None:
        with self._sessions.begin() as session:
            self._row(session, session_id).reauth_at = self._clock()

    def switch(self, session_id: str, *, tenant_id: str, env: str) -> None:
        """Move the session to another of the user's tenants, or another environment."""
        with self._sessions.begin() as session:
            row = self._row(session, session_id)
            member = session.get(Membership, (row.user_id, tenant_id))
            if member is None or env not in ENVIRONMENTS:
                raise NotFound(f"no tenant {tenant_id!r}")
            row.tenant_id, row.env = tenant_id, env

    @staticmethod
    def _row(session: Session, session_id: str) -> WebSession:
        row = session.get(WebSession, session_id)
        if row is None:
            raise NotFound("no such session")
        return row


def _view(session: Session, row: WebSession, token: str) -> SessionView:
    tenants: dict[str, str] = {}
    email = None
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        email = user.email if user else None
        query = select(Membership.tenant_id, Membership.role).where(
            Membership.user_id == row.user_id
        )
        tenants = dict(session.execute(query).all())
    return SessionView(
        id=row.id,
        user_id=row.user_id,
        email=email,
        tenant_id=row.tenant_id,
        role=tenants.get(row.tenant_id) if row.tenant_id else None,
        env=row.env,
        tenants=tenants,
        created_at=row.created_at,
        reauth_at=row.reauth_at,
        csrf=csrf_of(token),
    )
