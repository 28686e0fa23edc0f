"""Verifier: the decision for one presented key, as Allowed(key) or Denied(outcome).

Order matters for safety and speed: shape and checksum reject garbage before any lookup;
the cache answers repeat callers without touching the database; only then state, scope and
restrictions. A string that is not one of our keys always gets the same `invalid_key`.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.keys import InvalidKeyFormat, PepperRing, RawKey, digest_key, parse_key
from keyguard.lifecycle import ROTATED_REASON, ApiKey, effective_state
from keyguard.outcomes import Outcome
from keyguard.policy import IPAddress, grants
from keyguard.ratelimit import LimitDecision
from keyguard.storage import READ_ONLY
from keyguard.verification.cache import SnapshotCache
from keyguard.verification.last_used import LastUsedTracker
from keyguard.verification.rehash import RehashQueue, UseTracker
from keyguard.verification.snapshot import KeySnapshot


# Decisions are built on every request; plain slotted classes are cheaper than frozen ones.
@dataclass(slots=True)
class Allowed:
    key: KeySnapshot
    rate: LimitDecision | None = None  # the key's request rate, once the gate has counted it
    # The key's use before this one, as this process knew it (usage events' key_last_used_at).
    previous_use: datetime | None = None

    @property
    def outcome(self) -> Outcome:
        return "ok"

    @property
    def allowed(self) -> bool:
        return True


@dataclass(slots=True)
class Denied:
    """`outcome` is the PRODUCT.md value; `code` is what the holder is told (key_rotated…)."""

    outcome: Outcome
    key: KeySnapshot | None = None
    code: str | None = None
    rate: LimitDecision | None = None  # set when the refusal is the key's request rate
    previous_use: datetime | None = None  # the key's last use (a refusal is not one)

    @property
    def allowed(self) -> bool:
        return False

    @property
    def problem_code(self) -> str:
        return self.code or self.outcome


Decision = Allowed | Denied
INVALID: Final = Denied("invalid_key")


@dataclass(frozen=True, slots=True)
class Owner:
    """The tenant and environment whose keys a third party (a gateway) may ask about."""

    tenant_id: str
    env: str


class Verifier:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        peppers: PepperRing,
        clock: Clock,
        cache: SnapshotCache,
        last_used: LastUsedTracker | None = None,
    ) -> None:
        self._sessions = sessions
        engine = sessions.kw.get("bind")
        if not isinstance(engine, Engine):
            raise TypeError("the session factory must be bound to an Engine")
        self._engine = engine
        self._peppers = peppers
        self._clock = clock
        self._cache = cache
        # Keys verified under an older pepper, to re-hash under the current one (rehash.py);
        # written by the same periodic flush as the last-used times.
        self.rehash = RehashQueue()
        self.last_used = last_used or UseTracker(
            self.rehash, clock=clock, on_flushed=self.invalidate
        )
        self.outcomes: Counter[str] = Counter()

    def verify(
        self,
        presented: str,
        *,
        scope: str | None = None,
        ip: IPAddress | str | None = None,
        env: str | None = None,
        owner: Owner | None = None,
    ) -> Decision:
        """The decision for `presented`; with `owner`, a key outside that tenant and
        environment is `invalid_key`, decided before anything (last use, rehash) is recorded."""
        decision = self._decide(presented, scope, ip, env, owner)
        assert decision is not None  # noqa: S101 - only a memory-only decision can be None
        self.outcomes[decision.outcome] += 1
        return decision

    def verify_from_memory(
        self,
        presented: str,
        *,
        scope: str | None = None,
        ip: IPAddress | str | None = None,
        env: str | None = None,
        owner: Owner | None = None,
    ) -> Decision | None:
        """`verify` when no database query is needed (malformed string or cached key), else
        None: an async caller decides on the event loop and goes to a thread only on a miss."""
        decision = self._decide(presented, scope, ip, env, owner, memory_only=True)
        if decision is not None:
            self.outcomes[decision.outcome] += 1
        return decision

    def invalidate(self, key_id: str) -> None:
        """Forget a key at once (after revoke, rotate, suspend…)."""
        self._cache.invalidate_key(key_id)

    def _decide(
        self,
        presented: str,
        scope: str | None,
        ip: IPAddress | str | None,
        env: str | None,
        owner: Owner | None,
        *,
        memory_only: bool = False,
    ) -> Decision | None:
        try:
            parsed = parse_key(presented)
        except InvalidKeyFormat:
            return INVALID
        digest = digest_key(self._peppers.current, parsed.raw)
        if memory_only:
            hit, snapshot = self._cache.get(digest)
            if not hit:
                return None
        else:
            snapshot = self._lookup(parsed.raw, digest)
        if snapshot is None or (
            owner is not None
            and (snapshot.tenant_id != owner.tenant_id or snapshot.env != owner.env)
        ):
            # Another tenant's or environment's key is not one the caller may learn about,
            # nor spend: the answer of an unknown string, and no trace on the key.
            return INVALID
        return self._apply_policy(snapshot, digest, scope, ip, env)

    def _apply_policy(
        self,
        snapshot: KeySnapshot,
        digest: str,
        scope: str | None,
        ip: IPAddress | str | None,
        env: str | None,
    ) -> Decision:
        now = self._clock()
        if snapshot.state == "active" and now < snapshot.expires_at:
            state: str = "active"  # the common case, without a function call
        else:
            state = effective_state(
                snapshot.state,
                expires_at=snapshot.expires_at,
                grace_until=snapshot.grace_until,
                now=now,
            )
        refusal = _refusal(snapshot, state, scope, ip, env)
        if refusal is not None:  # a refused attempt is not a use: nothing is noted
            refusal.previous_use = _later(self.last_used.previous(snapshot.id), snapshot)
            return refusal
        previous = _later(self.last_used.touch(snapshot.id, now), snapshot)
        if snapshot.pepper_version != self._peppers.current.version:
            # Only here is the raw key at hand: remember its current-pepper digest.
            self.rehash.record(
                snapshot.id,
                snapshot.pepper_version,
                snapshot.digest,
                self._peppers.current.version,
                digest,
            )
        return Allowed(snapshot, previous_use=previous)

    def _lookup(self, raw: RawKey, digest: str) -> KeySnapshot | None:
        hit, snapshot = self._cache.get(digest)
        if hit:
            # The dict lookup is keyed by an HMAC the caller cannot steer, so its timing
            # reveals nothing; digests read from the database are compared in constant time.
            return snapshot
        snapshot = self._load(raw, digest)
        self._cache.put(digest, snapshot)
        return snapshot

    def _load(self, raw: RawKey, current_digest: str) -> KeySnapshot | None:
        digests = {current_digest: self._peppers.current.version}
        for pepper in self._peppers:
            if pepper.version != self._peppers.current.version:
                digests[digest_key(pepper, raw)] = pepper.version
        # A Core query on a pooled connection: the ORM session machinery would triple the
        # cost of a cache miss, and nothing here needs identity tracking.
        with self._engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            rows = connection.execute(_BY_DIGEST, {"digests": list(digests)}).all()
        for row in rows:
            expected = [d for d, v in digests.items() if v == row.pepper_version]
            if expected and hmac.compare_digest(row.digest, expected[0]):
                return KeySnapshot.from_row(row)
        return None


def _refusal(
    snapshot: KeySnapshot,
    state: str,
    scope: str | None,
    ip: IPAddress | str | None,
    env: str | None,
) -> Denied | None:
    if state == "revoked":
        rotated = snapshot.state_reason == ROTATED_REASON
        return Denied("revoked", snapshot, "key_rotated" if rotated else None)
    if state == "expired":
        return Denied("expired", snapshot)
    if state == "suspended":
        return Denied("suspended", snapshot)
    if env is not None and snapshot.env != env:
        return Denied("denied_env", snapshot)
    if scope is not None and not grants(snapshot.scopes, scope):
        return Denied("denied_scope", snapshot)
    if snapshot.restrictions.allowed_networks and not snapshot.restrictions.allows_ip(_ip(ip)):
        return Denied("denied_ip", snapshot)
    return None


def _later(seen: datetime | None, snapshot: KeySnapshot) -> datetime | None:
    """The key's previous use: this process's latest, or the database's when that is later
    (another process's use, loaded with the snapshot)."""
    stored = snapshot.last_used_at
    if seen is None or (stored is not None and stored > seen):
        return stored
    return seen


_BY_DIGEST: Final = select(ApiKey.__table__).where(
    ApiKey.__table__.c.digest.in_(bindparam("digests", expanding=True))
)


def _ip(ip: IPAddress | str | None) -> IPAddress | None:
    if ip is None or not isinstance(ip, str):
        return ip
    return _parse_ip(ip)


@functools.lru_cache(maxsize=65_536)
def _parse_ip(text: str) -> IPAddress | None:
    """Parsing an address costs microseconds; the same clients come back again and again."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
