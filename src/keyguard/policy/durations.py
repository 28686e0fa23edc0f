"""Durations written the way people type them: 90d, 24h, 30m, 2w."""

from __future__ import annotations

import re
from datetime import timedelta

from keyguard.errors import InvalidInput

_PATTERN = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """Parse `90d`-style text; anything else is an InvalidInput naming the field."""
    match = _PATTERN.match(text)
    if match is None:
        raise InvalidInput(
            f"invalid duration {text!r}: use a number and one of s, m, h, d, w (e.g. 90d)",
            code="invalid_duration",
            field=field,
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
