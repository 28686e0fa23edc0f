"""Prometheus view of online detection, read from the database at scrape time.

The detector runs in one process of many (the lease holder), so its figures are read from
what it stored, not from its memory: every node's /metrics shows the same, whichever leads.
Three small queries per scrape: alerts grouped by rule and severity, by action and its state,
and the cursor row.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.monitoring.detector import STREAM
from keyguard.monitoring.models import DetectorCursor, StoredAlert


class MonitoringCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        alerts = CounterMetricFamily(
            "keyguard_alerts", "Alerts raised by the online detector.", labels=["rule", "severity"]
        )
        actions = GaugeMetricFamily(
            "keyguard_alert_actions",
            "Alerts by the action taken (notify, throttle, quarantine, revoke) and its state "
            "(pending, done, failed, undone).",
            labels=["action", "state"],
        )
        with self._sessions() as session:
            by_rule = session.execute(
                select(StoredAlert.rule, StoredAlert.severity, func.count())
                .group_by(StoredAlert.rule, StoredAlert.severity)
                .order_by(StoredAlert.rule, StoredAlert.severity)
            ).all()
            by_action = session.execute(
                select(StoredAlert.action, StoredAlert.action_state, func.count())
                .group_by(StoredAlert.action, StoredAlert.action_state)
                .order_by(StoredAlert.action, StoredAlert.action_state)
            ).all()
            cursor = session.get(DetectorCursor, STREAM)
        for rule, severity, count in by_rule:
            alerts.add_metric([rule, severity], count)
        for action, state, count in by_action:
            actions.add_metric([action, state], count)
        yield alerts
        yield actions
        yield from self._cursor(cursor)

    def _cursor(self, cursor: DetectorCursor | None) -> Iterator[Metric]:
        events = cursor.events if cursor is not None else 0
        skipped = cursor.skipped_ids if cursor is not None else 0
        yield CounterMetricFamily(
            "keyguard_detector_events", "Usage events the online detector processed.", value=events
        )
        yield CounterMetricFamily(
            "keyguard_detector_skipped_ids",
            "Event ids the detector moved past without their rows (rolled-back inserts).",
            value=skipped,
        )
        last = cursor.last_event_ts if cursor is not None else None
        if last is not None:
            yield GaugeMetricFamily(
                "keyguard_detector_lag_seconds",
                "Seconds between the newest processed usage event's time and now (it also "
                "grows while no requests come).",
                value=max(0.0, (self._clock() - last).total_seconds()),
            )
