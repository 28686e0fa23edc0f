"""Usage monitoring: the detection engine, its rules, alerts, and the offline replay."""

from keyguard.monitoring.alerts import NO_ACTION, SEVERITIES, Alert, Severity, encode_alert
from keyguard.monitoring.config import EngineConfig
from keyguard.monitoring.engine import Engine
from keyguard.monitoring.errors import InvalidEvent
from keyguard.monitoring.events import OUTCOMES, Event, decode_event, read_events
from keyguard.monitoring.replay import ReplaySummary, replay
from keyguard.monitoring.rules import Rule, default_rules

__all__ = [
    "NO_ACTION",
    "OUTCOMES",
    "SEVERITIES",
    "Alert",
    "Engine",
    "EngineConfig",
    "Event",
    "InvalidEvent",
    "ReplaySummary",
    "Rule",
    "Severity",
    "decode_event",
    "default_rules",
    "encode_alert",
    "read_events",
    "replay",
]
