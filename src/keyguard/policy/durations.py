"""Durations written the way people type them: 90d, 24h, 30m, 2w."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from keyguard.errors import InvalidInput

_PATTERN = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# No key lives this long (tenant caps are counted in days, by default 365); the bound keeps
# `now + duration` far inside what a datetime can hold, so no input can overflow it.
MAX_DURATION: Final = timedelta(days=3660)


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """Parse `90d`-style text; anything else, or more than MAX_DURATION, is an InvalidInput
    naming the field."""
    match = _PATTERN.match(text)
    if match is None:
        raise InvalidInput(
            f"invalid duration {text!r} for {field}: "
            "use a number and one of s, m, h, d, w (e.g. 90d)",
            code="invalid_duration",
            field=field,
        )
    value = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if value > MAX_DURATION:
        raise InvalidInput(
            f"{field} {text.strip()!r} is longer than the maximum of {MAX_DURATION.days} days",
            code="duration_too_long",
            field=field,
        )
    return value
