"""Each tenant's response policy: which action an alert's severity (or rule) calls for.

The default is monitor-only: alerts are stored and notified, nothing is done to a key, and
each alert records what the policy would have done (`planned_action`). A tenant opts in to
enforcement (`keyguard monitor policy set --mode enforce`); automatic suspension of a
customer's production key is too disruptive to be a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy.orm import Session

from keyguard.audit import record
from keyguard.errors import InvalidInput
from keyguard.monitoring.alerts import SEVERITIES
from keyguard.monitoring.models import ResponsePolicy

Action = Literal["notify", "throttle", "quarantine", "revoke"]
ACTIONS: Final[tuple[str, ...]] = ("notify", "throttle", "quarantine", "revoke")
MODES: Final[tuple[str, ...]] = ("monitor", "enforce")
DEFAULT_BY_SEVERITY: Final[dict[str, str]] = {
    "info": "notify",
    "low": "notify",
    "medium": "notify",
    "high": "throttle",
    "critical": "quarantine",
}


@dataclass(frozen=True, slots=True)
class Policy:
    mode: str = "monitor"
    by_severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BY_SEVERITY))
    by_rule: dict[str, str] = field(default_factory=dict)  # a rule's own, over its severity's
    throttle_per_minute: int = 10
    throttle_seconds: int = 3600

    def action_for(self, rule: str, severity: str) -> str:
        """What the policy calls for (in monitor mode: what it would call for)."""
        return self.by_rule.get(rule) or self.by_severity.get(severity, "notify")

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "by_severity": dict(self.by_severity),
            "by_rule": dict(self.by_rule),
            "throttle_per_minute": self.throttle_per_minute,
            "throttle_seconds": self.throttle_seconds,
        }


DEFAULT_POLICY: Final = Policy()


def load_policy(session: Session, tenant_id: str | None) -> Policy:
    row = session.get(ResponsePolicy, tenant_id) if tenant_id is not None else None
    if row is None:
        return DEFAULT_POLICY
    return Policy(
        mode=row.mode,
        by_severity={**DEFAULT_BY_SEVERITY, **row.by_severity},
        by_rule=dict(row.by_rule),
        throttle_per_minute=row.throttle_per_minute,
        throttle_seconds=row.throttle_seconds,
    )


def updated(policy: Policy, **changes: Any) -> Policy:
    """`policy` with `changes` applied and checked (mode, actions, severities, numbers)."""
    result = replace(policy, **{k: v for k, v in changes.items() if v is not None})
    if result.mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", field="mode")
    for name, action in (*result.by_severity.items(), *result.by_rule.items()):
        if action not in ACTIONS:
            raise InvalidInput(f"unknown action {action!r} for {name}", field="action")
    if not set(result.by_severity) <= set(SEVERITIES):
        raise InvalidInput("unknown severity in the policy", field="severity")
    if result.throttle_per_minute < 1 or result.throttle_seconds < 1:
        raise InvalidInput("a throttle needs a positive rate and duration", field="throttle")
    return result


def save_policy(
    session: Session, now: datetime, actor: str, tenant_id: str, policy: Policy
) -> None:
    """Store a tenant's policy and audit the change; the caller commits."""
    row = session.get(ResponsePolicy, tenant_id)
    if row is None:
        row = ResponsePolicy(tenant_id=tenant_id)
        session.add(row)
    row.mode, row.by_severity, row.by_rule = policy.mode, policy.by_severity, policy.by_rule
    row.throttle_per_minute = policy.throttle_per_minute
    row.throttle_seconds = policy.throttle_seconds
    row.updated_at, row.updated_by = now, actor
    record(
        session, now, actor, "monitor.policy_set", tenant_id=tenant_id, target=tenant_id,
        **policy.to_json(),
    )  # fmt: skip
