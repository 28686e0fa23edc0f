"""Scan orchestration: list inputs, fan batches out to worker processes, gather findings.

Each worker builds its engine once (Hyperscan databases are per process) and scans whole
batches, returning only findings, which hold no secret. Small scans stay in-process: a
pool costs more than it saves for a few hundred files.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from typing import Final, Literal, Protocol, TypeVar

from keyguard.scanner import git
from keyguard.scanner.detect import CheckFn, Located
from keyguard.scanner.engine import EngineName, Scanner, build_engine, hyperscan_available
from keyguard.scanner.findings import Finding
from keyguard.scanner.providers import default_rules
from keyguard.scanner.sources import (
    DEFAULT_MAX_FILE_SIZE,
    KEYGUARD_IGNORE,
    FileRef,
    iter_batches,
    iter_files,
    read_file,
    read_spec,
)

Source = Literal["files", "git", "staged", "stdin"]
BATCH_BYTES: Final = 4 * 1024 * 1024
BATCH_FILES: Final = 128
PARALLEL_FILES: Final = 256
PARALLEL_COMMITS: Final = 200
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """What to scan and how; `jobs=0` means one process per core."""

    paths: tuple[str, ...] = (".",)
    source: Source = "files"
    gitignore: bool = True
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    jobs: int = 0
    engine: EngineName = "auto"
    parallel_files: int = PARALLEL_FILES
    parallel_commits: int = PARALLEL_COMMITS
    stdin: bytes = b""
    include_invalid: bool = False
    since_commit: str | None = None
    log_opts: str | None = None
    check: CheckFn | None = None


@dataclass(slots=True)
class ScanStats:
    files: int = 0
    bytes: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    baselined: int = 0
    engine: str = ""
    seconds: float = 0.0

    def add(self, other: ScanStats) -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.skipped.update(other.skipped)
        self.suppressed.update(other.suppressed)


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding]
    stats: ScanStats


@dataclass(slots=True)
class _Batch:
    findings: list[Finding] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)


class Progress(Protocol):
    """Where a long scan reports how far it got (the CLI draws a Rich bar)."""

    def start(self, total_bytes: int | None) -> None: ...

    def advance(self, done_bytes: int) -> None: ...


class _Worker:
    def __init__(
        self, engine: EngineName, max_file_size: int, check: CheckFn | None = None
    ) -> None:
        rules = default_rules()
        self.scanner = Scanner(rules, build_engine(rules, engine), check)
        self.max_file_size = max_file_size
        self.key = (engine, max_file_size, id(check))

    def scan_one(self, batch: _Batch, data: bytes, where: Located) -> None:
        outcome = self.scanner.scan(data, where)
        batch.findings.extend(outcome.findings)
        batch.stats.suppressed.update(outcome.suppressed)
        batch.stats.files += 1
        batch.stats.bytes += len(data)

    def files(self, refs: Sequence[FileRef]) -> _Batch:
        batch = _Batch()
        for ref in refs:
            data = read_file(ref, self.max_file_size)
            if isinstance(data, str):
                batch.stats.skipped[data] += 1
            else:
                self.scan_one(batch, data, Located(ref.display))
        return batch

    def blobs(self, blobs: Sequence[git.Blob]) -> _Batch:
        batch = _Batch()
        for blob in blobs:
            self.scan_one(batch, blob.data, blob.where)
        return batch


_WORKER: _Worker | None = None


def _init_worker(engine: EngineName, max_file_size: int, check: CheckFn | None = None) -> _Worker:
    global _WORKER  # noqa: PLW0603 - one engine per worker process, built once
    same = _WORKER is not None and _WORKER.key == (engine, max_file_size, id(check))
    if _WORKER is None or not same:
        _WORKER = _Worker(engine, max_file_size, check)
    return _WORKER


def _files_task(refs: Sequence[FileRef]) -> _Batch:
    assert _WORKER is not None  # noqa: S101 - set by the pool initializer
    return _WORKER.files(refs)


def _blobs_task(blobs: Sequence[git.Blob]) -> _Batch:
    assert _WORKER is not None  # noqa: S101 - set by the pool initializer
    return _WORKER.blobs(blobs)


def _blob_batches(blobs: Iterable[git.Blob]) -> Iterator[list[git.Blob]]:
    batch: list[git.Blob] = []
    size = 0
    for blob in blobs:
        batch.append(blob)
        size += sum(len(line) + 1 for line in blob.lines)
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _jobs(request: ScanRequest) -> int:
    return request.jobs if request.jobs > 0 else os.cpu_count() or 1


def _run(
    request: ScanRequest,
    task: Callable[[T], _Batch],
    batches: Iterable[T],
    parallel: bool,
    progress: Progress | None,
    *,
    ordered: bool = False,
) -> Iterator[_Batch]:
    """Batches through a process pool (in order) or in-process."""
    if not parallel:
        _init_worker(request.engine, request.max_file_size, request.check)
        _start(progress)
        for item in batches:
            result = task(item)
            _advance(progress, result)
            yield result
        return
    # fork: workers inherit the loaded rules and build their engine once.
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with context.Pool(
        _jobs(request),
        initializer=_init_worker,
        initargs=(request.engine, request.max_file_size, request.check),
    ) as pool:
        _start(progress)  # after the fork: no progress thread is ever copied into a worker
        for result in pool.imap(task, batches) if ordered else pool.imap_unordered(task, batches):
            _advance(progress, result)
            yield result


def _start(progress: Progress | None) -> None:
    if progress is not None:
        progress.start(None)


def _advance(progress: Progress | None, result: _Batch) -> None:
    if progress is not None:
        progress.advance(result.stats.bytes)


def _scan_files(request: ScanRequest, progress: Progress | None) -> _Batch:
    files = iter_files(request.paths, gitignore=request.gitignore)
    head = list(islice(files, request.parallel_files))
    parallel = _jobs(request) > 1 and len(head) >= request.parallel_files
    # The walk streams into the pool: the pool's feeder thread pulls batches as it lists.
    batches = iter_batches(chain(head, files), max_files=BATCH_FILES)
    gathered = _gather(_run(request, _files_task, batches, parallel, progress))
    gathered.findings.sort(key=Finding.sort_key)
    return gathered


def _read_git(request: ScanRequest, repo: str) -> Iterator[git.Blob]:
    if request.source == "staged":
        blobs = git.staged(repo)
    else:
        blobs = git.history(repo, request.since_commit, request.log_opts)
    # Committed files are not .gitignored, but .keyguardignore applies to history too.
    ignore = read_spec(os.path.join(git.toplevel(repo), KEYGUARD_IGNORE))
    return (b for b in blobs if ignore is None or not ignore.match_file(b.where.path))


def _scan_git(request: ScanRequest, progress: Progress | None) -> _Batch:
    blobs = (blob for repo in request.paths for blob in _read_git(request, repo))
    parallel = _jobs(request) > 1 and request.source == "git" and _long_history(request)
    # History keeps git's order (newest commit first); files are sorted afterwards.
    gathered = _gather(
        _run(request, _blobs_task, _blob_batches(blobs), parallel, progress, ordered=True)
    )
    if request.source == "git":
        gathered.findings = _mark_at_head(request, gathered.findings)
    return gathered


def _mark_at_head(request: ScanRequest, findings: list[Finding]) -> list[Finding]:
    """Whether each secret is still in its file at HEAD: still to remove, or history only."""
    worker = _init_worker(request.engine, request.max_file_size, request.check)
    present: set[tuple[str, str]] = set()
    for repo in request.paths:
        for path, data in git.at_head(repo, sorted({f.path for f in findings})).items():
            outcome = worker.scanner.scan(data, Located(path))
            present.update((path, f.fingerprint) for f in outcome.findings)
    return [replace(f, at_head=(f.path, f.fingerprint) in present) for f in findings]


def _long_history(request: ScanRequest) -> bool:
    # History size is unknown until read; the commit count is a cheap stand-in.
    return sum(git.commit_count(repo) for repo in request.paths) >= request.parallel_commits


def _gather(batches: Iterable[_Batch]) -> _Batch:
    total = _Batch()
    for batch in batches:
        total.findings.extend(batch.findings)
        total.stats.add(batch.stats)
    return total


def run_scan(
    request: ScanRequest,
    *,
    progress: Progress | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> ScanResult:
    """Scan what the request names; findings come back sorted, secrets never included."""
    started = timer()
    if request.source == "stdin":
        batch = _Batch()
        _init_worker(request.engine, request.max_file_size, request.check).scan_one(
            batch, request.stdin, Located("-")
        )
    elif request.source == "files":
        batch = _scan_files(request, progress)
    else:
        batch = _scan_git(request, progress)
    if not request.include_invalid:
        batch.findings = _drop_invalid(batch.findings, batch.stats)
    batch.stats.engine = engine_name(request.engine)
    batch.stats.seconds = timer() - started
    return ScanResult(batch.findings, batch.stats)


def _drop_invalid(findings: list[Finding], stats: ScanStats) -> list[Finding]:
    """Our format with a failed checksum is not a key: the checksum exists to tell so."""
    kept = [f for f in findings if f.checksum_valid is not False]
    if len(kept) != len(findings):
        stats.suppressed["invalid-checksum"] += len(findings) - len(kept)
    return kept


def engine_name(engine: EngineName) -> str:
    """The engine `auto` resolves to on this machine."""
    if engine == "auto":
        return "hyperscan" if hyperscan_available() else "python"
    return engine
