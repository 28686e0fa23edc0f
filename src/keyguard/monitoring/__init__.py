"""Usage monitoring: the detection engine, its rules, alerts, the offline replay, and online
detection (the detector over stored usage events, stored alerts, the response policy)."""

from keyguard.monitoring.alerts import NO_ACTION, SEVERITIES, Alert, Severity, encode_alert
from keyguard.monitoring.config import EngineConfig
from keyguard.monitoring.detector import POLL_SECONDS, Detector, DetectorConfig, to_event
from keyguard.monitoring.engine import Engine
from keyguard.monitoring.errors import InvalidEvent
from keyguard.monitoring.events import OUTCOMES, Event, decode_event, read_events
from keyguard.monitoring.interfaces import NoNotifier, Notifier
from keyguard.monitoring.metrics import MonitoringCollector
from keyguard.monitoring.models import DetectorCursor, ResponsePolicy, StoredAlert
from keyguard.monitoring.policy import (
    ACTIONS,
    DEFAULT_POLICY,
    MODES,
    Policy,
    load_policy,
    save_policy,
    updated,
)
from keyguard.monitoring.replay import ReplaySummary, replay
from keyguard.monitoring.response import DETECTOR, Responder
from keyguard.monitoring.rules import Rule, default_rules
from keyguard.monitoring.service import STATES, AlertFilter, AlertService
from keyguard.monitoring.service import to_json as alert_json

__all__ = [
    "ACTIONS",
    "DEFAULT_POLICY",
    "DETECTOR",
    "MODES",
    "NO_ACTION",
    "OUTCOMES",
    "POLL_SECONDS",
    "SEVERITIES",
    "STATES",
    "Alert",
    "AlertFilter",
    "AlertService",
    "Detector",
    "DetectorConfig",
    "DetectorCursor",
    "Engine",
    "EngineConfig",
    "Event",
    "InvalidEvent",
    "MonitoringCollector",
    "NoNotifier",
    "Notifier",
    "Policy",
    "ReplaySummary",
    "Responder",
    "ResponsePolicy",
    "Rule",
    "Severity",
    "StoredAlert",
    "alert_json",
    "decode_event",
    "default_rules",
    "encode_alert",
    "load_policy",
    "read_events",
    "replay",
    "save_policy",
    "to_event",
    "updated",
]
