"""A raw key wrapped so that repr, str, logs and tracebacks never show it."""

from __future__ import annotations

import hmac
from typing import Final

_MASK: Final = "kg_***"


class RawKey:
    """The one object that holds a key's plaintext; call `reveal()` to get it on purpose."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the plaintext. Only the one-time display and the hasher should call this."""
        return self._value

    def __repr__(self) -> str:
        return f"RawKey({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        # Identity of secrets is decided by digests elsewhere; equality here is for tests only.
        if not isinstance(other, RawKey):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        raise TypeError("RawKey is not hashable: index keys by their digest")

    def __reduce__(self) -> str:
        raise TypeError("RawKey must not be pickled")
