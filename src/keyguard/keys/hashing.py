"""Keyed hashing of keys: HMAC-SHA256 under a versioned pepper.

Keys carry >= 128 bits of CSPRNG output, so a slow password hash buys nothing
(docs/hashing.md); the pepper makes a stolen database useless on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from keyguard.keys._hmac import PrecomputedHmac
from keyguard.keys.secret import RawKey

MIN_PEPPER_BYTES = 32


@dataclass(frozen=True, slots=True)
class Pepper:
    """One version of the pepper. `material` never appears in repr."""

    version: str
    material: bytes = field(repr=False)
    # The pads computed once (keys/_hmac.py: 2-3x faster than hmac.digest per verification).
    _hmac: PrecomputedHmac = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.material) < MIN_PEPPER_BYTES:
            raise ValueError(f"pepper {self.version!r} is shorter than {MIN_PEPPER_BYTES} bytes")
        object.__setattr__(self, "_hmac", PrecomputedHmac(self.material))

    def mac(self, message: bytes) -> bytes:
        """HMAC-SHA256(material, message), identical to hmac.digest (the tests check it)."""
        return self._hmac.mac(message)


def digest_key(pepper: Pepper, raw: RawKey) -> str:
    """Hex HMAC-SHA256 of the key under one pepper version."""
    # The private HMAC directly: Pepper.mac is one call more on every verification.
    return pepper._hmac.mac(raw.reveal().encode("ascii")).hex()


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
