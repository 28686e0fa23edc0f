"""Keyed hashing of keys: HMAC-SHA256 under a versioned pepper.

Keys carry >= 128 bits of CSPRNG output, so a slow password hash buys nothing
(docs/hashing.md); the pepper makes a stolen database useless on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from keyguard.keys.secret import RawKey

MIN_PEPPER_BYTES = 32


@dataclass(frozen=True, slots=True)
class Pepper:
    """One version of the pepper. `material` never appears in repr."""

    version: str
    material: bytes = field(repr=False)
    # SHA-256 states after absorbing the HMAC inner and outer pads (RFC 2104). Copying them is
    # 2-3x faster than hmac.digest(), which redoes this set-up on every verification.
    _inner: Any = field(init=False, repr=False, compare=False)
    _outer: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.material) < MIN_PEPPER_BYTES:
            raise ValueError(f"pepper {self.version!r} is shorter than {MIN_PEPPER_BYTES} bytes")
        key = self.material
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        object.__setattr__(self, "_inner", hashlib.sha256(bytes(b ^ 0x36 for b in key)))
        object.__setattr__(self, "_outer", hashlib.sha256(bytes(b ^ 0x5C for b in key)))

    def mac(self, message: bytes) -> bytes:
        """HMAC-SHA256(material, message), identical to hmac.digest (the tests check it)."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()  # type: ignore[no-any-return]  # hashlib's copy() is typed loosely


_BLOCK = 64  # SHA-256 block size in bytes


def digest_key(pepper: Pepper, raw: RawKey) -> str:
    """Hex HMAC-SHA256 of the key under one pepper version."""
    return pepper.mac(raw.reveal().encode("ascii")).hex()


class PepperRing:
    """All pepper versions in use; the current one hashes new keys, older ones still verify."""

    def __init__(self, current: Pepper, older: Iterable[Pepper] = ()) -> None:
        self.current = current
        self._all = {current.version: current}
        for pepper in older:
            self._all.setdefault(pepper.version, pepper)

    def get(self, version: str) -> Pepper:
        return self._all[version]

    def __iter__(self) -> Iterator[Pepper]:
        """Current first: most keys are hashed under it, so lookups usually stop there."""
        yield self.current
        for version, pepper in self._all.items():
            if version != self.current.version:
                yield pepper

    def digests(self, raw: RawKey) -> list[tuple[str, str]]:
        """(version, digest) for every pepper version, current first."""
        return [(p.version, digest_key(p, raw)) for p in self]
