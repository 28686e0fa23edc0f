"""Deliver keys into vaults and rotate them there, staged: pending → current → previous.

One delivery (a new key, or the successor of a key) takes five steps, each durable before the
next begins::

    1 open     an intent row: target, old key, new key id and digest (never the key), a lease
    2 stage    the new key into the target as *pending*; read back and checked by its digest
    3 commit   the new key in the database, beside the old one, which stays active
    4 promote  the pending key becomes the target's current key; read back and checked
    5 finish   the old key's grace window starts; the delivery is recorded; the intent closes

Why it survives a SIGKILL anywhere: until step 3 commits, the database does not know the new
key and the target's *current* key is still the old one, which is active; after step 3 both
keys are valid, whichever one the target holds; the old key's grace only starts (step 5) once
the target holds the new key. Whatever a crash leaves, an old or a new key is valid, and the
target's current key is one of them. Reconciliation (`reconcile`, run by `keys rotate` and
the worker) finishes an interrupted delivery from the facts, not from the intent's step hint:
not committed → roll back (discard the pending key); committed → promote if needed, finish.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import ConfigurationError, IllegalTransition, InvalidInput, KeyguardError
from keyguard.keys import ENVIRONMENTS, PepperRing, RawKey, digest_key, generate_key
from keyguard.lifecycle import (
    DEFAULT_GRACE,
    Actor,
    ApiKey,
    CreatedKey,
    KeyService,
    KeySpec,
    KeyView,
    new_key_id,
)
from keyguard.policy import normalize_scopes
from keyguard.rotation.delivery import Targets
from keyguard.rotation.interfaces import DeliveryTarget
from keyguard.rotation.models import (
    INTENT_DONE,
    INTENT_FAILED,
    INTENT_OPEN,
    INTENT_ROLLED_BACK,
    KeyDelivery,
    RotationIntent,
)
from keyguard.secrets import SecretValue
from keyguard.verification import Rehash, apply_rehashes

if TYPE_CHECKING:
    pass

# stdlib logging: silent at INFO in CLI commands (whose stdout may be JSON), JSON lines
# under `keyguard serve` (keyguard.logging.configure_logging).
log = logging.getLogger(__name__)

SYSTEM: Final = Actor(id="system:rotation")
# An intent whose lease has run out belongs to a process that died (or hangs): reconciliation
# may take it over. Each step takes seconds; the lease is long enough not to race a slow one.
DEFAULT_LEASE: Final = timedelta(minutes=5)
# Tests kill the process at a named step (after it completes) to prove crash safety; nothing
# sets it in production.
FAILPOINT_VARIABLE: Final = "KEYGUARD_ROTATION_FAILPOINT"
STEPS: Final = ("opened", "staged", "committed", "promoted", "finished")

Outcome = Literal["completed", "rolled_back", "failed"]


@dataclass(frozen=True, slots=True)
class Delivered:
    """A key written into `target`; `replaced` is the key it succeeds (now in its grace)."""

    key: KeyView
    target: str
    replaced: KeyView | None = None


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What reconciliation did with one interrupted delivery."""

    intent_id: str
    target: str
    new_key_id: str
    old_key_id: str | None
    outcome: Outcome
    detail: str


class RotationService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: KeyService,
        peppers: PepperRing,
        clock: Clock,
        targets: Targets,
        *,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._peppers = peppers
        self._clock = clock
        self._targets = targets
        self._lease = lease
        self._owner = os.urandom(16).hex()
        self.outcomes: Counter[str] = Counter()

    # -- the two deliveries ----------------------------------------------------------------

    def create_delivered(
        self,
        actor: Actor,
        spec: KeySpec,
        target: str,
        *,
        rotate_every: timedelta | None = None,
        grace: timedelta = DEFAULT_GRACE,
    ) -> Delivered:
        """Create a key straight into `target`; nobody sees it."""
        _precheck(spec, rotate_every, grace)
        box = self._targets.open(target)  # a misconfigured vault fails before anything is written
        raw, new_id = generate_key(spec.env), new_key_id()  # type: ignore[arg-type]  # checked by _precheck
        intent = self._open(
            "create",
            tenant_id=spec.tenant_id,
            target=box.address,
            old_key_id=None,
            new_id=new_id,
            raw=raw,
            grace=grace,
            rotate_every=rotate_every,
        )
        self._before_commit(intent, box, raw)
        try:
            created = self._keys.create(actor, spec, raw=raw, key_id=new_id)
        except KeyguardError:
            self._roll_back_quietly(intent, box, "the key could not be created")
            raise
        self._after_commit(intent, box, actor)
        return Delivered(created.view, intent.target)

    def rotate_delivered(
        self,
        actor: Actor,
        key_id: str,
        target: str | None = None,
        *,
        grace: timedelta | None = None,
        rotate_every: timedelta | None = None,
    ) -> Delivered:
        """Rotate a key into `target` (default: where it was delivered) without showing it."""
        old = self._keys.show(actor, key_id)  # the caller's view: NotFound across tenants
        if old.state != "active":
            raise IllegalTransition(f"cannot rotate key {key_id}: it is {old.state}")
        binding = self.delivery_of(key_id)
        if target is None and binding is None:
            raise InvalidInput(
                f"key {key_id} was not delivered anywhere: name a target with --deliver",
                code="no_delivery_target",
                field="deliver",
            )
        if grace is None:
            grace = timedelta(seconds=binding.grace_seconds) if binding else DEFAULT_GRACE
        if rotate_every is None and binding is not None and binding.rotate_every_seconds:
            rotate_every = timedelta(seconds=binding.rotate_every_seconds)
        _check_durations(rotate_every, grace)
        box = self._targets.open(target or (binding.target if binding else ""))
        raw, new_id = generate_key(old.env), new_key_id()
        intent = self._open(
            "rotate",
            tenant_id=old.tenant_id,
            target=box.address,
            old_key_id=key_id,
            new_id=new_id,
            raw=raw,
            grace=grace,
            rotate_every=rotate_every,
        )
        self._before_commit(intent, box, raw)
        try:
            self._keys.issue_successor(actor, key_id, raw=raw, successor_id=new_id)
        except KeyguardError:
            self._roll_back_quietly(intent, box, "the successor could not be issued")
            raise
        self._after_commit(intent, box, actor)
        return Delivered(
            self._keys.show(actor, new_id), intent.target, self._keys.show(actor, key_id)
        )

    def _before_commit(self, intent: RotationIntent, box: DeliveryTarget, raw: RawKey) -> None:
        """Step 2: stage and check. On failure nothing was committed: roll back, re-raise."""
        _failpoint("opened")
        try:
            box.stage(SecretValue(raw.reveal()), intent.id)
            self._check(intent, box.pending(intent.id), f"staged into {intent.target}")
            self._step(intent, "staged")
        except KeyguardError:
            self._roll_back_quietly(intent, box, "staging failed")
            raise
        _failpoint("staged")

    def _after_commit(self, intent: RotationIntent, box: DeliveryTarget, actor: Actor) -> None:
        """Steps 4 and 5. The new key is committed: from here on, only forward."""
        try:
            self._step(intent, "committed")
        except IllegalTransition:
            # Reconciliation took the intent over while this process was stalled. If it rolled
            # the delivery back, the key just committed was never delivered: nobody holds it.
            # (If it found the key committed, it completes the delivery itself.)
            if self._state_of(intent) == INTENT_ROLLED_BACK:
                self._keys.revoke(SYSTEM, intent.new_key_id, "delivery was rolled back")
            raise
        _failpoint("committed")
        try:
            self._promote(intent, box)
            _failpoint("promoted")
            self._finish(intent, actor)
        except KeyguardError as exc:
            self.outcomes["interrupted"] += 1
            raise ConfigurationError(
                f"key {intent.new_key_id} is committed but its delivery to {intent.target} did "
                f"not finish ({exc.message}); both keys stay valid, and reconciliation "
                "(`keyguard keys rotate --due`, or the worker) completes it"
            ) from exc
        _failpoint("finished")
        self.outcomes["delivered"] += 1
        log.info(
            "rotation.delivered",
            extra={
                "kind": intent.kind,
                "target": intent.target,
                "key_id": intent.new_key_id,
                "replaced": intent.old_key_id,
            },
        )

    # -- reconciliation --------------------------------------------------------------------

    def reconcile(self, *, take_over: bool = False) -> list[Reconciled]:
        """Finish or undo every delivery whose process stopped (lease run out, or `take_over`)."""
        now = self._clock()
        with self._sessions() as session:
            query = select(RotationIntent).where(RotationIntent.state == INTENT_OPEN)
            if not take_over:
                query = query.where(RotationIntent.lease_until <= now)
            intents = list(session.scalars(query.order_by(RotationIntent.created_at)))
        results = []
        for intent in intents:
            if not self._claim(intent, take_over=take_over):
                continue
            try:
                results.append(self._reconcile_one(intent))
            except KeyguardError as exc:
                # Left open: the lease runs out again and a later round retries.
                self.outcomes["reconcile_error"] += 1
                log.warning(
                    "rotation.reconcile_failed", extra={"intent": intent.id, "error": exc.code}
                )
        return results

    def _reconcile_one(self, intent: RotationIntent) -> Reconciled:
        box = self._targets.open(intent.target)
        if not self._committed(intent):
            self._roll_back(intent, box, "stopped before the new key was committed")
            return self._reconciled(intent, "rolled_back", "the old key stays current")
        if not self._holds(intent, box.current()):
            if not self._holds(intent, box.pending(intent.id)):
                return self._lost(intent)
            self._promote(intent, box)
        self._finish(intent, SYSTEM)
        return self._reconciled(intent, "completed", "the new key is current")

    def _lost(self, intent: RotationIntent) -> Reconciled:
        # The key was committed, but the target no longer holds it (overwritten by someone):
        # nobody can have it, so it is revoked; the old key was never put in its grace.
        detail = f"{intent.target} no longer holds the new key"
        self._keys.revoke(SYSTEM, intent.new_key_id, f"delivery failed: {detail}")
        self._close(intent, INTENT_FAILED, detail)
        return self._reconciled(intent, "failed", detail)

    def _reconciled(self, intent: RotationIntent, outcome: Outcome, detail: str) -> Reconciled:
        self.outcomes[f"reconciled_{outcome}"] += 1
        log.info(
            "rotation.reconciled",
            extra={"intent": intent.id, "target": intent.target, "outcome": outcome},
        )
        return Reconciled(
            intent.id, intent.target, intent.new_key_id, intent.old_key_id, outcome, detail
        )

    # -- steps -----------------------------------------------------------------------------

    def _open(
        self,
        kind: str,
        *,
        tenant_id: str,
        target: str,
        old_key_id: str | None,
        new_id: str,
        raw: RawKey,
        grace: timedelta,
        rotate_every: timedelta | None,
    ) -> RotationIntent:
        address = target
        now = self._clock()
        pepper = self._peppers.current
        intent = RotationIntent(
            id=os.urandom(16).hex(),
            kind=kind,
            tenant_id=tenant_id,
            target=address,
            old_key_id=old_key_id,
            new_key_id=new_id,
            new_digest=digest_key(pepper, raw),
            pepper_version=pepper.version,
            grace_seconds=int(grace.total_seconds()),
            rotate_every_seconds=int(rotate_every.total_seconds()) if rotate_every else None,
            state=INTENT_OPEN,
            step="opened",
            owner=self._owner,
            lease_until=now + self._lease,
            target_lock=address,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                self._refuse_concurrent(session, address, old_key_id)
                session.add(intent)
        except IntegrityError:
            raise _busy(address) from None
        return intent

    @staticmethod
    def _refuse_concurrent(session: Session, address: str, old_key_id: str | None) -> None:
        clash = RotationIntent.target_lock == address
        if old_key_id is not None:  # (`== None` would match every open creation)
            clash = or_(clash, RotationIntent.old_key_id == old_key_id)
        found = session.scalars(
            select(RotationIntent).where(RotationIntent.state == INTENT_OPEN, clash).limit(1)
        ).first()
        if found is not None:
            raise _busy(found.target, found)

    def _check(self, intent: RotationIntent, value: SecretValue | None, where: str) -> None:
        if not self._holds(intent, value):
            raise ConfigurationError(f"the key read back after it was {where} is not the new key")

    def _holds(self, intent: RotationIntent, value: SecretValue | None) -> bool:
        """True if `value` is the intent's new key (compared by digest, in constant time)."""
        if value is None:
            return False
        try:
            pepper = self._peppers.get(intent.pepper_version)
        except KeyError:
            raise ConfigurationError(
                f"pepper version {intent.pepper_version} of delivery {intent.id} is not loaded"
            ) from None
        digest = digest_key(pepper, RawKey(value.reveal()))
        return hmac.compare_digest(digest, intent.new_digest)

    def _promote(self, intent: RotationIntent, box: DeliveryTarget) -> None:
        box.promote(intent.id)
        self._check(intent, box.current(), f"promoted in {intent.target}")
        self._step(intent, "promoted")

    def _finish(self, intent: RotationIntent, actor: Actor) -> None:
        """Start the old key's grace (unless a crash came after it did), record, close."""
        if intent.kind == "rotate" and intent.old_key_id is not None:
            with self._sessions() as session:
                old = session.get(ApiKey, intent.old_key_id)
                still_active = old is not None and old.state == "active"
            if still_active:
                self._keys.start_grace(
                    actor,
                    intent.old_key_id,
                    successor_id=intent.new_key_id,
                    grace=timedelta(seconds=intent.grace_seconds),
                )
        now = self._clock()
        with self._sessions.begin() as session:
            if session.get(KeyDelivery, intent.new_key_id) is None:
                session.add(
                    KeyDelivery(
                        key_id=intent.new_key_id,
                        tenant_id=intent.tenant_id,
                        target=intent.target,
                        rotate_every_seconds=intent.rotate_every_seconds,
                        grace_seconds=intent.grace_seconds,
                        created_at=now,
                    )
                )
            self._close_in(session, intent, INTENT_DONE, None, now)

    def _roll_back(self, intent: RotationIntent, box: DeliveryTarget, reason: str) -> None:
        box.discard(intent.id)
        self._close(intent, INTENT_ROLLED_BACK, reason)
        self.outcomes["rolled_back"] += 1

    def _roll_back_quietly(self, intent: RotationIntent, box: DeliveryTarget, reason: str) -> None:
        """Undo before the commit; if the target cannot be reached now, reconciliation will."""
        try:
            self._roll_back(intent, box, reason)
        except KeyguardError as exc:
            log.warning(
                "rotation.rollback_deferred", extra={"intent": intent.id, "error": exc.code}
            )

    def _step(self, intent: RotationIntent, step: str) -> None:
        """Record progress and renew the lease — only while this process still owns it."""
        now = self._clock()
        with self._sessions.begin() as session:
            moved = session.execute(
                update(RotationIntent)
                .where(
                    RotationIntent.id == intent.id,
                    RotationIntent.owner == self._owner,
                    RotationIntent.state == INTENT_OPEN,
                )
                .values(step=step, lease_until=now + self._lease, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        if not getattr(moved, "rowcount", 0):
            raise IllegalTransition(f"delivery {intent.id} was taken over by reconciliation")
        intent.step = step

    def _claim(self, intent: RotationIntent, *, take_over: bool) -> bool:
        now = self._clock()
        conditions = [
            RotationIntent.id == intent.id,
            RotationIntent.owner == intent.owner,
            RotationIntent.state == INTENT_OPEN,
        ]
        if not take_over:
            conditions.append(RotationIntent.lease_until <= now)
        with self._sessions.begin() as session:
            moved = session.execute(
                update(RotationIntent)
                .where(*conditions)
                .values(owner=self._owner, lease_until=now + self._lease, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(moved, "rowcount", 0))

    def _close(self, intent: RotationIntent, state: str, detail: str | None) -> None:
        with self._sessions.begin() as session:
            self._close_in(session, intent, state, detail, self._clock())

    def _close_in(
        self,
        session: Session,
        intent: RotationIntent,
        state: str,
        detail: str | None,
        now: datetime,
    ) -> None:
        session.execute(
            update(RotationIntent)
            .where(RotationIntent.id == intent.id, RotationIntent.state == INTENT_OPEN)
            .values(state=state, target_lock=None, detail=detail, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        intent.state = state

    def _state_of(self, intent: RotationIntent) -> str | None:
        with self._sessions() as session:
            return session.scalar(
                select(RotationIntent.state).where(RotationIntent.id == intent.id)
            )

    def _committed(self, intent: RotationIntent) -> bool:
        with self._sessions() as session:
            return session.get(ApiKey, intent.new_key_id) is not None

    def delivery_of(self, key_id: str) -> KeyDelivery | None:
        """Where the key was delivered (and its rotation policy), if it was."""
        with self._sessions() as session:
            return session.get(KeyDelivery, key_id)

    def rehash_delivered(self) -> int:
        """Re-hash under the current pepper every live key still held by its delivery target.

        The only keys Keyguard can re-hash without their holder: it reads them back from the
        vault it delivered them to. A target that now holds another key (a successor), or that
        cannot be read, is skipped. Returns how many keys moved.
        """
        current, now = self._peppers.current, self._clock()
        with self._sessions() as session:
            rows = session.execute(
                select(ApiKey.id, ApiKey.pepper_version, ApiKey.digest, KeyDelivery.target)
                .join(KeyDelivery, KeyDelivery.key_id == ApiKey.id)
                .where(
                    ApiKey.pepper_version != current.version,
                    ApiKey.state.in_(("active", "rotating", "suspended")),
                    ApiKey.expires_at > now,
                )
            ).all()
        batch = [
            Rehash(
                row.id, row.pepper_version, row.digest, current.version, digest_key(current, raw)
            )
            for row in rows
            if (raw := self._held_key(row.target, row.pepper_version, row.digest)) is not None
        ]
        return apply_rehashes(self._sessions, batch, now) if batch else 0

    def _held_key(self, target: str, version: str, digest: str) -> RawKey | None:
        """The key `target` holds, if it is the one with `digest` under pepper `version`."""
        try:
            value = self._targets.open(target).current()
            pepper = self._peppers.get(version)
        except (KeyguardError, KeyError):
            return None
        if value is None:
            return None
        raw = RawKey(value.reveal())
        return raw if hmac.compare_digest(digest_key(pepper, raw), digest) else None

    def open_intents(self) -> list[RotationIntent]:
        """Deliveries in flight (or interrupted), oldest first."""
        with self._sessions() as session:
            query = select(RotationIntent).where(RotationIntent.state == INTENT_OPEN)
            return list(session.scalars(query.order_by(RotationIntent.created_at)))


def _precheck(spec: KeySpec, rotate_every: timedelta | None, grace: timedelta) -> None:
    """What can be refused before anything is written anywhere."""
    if spec.env not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {spec.env!r} (use live, test or dev)",
            code="invalid_environment",
            field="env",
        )
    normalize_scopes(spec.scopes)
    _check_durations(rotate_every, grace)


def _check_durations(rotate_every: timedelta | None, grace: timedelta) -> None:
    if grace < timedelta(0):
        raise InvalidInput("grace must not be negative", code="invalid_duration", field="grace")
    if rotate_every is not None and rotate_every <= grace:
        raise InvalidInput(
            "rotate_every must be longer than the grace window",
            code="invalid_duration",
            field="rotate_every",
        )


def _busy(address: str, intent: RotationIntent | None = None) -> IllegalTransition:
    since = f" since {intent.created_at:%Y-%m-%d %H:%M:%S}Z" if intent is not None else ""
    return IllegalTransition(
        f"a delivery into {address} is already in progress{since}; it completes or rolls back "
        "when reconciled (`keyguard keys rotate --due`, or the worker) once its lease runs out, "
        "or at once with `keyguard keys rotate --reconcile --take-over` if its process is gone",
        code="delivery_in_progress",
    )


def _failpoint(step: str) -> None:
    if os.environ.get(FAILPOINT_VARIABLE) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def rotate_handed_out(
    keys: KeyService,
    sessions: sessionmaker[Session],
    actor: Actor,
    key_id: str,
    grace: timedelta = DEFAULT_GRACE,
) -> CreatedKey:
    """Rotate a key whose holder receives the successor in the answer (HTTP, CLI --out).

    A key delivered into a vault rotates only through it: its successor must go into the
    vault, or the consumer would be left holding the old key when the grace ends.
    """
    keys.show(actor, key_id)  # another tenant's key stays a 404
    if delivery_target(sessions, key_id) is not None:
        raise IllegalTransition(
            f"key {key_id} lives in a vault: rotate it with `keyguard keys rotate {key_id}` "
            "or let the scheduler do it, so the vault receives the successor",
            code="key_delivered",
        )
    return keys.rotate(actor, key_id, grace)


def delivery_target(sessions: sessionmaker[Session], key_id: str) -> str | None:
    """The vault secret a key was delivered to, or None when it was handed out directly."""
    with sessions() as session:
        row = session.get(KeyDelivery, key_id)
        return row.target if row else None
