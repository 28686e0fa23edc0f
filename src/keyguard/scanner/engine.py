"""The matching engines: one pass over a buffer with all rules at once.

`HyperscanEngine` compiles every rule's core pattern into one Hyperscan database and
learns, in a single pass, which rules (and which decoders) can match. `RegexEngine` is
the pure-Python fallback: a keyword prefilter on the lowered buffer. Both only *select*
rules; the same Python patterns then extract secrets (keyguard.scanner.detect), and since
a Hyperscan core matches wherever its Python pattern does, and a keyword is present
wherever its rule matches, both engines report exactly the same findings.
"""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

from keyguard.errors import ConfigurationError
from keyguard.scanner.decoding import BASE64_TRIGGER, BASIC_TRIGGER, PERCENT_TRIGGER
from keyguard.scanner.detect import CheckFn, Fired, Located, Outcome, scan_buffer
from keyguard.scanner.rules import Rule

EngineName = Literal["auto", "hyperscan", "python"]


class Engine(Protocol):
    """Selects, in one pass, the rules and decoders worth running on a buffer."""

    name: str

    def fire(self, buffer: bytes, config: bool) -> Fired: ...


class RegexEngine:
    """Pure Python: a rule runs when one of its keywords is in the lowered buffer."""

    name = "python"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._keywords = [
            (index, tuple(word.encode("ascii") for word in rule.keywords))
            for index, rule in enumerate(rules)
        ]

    def fire(self, buffer: bytes, config: bool) -> Fired:
        lowered = buffer.lower()
        selected = frozenset(
            index
            for index, words in self._keywords
            if not words or any(word in lowered for word in words)
        )
        # Base64 candidates are looked for everywhere: anchored on `:`/`=`/`Basic`, cheap.
        return Fired(selected, base64=True, percent=b"%" in buffer)


class HyperscanEngine:
    """All rule cores and the decoder triggers in Hyperscan databases (code and config)."""

    name = "hyperscan"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._base64_id = len(rules)
        self._percent_id = len(rules) + 1
        cores = [rule.hyperscan_pattern for rule in rules]
        # Source code only watches `Basic` headers; config files watch every `key: value`.
        self._code = self._compile([*cores, BASIC_TRIGGER, PERCENT_TRIGGER])
        self._config = self._compile([*cores, BASE64_TRIGGER, PERCENT_TRIGGER])

    def _compile(self, expressions: list[bytes]) -> Any:
        import hyperscan  # noqa: PLC0415 - optional dependency, loaded only when chosen

        # SINGLEMATCH: we only need to know *whether* a rule matches; Python extracts. The
        # base64 trigger reports every blob end instead, so only those lines are decoded.
        flags = [hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions)
        flags[self._base64_id] = 0
        cached = _load_cached(expressions, flags)
        if cached is not None:
            return cached
        database = hyperscan.Database()
        database.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=flags,
        )
        _store_cached(expressions, flags, database)
        return database

    def fire(self, buffer: bytes, config: bool) -> Fired:
        hits: set[int] = set()
        ends: list[int] = []
        base64_id = self._base64_id

        def on_match(id_: int, start: int, end: int, flags: int, context: Any) -> None:
            if id_ == base64_id:
                ends.append(end)
            else:
                hits.add(id_)

        (self._config if config else self._code).scan(buffer, match_event_handler=on_match)
        percent = self._percent_id in hits
        hits.discard(self._percent_id)
        return Fired(frozenset(hits), base64=bool(ends), percent=percent, base64_ends=tuple(ends))


def _cache_path(expressions: list[bytes], flags: list[int]) -> Path:
    """A file named by everything the compiled database depends on."""
    digest = hashlib.sha256()
    for part in (metadata.version("hyperscan"), platform.machine(), repr(flags)):
        digest.update(part.encode() + b"\0")
    for expression in expressions:
        digest.update(expression + b"\0")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keyguard" / f"hyperscan-{digest.hexdigest()[:32]}.db"


def _load_cached(expressions: list[bytes], flags: list[int]) -> Any:
    """A database compiled by an earlier run (compiling takes ~0.5 s, loading ~0.1 ms)."""
    import hyperscan  # noqa: PLC0415 - optional dependency, loaded only when chosen

    try:
        database = hyperscan.loadb(
            _cache_path(expressions, flags).read_bytes(), hyperscan.HS_MODE_BLOCK
        )
        database.scratch = hyperscan.Scratch(database)
    except (OSError, hyperscan.error):
        return None  # absent, unreadable or built for another CPU: compile instead
    return database


def _store_cached(expressions: list[bytes], flags: list[int], database: Any) -> None:
    import hyperscan  # noqa: PLC0415 - optional dependency, loaded only when chosen

    path = _cache_path(expressions, flags)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(hyperscan.dumpb(database))
        os.replace(partial, path)  # atomic: concurrent workers never read half a file
    except OSError:
        pass  # a read-only home only costs the compile next time


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401, PLC0415 - probing the optional dependency
    except ImportError:
        return False
    return True


def build_engine(rules: Sequence[Rule], name: EngineName = "auto") -> Engine:
    """Hyperscan when importable (or demanded), the pure-Python engine otherwise."""
    if name == "python" or (name == "auto" and not hyperscan_available()):
        return RegexEngine(rules)
    if not hyperscan_available():
        raise ConfigurationError("hyperscan is not installed", code="hyperscan_missing")
    return HyperscanEngine(rules)


class Scanner:
    """Rules plus an engine: scans one buffer at a time."""

    def __init__(self, rules: Sequence[Rule], engine: Engine, check: CheckFn | None = None) -> None:
        self.rules = rules
        self.engine = engine
        self.check = check  # --check: asks the service about our keys, in this process

    def scan(self, buffer: bytes, where: Located) -> Outcome:
        return scan_buffer(self.rules, self.engine.fire, buffer, where, self.check)
