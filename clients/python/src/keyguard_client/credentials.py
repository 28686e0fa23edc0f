"""Load an API key into an application, and read it again after a rotation.

::

    key = load_key("openbao:secret/apps/mailer#key")   # or env:NAME, file:PATH, aws:SECRET-ID
    client = Keyguard(key=key)   # re-reads the key when the server answers key_rotated

The key is cached. It is read again when `refresh()` is called, when a 401 problem with code
`key_rotated` is passed to `refresh_if_rotated` (the client does this by itself), once a grace
deadline given to `refresh_by` has passed, and after `max_age` (5 minutes by default). Sources:

    env:NAME                    the environment variable NAME
    file:PATH                   a file only its owner may read (one trailing newline dropped)
    openbao:MOUNT/PATH[#FIELD]  a KV v2 secret's FIELD (default `key`); BAO_ADDR or VAULT_ADDR,
                                with BAO_TOKEN/VAULT_TOKEN or KEYGUARD_OPENBAO_ROLE_ID/_SECRET_ID
                                (extra `vault`: pip install 'keyguard-client[vault]')
    aws:SECRET-ID[#FIELD]       a Secrets Manager secret (name or ARN): its SecretString, or
                                FIELD of it as a JSON object; boto3's standard configuration
                                (extra `aws`)
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from keyguard_client import _sources
from keyguard_client.errors import ROTATED_CODE

__all__ = ["DEFAULT_MAX_AGE", "ClientKey", "Clock", "Reader", "load_key"]

DEFAULT_MAX_AGE: Final = timedelta(minutes=5)

Reader = Callable[[], str]
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def load_key(
    source: str,
    *,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    clock: Clock = _utcnow,
    reader: Reader | None = None,
) -> ClientKey:
    """Read the key named by `source` now (so a wrong source fails at startup) and cache it."""
    return ClientKey(source, reader or _sources.reader_for(source), max_age=max_age, clock=clock)


class ClientKey:
    """A cached API key that knows where to read it again; never shows it in repr or str."""

    __slots__ = (
        "_clock",
        "_deadline",
        "_lock",
        "_max_age",
        "_read_at",
        "_reader",
        "_value",
        "source",
    )

    def __init__(
        self, source: str, reader: Reader, *, max_age: timedelta | None, clock: Clock = _utcnow
    ) -> None:
        self.source = source
        self._reader = reader
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._deadline: datetime | None = None
        self._value, self._read_at = reader(), clock()

    @classmethod
    def static(cls, key: str, *, source: str = "argument") -> ClientKey:
        """A key given as text: never read again, so `key_rotated` cannot be recovered from."""
        return cls(source, lambda: key, max_age=None)

    def reveal(self) -> str:
        """The key's text, for the request header; read again first if due."""
        with self._lock:
            if self._due(self._clock()):
                self._reread()
            return self._value

    def due(self) -> bool:
        """True if the next `reveal()` reads the source (an async caller does it off-loop)."""
        return self._due(self._clock())

    def refresh(self) -> bool:
        """Read the key again now; True if it changed."""
        with self._lock:
            return self._reread()

    def refresh_by(self, deadline: datetime) -> None:
        """Read the key again once `deadline` (a rotation's grace deadline) has passed."""
        with self._lock:
            if self._deadline is None or deadline < self._deadline:
                self._deadline = deadline

    def refresh_if_rotated(self, status: int, body: bytes | str | Mapping[str, Any] | None) -> bool:
        """True if the answer says `key_rotated` and a different key was read: retry once.

        False for every other answer, and when the source still holds the old key (the new
        one is not delivered yet), so a caller that retries on True cannot loop.
        """
        if status != 401 or _problem_code(body) != ROTATED_CODE:
            return False
        return self.refresh()

    def _due(self, now: datetime) -> bool:
        if self._deadline is not None and now >= self._deadline:
            return True
        return self._max_age is not None and now - self._read_at >= self._max_age

    def _reread(self) -> bool:
        fresh = self._reader()
        changed = not hmac.compare_digest(fresh.encode(), self._value.encode())
        self._value, self._read_at, self._deadline = fresh, self._clock(), None
        return changed

    def __repr__(self) -> str:
        return f"ClientKey(source={self.source!r})"

    def __str__(self) -> str:
        return repr(self)

    def __reduce__(self) -> str:
        raise TypeError("ClientKey must not be pickled")


def _problem_code(body: bytes | str | Mapping[str, Any] | None) -> str | None:
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, Mapping):
        code = body.get("code")
        return code if isinstance(code, str) else None
    return None
