"""Public ids: a prefix, 10 characters of creation time and 16 random ones, so ids sort by age."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime
from typing import Final

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every pair of Crockford digits, by the 10 bits it spells: 80 random bits are 8 lookups.
_PAIRS: Final = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_PAIR_SHIFTS: Final = (70, 60, 50, 40, 30, 20, 10, 0)


def new_id(prefix: str, now: datetime) -> str:
    """`msg_01J…`: sortable by creation time, 80 random bits so ids cannot be guessed."""
    noise = int.from_bytes(secrets.token_bytes(10))  # one read of the OS CSPRNG, 80 bits
    tail = "".join([_PAIRS[(noise >> shift) & 1023] for shift in _PAIR_SHIFTS])
    return f"{prefix}_{_stamp(int(now.timestamp() * 1000))}{tail}"


@functools.lru_cache(maxsize=16)  # a batch's messages share their creation time
def _stamp(millis: int) -> str:
    return "".join(_CROCKFORD[(millis >> shift) & 31] for shift in range(45, -1, -5))
