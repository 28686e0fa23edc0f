"""What callers see of an incident: its record, its timeline, and what opening it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keyguard.incidents.models import Incident, IncidentStep
from keyguard.keys import RawKey


@dataclass(frozen=True, slots=True)
class StepView:
    ts: datetime
    actor: str
    kind: str
    key_id: str | None
    note: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, row: IncidentStep) -> StepView:
        return cls(row.ts, row.actor, row.kind, row.key_id, row.note, dict(row.data or {}))

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": _iso(self.ts),
            "actor": self.actor,
            "kind": self.kind,
            "key_id": self.key_id,
            "note": self.note,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: str
    tenant_id: str
    env: str
    key_id: str
    state: str
    response: str
    reason: str
    source: str
    source_url: str | None
    owner: str | None
    opened_by: str
    opened_at: datetime
    contained_at: datetime | None
    resolved_at: datetime | None
    successor_id: str | None
    steps: tuple[StepView, ...] = ()

    @classmethod
    def of(cls, row: Incident, steps: tuple[StepView, ...] = ()) -> IncidentView:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            env=row.env,
            key_id=row.key_id,
            state=row.state,
            response=row.response,
            reason=row.reason,
            source=row.source,
            source_url=row.source_url,
            owner=row.owner,
            opened_by=row.opened_by,
            opened_at=row.opened_at,
            contained_at=row.contained_at,
            resolved_at=row.resolved_at,
            successor_id=row.successor_id,
            steps=steps,
        )

    @property
    def blast_radius(self) -> list[str]:
        """The keys the compromised key made, directly or down the chain (at opening)."""
        for step in self.steps:
            if step.kind == "blast_radius":
                return list(step.data.get("keys", []))
        return []

    def to_json(self, *, steps: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "tenant": self.tenant_id,
            "env": self.env,
            "key_id": self.key_id,
            "state": self.state,
            "response": self.response,
            "reason": self.reason,
            "source": self.source,
            "source_url": self.source_url,
            "owner": self.owner,
            "opened_by": self.opened_by,
            "opened_at": _iso(self.opened_at),
            "contained_at": _iso(self.contained_at),
            "resolved_at": _iso(self.resolved_at),
            "successor_id": self.successor_id,
        }
        if steps:
            data["blast_radius"] = self.blast_radius
            data["timeline"] = [s.to_json() for s in self.steps]
        return data


@dataclass(frozen=True, slots=True)
class Successor:
    """The reissued key: delivered into `delivered_to`, or `key` for the one-time display."""

    id: str
    delivered_to: str | None = None
    key: RawKey | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        if self.delivered_to is not None:
            data["delivered_to"] = self.delivered_to
        if self.key is not None:
            data["key"] = self.key.reveal()  # the one-time display
        return data


@dataclass(frozen=True, slots=True)
class Opened:
    """What `open` did: the incident, the keys stopped, and the successor (if asked)."""

    incident: IncidentView
    stopped: tuple[str, ...]
    successor: Successor | None = None
    reissue_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.incident.to_json()
        data["stopped"] = list(self.stopped)
        data["successor"] = self.successor.to_json() if self.successor else None
        if self.reissue_error is not None:
            data["reissue_error"] = self.reissue_error
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
