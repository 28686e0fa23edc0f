"""Public ids: a prefix, 10 characters of creation time and 16 random ones, so ids sort by age."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Final

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str, now: datetime) -> str:
    """`msg_01J…`: sortable by creation time, 80 random bits so ids cannot be guessed."""
    millis = int(now.timestamp() * 1000)
    stamp = "".join(_CROCKFORD[(millis >> shift) & 31] for shift in range(45, -1, -5))
    noise = int.from_bytes(secrets.token_bytes(10))  # one read of the OS CSPRNG, 80 bits
    tail = "".join(_CROCKFORD[(noise >> shift) & 31] for shift in range(75, -1, -5))
    return f"{prefix}_{stamp}{tail}"
