"""Alerts: what a rule concluded, in the PRODUCT.md alert schema, and their severities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import msgspec

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = ("info", "low", "medium", "high", "critical")
RANK: Final[dict[str, int]] = {name: rank for rank, name in enumerate(SEVERITIES)}

# The engine decides what happened, not what to do about it: the response policy (per
# tenant, applied after detection) replaces this; a replay is monitor-only.
NO_ACTION: Final = "none"


class Alert(msgspec.Struct, kw_only=True):
    """One alert; encodes to exactly the PRODUCT.md fields, in that order. `key_id` is None
    for alerts about a source rather than a key (guessing, sprays)."""

    ts: str
    key_id: str | None
    rule: str
    severity: Severity
    action: str
    first_event_ts: str
    evidence: dict[str, Any]


@dataclass(slots=True)
class Finding:
    """What a rule reports before de-duplication. `subject` is what the alert is about (a key
    id, or `ip:…`/`global` for key-less rules); `first_t` the first event of the pattern."""

    rule: str
    severity: Severity
    summary: str
    subject: str
    key_id: str | None
    first_t: float | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    cooldown: float | None = None  # the rule's own, instead of the config's


_encoder: Final = msgspec.json.Encoder()


def encode_alert(alert: Alert) -> bytes:
    """One JSON line (with its newline)."""
    return _encoder.encode(alert) + b"\n"


def iso(t: float) -> str:
    """A POSIX time as the PRODUCT.md timestamp: UTC, milliseconds, `Z`."""
    moment = datetime.fromtimestamp(t, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
