"""What callers see of users and sessions; a new user's set-up token only once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from keyguard.keys import Environment
from keyguard.lifecycle import Actor
from keyguard.policy import Restrictions, grants
from keyguard.users.roles import ROLES


@dataclass(frozen=True, slots=True)
class UserView:
    id: str
    email: str
    name: str | None
    roles: dict[str, str]  # tenant → role
    passkeys: int
    totp: bool
    pending_setup: bool
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "roles": dict(self.roles),
            "passkeys": self.passkeys,
            "totp": self.totp,
            "pending_setup": self.pending_setup,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True, slots=True)
class Invitation:
    """The one object that carries a set-up token in clear, for the one-time display."""

    user: UserView
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    reauth: timedelta = timedelta(minutes=5)  # a sensitive action needs a factor this recent
    pending: timedelta = timedelta(minutes=15)  # a sign-in in progress


@dataclass(frozen=True, slots=True)
class SessionView:
    """A live session as the dashboard sees it. `user_id` None: a sign-in in progress."""

    id: str
    user_id: str | None
    email: str | None
    tenant_id: str | None
    role: str | None
    env: str
    tenants: dict[str, str]  # every tenant of the user → its role there
    created_at: datetime
    reauth_at: datetime | None
    csrf: str = field(repr=False)

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None and self.role is not None

    def actor(self) -> Actor:
        """The lifecycle Actor this person acts as in the session's tenant and environment:
        the scopes of the role, no restrictions of its own, no expiry."""
        if self.user_id is None or self.role is None or self.tenant_id is None:
            raise ValueError("no one is signed in")
        return Actor(
            id=f"user:{self.user_id}",
            tenant_id=self.tenant_id,
            scopes=ROLES[self.role].scopes,
            env=cast(Environment, self.env),
            restrictions=Restrictions(),
            expires_at=None,
        )

    def may(self, scope: str) -> bool:
        return self.role is not None and grants(ROLES[self.role].scopes, scope)

    def recently_authenticated(self, now: datetime, policy: SessionPolicy) -> bool:
        return self.reauth_at is not None and now - self.reauth_at <= policy.reauth
