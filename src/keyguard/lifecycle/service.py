"""KeyService: every lifecycle action is one transaction holding the change and its audit event.

Caches are told about a change only after the commit, through the `on_change` callback.
Notifications (webhooks) are queued through `events` in the same transaction as the change,
so a key change and the news of it commit together or not at all.
"""

from __future__ import annotations

import builtins
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.clock import Clock
from keyguard.errors import InvalidInput, NotFound, PermissionDenied
from keyguard.keys import (
    ALPHABET,
    ENVIRONMENTS,
    Environment,
    PepperRing,
    RawKey,
    digest_key,
    display_prefix,
    generate_key,
)
from keyguard.lifecycle.models import ApiKey, Tenant
from keyguard.lifecycle.states import (
    ROTATED_REASON,
    Action,
    State,
    check_transition,
    effective_state,
)
from keyguard.lifecycle.tenants import get_tenant
from keyguard.lifecycle.views import Actor, CreatedKey, KeyView
from keyguard.logging import scrub
from keyguard.policy import Restrictions, covers, normalize_scopes

ChangeListener = Callable[[str], None]


class EventSink(Protocol):
    """Queues a notification in the caller's transaction (keyguard.webhooks.emit)."""

    def __call__(
        self,
        session: Session,
        now: datetime,
        tenant_id: str,
        event_type: str,
        data: Mapping[str, Any],
    ) -> object: ...


MAX_PAGE = 500
# The state changes told to webhooks (PRODUCT.md event types); a resume is audited only.
_NOTIFIED: Final = frozenset({"key.revoked", "key.suspended"})


def new_key_id() -> str:
    return "key_" + "".join(secrets.choice(ALPHABET) for _ in range(16))


# The environments by name, typed (a `str` from a request becomes an `Environment` here).
_BY_NAME: Final[dict[str, Environment]] = {env: env for env in ENVIRONMENTS}


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a caller asks for when creating a key (already parsed, not yet authorised)."""

    tenant_id: str
    env: str
    scopes: Sequence[str]
    restrictions: Restrictions = field(default_factory=Restrictions)
    expires_in: timedelta | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Narrowing:
    """What a successor changes of its predecessor's powers (an access review's proposal):
    fewer scopes, tighter restrictions. None keeps the predecessor's."""

    scopes: Sequence[str] | None = None
    restrictions: Restrictions | None = None


# How long a rotated key keeps working beside its successor, unless the caller says.
DEFAULT_GRACE: Final = timedelta(hours=24)


class KeyService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        peppers: PepperRing,
        clock: Clock,
        on_change: ChangeListener | None = None,
        *,
        events: EventSink | None = None,
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._peppers = peppers
        self._clock = clock
        self._listeners: list[ChangeListener] = [on_change] if on_change else []

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    # -- create --------------------------------------------------------------------------

    def create(
        self, actor: Actor, spec: KeySpec, *, raw: RawKey | None = None, key_id: str | None = None
    ) -> CreatedKey:
        """A new key; `raw` and `key_id` are given only by a delivery that staged the key in a
        vault before this commit (keyguard.rotation), otherwise they are generated here."""
        now = self._clock()
        with self._sessions.begin() as session:
            tenant = self._tenant(session, actor, spec.tenant_id)
            row, raw = self._new_row(
                session,
                actor=actor,
                spec=spec,
                tenant=tenant,
                now=now,
                parent_id=None,
                raw=raw,
                key_id=key_id,
            )
            _record(session, now, actor, "key.created", row, **_created(row))
            self._emit(session, now, actor, "key.created", row, **_created(row))
            return CreatedKey(view=to_view(row, now), key=raw)

    def _new_row(
        self,
        session: Session,
        *,
        actor: Actor,
        spec: KeySpec,
        tenant: Tenant,
        now: datetime,
        parent_id: str | None,
        raw: RawKey | None = None,
        key_id: str | None = None,
    ) -> tuple[ApiKey, Any]:
        env = _BY_NAME.get(spec.env)
        if env is None:
            raise InvalidInput(
                f"unknown environment {spec.env!r} (use live, test or dev)",
                code="invalid_environment",
                field="env",
            )
        scopes = normalize_scopes(spec.scopes)
        expires_at = now + self._lifetime(tenant, spec.expires_in)
        if actor.expires_at is not None and (spec.expires_in is None or parent_id is not None):
            # A key made by a key expires no later than its maker, unless a later expiry was
            # asked for explicitly (then it is refused below). A successor is always capped:
            # otherwise a leaked key that rotates itself, or a key that rotates its child,
            # could keep a key alive forever and defeat mandatory expiry. Operators, people
            # and the rotation scheduler (acting on the tenant's policy) are not capped.
            expires_at = min(expires_at, actor.expires_at)
        _forbid_escalation(actor, spec.env, scopes, spec.restrictions, expires_at)
        if raw is None:
            raw = generate_key(env)
        elif not raw.reveal().startswith(f"kg_{spec.env}_"):
            raise InvalidInput(f"the key given is not a {spec.env} key", field="env")
        pepper = self._peppers.current
        row = ApiKey(
            id=key_id or new_key_id(),
            tenant_id=tenant.id,
            name=_scrubbed(spec.name),
            env=spec.env,
            display_prefix=display_prefix(raw.reveal()),
            digest=digest_key(pepper, raw),
            pepper_version=pepper.version,
            scopes=sorted(scopes),
            restrictions=spec.restrictions.to_json(),
            state="active",
            created_at=now,
            expires_at=expires_at,
            created_by=actor.id,
            parent_id=parent_id,
        )
        session.add(row)
        session.flush()
        return row, raw

    @staticmethod
    def _lifetime(tenant: Tenant, requested: timedelta | None) -> timedelta:
        # `0s` is a mistake to refuse, not a request for the default lifetime.
        if requested is None:
            lifetime = timedelta(days=tenant.default_key_lifetime_days)
        else:
            lifetime = requested
        cap = timedelta(days=tenant.max_key_lifetime_days)
        if lifetime <= timedelta(0):
            raise InvalidInput(
                "expires_in must be longer than zero", code="invalid_duration", field="expires_in"
            )
        if lifetime > cap:
            raise InvalidInput(
                f"expiry exceeds the tenant's cap of {tenant.max_key_lifetime_days} days",
                code="expiry_too_long",
                field="expires_in",
            )
        return lifetime

    # -- read ----------------------------------------------------------------------------

    def show(self, actor: Actor, key_id: str) -> KeyView:
        with self._sessions() as session:
            return to_view(self._key(session, actor, key_id), self._clock())

    def list(
        self,
        actor: Actor,
        tenant_id: str | None = None,
        *,
        limit: int = 100,
        after: str | None = None,
    ) -> list[KeyView]:
        """Keys in creation order; `after` is the id of the last key of the previous page."""
        tenant_id = actor.tenant_id or tenant_id
        query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id).limit(min(limit, MAX_PAGE))
        if tenant_id is not None:
            query = query.where(ApiKey.tenant_id == tenant_id)
        if actor.env is not None:
            query = query.where(ApiKey.env == actor.env)  # environments are partitioned
        with self._sessions() as session:
            if after is not None:
                cursor = self._key(session, actor, after)
                query = query.where(
                    (ApiKey.created_at > cursor.created_at)
                    | ((ApiKey.created_at == cursor.created_at) & (ApiKey.id > cursor.id))
                )
            now = self._clock()
            return [to_view(row, now) for row in session.scalars(query)]

    # -- state changes -------------------------------------------------------------------

    def rotate(
        self,
        actor: Actor,
        key_id: str,
        grace: timedelta = DEFAULT_GRACE,
        *,
        narrowing: Narrowing | None = None,
    ) -> CreatedKey:
        """Issue a successor (with `narrowing`, fewer powers); the old key keeps working
        until `grace` has passed."""
        if grace < timedelta(0):
            raise InvalidInput("grace must not be negative", code="invalid_duration", field="grace")
        now = self._clock()
        with self._sessions.begin() as session:
            old = self._changeable(session, actor, key_id, "rotate", now)
            new, raw = self._successor(session, actor, old, now, narrowing=narrowing)
            self._begin_grace(session, actor, old, new.id, grace=grace, now=now)
            self._emit_rotated(session, now, actor, old, new.id)
            created = CreatedKey(view=to_view(new, now), key=raw)
        self._notify(key_id)
        return created

    # A staged rotation (keyguard.rotation) splits `rotate` in two around the delivery of the
    # successor into a vault: the successor is committed first, beside the old key, and the
    # old key's grace window starts only once the vault holds the successor.

    def issue_successor(
        self,
        actor: Actor,
        key_id: str,
        *,
        raw: RawKey,
        successor_id: str,
        narrowing: Narrowing | None = None,
    ) -> KeyView:
        """Commit `raw` as the successor of an active key, which stays active (no grace yet)."""
        now = self._clock()
        with self._sessions.begin() as session:
            old = self._changeable(session, actor, key_id, "rotate", now)
            new, _ = self._successor(
                session, actor, old, now, raw=raw, successor_id=successor_id, narrowing=narrowing
            )
            _record(session, now, actor, "key.created", new, **_created(new), parent_id=old.id)
            self._emit(session, now, actor, "key.created", new, **_created(new), parent_id=old.id)
            return to_view(new, now)

    def start_grace(
        self, actor: Actor, key_id: str, *, successor_id: str, grace: timedelta
    ) -> KeyView:
        """Start the grace window of a key whose successor was issued and delivered."""
        if grace < timedelta(0):
            raise InvalidInput("grace must not be negative", code="invalid_duration", field="grace")
        now = self._clock()
        with self._sessions.begin() as session:
            old = self._changeable(session, actor, key_id, "rotate", now)
            self._begin_grace(session, actor, old, successor_id, grace=grace, now=now)
            self._emit_rotated(session, now, actor, old, successor_id)
            view = to_view(old, now)
        self._notify(key_id)
        return view

    def _successor(
        self,
        session: Session,
        actor: Actor,
        old: ApiKey,
        now: datetime,
        *,
        raw: RawKey | None = None,
        successor_id: str | None = None,
        narrowing: Narrowing | None = None,
    ) -> tuple[ApiKey, RawKey]:
        tenant = self._tenant(session, actor, old.tenant_id)
        scopes, restrictions = _narrowed(old, narrowing)
        spec = KeySpec(
            tenant_id=old.tenant_id,
            env=old.env,
            scopes=scopes,
            restrictions=restrictions,
            expires_in=min(
                old.expires_at - old.created_at, timedelta(days=tenant.max_key_lifetime_days)
            ),
            name=old.name,
        )
        new, raw = self._new_row(
            session,
            actor=actor,
            spec=spec,
            tenant=tenant,
            now=now,
            parent_id=old.id,
            raw=raw,
            key_id=successor_id,
        )
        return new, raw

    @staticmethod
    def _begin_grace(
        session: Session,
        actor: Actor,
        old: ApiKey,
        successor_id: str,
        *,
        grace: timedelta,
        now: datetime,
    ) -> None:
        # A grace window past the key's own expiry would mean nothing (the key expires anyway)
        # and an absurd one would overflow the date: the window ends at expiry at the latest.
        old.grace_until = now + min(grace, max(old.expires_at - now, timedelta(0)))
        old.state = "rotating" if grace > timedelta(0) else "revoked"
        old.state_reason = ROTATED_REASON
        _record(
            session,
            now,
            actor,
            "key.rotated",
            old,
            successor=successor_id,
            grace_until=old.grace_until.isoformat(),
        )

    def revoke(self, actor: Actor, key_id: str, reason: str | None = None) -> KeyView:
        return self._set_state(
            actor, key_id, "revoke", "revoked", reason or "revoked by " + actor.id
        )

    def suspend(self, actor: Actor, key_id: str, reason: str | None = None) -> KeyView:
        return self._set_state(actor, key_id, "suspend", "suspended", reason)

    def resume(self, actor: Actor, key_id: str) -> KeyView:
        return self._set_state(actor, key_id, "resume", "active", None)

    def _set_state(
        self, actor: Actor, key_id: str, action: Action, state: str, reason: str | None
    ) -> KeyView:
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._changeable(session, actor, key_id, action, now)
            view = self._apply(session, actor, row, state, reason=reason, now=now)
        self._notify(key_id)
        return view

    def _apply(
        self,
        session: Session,
        actor: Actor,
        row: ApiKey,
        state: str,
        *,
        reason: str | None,
        now: datetime,
    ) -> KeyView:
        """Write a checked state change and its audit event in the session's transaction."""
        reason = _scrubbed(reason)  # a reason is kept for ever in the append-only audit log
        row.state, row.state_reason = state, reason
        event = f"key.{state}" if state != "active" else "key.resumed"
        details = {"reason": reason} if reason else {}
        _record(session, now, actor, event, row, **details)
        if event in _NOTIFIED:  # the tenant's webhooks hear of it in the same transaction
            self._emit(session, now, actor, event, row, **details)
        return to_view(row, now)

    # -- inside a caller's transaction (keyguard.incidents) ------------------------------

    def stop_in(
        self,
        session: Session,
        actor: Actor,
        key_id: str,
        *,
        quarantine: bool = False,
        reason: str | None = None,
        now: datetime,
    ) -> tuple[State, KeyView]:
        """Revoke (or, with `quarantine`, suspend) a key in the caller's transaction, with its
        audit event; return the state it was in and what it is now. A key already revoked (or,
        for a quarantine, already stopped) is left as it is. After the commit the caller calls
        `changed`: this process's caches drop the key at once, and the other processes read
        the audit event from the change feed within a second."""
        row = self._key(session, actor, key_id, for_update=True)
        state = effective_state(
            row.state, expires_at=row.expires_at, grace_until=row.grace_until, now=now
        )
        if state == "revoked" or (quarantine and state in ("suspended", "expired")):
            return state, to_view(row, now)
        action: Action = "suspend" if quarantine else "revoke"
        self._may_change(actor, row, action, state)
        if quarantine:
            return state, self._apply(session, actor, row, "suspended", reason=reason, now=now)
        return state, self._apply(
            session, actor, row, "revoked", reason=reason or "revoked by " + actor.id, now=now
        )

    def resume_in(self, session: Session, actor: Actor, key_id: str, *, now: datetime) -> KeyView:
        """Resume a suspended key in the caller's transaction (then `changed`)."""
        row = self._changeable(session, actor, key_id, "resume", now)
        return self._apply(session, actor, row, "active", reason=None, now=now)

    def find_in(self, session: Session, actor: Actor, key_id: str) -> KeyView:
        """A key as `actor` may see it, read in the caller's transaction (NotFound otherwise)."""
        return to_view(self._key(session, actor, key_id), self._clock())

    def identify(self, raws: Sequence[RawKey]) -> builtins.list[KeyView | None]:
        """The key each raw key is (None for one that is not ours), looked up by its digest
        under every loaded pepper in one query and compared in constant time. A leak report
        is not a use: nothing is cached, touched or counted."""
        wanted: dict[str, tuple[str, builtins.list[int]]] = {}
        for index, raw in enumerate(raws):
            for pepper in self._peppers:
                digest = digest_key(pepper, raw)
                wanted.setdefault(digest, (pepper.version, []))[1].append(index)
        found: builtins.list[KeyView | None] = [None] * len(raws)
        if not wanted:
            return found
        now = self._clock()
        with self._sessions() as session:
            rows = session.scalars(select(ApiKey).where(ApiKey.digest.in_(list(wanted))))
            for row in rows:
                # The dict is keyed by HMACs the caller cannot steer (as the verifier's cache
                # is), so the lookup's timing tells nothing; the match is confirmed in
                # constant time, under the pepper the row was hashed with.
                version, indices = wanted.get(row.digest, ("", []))
                if version != row.pepper_version or not indices:
                    continue
                digest = digest_key(self._peppers.get(version), raws[indices[0]])
                if hmac.compare_digest(digest, row.digest):
                    for index in indices:
                        found[index] = to_view(row, now)
        return found

    def changed(self, key_ids: Iterable[str]) -> None:
        """Tell this process's caches that keys changed in a transaction that has committed."""
        for key_id in key_ids:
            self._notify(key_id)

    def reissue(
        self,
        actor: Actor,
        key_id: str,
        *,
        raw: RawKey | None = None,
        successor_id: str | None = None,
    ) -> CreatedKey:
        """A successor of a key in any state (a compromised one, revoked or suspended) with
        the same scopes, restrictions, environment and name; the old key is left as it is.
        `raw` and `successor_id` come from a vault delivery, as for `create`."""
        now = self._clock()
        with self._sessions.begin() as session:
            old = self._key(session, actor, key_id, for_update=True)
            new, raw = self._successor(session, actor, old, now, raw=raw, successor_id=successor_id)
            _record(session, now, actor, "key.created", new, **_created(new), parent_id=old.id)
            return CreatedKey(view=to_view(new, now), key=raw)

    def _changeable(
        self, session: Session, actor: Actor, key_id: str, action: Action, now: datetime
    ) -> ApiKey:
        row = self._key(session, actor, key_id, for_update=True)
        state = effective_state(
            row.state, expires_at=row.expires_at, grace_until=row.grace_until, now=now
        )
        self._may_change(actor, row, action, state)
        return row

    @staticmethod
    def _may_change(actor: Actor, row: ApiKey, action: Action, state: State) -> None:
        """Raise unless `actor` may do `action` to the key `row`, which is in `state`."""
        check_transition(action, state, row.id)
        if actor.id != f"key:{row.id}":
            # Acting on another key needs powers at least as broad as that key's: otherwise a
            # keys:write key could suspend the tenant's admin key (and then not resume it),
            # or resume or rotate its way into scopes it lacks. A key acting on itself is
            # fine: self-revocation is a safety action, and self-rotation is capped anyway.
            _forbid_escalation(
                actor,
                row.env,
                frozenset(row.scopes),
                Restrictions.from_json(row.restrictions),
                # Only what a key may suspend may it resume; revoking and rotating do not
                # extend a key's life (a successor is capped at its maker's expiry).
                row.expires_at if action in ("suspend", "resume") else None,
            )

    # -- lookups -------------------------------------------------------------------------

    @staticmethod
    def _key(session: Session, actor: Actor, key_id: str, *, for_update: bool = False) -> ApiKey:
        query = select(ApiKey).where(ApiKey.id == key_id)
        if for_update:
            query = query.with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None or not actor.sees(row.tenant_id, row.env):
            raise NotFound(f"no key {key_id!r}")
        return row

    @staticmethod
    def _tenant(session: Session, actor: Actor, tenant_id: str) -> Tenant:
        if actor.tenant_id is not None and tenant_id != actor.tenant_id:
            raise NotFound(f"no tenant {tenant_id!r}")
        return get_tenant(session, tenant_id)

    def _emit(
        self, session: Session, now: datetime, actor: Actor, event: str, row: ApiKey, **data: Any
    ) -> None:
        """Queue `event` for the tenant's webhooks, in this transaction (never a raw key)."""
        if self._events is not None:
            body = {"key_id": row.id, "name": row.name, "env": row.env, "actor": actor.id, **data}
            self._events(session, now, row.tenant_id, event, body)

    def _emit_rotated(
        self, session: Session, now: datetime, actor: Actor, old: ApiKey, successor_id: str
    ) -> None:
        grace_until = old.grace_until.isoformat() if old.grace_until else None
        self._emit(
            session, now, actor, "key.rotated", old, successor=successor_id, grace_until=grace_until
        )

    def _notify(self, key_id: str) -> None:
        for listener in self._listeners:
            listener(key_id)


def _forbid_escalation(
    actor: Actor,
    env: str,
    scopes: frozenset[str],
    restrictions: Restrictions,
    expires_at: datetime | None,
) -> None:
    """A key may only hand out a subset of its own powers."""
    if actor.is_operator:
        return
    assert actor.scopes is not None  # noqa: S101 - a non-operator actor always has scopes
    assert actor.restrictions is not None  # noqa: S101 - and restrictions
    if env != actor.env:
        raise PermissionDenied(
            f"a {actor.env} key cannot manage {env} keys", code="privilege_escalation"
        )
    if not covers(actor.scopes, scopes):
        missing = sorted(s for s in scopes if not covers(actor.scopes, frozenset({s})))
        raise PermissionDenied(
            f"scopes exceed the caller's own: {', '.join(missing)}", code="privilege_escalation"
        )
    if not restrictions.within(actor.restrictions):
        raise PermissionDenied(
            "restrictions are looser than the caller's own", code="privilege_escalation"
        )
    if expires_at is not None and actor.expires_at is not None and expires_at > actor.expires_at:
        raise PermissionDenied("expiry is later than the caller's own", code="privilege_escalation")


def _narrowed(old: ApiKey, narrowing: Narrowing | None) -> tuple[Sequence[str], Restrictions]:
    """The successor's scopes and restrictions: the old key's, or narrower ones."""
    held = Restrictions.from_json(old.restrictions)
    if narrowing is None:
        return old.scopes, held
    scopes = normalize_scopes(old.scopes if narrowing.scopes is None else narrowing.scopes)
    restrictions = held if narrowing.restrictions is None else narrowing.restrictions
    # A narrowing that widened would turn a rotation into an escalation that the audit log
    # records as a routine rotation: refuse it, whoever asks (operators included).
    if not covers(frozenset(old.scopes), scopes):
        raise PermissionDenied(
            "a narrowed successor cannot hold scopes its predecessor lacks",
            code="privilege_escalation",
        )
    if not restrictions.within(held):
        raise PermissionDenied(
            "a narrowed successor cannot have looser restrictions than its predecessor",
            code="privilege_escalation",
        )
    return sorted(scopes), restrictions


def _record(
    session: Session, now: datetime, actor: Actor, action: str, row: ApiKey, **details: Any
) -> None:
    """The audit event of `actor` doing `action` to the key `row`, in the caller's transaction."""
    audit.record(session, now, actor.id, action, tenant_id=row.tenant_id, target=row.id, **details)


def _created(row: ApiKey) -> dict[str, Any]:
    """What a key.created event tells of the new key."""
    return {"env": row.env, "scopes": row.scopes, "expires_at": row.expires_at.isoformat()}


def _scrubbed(text: str | None) -> str | None:
    """Free text people type (names, reasons) is stored with any pasted key masked."""
    return scrub(text) if text else text


def to_view(row: ApiKey, now: datetime) -> KeyView:
    return KeyView(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        env=row.env,  # type: ignore[arg-type]  # the column holds only values we wrote
        display_prefix=row.display_prefix,
        scopes=tuple(row.scopes),
        restrictions=Restrictions.from_json(row.restrictions),
        state=effective_state(
            row.state, expires_at=row.expires_at, grace_until=row.grace_until, now=now
        ),
        state_reason=row.state_reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
        grace_until=row.grace_until,
        last_used_at=row.last_used_at,
        created_by=row.created_by,
        parent_id=row.parent_id,
    )
