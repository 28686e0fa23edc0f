"""From a buffer and the rules an engine says fired, to findings.

This stage is shared by both engines: an engine only decides which rules (and which
decoders) can match in a buffer; extraction, overlap resolution, precision checks and
pairing happen here, identically for both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from keyguard.scanner import precision
from keyguard.scanner.decoding import Decoded, base64_candidates, is_config, percent_candidates
from keyguard.scanner.findings import Finding, fingerprint, redact, severity_of
from keyguard.scanner.rules import Rule


@dataclass(frozen=True, slots=True)
class Fired:
    """What an engine learnt in its one pass: the rules and decoders worth running."""

    rules: frozenset[int]
    base64: bool
    percent: bool
    # Where base64 candidates end, when the engine knows; None means "look everywhere".
    base64_ends: tuple[int, ...] | None = None


FireFn = Callable[[bytes, bool], Fired]


@dataclass(frozen=True, slots=True)
class Match:
    """A secret found in a buffer; lives only inside the worker that found it."""

    rule_index: int
    start: int
    end: int
    secret: str
    origin: int  # offset reported to the user: the match, or the encoded blob
    encoding: str | None = None


@dataclass(slots=True)
class Located:
    """Where a buffer came from, so that findings can name a path, a commit and a line."""

    path: str
    commit: str | None = None
    author_date: str | None = None
    line_numbers: Sequence[int] | None = None  # buffer line i -> line_numbers[i - 1]


@dataclass(slots=True)
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    suppressed: Counter[str] = field(default_factory=Counter)


def keyword_lines(
    buffer: bytes, lowered: bytes, keywords: Iterable[bytes]
) -> list[tuple[int, int]]:
    """The lines holding a keyword, as (start, end) offsets, in order."""
    spans: set[tuple[int, int]] = set()
    for word in keywords:
        position = lowered.find(word)
        while position >= 0:
            span = _line_bounds(buffer, position)
            spans.add(span)
            position = lowered.find(word, span[1])
    return sorted(spans)


def _regions(rule: Rule, buffer: bytes, lowered: bytes) -> list[tuple[int, int]]:
    # Every match starts on a line holding one of its rule's keywords and runs over at most
    # `window` more lines, so running the pattern over those spans finds exactly what a
    # whole-buffer run does.
    if not rule.keywords:
        return [(0, len(buffer))]
    spans = keyword_lines(buffer, lowered, (w.encode("ascii") for w in rule.keywords))
    if rule.window:
        spans = _merged([(start, _lines_after(buffer, end, rule.window)) for start, end in spans])
    return spans


def _lines_after(buffer: bytes, end: int, lines: int) -> int:
    for _ in range(lines):
        if end >= len(buffer):
            break
        nxt = buffer.find(b"\n", end + 1)
        end = len(buffer) if nxt < 0 else nxt
    return end


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def extract(rules: Sequence[Rule], buffer: bytes, fired: Iterable[int]) -> list[Match]:
    """Every match of every fired rule, in rule priority order."""
    matches: list[Match] = []
    selected = sorted(fired)
    lowered = buffer.lower() if selected else b""
    for index in selected:
        compiled, probe = rules[index].compiled, rules[index].compiled_probe
        for start, end in _regions(rules[index], buffer, lowered):
            if probe is not None and probe.search(buffer, start, end) is None:
                continue  # the provider is named, but no value of its shape is near
            for found in compiled.finditer(buffer, start, end):
                begin, finish = found.span("secret")
                secret = found.group("secret").decode("ascii", "replace")
                matches.append(Match(index, begin, finish, secret, begin))
    return matches


def resolve_overlaps(matches: list[Match]) -> list[Match]:
    """An earlier (more specific) rule wins a span; `generic` never doubles a known key."""
    kept: list[Match] = []
    for match in sorted(matches, key=lambda m: (m.rule_index, m.start)):
        if not any(m.start < match.end and match.start < m.end for m in kept):
            kept.append(match)
    return kept


def _line_bounds(buffer: bytes, offset: int) -> tuple[int, int]:
    start = buffer.rfind(b"\n", 0, offset) + 1
    end = buffer.find(b"\n", offset)
    return start, len(buffer) if end < 0 else end


def _window(buffer: bytes, offset: int, lines: int) -> tuple[int, int]:
    start, end = _line_bounds(buffer, offset)
    for _ in range(lines):
        start = buffer.rfind(b"\n", 0, max(start - 1, 0)) + 1
        nxt = buffer.find(b"\n", end + 1)
        end = len(buffer) if nxt < 0 else nxt
    return start, end


def _paired(rule: Rule, buffer: bytes, match: Match) -> bool:
    """The other half of a credential pair is within the rule's window of lines."""
    if rule.compiled_pair is None:
        return True
    lo, hi = _window(buffer, match.start, rule.pair_window)
    for other in rule.compiled_pair.finditer(buffer, lo, hi):
        if other.end() <= match.start or other.start() >= match.end:
            return True
    return False


def _rejection(rule: Rule, buffer: bytes, match: Match, where: Located) -> str | None:
    line_start, line_end = _line_bounds(buffer, match.origin)
    line = buffer[line_start:line_end]
    if precision.allowed_inline(line):
        return "allow-comment"
    local = buffer[max(match.origin - precision.LOCAL_CONTEXT, line_start) : match.origin]
    # On a generated line (a bundle) only the text next to the value names it.
    named = local if len(line) > precision.MINIFIED_LINE else line
    if rule.compiled_deny is not None and rule.compiled_deny.search(named):
        return "not-a-secret-name"
    reason = precision.noise_reason(rule, where.path, line, local)
    reason = reason or precision.quality_reason(rule, match.secret)
    if reason is None and match.encoding is None and not _paired(rule, buffer, match):
        reason = "unpaired"
    return reason


# Called in the worker with one of our keys and its finding (--check, --report-to); what it
# returns becomes the finding's `check`.
CheckFn = Callable[[str, Finding], str | None]


def _finding(
    rule: Rule, buffer: bytes, match: Match, where: Located, check: CheckFn | None
) -> Finding:
    line_start, _ = _line_bounds(buffer, match.origin)
    line = buffer.count(b"\n", 0, match.origin) + 1
    if where.line_numbers is not None:
        line = where.line_numbers[line - 1]
    column = len(buffer[line_start : match.origin].decode("utf-8", "replace")) + 1
    checksum_ok = rule.checksum(match.secret) if rule.checksum else None
    finding = Finding(
        path=where.path,
        line=line,
        column=column,
        rule=rule.id,
        provider=rule.provider,
        commit=where.commit,
        fingerprint=fingerprint(match.secret),
        redacted=redact(match.secret, rule.visible_prefix),
        checksum_valid=checksum_ok,
        severity=severity_of(rule, checksum_ok),
        confidence=rule.confidence,
        author_date=where.author_date,
        encoding=match.encoding,
    )
    if check is None or not checksum_ok:
        # Only a key whose checksum holds can be one of ours; the rest is never sent anywhere.
        return finding
    return replace(finding, check=check(match.secret, finding))


def decoded_matches(rules: Sequence[Rule], decoded: Iterable[Decoded], fire: FireFn) -> list[Match]:
    """Matches inside decoded blobs, placed at the blob; decoded text is not decoded again.

    A blob's text starts with the lines before it (`blob.prefix` bytes), so that a key
    name or a Secret's name gives context to what it decodes to; only matches in the
    decoded part count, and a pair's other half is looked for in that text.
    """
    found: list[Match] = []
    for blob in decoded:
        inner = resolve_overlaps(extract(rules, blob.text, fire(blob.text, False).rules))
        found.extend(
            Match(m.rule_index, m.start, m.end, m.secret, blob.offset, blob.encoding)
            for m in inner
            if m.end > blob.prefix and _paired(rules[m.rule_index], blob.text, m)
        )
    return found


def _outside_decoded(
    rules: Sequence[Rule], plain: list[Match], decoded: list[Match], blobs: list[Decoded]
) -> list[Match]:
    """A blob that decodes to a known key is reported once, as that key, not as `generic`."""
    spans = [
        (b.offset, b.offset + b.length) for b in blobs if any(m.origin == b.offset for m in decoded)
    ]
    return [
        m
        for m in plain
        if rules[m.rule_index].prefixed or not any(lo <= m.start < hi for lo, hi in spans)
    ]


def report(
    rules: Sequence[Rule],
    buffer: bytes,
    matches: list[Match],
    where: Located,
    check: CheckFn | None = None,
) -> Outcome:
    """Apply precision checks and turn surviving matches into findings."""
    outcome = Outcome()
    seen: set[tuple[int, str]] = set()
    for match in matches:
        rule = rules[match.rule_index]
        key = (match.rule_index, match.secret)
        if match.encoding is not None and key in seen:
            continue  # already reported in its plain form
        reason = _rejection(rule, buffer, match, where)
        if reason is not None:
            outcome.suppressed[reason] += 1
            continue
        seen.add(key)
        outcome.findings.append(_finding(rule, buffer, match, where, check))
    return outcome


def _lines_of(buffer: bytes, ends: tuple[int, ...] | None) -> list[tuple[int, int]] | None:
    if ends is None:
        return None
    # A reported end is one past the terminator; the candidate is on the terminator's line.
    return sorted({_line_bounds(buffer, max(end - 1, 0)) for end in ends})


def scan_buffer(
    rules: Sequence[Rule],
    fire: FireFn,
    buffer: bytes,
    where: Located,
    check: CheckFn | None = None,
) -> Outcome:
    """The whole pipeline for one buffer."""
    config = is_config(where.path)
    fired = fire(buffer, config)
    if not (fired.rules or fired.base64 or fired.percent):
        return Outcome()  # the common case: nothing can match, nothing to extract
    plain = resolve_overlaps(extract(rules, buffer, fired.rules))
    blobs: list[Decoded] = []
    if fired.base64:
        lines = _lines_of(buffer, fired.base64_ends)
        blobs.extend(base64_candidates(buffer, lines, config=config))
    if fired.percent:
        blobs.extend(percent_candidates(buffer))
    decoded = decoded_matches(rules, blobs, fire) if blobs else []
    if decoded:
        plain = _outside_decoded(rules, plain, decoded, blobs)
    return report(rules, buffer, plain + decoded, where, check)
