"""The local master key: wraps data keys in dev mode, from a 0600 file in the data directory.

The file holds every master key version (JSON, base64 keys) and names the current one, so
rotating it keeps older rows readable until `keyguard secrets rewrap` has moved them::

    {"format": "keyguard-master-key/1", "current": "v2.5be1c0de",
     "keys": {"v1.0c4f9a12": "<base64>", "v2.5be1c0de": "<base64>"}}

The file is re-read when it changes on disk, so a rotation by the CLI reaches a running server.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyguard.errors import ConfigurationError, InvalidInput, NotFound
from keyguard.secrets.file import read_private_file, write_private_file
from keyguard.secrets.interfaces import WrappedKey

log = logging.getLogger(__name__)

FORMAT: Final = "keyguard-master-key/1"
KIND: Final = "local"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12

Random = Callable[[int], bytes]


@dataclass(frozen=True)
class _Ring:
    current: str
    keys: dict[str, bytes] = field(repr=False)


class LocalKeyWrapper:
    """AES-256-GCM key wrapping under a master key kept in a private local file."""

    kind = KIND

    def __init__(self, path: Path, *, rng: Random = os.urandom) -> None:
        self.path = path
        self._rng = rng
        self._stamp: tuple[int, int, int] | None = None
        self._ring = self._load()

    @classmethod
    def open(cls, path: Path, *, create: bool, rng: Random = os.urandom) -> LocalKeyWrapper:
        """Open the master key file; with `create`, make a new one if it does not exist."""
        if create and not path.exists():
            try:
                _write(path, _new_ring(rng, None), exclusive=True)
                log.info("secrets.local.master_key_created", extra={"path": str(path)})
            except FileExistsError:
                pass  # another process created it first: use theirs
        return cls(path, rng=rng)

    @property
    def key_id(self) -> str:
        return _key_id(self._current_ring().current)

    def wrap(self, data_key: bytes) -> WrappedKey:
        ring = self._current_ring()
        key_id = _key_id(ring.current)
        nonce = self._rng(NONCE_BYTES)
        sealed = AESGCM(ring.keys[ring.current]).encrypt(nonce, data_key, key_id.encode())
        return WrappedKey(key_id=key_id, ciphertext=nonce + sealed)

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        master = self._master(key_id)
        try:
            return AESGCM(master).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode()
            )
        except (InvalidTag, ValueError):
            raise InvalidInput(
                f"a data key wrapped under {key_id} does not authenticate",
                code="envelope_tampered",
            ) from None

    def rewrap(self, items: Sequence[WrappedKey]) -> list[WrappedKey]:
        return [self.wrap(self.unwrap(item.ciphertext, item.key_id)) for item in items]

    def health(self) -> None:
        probe = self._rng(KEY_BYTES)
        wrapped = self.wrap(probe)
        if self.unwrap(wrapped.ciphertext, wrapped.key_id) != probe:
            raise ConfigurationError(f"master key file {self.path} does not round-trip")

    def rotate(self) -> str:
        """Add a new master key version, make it current and return its key id."""
        # Read-modify-write under a lock: two rotations at once must not lose a key version,
        # or whatever was wrapped under it could never be opened again.
        with _locked(self.path):
            ring = _new_ring(self._rng, self._load())
            _write(self.path, ring, exclusive=False)
        self._ring = self._load()
        log.info("secrets.local.master_key_rotated", extra={"key_id": _key_id(ring.current)})
        return _key_id(ring.current)

    def _master(self, key_id: str) -> bytes:
        label = key_id.removeprefix(f"{KIND}:")
        if not key_id.startswith(f"{KIND}:"):
            raise ConfigurationError(
                f"data key was wrapped by {key_id!r}, not by a local master key; "
                "configure the wrapper that wrapped it"
            )
        ring = self._current_ring()
        if label not in ring.keys:
            raise ConfigurationError(
                f"master key file {self.path} has no key {key_id}: "
                "was the file replaced or a version removed?"
            )
        return ring.keys[label]

    def _current_ring(self) -> _Ring:
        if self._file_stamp() != self._stamp:
            self._ring = self._load()
        return self._ring

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _load(self) -> _Ring:
        stamp = self._file_stamp()
        try:
            raw = read_private_file(self.path)
        except NotFound:
            raise ConfigurationError(
                f"no master key file at {self.path}: run `keyguard init` in dev mode, "
                "or configure an openbao or aws wrapper"
            ) from None
        ring = _parse(self.path, raw)
        self._stamp = stamp
        return ring

    def __repr__(self) -> str:
        return f"LocalKeyWrapper(path={str(self.path)!r})"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _key_id(label: str) -> str:
    return f"{KIND}:{label}"


def _new_ring(rng: Random, previous: _Ring | None) -> _Ring:
    keys = dict(previous.keys) if previous else {}
    label = f"v{len(keys) + 1}.{rng(4).hex()}"
    keys[label] = rng(KEY_BYTES)
    return _Ring(current=label, keys=keys)


def _write(path: Path, ring: _Ring, *, exclusive: bool) -> None:
    document = {
        "format": FORMAT,
        "current": ring.current,
        "keys": {label: base64.b64encode(key).decode("ascii") for label, key in ring.keys.items()},
    }
    write_private_file(path, json.dumps(document, indent=2).encode("utf-8"), exclusive=exclusive)


def _parse(path: Path, raw: bytes) -> _Ring:
    try:
        document = json.loads(raw)
        keys = {str(k): base64.b64decode(v, validate=True) for k, v in document["keys"].items()}
        ring = _Ring(current=str(document["current"]), keys=keys)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        ring = None
    if (
        ring is None
        or document.get("format") != FORMAT
        or ring.current not in ring.keys
        or any(len(key) != KEY_BYTES for key in ring.keys.values())
    ):
        raise ConfigurationError(f"master key file {path} is not a valid {FORMAT} document")
    return ring
