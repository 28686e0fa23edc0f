"""Load a Keyguard API key into an application, and re-read it after a rotation.

::

    key = load_key("openbao:secret/apps/mailer#key")   # or env:NAME, file:PATH, aws:SECRET-ID
    headers = {"Authorization": f"Bearer {key.reveal()}"}
    ...
    if key.refresh_if_rotated(response.status_code, response.content):
        ...  # the server said key_rotated and a new key was read: retry once

The key is cached. It is read again when `refresh()` is called, when a 401 problem with code
`key_rotated` is passed to `refresh_if_rotated`, once a grace deadline given to `refresh_by`
has passed, and after `max_age` (5 minutes by default). Sources:

    env:NAME                    the environment variable NAME
    file:PATH                   a file only its owner may read (one trailing newline dropped)
    openbao:MOUNT/PATH[#FIELD]  a KV v2 secret's FIELD (default `key`); BAO_ADDR or VAULT_ADDR,
                                with BAO_TOKEN/VAULT_TOKEN or KEYGUARD_OPENBAO_ROLE_ID/_SECRET_ID
    aws:SECRET-ID[#FIELD]       a Secrets Manager secret (name or ARN): its SecretString, or
                                FIELD of it as a JSON object; boto3's standard configuration
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from keyguard.clock import Clock, system_clock
from keyguard.errors import InvalidInput, NotFound
from keyguard.secrets import SecretsSettings, SecretValue, openbao_connection, read_private_file

__all__ = ["ClientKey", "Reader", "load_key"]

DEFAULT_MAX_AGE: Final = timedelta(minutes=5)
DEFAULT_FIELD: Final = "key"
ROTATED_CODE: Final = "key_rotated"

Reader = Callable[[], SecretValue]


def load_key(
    source: str,
    *,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    clock: Clock = system_clock,
    reader: Reader | None = None,
) -> ClientKey:
    """Read the key named by `source` now (so a wrong source fails at startup) and cache it."""
    return ClientKey(source, reader or _reader(source), max_age=max_age, clock=clock)


class ClientKey:
    """A cached API key that knows where to read it again; never shows it in repr or str."""

    def __init__(
        self, source: str, reader: Reader, *, max_age: timedelta | None, clock: Clock
    ) -> None:
        self.source = source
        self._reader = reader
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._deadline: datetime | None = None
        self._value, self._read_at = reader(), clock()

    def value(self) -> SecretValue:
        """The key, read again first if it is stale or a grace deadline has passed."""
        with self._lock:
            if self._due(self._clock()):
                self._reread()
            return self._value

    def reveal(self) -> str:
        """The key's text, for the request header."""
        return self.value().reveal()

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
        """True if the response says `key_rotated` and a different key was read: retry once.

        False for every other response, and when the source still holds the old key (the new
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
        changed = fresh != self._value
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


def _reader(source: str) -> Reader:
    scheme, sep, rest = source.partition(":")
    if not sep or not rest:
        raise InvalidInput(f"key source {source!r} must read scheme:location", field="source")
    readers: dict[str, Callable[[str], Reader]] = {
        "env": _env_reader,
        "file": _file_reader,
        "openbao": _openbao_reader,
        "aws": _aws_reader,
    }
    if scheme not in readers:
        raise InvalidInput(
            f"unknown key source {scheme!r}: use env:, file:, openbao: or aws:", field="source"
        )
    return readers[scheme](rest)


def _env_reader(variable: str) -> Reader:
    def read() -> SecretValue:
        value = os.environ.get(variable)
        if not value:
            raise NotFound(f"environment variable {variable} is not set")
        return SecretValue(value)

    return read


def _file_reader(path: str) -> Reader:
    def read() -> SecretValue:
        data = read_private_file(Path(path))
        return SecretValue(data.removesuffix(b"\n").removesuffix(b"\r"))

    return read


def _openbao_reader(location: str) -> Reader:
    # Applications that read their key from the environment or a file never load hvac.
    from keyguard.secrets import OpenBaoSecretProvider  # noqa: PLC0415 - lazy hvac

    where, _, field = location.partition("#")
    mount, _, path = where.strip("/").partition("/")
    if not mount or not path:
        raise InvalidInput(f"openbao key source needs MOUNT/PATH, not {where!r}", field="source")
    provider = OpenBaoSecretProvider(
        openbao_connection(SecretsSettings.from_environment()),
        mount=mount,
        prefix="",
        value_field=field or DEFAULT_FIELD,
    )
    return lambda: provider.get(path)


def _aws_reader(location: str) -> Reader:
    from keyguard.secrets import call, make_session  # noqa: PLC0415 - lazy boto3

    secret_id, _, field = location.partition("#")
    client = make_session().client("secretsmanager")

    def read() -> SecretValue:
        response = call(
            f"reading key {secret_id!r}",
            # AWSCURRENT is AWS's default; named, because moto 5.2 ignores a moved label
            # when none is given.
            lambda: client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT"),
        )
        text = response.get("SecretString")
        if text is None:
            raise InvalidInput(f"secret {secret_id!r} holds binary data, not a key")
        if not field:
            return SecretValue(text, version=response.get("VersionId"))
        try:
            value = json.loads(text)[field]
        except (ValueError, KeyError, TypeError):
            raise NotFound(f"secret {secret_id!r} has no JSON field {field!r}") from None
        return SecretValue(str(value), version=response.get("VersionId"))

    return read
