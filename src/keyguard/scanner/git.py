"""Git inputs: the lines every commit added across history, and the staged changes.

History is read as ONE `git log --all -p --unified=0` stream, so a repository with
thousands of commits costs one process and one pass; for each commit and path the added
lines become one buffer, with a map back to their line numbers in that commit's file.
Merge commits show no diff of their own (their parents' changes are scanned instead).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Final

from keyguard.errors import InvalidInput, KeyguardError
from keyguard.scanner.detect import Located

COMMIT_MARK: Final = b"\x1e"
FIELD_MARK: Final = b"\x1f"
_HUNK: Final = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_DIFF_OPTIONS: Final = (
    "-p",
    "--unified=0",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
)


@dataclass(slots=True)
class Blob:
    """The added lines of one path in one commit (or in the index), as one buffer."""

    where: Located
    lines: list[bytes] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return b"\n".join(self.lines)


@dataclass(slots=True)
class _Parser:
    """Turns unified-diff lines into blobs of added lines."""

    commit: str | None = None
    author_date: str | None = None
    path: str | None = None
    next_line: int = 0
    in_header: bool = False
    current: Blob | None = None
    numbers: list[int] = field(default_factory=list)

    def flush(self) -> Blob | None:
        blob, self.current = self.current, None
        if blob is None or not blob.lines:
            return None
        blob.where.line_numbers = self.numbers
        self.numbers = []
        return blob

    def feed(self, line: bytes) -> Blob | None:
        """One line of output; returns a finished blob when one ends."""
        if line.startswith(COMMIT_MARK):
            done = self.flush()
            sha, _, date = line[1:].partition(FIELD_MARK)
            self.commit, self.author_date = sha.decode(), date.decode().strip() or None
            self.path = None
            return done
        if line.startswith(b"diff --git "):
            done = self.flush()
            self.path, self.in_header = None, True
            return done
        if self.in_header:
            self._header(line)
        elif line.startswith(b"@@"):
            self._hunk(line)
        elif self.path is not None and line.startswith(b"+"):
            self._added(line)
        return None

    def _header(self, line: bytes) -> None:
        # An added line "++ x" reads "+++ x" in a diff: only the header names the file.
        if line.startswith(b"+++ "):
            self.path = _diff_path(line[4:])
        elif line.startswith(b"@@"):
            self.in_header = False
            self._hunk(line)

    def _hunk(self, line: bytes) -> None:
        hunk = _HUNK.match(line)
        if hunk is not None:
            self.next_line = int(hunk.group(1))

    def _added(self, line: bytes) -> None:
        if self.path is not None:
            if self.current is None:
                where = Located(self.path, self.commit, self.author_date)
                self.current = Blob(where)
            self.current.lines.append(line[1:])
            self.numbers.append(self.next_line)
            self.next_line += 1


def _diff_path(raw: bytes) -> str | None:
    """`b/src/app.py` -> `src/app.py`; `/dev/null` (a deletion) -> None."""
    text = raw.rstrip(b"\n").decode("utf-8", "replace")
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1].encode("latin-1", "replace").decode("unicode_escape")
        text = text.encode("latin-1", "replace").decode("utf-8", "replace")
    if text == "/dev/null":
        return None
    return text[2:] if text.startswith("b/") else text


def parse_diff(stream: IO[bytes]) -> Iterator[Blob]:
    parser = _Parser()
    for line in stream:
        done = parser.feed(line.rstrip(b"\r\n") if line.endswith(b"\n") else line)
        if done is not None:
            yield done
    last = parser.flush()
    if last is not None:
        yield last


def _run(repo: str, args: Sequence[str]) -> Iterator[Blob]:
    command = ["git", "-C", repo, "-c", "core.quotePath=false", *args]
    # stderr goes to a file: a full stderr pipe would stall git while we read stdout.
    with tempfile.TemporaryFile() as errors:
        try:
            # A fixed argv of git (no shell); the repository path is an argument, not parsed.
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603 - fixed git argv, no shell
        except FileNotFoundError:
            raise InvalidInput("git is not installed", code="git_missing") from None
        with process:
            if process.stdout is not None:
                yield from parse_diff(process.stdout)
        if process.returncode != 0:
            errors.seek(0)
            raise _git_error(repo, errors.read().decode("utf-8", "replace"))


def _git_error(repo: str, stderr: str) -> KeyguardError:
    if "not a git repository" in stderr:
        return InvalidInput(f"not a git repository: {repo}", code="not_a_git_repository")
    first = stderr.strip().splitlines()[0] if stderr.strip() else "unknown error"
    return KeyguardError(f"git failed in {repo}: {first}", code="git_failed")


# Options that would change what `git log` prints (and so break the parser) or write files.
_REFUSED_LOG_OPTS: Final = (
    "--output", "--format", "--pretty", "--oneline", "--ext-diff", "--textconv", "--color",
    "--stat", "--numstat", "--shortstat", "--name-only", "--name-status", "--raw", "--graph",
    "--word-diff", "--no-patch", "-s", "-z", "-O", "--patch-with", "--summary", "--exec",
)  # fmt: skip


def log_range(repo: str, since_commit: str | None, log_opts: str | None) -> list[str]:
    """`git log` arguments choosing the commits: all refs, REV..HEAD, or the user's options."""
    if log_opts is not None:
        try:
            options = shlex.split(log_opts)
        except ValueError as error:
            raise InvalidInput(f"--log-opts: {error}", code="invalid_log_opts") from None
        for option in options:
            if option.startswith(_REFUSED_LOG_OPTS):
                message = f"--log-opts may not contain {option.split('=')[0]}"
                raise InvalidInput(message, code="invalid_log_opts")
    else:
        options = ["--all"]
    if since_commit is not None:
        resolve(repo, since_commit)
        # Only what the new commits added: CI scans a push, not the whole history.
        options = [f"{since_commit}..HEAD" if o == "--all" else o for o in options]
    return options


def resolve(repo: str, revision: str) -> str:
    """The commit a revision names; an unknown one is an input error."""
    if revision.startswith("-"):
        raise InvalidInput(f"not a revision: {revision}", code="invalid_revision")
    done = _git(repo, ["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"])
    if done.returncode != 0:
        if "not a git repository" in done.stderr.decode("utf-8", "replace"):
            raise _git_error(repo, done.stderr.decode("utf-8", "replace"))
        raise InvalidInput(f"unknown revision: {revision}", code="invalid_revision")
    return done.stdout.decode().strip()


def history(
    repo: str, since_commit: str | None = None, log_opts: str | None = None
) -> Iterator[Blob]:
    """Added lines of the chosen commits (by default every commit of every ref), newest first.

    Deleted files need nothing special: their lines were added by an earlier commit, which
    is scanned; refs include every branch, tag and the stash.
    """
    fmt = "--format=%x1e%H%x1f%aI"
    return _run(repo, ["log", *log_range(repo, since_commit, log_opts), *_DIFF_OPTIONS, fmt])


def _git(repo: str, args: Sequence[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    command = ["git", "-C", repo, "-c", "core.quotePath=false", *args]
    try:
        return subprocess.run(command, input=stdin, capture_output=True, check=False)  # noqa: S603 - fixed git argv, no shell
    except FileNotFoundError:
        raise InvalidInput("git is not installed", code="git_missing") from None


def toplevel(repo: str) -> str:
    done = _git(repo, ["rev-parse", "--show-toplevel"])
    if done.returncode != 0:
        raise _git_error(repo, done.stderr.decode("utf-8", "replace"))
    return done.stdout.decode().strip()


def at_head(repo: str, paths: Sequence[str]) -> dict[str, bytes]:
    """The HEAD version of each path that still exists there (one `git cat-file` process)."""
    if not paths:
        return {}
    request = b"".join(f"HEAD:{path}\n".encode() for path in paths)
    done = _git(repo, ["cat-file", "--batch"], stdin=request)
    contents: dict[str, bytes] = {}
    output, position = done.stdout, 0
    for path in paths:
        end = output.find(b"\n", position)
        header = output[position:end].split()
        position = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            contents[path] = output[position : position + size]
            position += size + 1
    return contents


def staged(repo: str) -> Iterator[Blob]:
    """Added lines of what is about to be committed."""
    return _run(repo, ["diff", "--cached", *_DIFF_OPTIONS])


def commit_count(repo: str) -> int:
    """Commits reachable from any ref (0 when the repository has none yet)."""
    command = ["git", "-C", repo, "rev-list", "--all", "--count"]
    try:
        done = subprocess.run(command, capture_output=True, check=False)  # noqa: S603 - git argv, no shell
    except FileNotFoundError:
        raise InvalidInput("git is not installed", code="git_missing") from None
    if done.returncode != 0:
        raise _git_error(repo, done.stderr.decode("utf-8", "replace"))
    return int(done.stdout.strip() or b"0")
