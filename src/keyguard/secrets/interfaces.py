"""The secret provider and key wrapper Protocols, and the value types they exchange."""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

from keyguard.errors import InvalidInput

_MASK: Final = "***"
MAX_NAME_LENGTH: Final = 200
# Segments start with a letter or digit, so "..", "." and hidden files can never be named, and
# "@" (the file provider's version separator) never appears in a name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)*")


class SecretValue:
    """A secret read from or written to a provider; repr, str and logs show only `***`.

    `version` is the provider's version id of the value (not secret); `reveal()` and
    `reveal_bytes()` are the only ways to the plaintext.
    """

    __slots__ = ("_value", "version")

    def __init__(self, value: bytes | str, *, version: str | None = None) -> None:
        self._value = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        self.version = version

    def reveal(self) -> str:
        """The plaintext as text; raises InvalidInput if the secret is not UTF-8."""
        try:
            return self._value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the secret is binary, not text", code="secret_not_text") from None

    def reveal_bytes(self) -> bytes:
        return self._value

    def is_text(self) -> bool:
        try:
            self._value.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def with_version(self, version: str | None) -> SecretValue:
        return SecretValue(self._value, version=version)

    def __repr__(self) -> str:
        return f"SecretValue({_MASK!r}, version={self.version!r})"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        raise TypeError("SecretValue is not hashable")

    def __reduce__(self) -> str:
        raise TypeError("SecretValue must not be pickled")


@dataclass(frozen=True, slots=True)
class SecretVersion:
    """One readable version of a secret; exactly one version of a secret is `current`."""

    id: str
    current: bool
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under a wrapping key; `key_id` names that key and its version."""

    key_id: str
    ciphertext: bytes = field(repr=False)


def validate_name(name: str) -> str:
    """Return `name` if it is a valid secret name ("pepper", "smtp/relay", "a/b-c.d")."""
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid secret name {name!r}: use letters, digits, '_', '.', '-' and '/' "
            "between segments, each segment starting with a letter or digit",
            code="invalid_secret_name",
            field="name",
        )
    return name


@runtime_checkable
class SecretProvider(Protocol):
    """Where the service's own secrets live (pepper versions, SMTP and webhook credentials)."""

    kind: str

    def get(self, name: str, version: str | None = None) -> SecretValue:
        """The current value, or a given version; NotFound when absent."""
        ...

    def put(self, name: str, value: SecretValue) -> str:
        """Store `value` as a new version of `name` and return the new version id."""
        ...

    def versions(self, name: str) -> list[SecretVersion]:
        """Readable versions, oldest first where the backend knows; NotFound when absent."""
        ...

    def retire(self, name: str, version: str) -> None:
        """Make an older version unreadable (`versions` no longer lists it).

        Refuses the current version (InvalidInput) and read-only backends (ConfigurationError).
        Where the backend can, the version is kept recoverable (OpenBao soft delete, AWS
        deprecation) rather than destroyed.
        """
        ...

    def health(self) -> None:
        """Return if the backend is reachable and accepts our credentials.

        Raises ConfigurationError with a message that says what to fix.
        """
        ...


@runtime_checkable
class KeyWrapper(Protocol):
    """Encrypts data keys under a wrapping key that never leaves its home (Transit, KMS, file)."""

    kind: str

    @property
    def key_id(self) -> str:
        """The current wrapping key and its version; may ask the backend."""
        ...

    def wrap(self, data_key: bytes) -> WrappedKey:
        """Encrypt `data_key` under the current wrapping key."""
        ...

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        """Decrypt a data key wrapped under `key_id` (which may be an older version)."""
        ...

    def rewrap(self, items: Sequence[WrappedKey]) -> list[WrappedKey]:
        """Re-encrypt wrapped data keys under the current wrapping key, in order."""
        ...

    def health(self) -> None:
        """Return if the wrapping key is usable; raises ConfigurationError otherwise."""
        ...
