"""ReviewService: the access review of a tenant's keys, and applying one of its proposals.

A review reads the tenant's active keys and their successful usage events of the window
(grouped in SQL, so a busy key costs one row per distinct origin, not one per request) and
runs the rules of keyguard.review.findings. Applying a proposal is a rotation with grace: the
successor carries the narrowed scopes or restrictions, and the old key keeps working for the
grace period, so a proposal that missed a use breaks nothing before someone notices. A key
delivered into a vault rotates through it; a handed-out key's successor is shown once.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.clock import Clock
from keyguard.errors import InvalidInput, NotFound
from keyguard.keys import RawKey
from keyguard.lifecycle import (
    DEFAULT_GRACE,
    Actor,
    KeyService,
    KeyView,
    Tenant,
    get_tenant,
)
from keyguard.review.findings import (
    Finding,
    KeyFacts,
    Observed,
    ReviewPolicy,
    review_key,
    sort_findings,
)
from keyguard.rotation import RotationService, rotate_handed_out
from keyguard.usage import UsageEvent, iso

PAGE = 500
# stdlib logging: silent at INFO in CLI commands (whose stdout may be JSON), JSON lines
# under `keyguard serve` (keyguard.logging.configure_logging).
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Review:
    tenants: tuple[str, ...]
    generated_at: datetime
    window_days: int
    keys_reviewed: int
    findings: tuple[Finding, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "tenants": list(self.tenants),
            "generated_at": iso(self.generated_at),
            "window_days": self.window_days,
            "keys_reviewed": self.keys_reviewed,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a finding did: `key` is the reviewed key now (rotating or revoked).
    `raw` is a handed-out successor's plaintext, for the one-time display; it is None when the
    successor went into a vault (`delivered_to`), or on a revocation."""

    finding: Finding
    key: KeyView
    successor: KeyView | None = None
    raw: RawKey | None = None
    delivered_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Everything but the plaintext (the edges add it, once)."""
        data: dict[str, Any] = {
            "finding": self.finding.to_json(),
            "key": self.key.to_json(),
            "successor": self.successor.to_json() if self.successor else None,
        }
        if self.delivered_to is not None:
            data["delivered_to"] = self.delivered_to
        return data


class ReviewService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: KeyService,
        rotation: RotationService,
        clock: Clock,
        policy: ReviewPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._rotation = rotation
        self._clock = clock
        self.policy = policy or ReviewPolicy()
        self.outcomes: Counter[str] = Counter()  # applied findings, by kind

    # -- review --------------------------------------------------------------------------

    def review(self, actor: Actor, tenant_id: str | None = None) -> Review:
        """The findings of `actor`'s tenant (an operator: `tenant_id`, or every tenant)."""
        now = self._clock()
        tenants = self._tenants(actor, tenant_id)
        reviewed, findings = 0, []
        for tenant in tenants:
            keys = self._active_keys(actor, tenant)
            reviewed += len(keys)
            findings.extend(self._review_tenant(actor, tenant, keys, now))
        return Review(
            tenants=tuple(tenants),
            generated_at=now,
            window_days=self.policy.unused_days,
            keys_reviewed=reviewed,
            findings=tuple(sort_findings(findings)),
        )

    def _tenants(self, actor: Actor, tenant_id: str | None) -> list[str]:
        wanted = actor.tenant_id or tenant_id
        with self._sessions() as session:
            if wanted is not None:
                return [get_tenant(session, wanted).id]
            return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))

    def _active_keys(self, actor: Actor, tenant_id: str) -> list[KeyView]:
        keys: list[KeyView] = []
        after: str | None = None
        while True:
            page = self._keys.list(actor, tenant_id, limit=PAGE, after=after)
            keys.extend(k for k in page if k.state == "active")
            if len(page) < PAGE:
                return keys
            after = page[-1].id

    def _review_tenant(
        self, actor: Actor, tenant_id: str, keys: list[KeyView], now: datetime
    ) -> list[Finding]:
        observed, production = self._observe(tenant_id, now)
        if actor.env is not None:
            # Environments are partitioned: a test key's review must not learn where the
            # tenant's live keys run. The rule comparing them runs for operators only.
            production = frozenset[str]()
        findings = []
        for key in keys:
            delivery = self._rotation.delivery_of(key.id)
            every = delivery.rotate_every_seconds if delivery else None
            facts = KeyFacts(
                key=key,
                seen=observed.get(key.id, Observed()),
                now=now,
                rotate_every=timedelta(seconds=every) if every else None,
                production_networks=production,
            )
            findings.extend(review_key(facts, self.policy))
        return findings

    def _observe(self, tenant_id: str, now: datetime) -> tuple[dict[str, Observed], frozenset[str]]:
        """Each key's successful requests of the window, and the networks live keys used."""
        e = UsageEvent
        query = (
            select(e.key_id, e.env, e.scope, e.ip, e.asn, e.sender, e.user_agent, func.count())
            .where(e.tenant_id == tenant_id, e.outcome == "ok", e.key_id.is_not(None))
            .where(e.ts >= now - self.policy.window, e.ts < now)
            .group_by(e.key_id, e.env, e.scope, e.ip, e.asn, e.sender, e.user_agent)
        )
        observed: dict[str, Observed] = defaultdict(Observed)
        live: dict[str, Observed] = defaultdict(Observed)
        with self._sessions() as session:
            for key_id, env, scope, ip, asn, sender, agent, count in session.execute(query):
                if key_id is None:
                    continue
                attributes: dict[str, Any] = {"scope": scope, "ip": ip, "asn": asn}
                attributes["sender"] = sender
                observed[key_id].add(
                    count, **attributes, user_agent=agent, ci_asns=self.policy.ci_asns
                )
                if env == "live":
                    live[key_id].add(count, **attributes, user_agent=None)
        production = frozenset(n for seen in live.values() for n in seen.networks)
        return dict(observed), production

    # -- apply ---------------------------------------------------------------------------

    def find(self, actor: Actor, finding_id: str) -> Finding:
        """The finding with this id in `actor`'s review now (NotFound once it is gone)."""
        for finding in self.review(actor).findings:
            if finding.id == finding_id:
                return finding
        raise NotFound(
            f"no finding {finding_id!r} in the current review (applied already, or the "
            "key's use changed since: review again)"
        )

    def apply(
        self,
        actor: Actor,
        finding_id: str,
        *,
        confirm: bool = False,
        grace: timedelta = DEFAULT_GRACE,
    ) -> Applied:
        """Apply one finding's recommendation: a rotation with grace, or (with `confirm`) a
        revocation. Audited as `review.applied`."""
        finding = self.find(actor, finding_id)
        recommendation = finding.recommendation
        if recommendation.action == "none":
            raise InvalidInput(
                f"finding {finding_id} has no change to apply: {recommendation.text}",
                code="nothing_to_apply",
            )
        if recommendation.action == "revoke":
            if not confirm:
                raise InvalidInput(
                    f"finding {finding_id} revokes key {finding.key_id}; confirm it (--yes)",
                    code="confirmation_required",
                )
            reason = f"access review {finding_id}: {finding.summary}"
            applied = Applied(finding, self._keys.revoke(actor, finding.key_id, reason))
        else:
            applied = self._rotate(actor, finding, grace)
        self._record(actor, applied, grace)
        self.outcomes[finding.kind] += 1
        log.info(
            "review.applied",
            extra={
                "finding": finding.id,
                "kind": finding.kind,
                "key_id": finding.key_id,
                "successor": applied.successor.id if applied.successor else None,
            },
        )
        return applied

    def _rotate(self, actor: Actor, finding: Finding, grace: timedelta) -> Applied:
        old = self._keys.show(actor, finding.key_id)
        narrowing = finding.recommendation.narrowing(old.restrictions)
        if self._rotation.delivery_of(old.id) is not None:
            delivered = self._rotation.rotate_delivered(
                actor, old.id, grace=grace, narrowing=narrowing
            )
            return Applied(
                finding,
                delivered.replaced or self._keys.show(actor, old.id),
                delivered.key,
                delivered_to=delivered.target,
            )
        created = rotate_handed_out(
            self._keys, self._sessions, actor, old.id, grace, narrowing=narrowing
        )
        return Applied(finding, self._keys.show(actor, old.id), created.view, raw=created.key)

    def _record(self, actor: Actor, applied: Applied, grace: timedelta) -> None:
        # The rotation (or revocation) committed its own audit events; this one ties it to
        # the finding that asked for it, for the review's trail.
        finding = applied.finding
        details: dict[str, Any] = {
            "finding": finding.id,
            "kind": finding.kind,
            "recommendation": finding.recommendation.to_json(),
        }
        if applied.successor is not None:
            details["successor"] = applied.successor.id
            details["grace_seconds"] = int(grace.total_seconds())
        with self._sessions.begin() as session:
            audit.record(
                session,
                self._clock(),
                actor.id,
                "review.applied",
                tenant_id=finding.tenant_id,
                target=finding.key_id,
                **details,
            )
