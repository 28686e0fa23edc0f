"""UserService: people, their roles and their set-up; signing in is keyguard.users.signin.

Every change is audited as whoever made it (`operator:cli`, or `user:<id>` from the
dashboard), in the change's own transaction.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.clock import Clock
from keyguard.errors import (
    AuthenticationFailed,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from keyguard.lifecycle import get_tenant
from keyguard.ratelimit import RateLimits
from keyguard.secrets import KeyWrapper, SecretValue, delete_secrets, store_secret
from keyguard.users import factors, passkeys
from keyguard.users.models import Membership, RecoveryCode, User, WebAuthnCredential, WebSession
from keyguard.users.passkeys import Relying
from keyguard.users.roles import ROLES, role
from keyguard.users.sessions import Sessions
from keyguard.users.signin import SECRETS_TENANT, TOTP_PURPOSE, SignIn
from keyguard.users.views import Invitation, SessionPolicy, UserView

SETUP_LIFETIME = timedelta(hours=72)


class NoticeSink(Protocol):
    """keyguard.mail.enqueue_notice with its sender bound (the runtime's `notices`)."""

    def __call__(
        self, session: Session, *, tenant_id: str, recipients: list[str], subject: str,
        text: str, now: datetime,
    ) -> object: ...  # fmt: skip


class UserService(SignIn):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        limits: RateLimits,
        wrapper: Callable[[], KeyWrapper],
        *,
        notices: NoticeSink | None = None,
        policy: SessionPolicy | None = None,
        account_per_minute: int = 5,
        address_per_minute: int = 30,
    ) -> None:
        super().__init__(
            sessions, clock, limits, wrapper,
            account_per_minute=account_per_minute, address_per_minute=address_per_minute,
        )  # fmt: skip
        self._notices = notices
        self.web = Sessions(sessions, clock, policy or SessionPolicy())

    # -- people --------------------------------------------------------------------------

    def add(
        self, by: str, *, email: str, tenant_id: str, role_name: str, name: str | None = None,
        manager_role: str | None = None, invite_link: str | None = None,
    ) -> Invitation:  # fmt: skip
        """A new member of `tenant_id` (a new user, or a known one given a role there) with a
        set-up token; `manager_role` None is the operator. With `invite_link`, the token also
        goes out by e-mail through the mail outbox (`{token}` in the link is replaced)."""
        email = _email(email)
        _may_manage(manager_role, role(role_name).name)
        now = self._clock()
        token = factors.new_token()
        with self._sessions.begin() as session:
            get_tenant(session, tenant_id)
            user = session.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(
                    id=_new_id(), email=email, name=name, webauthn_handle=secrets.token_hex(16),
                    created_at=now, created_by=by,
                )  # fmt: skip
                session.add(user)
                session.flush()
            elif session.get(Membership, (user.id, tenant_id)) is not None:
                raise IllegalTransition(f"{email} is already a member", code="already_member")
            session.add(
                Membership(user_id=user.id, tenant_id=tenant_id, role=role_name, created_at=now)
            )
            if user.password_hash is None and not _passkeys(session, user.id):
                user.setup_token_hash = factors.digest(token)
                user.setup_expires_at = now + SETUP_LIFETIME
            else:
                token = ""  # someone who can sign in already needs no set-up
            audit.record(
                session, now, by, "user.added", tenant_id=tenant_id, target=user.id, role=role_name
            )
            if invite_link and token:
                self._invite(session, user, tenant_id, invite_link.replace("{token}", token), now)
            session.flush()
            return Invitation(_user_view(session, user), token, now + SETUP_LIFETIME)

    def _invite(
        self, session: Session, user: User, tenant_id: str, link: str, now: datetime
    ) -> None:
        if self._notices is None:
            raise InvalidInput("this process sends no mail", code="mail_unavailable")
        text = (
            f"You were invited to Keyguard's dashboard for {tenant_id}.\n\n"
            f"Set up your sign-in (a passkey, or a password and an authenticator app) within "
            f"{SETUP_LIFETIME.days} days:\n\n{link}\n\n"
            "Keyguard staff will never ask you for an API key, a password or a code."
        )
        self._notices(
            session, tenant_id=tenant_id, recipients=[user.email],
            subject="Your Keyguard dashboard invitation", text=text, now=now,
        )  # fmt: skip

    def send_setup(self, invitation: Invitation, link: str) -> None:
        """E-mail a reset's set-up link to the person, through the mail outbox."""
        now = self._clock()
        with self._sessions.begin() as session:
            user = self._user(session, invitation.user.id)
            for tenant in sorted(invitation.user.roles)[:1]:
                self._invite(session, user, tenant, link, now)

    def list(self, tenant_id: str | None = None) -> builtins.list[UserView]:
        with self._sessions() as session:
            query = select(User).order_by(User.email)
            if tenant_id is not None:
                query = query.join(Membership).where(Membership.tenant_id == tenant_id)
            return [_user_view(session, u) for u in session.scalars(query)]

    def show(self, user_id: str) -> UserView:
        with self._sessions() as session:
            return _user_view(session, self._user(session, user_id))

    def remove(
        self, by: str, who: str, *, tenant_id: str | None = None, manager_role: str | None = None
    ) -> UserView:
        """Take `who` out of `tenant_id` (or, for the operator with no tenant, delete them);
        a user left with no tenant is deleted, their sessions end at once."""
        now = self._clock()
        with self._sessions.begin() as session:
            user = self._user(session, who)
            view = _user_view(session, user)
            tenants = [tenant_id] if tenant_id else builtins.list(view.roles)
            for tenant in tenants:
                member = session.get(Membership, (user.id, tenant))
                if member is None:
                    raise NotFound(f"no user {who!r}")
                _may_manage(manager_role, member.role)
                if member.role == "owner" and self._owners(session, tenant) == 1:
                    raise IllegalTransition(f"the last owner of {tenant} stays", code="last_owner")
                session.delete(member)
                audit.record(session, now, by, "user.removed", tenant_id=tenant, target=user.id)
            session.flush()
            if not session.scalar(
                select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
            ):
                delete_secrets(
                    session, tenant_id=SECRETS_TENANT, purpose=TOTP_PURPOSE, name=user.id
                )
                session.delete(user)
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            return view

    def reset(self, by: str, who: str, *, manager_role: str | None = None) -> Invitation:
        """Forget every factor of `who` (password, TOTP, passkeys, recovery codes), end their
        sessions, and issue a new set-up token: for a lost device or a suspected takeover."""
        now = self._clock()
        token = factors.new_token()
        with self._sessions.begin() as session:
            user = self._user(session, who)
            roles = _user_view(session, user).roles
            for held in roles.values():
                _may_manage(manager_role, held)
            user.password_hash, user.totp_enabled, user.totp_last_step = None, False, None
            user.setup_token_hash = factors.digest(token)
            user.setup_expires_at = now + SETUP_LIFETIME
            for table in (WebAuthnCredential, RecoveryCode, WebSession):
                session.execute(delete(table).where(table.user_id == user.id))
            delete_secrets(session, tenant_id=SECRETS_TENANT, purpose=TOTP_PURPOSE, name=user.id)
            for tenant in roles:
                audit.record(session, now, by, "user.reset", tenant_id=tenant, target=user.id)
            session.flush()
            return Invitation(_user_view(session, user), token, now + SETUP_LIFETIME)

    # -- set-up --------------------------------------------------------------------------

    def purge_expired(self) -> int:
        """The worker's housekeeping: delete timed-out dashboard sessions and forget the
        digests of set-up links past their 72 hours (already refused, so nothing changes for
        anyone; the person stays pending until `reset` gives a new link). How many rows."""
        now = self._clock()
        with self._sessions.begin() as session:
            links = session.execute(
                update(User)
                .where(User.setup_token_hash.is_not(None), User.setup_expires_at < now)
                .values(setup_token_hash=None)
            )
            forgotten = int(links.rowcount)  # type: ignore[attr-defined]  # DML results carry rowcount
        return self.web.purge() + forgotten

    def setup_user(self, token: str) -> UserView:
        with self._sessions() as session:
            return _user_view(session, self._by_setup_token(session, token))

    def setup_password(
        self, token: str, *, password: str, totp_secret: str, code: str
    ) -> builtins.list[str]:
        """Set the password and TOTP of the user `token` set up; returns recovery codes."""
        password_hash = factors.hash_password(password)
        now = self._clock()
        step = factors.totp_step(totp_secret, code, now) if len(totp_secret) == 32 else None
        if step is None:
            raise InvalidInput(
                "the code does not match the authenticator", code="wrong_code", field="code"
            )
        with self._sessions.begin() as session:
            user = self._by_setup_token(session, token)
            user.password_hash, user.totp_enabled, user.totp_last_step = password_hash, True, step
            store_secret(
                session, self._wrapper(), tenant_id=SECRETS_TENANT, purpose=TOTP_PURPOSE,
                name=user.id, value=SecretValue(totp_secret), clock=self._clock,
            )  # fmt: skip
            return self._finish_setup(session, user, now, "password+totp")

    def passkey_options(
        self, relying: Relying, *, token: str | None = None, user_id: str | None = None
    ) -> tuple[str, bytes]:
        """Registration options for the user being set up (`token`) or signed in (`user_id`)."""
        with self._sessions() as session:
            user = (
                self._by_setup_token(session, token)
                if token
                else self._user(session, user_id or "")
            )
            existing = builtins.list(
                session.scalars(
                    select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user.id)
                )
            )
            return passkeys.registration_options(
                relying, handle=user.webauthn_handle, email=user.email, existing=existing
            )

    def add_passkey(
        self, relying: Relying, response: str, challenge: bytes, *, token: str | None = None,
        user_id: str | None = None, name: str | None = None,
    ) -> tuple[str, builtins.list[str]]:  # fmt: skip
        """Register a passkey; with a set-up `token` this completes the set-up and returns
        the user's id and recovery codes (no codes when adding a passkey later)."""
        new = passkeys.verify_registration(relying, response, challenge)
        now = self._clock()
        with self._sessions.begin() as session:
            user = (
                self._by_setup_token(session, token)
                if token
                else self._user(session, user_id or "")
            )
            session.add(WebAuthnCredential(
                id=new.credential_id, user_id=user.id, public_key=new.public_key,
                sign_count=new.sign_count, name=name, created_at=now,
            ))  # fmt: skip
            if token:
                return user.id, self._finish_setup(session, user, now, "passkey")
            self._record_all(session, now, f"user:{user.id}", "user.passkey_added", user)
            return user.id, []

    def _finish_setup(
        self, session: Session, user: User, now: datetime, method: str
    ) -> builtins.list[str]:
        user.setup_token_hash, user.setup_expires_at = None, None
        codes = factors.new_recovery_codes()
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        session.add_all(
            RecoveryCode(
                user_id=user.id, code_hash=factors.digest(factors.normalize_recovery_code(c))
            )
            for c in codes
        )
        self._record_all(session, now, f"user:{user.id}", "user.set_up", user, method=method)
        return codes

    @staticmethod
    def _owners(session: Session, tenant_id: str) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.tenant_id == tenant_id, Membership.role == "owner")
            )
            or 0
        )

    def _by_setup_token(self, session: Session, token: str | None) -> User:
        user = None
        if token and len(token) < 100:
            user = session.scalar(
                select(User).where(User.setup_token_hash == factors.digest(token))
            )
        if user is None or user.setup_expires_at is None or user.setup_expires_at < self._clock():
            raise AuthenticationFailed(
                "this set-up link is unknown or expired", code="invalid_setup_token"
            )
        return user


def _may_manage(manager_role: str | None, target_role: str) -> None:
    """The operator manages everyone; a person only the roles their own role lists."""
    if manager_role is not None and target_role not in ROLES[manager_role].manages:
        raise PermissionDenied(f"a {manager_role} cannot manage a {target_role}", code="forbidden")


def _email(email: str) -> str:
    value = email.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or len(value) > 320 or any(c.isspace() for c in value):
        raise InvalidInput(f"not an e-mail address: {email!r}", code="invalid_email", field="email")
    return value


def _new_id() -> str:
    return "usr_" + secrets.token_hex(10)


def _passkeys(session: Session, user_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(WebAuthnCredential)
            .where(WebAuthnCredential.user_id == user_id)
        )
        or 0
    )


def _user_view(session: Session, user: User) -> UserView:
    roles = dict(
        session.execute(
            select(Membership.tenant_id, Membership.role).where(Membership.user_id == user.id)
        ).all()
    )
    return UserView(
        id=user.id, email=user.email, name=user.name, roles=roles,
        passkeys=_passkeys(session, user.id), totp=user.totp_enabled,
        pending_setup=user.setup_expires_at is not None, created_at=user.created_at,
    )  # fmt: skip
