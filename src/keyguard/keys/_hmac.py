"""HAZARD: a hand-written HMAC-SHA256 (RFC 2104). Private: use `Pepper.mac` / `digest_key`.

Why it exists: verification hashes every presented key; `hmac.digest()` sets up the inner and
outer pads on each call. Keeping the SHA-256 states after absorbing the pads, and copying them,
is 2-3x faster (docs/benchmarks.md). tests/unit/keys/test_hashing.py checks it against the
standard library for every key length; change nothing here without that test.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

_BLOCK: Final = 64  # SHA-256 block size in bytes


class PrecomputedHmac:
    """HMAC-SHA256 under one key, its pad states computed once."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner: Any = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer: Any = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def mac(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()  # type: ignore[no-any-return]  # hashlib states are typed Any here
