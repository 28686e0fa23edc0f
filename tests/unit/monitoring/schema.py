"""The PRODUCT.md alert schema as JSON Schema: what every written alert must satisfy."""

from __future__ import annotations

from typing import Any

from keyguard.monitoring import SEVERITIES

TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ts", "key_id", "rule", "severity", "action", "first_event_ts", "evidence"],
    "properties": {
        "ts": {"type": "string", "pattern": TIMESTAMP},
        "key_id": {"type": ["string", "null"]},
        "rule": {"type": "string", "minLength": 1},
        "severity": {"enum": list(SEVERITIES)},
        "action": {"type": "string"},
        "first_event_ts": {"type": "string", "pattern": TIMESTAMP},
        "evidence": {
            "type": "object",
            "required": ["summary"],
            "properties": {"summary": {"type": "string", "minLength": 10}},
        },
    },
}
