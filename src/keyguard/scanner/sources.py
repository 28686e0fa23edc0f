"""What gets scanned: files under paths (with .gitignore), standard input, and reading.

Walking happens in the parent process and only lists files; workers read and scan them.
A file is read in one call up to the size cap, and skipped (and counted) when it is
larger or when its first block holds a NUL byte (a binary).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pathspec

from keyguard.errors import InvalidInput

DEFAULT_MAX_FILE_SIZE: Final = 10 * 1024 * 1024
BINARY_PROBE: Final = 8192
# Formats that are binary by definition: skipped without opening them.
BINARY_SUFFIXES: Final = (
    ".pyc",
    ".pyo",
    ".so",
    ".dll",
    ".dylib",
    ".exe",
    ".o",
    ".a",
    ".class",
    ".jar",
    ".whl",
    ".zip",
    ".gz",
    ".bz2",
    ".xz",
    ".zst",
    ".tar",
    ".7z",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".ico",
    ".webp",
    ".pdf",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".mo",
    ".db",
    ".sqlite",
)
ALWAYS_SKIPPED_DIRS: Final = frozenset({".git", ".hg", ".svn"})
Skip = Literal["binary", "size", "unreadable"]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file to scan: the path shown to the user, the path to open, and its size."""

    display: str
    fs_path: str
    size: int


@dataclass(frozen=True, slots=True)
class Listing:
    files: list[FileRef]
    oversized: int


class _Ignores:
    """The .gitignore files met on the way down, deepest first when deciding."""

    def __init__(self) -> None:
        self._stack: list[tuple[str, pathspec.GitIgnoreSpec]] = []

    def push(self, directory: str) -> bool:
        try:
            with open(os.path.join(directory, ".gitignore"), encoding="utf-8") as handle:
                spec = pathspec.GitIgnoreSpec.from_lines(handle.read().splitlines())
        except (OSError, UnicodeDecodeError):
            return False
        self._stack.append((directory, spec))
        return True

    def pop(self) -> None:
        self._stack.pop()

    def ignored(self, path: str, is_dir: bool) -> bool:
        # The deepest .gitignore with a matching pattern decides, as in git.
        for base, spec in reversed(self._stack):
            relative = os.path.relpath(path, base).replace(os.sep, "/")
            result = spec.check_file(relative + "/" if is_dir else relative)
            if result.include is not None:
                return result.include
        return False


def _walk(directory: str, ignores: _Ignores | None, out: list[FileRef], caps: list[int]) -> None:
    pushed = ignores.push(directory) if ignores is not None else False
    try:
        with os.scandir(directory) as entries:
            children = sorted(entries, key=lambda e: e.name)
        for entry in children:
            if entry.is_symlink():
                continue  # never followed: loops, and files outside the tree
            is_dir = entry.is_dir()
            if is_dir and entry.name in ALWAYS_SKIPPED_DIRS:
                continue
            if ignores is not None and ignores.ignored(entry.path, is_dir):
                continue
            if is_dir:
                _walk(entry.path, ignores, out, caps)
            elif entry.is_file():
                _add(entry.path, entry.stat().st_size, out, caps)
    except PermissionError:
        pass  # an unreadable directory is skipped, like git does
    finally:
        if pushed and ignores is not None:
            ignores.pop()


def _add(path: str, size: int, out: list[FileRef], caps: list[int]) -> None:
    if size > caps[0]:
        caps[1] += 1
        return
    out.append(FileRef(posixpath.normpath(path.replace(os.sep, "/")), path, size))


def list_files(roots: Sequence[str], *, gitignore: bool, max_file_size: int) -> Listing:
    """Every file under `roots` that is not ignored and not over the size cap."""
    files: list[FileRef] = []
    caps = [max_file_size, 0]  # [cap, count of files over it]
    for root in roots:
        if os.path.isdir(root):
            _walk(root, _Ignores() if gitignore else None, files, caps)
        elif os.path.isfile(root):
            _add(root, os.path.getsize(root), files, caps)
        else:
            raise InvalidInput(f"no such file or directory: {root}", code="path_not_found")
    return Listing(files, caps[1])


def iter_batches(
    files: Sequence[FileRef], *, max_bytes: int, max_files: int
) -> Iterator[list[FileRef]]:
    """Batches small enough to balance work across processes, large enough to amortise IPC."""
    batch: list[FileRef] = []
    size = 0
    for ref in files:
        batch.append(ref)
        size += ref.size
        if size >= max_bytes or len(batch) >= max_files:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def read_file(ref: FileRef, max_file_size: int) -> bytes | Skip:
    """The file's bytes, or why it was skipped."""
    if ref.display.lower().endswith(BINARY_SUFFIXES):
        return "binary"
    try:
        # One os.read of the listed size (+1 to notice growth): half the cost of open().read().
        descriptor = os.open(ref.fs_path, os.O_RDONLY)
        try:
            data = os.read(descriptor, min(ref.size, max_file_size) + 1)
        finally:
            os.close(descriptor)
    except OSError:
        return "unreadable"
    if len(data) > max_file_size:
        return "size"
    if b"\0" in data[:BINARY_PROBE]:
        return "binary"
    return data


def parse_size(text: str) -> int:
    """`10M`, `512K`, `1G` or a number of bytes."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    cleaned = text.strip().upper().removesuffix("B")
    factor = units.get(cleaned[-1:], 1)
    number = cleaned[:-1] if factor != 1 else cleaned
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise InvalidInput(f"not a size: {text!r}", code="invalid_size") from None
    if value <= 0:
        raise InvalidInput(f"size must be positive: {text!r}", code="invalid_size")
    return value
