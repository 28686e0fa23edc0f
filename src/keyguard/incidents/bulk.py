"""Tenant-wide response: revoke or rotate every key a selector matches, listed first.

`plan` lists what would be done; `revoke` does it in one transaction (`dry_run` runs the very
same transaction and rolls it back, so the listing is exactly what a real run would do,
refusals included); `rotate` rotates each key the way it was issued — into its vault, or
handed out with the successor shown once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import InvalidInput, KeyguardError
from keyguard.lifecycle import Actor, ApiKey, KeyService, KeyView, effective_state
from keyguard.policy import SCOPES, grants
from keyguard.rotation import RotationService, rotate_handed_out

LIVE_STATES = ("active", "rotating", "suspended")
Action = Literal["revoke", "rotate_vault", "rotate_handed_out"]


@dataclass(frozen=True, slots=True)
class Selector:
    """Which keys of a tenant: all of them, or those matching every filter given."""

    tenant_id: str
    all: bool = False
    env: str | None = None
    created_before: datetime | None = None
    scope: str | None = None

    def check(self) -> None:
        narrowed = any(v is not None for v in (self.env, self.created_before, self.scope))
        if not self.all and not narrowed:
            raise InvalidInput(
                "choose the keys: --all, --env, --created-before or --scope",
                code="selector_required",
            )
        if self.scope is not None and self.scope not in SCOPES:
            raise InvalidInput(f"unknown scope {self.scope!r}", code="unknown_scope", field="scope")

    def matches(self, row: ApiKey) -> bool:
        if self.env is not None and row.env != self.env:
            return False
        if self.created_before is not None and row.created_at >= self.created_before:
            return False
        return self.scope is None or grants(frozenset(row.scopes), self.scope)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "all": self.all,
            "env": self.env,
            "created_before": self.created_before.isoformat() if self.created_before else None,
            "scope": self.scope,
        }


@dataclass(frozen=True, slots=True)
class Planned:
    """One key of the plan and what is (or would be) done to it."""

    key: KeyView
    action: Action
    target: str | None = None
    successor_id: str | None = None
    successor_key: str | None = field(default=None, repr=False)  # the one-time display
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.key.id,
            "env": self.key.env,
            "name": self.key.name,
            "prefix": self.key.display_prefix,
            "state": self.key.state,
            "scopes": list(self.key.scopes),
            "action": self.action,
        }
        for name in ("target", "successor_id", "successor_key", "error"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass(frozen=True, slots=True)
class BulkResult:
    selector: Selector
    dry_run: bool
    keys: list[Planned]

    def to_json(self) -> dict[str, Any]:
        return {
            "selector": self.selector.to_json(),
            "dry_run": self.dry_run,
            "count": len(self.keys),
            "keys": [k.to_json() for k in self.keys],
        }


class TenantResponse:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: KeyService,
        rotation: RotationService,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._rotation = rotation
        self._clock = clock

    def revoke(
        self, actor: Actor, selector: Selector, *, reason: str | None, dry_run: bool
    ) -> BulkResult:
        """Revoke every matching key in one transaction (rolled back for a dry run)."""
        selector.check()
        now = self._clock()
        why = reason or "tenant-wide revocation"
        with self._sessions() as session:
            transaction = session.begin()
            try:
                planned = [
                    Planned(
                        self._keys.stop_in(session, actor, key_id, reason=why, now=now)[1],
                        "revoke",
                    )
                    for key_id in self._matching(session, actor, selector)
                ]
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
        if not dry_run:
            self._keys.changed(p.key.id for p in planned)
        return BulkResult(selector, dry_run, planned)

    def rotate(
        self, actor: Actor, selector: Selector, *, grace: timedelta, dry_run: bool
    ) -> BulkResult:
        """Rotate every matching active key as it was issued; a key that fails is reported
        with its error and the others still rotate."""
        selector.check()
        with self._sessions() as session:
            ids = self._matching(session, actor, selector, states=("active",))
        planned = []
        for key_id in ids:
            key = self._keys.show(actor, key_id)
            binding = self._rotation.delivery_of(key_id)
            if dry_run:
                action: Action = "rotate_vault" if binding else "rotate_handed_out"
                planned.append(Planned(key, action, binding.target if binding else None))
                continue
            planned.append(self._rotate_one(actor, key, binding is not None, grace))
        return BulkResult(selector, dry_run, planned)

    def _rotate_one(self, actor: Actor, key: KeyView, delivered: bool, grace: timedelta) -> Planned:
        try:
            if delivered:
                done = self._rotation.rotate_delivered(actor, key.id, grace=grace)
                return Planned(key, "rotate_vault", done.target, done.key.id)
            created = rotate_handed_out(self._keys, self._sessions, actor, key.id, grace)
            return Planned(key, "rotate_handed_out", None, created.view.id, created.key.reveal())
        except KeyguardError as error:
            action: Action = "rotate_vault" if delivered else "rotate_handed_out"
            return Planned(key, action, error=f"{error.message} [{error.code}]")

    def _matching(
        self,
        session: Session,
        actor: Actor,
        selector: Selector,
        states: tuple[str, ...] = LIVE_STATES,
    ) -> list[str]:
        """Ids of the keys the selector matches whose state (at this time) is in `states`."""
        tenant_id = actor.tenant_id or selector.tenant_id
        query = (
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id, ApiKey.state.in_(states))
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        if actor.env is not None:
            query = query.where(ApiKey.env == actor.env)  # environments are partitioned
        now = self._clock()
        return [
            row.id
            for row in session.scalars(query)
            if selector.matches(row)
            and effective_state(
                row.state, expires_at=row.expires_at, grace_until=row.grace_until, now=now
            )
            in states
        ]
