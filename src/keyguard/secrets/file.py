"""Secrets as files in a directory; files anyone but their owner can read are refused.

Layout under the root directory::

    pepper          a plain file (e.g. a Docker or Kubernetes secret mount): version "0"
    pepper@1        versions written by `put`, numbered from 1; the highest is current
    smtp/relay@1    names with "/" live in sub-directories

Files are opened first and their mode checked on the open descriptor, so a file cannot be
swapped between the check and the read. New versions are written to a private temporary file
and hard-linked into place: a version file appears complete or not at all, and two writers
can never claim the same version number.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from keyguard.errors import ConfigurationError, InvalidInput, NotFound
from keyguard.secrets.interfaces import SecretValue, SecretVersion, validate_name

log = logging.getLogger(__name__)

PLAIN_VERSION = "0"
_SEPARATOR = "@"
_MAX_PUT_ATTEMPTS = 20
_UNSAFE_BITS = (
    (stat.S_IRGRP, "readable by its group"),
    (stat.S_IROTH, "readable by everyone"),
    (stat.S_IWGRP, "writable by its group"),
    (stat.S_IWOTH, "writable by everyone"),
)


def refuse_shared_mode(path: Path, mode: int) -> None:
    """Raise ConfigurationError, saying why, unless only the owner may read or write `path`."""
    problems = [why for bit, why in _UNSAFE_BITS if mode & bit]
    if problems:
        raise ConfigurationError(
            f"refusing secret file {path}: its mode {stat.S_IMODE(mode):04o} makes it "
            f"{' and '.join(problems)}; a secret file must be private to its owner "
            f"(chmod 600 {path})"
        )


def read_private_file(path: Path) -> bytes:
    """The contents of `path`, which must be a regular file private to its owner."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"no secret file {path}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot open secret file {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"secret file {path} is not a regular file")
        refuse_shared_mode(path, info.st_mode)
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write `data` to `path` with mode 0600, atomically.

    With `exclusive`, fail with FileExistsError instead of replacing an existing file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _strip_newline(data: bytes) -> bytes:
    # `echo value > file` adds one newline; it is never part of the secret.
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data.removesuffix(b"\n")


class FileSecretProvider:
    """Secrets in a directory of owner-only files."""

    kind = "file"

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, name: str, version: str | None = None) -> SecretValue:
        if version is None:
            version = self._current_version(name)
        path = self._path(name, version)
        try:
            data = read_private_file(path)
        except ConfigurationError:
            log.warning("secrets.file.refused", extra={"secret_name": name, "path": str(path)})
            raise
        except NotFound:
            raise NotFound(f"secret {name!r} has no version {version!r}") from None
        return SecretValue(_strip_newline(data), version=version)

    def put(self, name: str, value: SecretValue) -> str:
        numbers = [int(v) for v in self._version_ids(name)]
        next_number = max(numbers, default=0) + 1
        for number in range(next_number, next_number + _MAX_PUT_ATTEMPTS):
            try:
                write_private_file(
                    self._path(name, str(number)), value.reveal_bytes(), exclusive=True
                )
            except FileExistsError:
                continue  # another writer took this number first
            log.info("secrets.file.put", extra={"secret_name": name, "version": str(number)})
            return str(number)
        raise ConfigurationError(f"could not claim a new version of secret {name!r}")

    def versions(self, name: str) -> list[SecretVersion]:
        ids = self._version_ids(name)
        if not ids:
            raise NotFound(f"no secret {name!r} in {self.root}")
        return [
            SecretVersion(v, current=(v == ids[-1]), created_at=self._mtime(name, v)) for v in ids
        ]

    def retire(self, name: str, version: str) -> None:
        if version == self._current_version(name):
            raise InvalidInput(
                f"version {version} is the current version of secret {name!r}",
                code="secret_version_current",
            )
        try:
            self._path(name, version).unlink()
        except FileNotFoundError:
            raise NotFound(f"secret {name!r} has no version {version!r}") from None
        _fsync_directory(self._path(name, version).parent)
        log.info("secrets.file.retired", extra={"secret_name": name, "version": version})

    def health(self) -> None:
        if not self.root.is_dir():
            raise ConfigurationError(
                f"secrets directory {self.root} does not exist (KEYGUARD_SECRETS_DIR)"
            )
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise ConfigurationError(f"secrets directory {self.root} is not readable")

    def _current_version(self, name: str) -> str:
        ids = self._version_ids(name)
        if not ids:
            raise NotFound(f"no secret {name!r} in {self.root}")
        return ids[-1]

    def _version_ids(self, name: str) -> list[str]:
        """Version ids of `name`, oldest first ("0" is the plain file)."""
        base = self.root / validate_name(name)
        numbers: list[int] = []
        try:
            entries = list(os.scandir(base.parent))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigurationError(f"cannot list {base.parent}: {exc.strerror}") from None
        prefix = base.name + _SEPARATOR
        for entry in entries:
            suffix = entry.name.removeprefix(prefix)
            if entry.name.startswith(prefix) and suffix.isdigit() and suffix.isascii():
                numbers.append(int(suffix))
            elif entry.name == base.name and entry.is_file():
                numbers.append(int(PLAIN_VERSION))
        return [str(n) for n in sorted(numbers)]

    def _path(self, name: str, version: str) -> Path:
        base = self.root / validate_name(name)
        if version == PLAIN_VERSION:
            return base
        if not (version.isdigit() and version.isascii()):
            raise NotFound(f"secret {name!r} has no version {version!r}")
        return base.with_name(f"{base.name}{_SEPARATOR}{int(version)}")

    def _mtime(self, name: str, version: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(self._path(name, version).stat().st_mtime, UTC)
        except OSError:
            return None

    def __repr__(self) -> str:
        return f"FileSecretProvider(root={str(self.root)!r})"
