"""Hand-built usage events for the rule tests: one key with a history, then the case.

Times are injected: `Trace.at(hours)` is hours after a Monday midnight (UTC); nothing reads
the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from keyguard.monitoring import Alert, Engine, EngineConfig, Event

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday

DEFAULTS: dict[str, Any] = {
    "key_id": "key_a",
    "tenant": "tenant_1",
    "env": "live",
    "ip": "198.51.100.10",
    "asn": 64500,
    "geo": "DE",
    "user_agent": "acme-mailer/1.4.2",
    "method": "POST",
    "path": "/v1/mail/send",
    "scope": "mail:send",
    "outcome": "ok",
    "status": 202,
    "recipients": 1,
    "recipient_domains": ["example.com"],
    "sender": "news@brand.example",
}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def event(hours: float = 0.0, **fields: Any) -> Event:
    """A usage event `hours` after T0; `fields` override the defaults (a live mail send)."""
    data = {**DEFAULTS, **fields}
    return Event(ts=at(hours), **data)


def invalid(hours: float, ip: str, **fields: Any) -> Event:
    """A string that is not one of our keys: no key, no tenant, no env."""
    return event(
        hours, outcome="invalid_key", status=401, key_id=None, tenant=None, env=None,
        ip=ip, asn=None, geo=None, recipients=None, recipient_domains=None, sender=None,
        **fields,
    )  # fmt: skip


@dataclass
class Trace:
    """An engine and everything it raised so far."""

    config: EngineConfig = field(default_factory=EngineConfig)
    alerts: list[Alert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = Engine(self.config)

    def feed(self, *events: Event) -> list[Alert]:
        raised = [alert for e in events for alert in self.engine.feed(e)]
        self.alerts.extend(raised)
        return raised

    def history(
        self, days: float = 7, *, every: float = 0.5, start: float = 0.0, **fields: Any
    ) -> float:
        """A steady history: one event every `every` hours for `days`; the hour it ended."""
        hours = start
        while hours < start + days * 24:
            self.feed(event(hours, **fields))
            hours += every
        return hours

    def rules(self) -> list[str]:
        return [a.rule for a in self.alerts]
