"""Replay: the engine over recorded events, from no history; what the CLI and the bench run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from keyguard.monitoring.alerts import Alert
from keyguard.monitoring.config import EngineConfig
from keyguard.monitoring.engine import Engine
from keyguard.monitoring.events import read_events


@dataclass(slots=True)
class ReplaySummary:
    events: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)

    @property
    def alerts(self) -> int:
        return sum(self.by_rule.values())


def replay(
    lines: Iterable[bytes],
    emit: Callable[[Alert], object],
    *,
    config: EngineConfig | None = None,
) -> ReplaySummary:
    """Feed every event to a fresh engine, in file order; `emit` each alert. An unreadable
    line raises InvalidEvent naming it (alerts before it were emitted)."""
    engine = Engine(config)
    feed = engine.feed
    summary = ReplaySummary()
    events = 0
    for event in read_events(lines):
        events += 1
        alerts = feed(event)
        if alerts:
            for alert in alerts:
                summary.by_rule[alert.rule] += 1
                summary.by_severity[alert.severity] += 1
                emit(alert)
    summary.events = events
    return summary
