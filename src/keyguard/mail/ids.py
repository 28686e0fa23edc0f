"""Public ids: a prefix, 10 characters of creation time and 16 random ones, so ids sort by age."""

from __future__ import annotations

import base64
import functools
import secrets
from datetime import datetime
from typing import Final

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# base32's digit values spelt in Crockford's alphabet: 10 random bytes are 16 characters.
_FROM_BASE32: Final = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD.encode())


def new_id(prefix: str, now: datetime) -> str:
    """`msg_01J…`: sortable by creation time, 80 random bits so ids cannot be guessed."""
    noise = secrets.token_bytes(10)  # one read of the OS CSPRNG, 80 bits
    tail = base64.b32encode(noise).translate(_FROM_BASE32).decode()
    return f"{prefix}_{_stamp(int(now.timestamp() * 1000))}{tail}"


@functools.lru_cache(maxsize=16)  # a batch's messages share their creation time
def _stamp(millis: int) -> str:
    return "".join(_CROCKFORD[(millis >> shift) & 31] for shift in range(45, -1, -5))
