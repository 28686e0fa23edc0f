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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import ConfigurationError, IllegalTransition, InvalidInput, KeyguardError
from keyguard.keys import (
    ENVIRONMENTS,
    Environment,
    PepperRing,
    RawKey,
    digest_key,
    generate_key,
)
from keyguard.lifecycle import (
    DEFAULT_GRACE,
    Actor,
    ApiKey,
    CreatedKey,
    KeyService,
    KeySpec,
    KeyView,
    Narrowing,
    new_key_id,
)
from keyguard.policy import normalize_scopes
from keyguard.rotation.delivery import Targets
from keyguard.rotation.intents import IntentLedger
from keyguard.rotation.interfaces import DeliveryTarget
from keyguard.rotation.models import (
    INTENT_DONE,
    INTENT_FAILED,
    INTENT_ROLLED_BACK,
    KeyDelivery,
    RotationIntent,
)
from keyguard.rotation.rehash import rehash_delivered
from keyguard.secrets import SecretValue

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


@dataclass(frozen=True, slots=True)
class _Plan:
    """What tells a new key's delivery from a successor's."""

    kind: Literal["create", "rotate"]
    tenant_id: str
    env: Environment
    old_key_id: str | None
    grace: timedelta
    rotate_every: timedelta | None


_Committed = TypeVar("_Committed")


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
        self._intents = IntentLedger(sessions, clock, lease)
        self.outcomes: Counter[str] = Counter()

    # -- delivery: a new key, or a successor ---------------------------------------------

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
        intent, created = self._deliver(
            actor,
            box,
            _Plan("create", spec.tenant_id, spec.env, None, grace, rotate_every),  # type: ignore[arg-type]  # checked by _precheck
            lambda raw, new_id: self._keys.create(actor, spec, raw=raw, key_id=new_id),
            failure="the key could not be created",
        )
        return Delivered(created.view, intent.target)

    def rotate_delivered(
        self,
        actor: Actor,
        key_id: str,
        target: str | None = None,
        *,
        grace: timedelta | None = None,
        rotate_every: timedelta | None = None,
        narrowing: Narrowing | None = None,
    ) -> Delivered:
        """Rotate a key into `target` (default: where it was delivered) without showing it;
        with `narrowing`, the successor has fewer powers (keyguard.review)."""
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
        intent, _ = self._deliver(
            actor,
            box,
            _Plan("rotate", old.tenant_id, old.env, key_id, grace, rotate_every),
            lambda raw, new_id: self._keys.issue_successor(
                actor, key_id, raw=raw, successor_id=new_id, narrowing=narrowing
            ),
            failure="the successor could not be issued",
        )
        return Delivered(
            self._keys.show(actor, intent.new_key_id), intent.target, self._keys.show(actor, key_id)
        )

    def reissue_delivered(self, actor: Actor, key_id: str, target: str | None = None) -> Delivered:
        """A successor of a compromised key (revoked or suspended, keyguard.incidents) written
        into `target` (default: where the old key was delivered), nobody seeing it. The old
        key is stopped already, so no grace window starts: this is a new key with the old
        one's powers, name and rotation policy, and the old key as its parent."""
        old = self._keys.show(actor, key_id)  # the caller's view: NotFound across tenants
        binding = self.delivery_of(key_id)
        if target is None and binding is None:
            raise InvalidInput(
                f"key {key_id} was not delivered anywhere: name a target with --deliver",
                code="no_delivery_target",
                field="deliver",
            )
        grace = timedelta(seconds=binding.grace_seconds) if binding else DEFAULT_GRACE
        every = binding.rotate_every_seconds if binding else None
        rotate_every = timedelta(seconds=every) if every else None
        box = self._targets.open(target or (binding.target if binding else ""))
        intent, created = self._deliver(
            actor,
            box,
            _Plan("create", old.tenant_id, old.env, None, grace, rotate_every),
            lambda raw, new_id: self._keys.reissue(actor, key_id, raw=raw, successor_id=new_id),
            failure="the successor could not be issued",
        )
        return Delivered(created.view, intent.target, old)

    def _deliver(
        self,
        actor: Actor,
        box: DeliveryTarget,
        plan: _Plan,
        commit: Callable[[RawKey, str], _Committed],
        *,
        failure: str,
    ) -> tuple[RotationIntent, _Committed]:
        """Steps 1 to 5 around `commit(raw, new_id)`, which writes the key (and its audit
        event) to the database; `failure` is the rollback's reason when it refuses."""
        raw, new_id = generate_key(plan.env), new_key_id()
        pepper = self._peppers.current
        intent = self._intents.open(
            plan.kind,
            tenant_id=plan.tenant_id,
            target=box.address,
            old_key_id=plan.old_key_id,
            new_key_id=new_id,
            new_digest=digest_key(pepper, raw),
            pepper_version=pepper.version,
            grace=plan.grace,
            rotate_every=plan.rotate_every,
        )
        self._before_commit(intent, box, raw)
        try:
            committed = commit(raw, new_id)
        except KeyguardError:
            self._roll_back_quietly(intent, box, failure)
            raise
        self._after_commit(intent, box, actor)
        return intent, committed

    def _before_commit(self, intent: RotationIntent, box: DeliveryTarget, raw: RawKey) -> None:
        """Step 2: stage and check. On failure nothing was committed: roll back, re-raise."""
        _failpoint("opened")
        try:
            box.stage(SecretValue(raw.reveal()), intent.id)
            self._check(intent, box.pending(intent.id), f"staged into {intent.target}")
            self._intents.step(intent, "staged")
        except KeyguardError:
            self._roll_back_quietly(intent, box, "staging failed")
            raise
        _failpoint("staged")

    def _after_commit(self, intent: RotationIntent, box: DeliveryTarget, actor: Actor) -> None:
        """Steps 4 and 5. The new key is committed: from here on, only forward."""
        try:
            self._intents.step(intent, "committed")
        except IllegalTransition:
            # Reconciliation took the intent over while this process was stalled. If it rolled
            # the delivery back, the key just committed was never delivered: nobody holds it.
            # (If it found the key committed, it completes the delivery itself.)
            if self._intents.state_of(intent) == INTENT_ROLLED_BACK:
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
        intents = self._intents.open_intents(lapsed_only=not take_over)
        results = []
        for intent in intents:
            if not self._intents.claim(intent, take_over=take_over):
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
        self._intents.close(intent, INTENT_FAILED, detail)
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
        self._intents.step(intent, "promoted")

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
            self._intents.close_in(session, intent, INTENT_DONE, None, now)

    def _roll_back(self, intent: RotationIntent, box: DeliveryTarget, reason: str) -> None:
        box.discard(intent.id)
        self._intents.close(intent, INTENT_ROLLED_BACK, reason)
        self.outcomes["rolled_back"] += 1

    def _roll_back_quietly(self, intent: RotationIntent, box: DeliveryTarget, reason: str) -> None:
        """Undo before the commit; if the target cannot be reached now, reconciliation will."""
        try:
            self._roll_back(intent, box, reason)
        except KeyguardError as exc:
            log.warning(
                "rotation.rollback_deferred", extra={"intent": intent.id, "error": exc.code}
            )

    def _committed(self, intent: RotationIntent) -> bool:
        with self._sessions() as session:
            return session.get(ApiKey, intent.new_key_id) is not None

    def delivery_of(self, key_id: str) -> KeyDelivery | None:
        """Where the key was delivered (and its rotation policy), if it was."""
        return delivery_of(self._sessions, key_id)

    def rehash_delivered(self) -> int:
        """Re-hash the keys their delivery targets still hold (keyguard.rotation.rehash)."""
        return rehash_delivered(self._sessions, self._peppers, self._targets, self._clock)

    def open_intents(self) -> list[RotationIntent]:
        """Deliveries in flight (or interrupted), oldest first."""
        return self._intents.open_intents()


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


def _failpoint(step: str) -> None:
    if os.environ.get(FAILPOINT_VARIABLE) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def rotate_handed_out(
    keys: KeyService,
    sessions: sessionmaker[Session],
    actor: Actor,
    key_id: str,
    grace: timedelta = DEFAULT_GRACE,
    *,
    narrowing: Narrowing | None = None,
) -> CreatedKey:
    """Rotate a key whose holder receives the successor in the answer (HTTP, CLI --out).

    A key delivered into a vault rotates only through it: its successor must go into the
    vault, or the consumer would be left holding the old key when the grace ends.
    """
    keys.show(actor, key_id)  # another tenant's key stays a 404
    if delivery_of(sessions, key_id) is not None:
        raise IllegalTransition(
            f"key {key_id} lives in a vault: rotate it with `keyguard keys rotate {key_id}` "
            "or let the scheduler do it, so the vault receives the successor",
            code="key_delivered",
        )
    return keys.rotate(actor, key_id, grace, narrowing=narrowing)


def delivery_of(sessions: sessionmaker[Session], key_id: str) -> KeyDelivery | None:
    """Where a key was delivered (and its rotation policy); None when it was handed out."""
    with sessions() as session:
        return session.get(KeyDelivery, key_id)
