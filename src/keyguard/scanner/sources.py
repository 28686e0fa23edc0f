"""What gets scanned: files under paths (with ignore files), standard input, and reading.

Ignore files: `.gitignore` in every directory and the repository's `.git/info/exclude`
(both unless `--no-gitignore`), and `.keyguardignore` (same syntax) always — it is for
paths the scanner must skip whatever git tracks, such as test fixtures.

Walking happens in the parent process and only lists files (no stat), streaming them to
the workers as it goes; workers read and scan them. A file is read in one call up to the
size cap, and skipped (and counted) when it is larger, when its name says binary, or when
its first block holds a NUL byte.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator, Sequence
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
KEYGUARD_IGNORE: Final = ".keyguardignore"
Skip = Literal["binary", "size", "unreadable"]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file to scan: the path shown to the user and the path to open."""

    display: str
    fs_path: str


def read_spec(path: str) -> pathspec.GitIgnoreSpec | None:
    """An ignore file's patterns, or None when it is absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return pathspec.GitIgnoreSpec.from_lines(handle.read().splitlines())
    except (OSError, UnicodeDecodeError):
        return None


def _repository_top(directory: str) -> str | None:
    current = os.path.abspath(directory)
    while True:
        if os.path.isdir(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


class _Ignores:
    """The ignore files met on the way down, deepest first when deciding."""

    def __init__(self, root: str, *, gitignore: bool) -> None:
        self._stack: list[tuple[str, pathspec.GitIgnoreSpec]] = []
        self._names = (".gitignore", KEYGUARD_IGNORE) if gitignore else (KEYGUARD_IGNORE,)
        top = _repository_top(root) if gitignore else None
        exclude = read_spec(os.path.join(top, ".git", "info", "exclude")) if top else None
        if top is not None and exclude is not None:
            # Relative to the repository top, whatever the scanned directory inside it.
            self._stack.append((top, exclude))

    def push(self, directory: str) -> int:
        pushed = 0
        for name in self._names:
            spec = read_spec(os.path.join(directory, name))
            if spec is not None:
                self._stack.append((directory, spec))
                pushed += 1
        return pushed

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


def _walk(directory: str, ignores: _Ignores | None) -> Iterator[FileRef]:
    # No stat here: sizes are checked by the workers, in parallel, when they read.
    pushed = ignores.push(directory) if ignores is not None else 0
    try:
        with os.scandir(directory) as entries:
            children = list(entries)
        for entry in children:
            if entry.is_symlink():
                continue  # never followed: loops, and files outside the tree
            is_dir = entry.is_dir()
            if is_dir and entry.name in ALWAYS_SKIPPED_DIRS:
                continue
            if ignores is not None and ignores.ignored(entry.path, is_dir):
                continue
            if is_dir:
                yield from _walk(entry.path, ignores)
            elif entry.is_file():
                yield _ref(entry.path)
    except PermissionError:
        pass  # an unreadable directory is skipped, like git does
    finally:
        if ignores is not None:
            for _ in range(pushed):
                ignores.pop()


def _ref(path: str) -> FileRef:
    return FileRef(posixpath.normpath(path.replace(os.sep, "/")), path)


def iter_files(roots: Sequence[str], *, gitignore: bool) -> Iterator[FileRef]:
    """Every file under `roots` that .gitignore does not exclude, as the walk finds it."""
    for root in roots:
        if not os.path.exists(root):
            raise InvalidInput(f"no such file or directory: {root}", code="path_not_found")
    for root in roots:
        if os.path.isdir(root):
            yield from _walk(root, _Ignores(root, gitignore=gitignore))
        else:
            yield _ref(root)


def iter_batches(files: Iterable[FileRef], *, max_files: int) -> Iterator[list[FileRef]]:
    """Batches large enough to amortise inter-process traffic, small enough to balance."""
    batch: list[FileRef] = []
    for ref in files:
        batch.append(ref)
        if len(batch) >= max_files:
            yield batch
            batch = []
    if batch:
        yield batch


def read_file(ref: FileRef, max_file_size: int) -> bytes | Skip:
    """The file's bytes, or why it was skipped."""
    if ref.display.lower().endswith(BINARY_SUFFIXES):
        return "binary"
    try:
        # os.open/fstat/read: half the cost of open().read(); +1 byte tells "over the cap".
        descriptor = os.open(ref.fs_path, os.O_RDONLY)
        try:
            size = os.fstat(descriptor).st_size
            data = os.read(descriptor, min(size, max_file_size) + 1)
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
