"""The durable record of deliveries in flight: open an intent, lease it, step it, close it.

An intent holds the new key's id and digest, never the key. Only the process that owns an
intent (its lease not run out) moves it forward; reconciliation claims lapsed ones. Every
change is its own short transaction, except `close_in`, which joins the caller's.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import IllegalTransition
from keyguard.rotation.models import INTENT_OPEN, RotationIntent


class IntentLedger:
    """The rotation intents of one process (its `owner` id), on the shared table."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, lease: timedelta) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lease = lease
        self._owner = os.urandom(16).hex()

    def open(
        self,
        kind: str,
        *,
        tenant_id: str,
        target: str,
        old_key_id: str | None,
        new_key_id: str,
        new_digest: str,
        pepper_version: str,
        grace: timedelta,
        rotate_every: timedelta | None,
    ) -> RotationIntent:
        """Step 1: the intent, leased to this process; refused while `target` or the old key
        has another delivery in flight."""
        now = self._clock()
        intent = RotationIntent(
            id=os.urandom(16).hex(),
            kind=kind,
            tenant_id=tenant_id,
            target=target,
            old_key_id=old_key_id,
            new_key_id=new_key_id,
            new_digest=new_digest,
            pepper_version=pepper_version,
            grace_seconds=int(grace.total_seconds()),
            rotate_every_seconds=int(rotate_every.total_seconds()) if rotate_every else None,
            state=INTENT_OPEN,
            step="opened",
            owner=self._owner,
            lease_until=now + self._lease,
            target_lock=target,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                _refuse_concurrent(session, target, old_key_id)
                session.add(intent)
        except IntegrityError:
            raise _busy(target) from None
        return intent

    def step(self, intent: RotationIntent, step: str) -> None:
        """Record progress and renew the lease — only while this process still owns it."""
        if not self._renew(intent, self._clock(), RotationIntent.owner == self._owner, step=step):
            raise IllegalTransition(f"delivery {intent.id} was taken over by reconciliation")
        intent.step = step

    def claim(self, intent: RotationIntent, *, take_over: bool) -> bool:
        """Take a lapsed intent (any open one with `take_over`) for this process."""
        now = self._clock()
        conditions = [RotationIntent.owner == intent.owner]
        if not take_over:
            conditions.append(RotationIntent.lease_until <= now)
        return self._renew(intent, now, *conditions, owner=self._owner)

    def close(self, intent: RotationIntent, state: str, detail: str | None) -> None:
        with self._sessions.begin() as session:
            self.close_in(session, intent, state, detail, self._clock())

    def close_in(
        self,
        session: Session,
        intent: RotationIntent,
        state: str,
        detail: str | None,
        now: datetime,
    ) -> None:
        """Close `intent` in the caller's transaction; its target is free again."""
        session.execute(
            update(RotationIntent)
            .where(RotationIntent.id == intent.id, RotationIntent.state == INTENT_OPEN)
            .values(state=state, target_lock=None, detail=detail, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        intent.state = state

    def state_of(self, intent: RotationIntent) -> str | None:
        with self._sessions() as session:
            return session.scalar(
                select(RotationIntent.state).where(RotationIntent.id == intent.id)
            )

    def open_intents(self, *, lapsed_only: bool = False) -> list[RotationIntent]:
        """Open intents, oldest first; with `lapsed_only`, those whose lease has run out."""
        query = select(RotationIntent).where(RotationIntent.state == INTENT_OPEN)
        if lapsed_only:
            query = query.where(RotationIntent.lease_until <= self._clock())
        with self._sessions() as session:
            return list(session.scalars(query.order_by(RotationIntent.created_at)))

    def _renew(
        self,
        intent: RotationIntent,
        now: datetime,
        *conditions: ColumnElement[bool],
        **values: Any,
    ) -> bool:
        """Set `values` and a fresh lease on `intent` if it is open and `conditions` hold."""
        with self._sessions.begin() as session:
            moved = session.execute(
                update(RotationIntent)
                .where(RotationIntent.id == intent.id, RotationIntent.state == INTENT_OPEN)
                .where(*conditions)
                .values(**values, lease_until=now + self._lease, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(moved, "rowcount", 0))


def _refuse_concurrent(session: Session, address: str, old_key_id: str | None) -> None:
    clash = RotationIntent.target_lock == address
    if old_key_id is not None:  # (`== None` would match every open creation)
        clash = or_(clash, RotationIntent.old_key_id == old_key_id)
    found = session.scalars(
        select(RotationIntent).where(RotationIntent.state == INTENT_OPEN, clash).limit(1)
    ).first()
    if found is not None:
        raise _busy(found.target, found)


def _busy(address: str, intent: RotationIntent | None = None) -> IllegalTransition:
    since = f" since {intent.created_at:%Y-%m-%d %H:%M:%S}Z" if intent is not None else ""
    return IllegalTransition(
        f"a delivery into {address} is already in progress{since}; it completes or rolls back "
        "when reconciled (`keyguard keys rotate --due`, or the worker) once its lease runs out, "
        "or at once with `keyguard keys rotate --reconcile --take-over` if its process is gone",
        code="delivery_in_progress",
    )
