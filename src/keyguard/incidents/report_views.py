"""What an investigation report holds (report.py finds it, render.py shows it): counted
sources, the exposure window, the mail sent, and the report with its stable JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from keyguard.incidents.views import IncidentView

MAX_SOURCES: Final = 50  # per kind of source, the most used first
KINDS: Final = ("networks", "asns", "countries", "user_agents", "endpoints")


@dataclass(slots=True)
class Source:
    """One network, ASN, country, user agent or endpoint, counted inside the window."""

    value: str | int
    requests: int = 0
    denied: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    usual: bool = False  # used before the window

    def add(
        self, requests: int, denied: int, first: datetime | None, last: datetime | None
    ) -> None:
        self.requests += requests
        self.denied += denied
        if first is not None and (self.first_seen is None or first < self.first_seen):
            self.first_seen = first
        if last is not None and (self.last_seen is None or last > self.last_seen):
            self.last_seen = last

    def count(self, row: Counted) -> None:
        self.add(row.requests, row.denied, row.first, row.last)
        self.usual = self.usual or row.usual

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "requests": self.requests,
            "denied": self.denied,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "usual": self.usual,
        }


@dataclass(frozen=True, slots=True)
class Counted:
    """One group of the key's events (see _Builder._counted)."""

    values: tuple[Any, ...]
    requests: int
    denied: int
    first: datetime | None
    last: datetime | None
    usual: bool
    accepted_before: int
    accepted_inside: int


def top(found: dict[Any, Source]) -> list[Source]:
    """The sources used inside the window, the most used first."""
    used = (s for s in found.values() if s.requests)
    return sorted(used, key=lambda s: (-s.requests, str(s.value)))[:MAX_SOURCES]


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    start_basis: str  # created, rotation, alert, anomaly
    end_basis: str  # key.revoked, key.suspended, report_time
    trigger: str | None = None  # the first new network, when the basis is an anomaly
    alert: int | None = None  # the earliest alert's id, when the basis is an alert

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "start_basis": self.start_basis,
            "end_basis": self.end_basis,
            "trigger_network": self.trigger,
            "trigger_alert": self.alert,
        }


@dataclass(frozen=True, slots=True)
class Mail:
    messages: int = 0
    recipients: int = 0
    recipient_domains: dict[str, int] = field(default_factory=dict)
    senders: dict[str, int] = field(default_factory=dict)
    subjects: dict[str, int] | None = None  # only when asked: they may be personal data

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "messages": self.messages,
            "recipients": self.recipients,
            "recipient_domains": _ranked(self.recipient_domains),
            "senders": _ranked(self.senders),
        }
        if self.subjects is not None:
            data["subjects"] = _ranked(self.subjects)
        return data


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: datetime
    incident: IncidentView
    key: dict[str, Any]
    life: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    window: Window
    totals: dict[str, int]
    sources: dict[str, list[Source]]
    hours: list[dict[str, Any]]  # the chart: uses per hour around the window
    scopes_used: dict[str, int]
    data_read: dict[str, int]
    mail: Mail
    keys_created: list[dict[str, Any]]
    alerts: list[dict[str, Any]]  # the detector's alerts on the key (alert_json + in_window)
    recommendations: list[str]

    def to_json(self) -> dict[str, Any]:
        incident = self.incident.to_json(steps=True)
        return {
            "report_version": 1,
            "generated_at": iso(self.generated_at),
            "incident": {k: incident[k] for k in _INCIDENT_FIELDS},
            "timeline": incident["timeline"],
            "key": self.key,
            "life": self.life,
            "deliveries": self.deliveries,
            "window": self.window.to_json(),
            "uses": {
                "totals": self.totals,
                **{kind: [s.to_json() for s in found] for kind, found in self.sources.items()},
                "hours": self.hours,
            },
            "alerts": self.alerts,
            "impact": {
                "could": sorted(self.key["scopes"]),
                "scopes_used": dict(sorted(self.scopes_used.items())),
                "data_read": dict(sorted(self.data_read.items())),
                "mail": self.mail.to_json(),
                "keys_created": self.keys_created,
            },
            "recommendations": self.recommendations,
        }


_INCIDENT_FIELDS: Final = (
    "id",
    "tenant",
    "env",
    "key_id",
    "state",
    "response",
    "reason",
    "source",
    "source_url",
    "owner",
    "opened_by",
    "opened_at",
    "contained_at",
    "resolved_at",
    "successor_id",
    "blast_radius",
)


def _ranked(counts: dict[str, int]) -> list[dict[str, Any]]:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_SOURCES]
    return [{"value": value, "count": count} for value, count in ordered]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
