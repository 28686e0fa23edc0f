"""Text and JSON reports, and the progress bar of long scans.

Text is for people: in a terminal, a table of findings and a summary table (Rich); elsewhere
(pre-commit, CI logs, pipes) one `path:line:column: rule (provider) …` line per finding, never
cut to a width, so that a blocked commit always says which file to fix. JSON is for scripts:
`{"findings": [...], "stats": {...}}` with the finding schema of PRODUCT.md. Neither ever
holds a whole secret: findings carry only a redacted form and a fingerprint.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from keyguard.scanner.findings import Finding
from keyguard.scanner.service import ScanResult, ScanStats

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}


def stats_dict(stats: ScanStats) -> dict[str, Any]:
    return {
        "files": stats.files,
        "bytes": stats.bytes,
        "skipped": dict(stats.skipped),
        "suppressed": dict(stats.suppressed),
        "baselined": stats.baselined,
        "engine": stats.engine,
        "seconds": round(stats.seconds, 3),
    }


def to_json(result: ScanResult) -> str:
    document = {
        "findings": [finding.to_dict() for finding in result.findings],
        "stats": stats_dict(result.stats),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _where(finding: Finding) -> str:
    place = f"{finding.path}:{finding.line}:{finding.column}"
    if finding.commit:
        place += f" @ {finding.commit[:12]}"
        if finding.author_date:
            place += f" ({finding.author_date})"
        if finding.at_head is not None:
            place += " still at HEAD" if finding.at_head else " history only"
    return place


def findings_table(findings: list[Finding]) -> Table:
    table = Table(title="Secrets found", title_justify="left")
    for column in ("severity", "location", "rule", "secret", "checksum"):
        # A location is folded onto more lines when the terminal is narrow, never cut.
        table.add_column(column, overflow="fold", min_width=20 if column == "location" else None)
    for f in findings:
        checksum = "" if f.checksum_valid is None else ("valid" if f.checksum_valid else "FAILED")
        if f.check is not None:
            checksum += f", {f.check}"
        severity = f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]"
        secret = f.redacted + (f" ({f.encoding})" if f.encoding else "")
        table.add_row(severity, _where(f), f.rule, secret, checksum)
    return table


def summary_table(result: ScanResult) -> Table:
    stats = result.stats
    table = Table(title="Summary", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rate = stats.bytes / stats.seconds / 1e6 if stats.seconds > 0 else 0.0
    table.add_row("buffers scanned", str(stats.files))
    table.add_row("megabytes scanned", f"{stats.bytes / 1e6:.1f} ({rate:.1f} MB/s, {stats.engine})")
    for reason, count in sorted(stats.skipped.items()):
        table.add_row(f"skipped: {reason}", str(count))
    for reason, count in sorted(stats.suppressed.items()):
        table.add_row(f"not reported: {reason}", str(count))
    table.add_row("accepted by baseline", str(stats.baselined))
    for severity in ("high", "medium", "low"):
        count = sum(1 for f in result.findings if f.severity == severity)
        table.add_row(f"findings: {severity}", str(count))
    return table


def finding_line(finding: Finding) -> str:
    """`path:line:column: rule (provider)` and the safe details, as compilers print errors."""
    parts = [
        f"{finding.path}:{finding.line}:{finding.column}: {finding.rule} ({finding.provider})",
        f"severity={finding.severity}",
        f"secret={finding.redacted}",
    ]
    if finding.encoding:
        parts.append(f"encoding={finding.encoding}")
    if finding.checksum_valid is not None:
        parts.append(f"checksum={'valid' if finding.checksum_valid else 'failed'}")
    if finding.commit:
        parts.append(f"commit={finding.commit}")
    if finding.author_date:
        parts.append(f"date={finding.author_date}")
    if finding.at_head is not None:
        parts.append("at_head=" + ("yes" if finding.at_head else "no"))
    if finding.check is not None:
        parts.append(f"check={finding.check}")
    return " ".join(parts)


def summary_line(result: ScanResult) -> str:
    stats = result.stats
    counts = {s: sum(1 for f in result.findings if f.severity == s) for s in SEVERITY_STYLE}
    text = (
        f"Summary: {len(result.findings)} finding(s) (high {counts['high']}, medium "
        f"{counts['medium']}, low {counts['low']}) in {stats.files} buffer(s), "
        f"{stats.bytes / 1e6:.1f} MB, engine {stats.engine}"
    )
    hidden = {**{f"skipped {k}": v for k, v in stats.skipped.items()},
              **{f"not reported {k}": v for k, v in stats.suppressed.items()}}  # fmt: skip
    if stats.baselined:
        hidden["baselined"] = stats.baselined
    if hidden:
        text += "; " + ", ".join(f"{k}: {v}" for k, v in sorted(hidden.items()))
    return text


def render_plain(result: ScanResult, console: Console) -> None:
    """Outside a terminal: one unwrapped line per finding, then a one-line summary."""
    for finding in result.findings:
        console.out(finding_line(finding), highlight=False)
    if not result.findings:
        console.out("No secrets found.", highlight=False)
    console.out(summary_line(result), highlight=False)


def render_text(result: ScanResult, console: Console) -> None:
    if not console.is_terminal:
        render_plain(result, console)
        return
    if result.findings:
        console.print(findings_table(result.findings))
    else:
        console.print("No secrets found.")
    console.print(summary_table(result))


class RichProgress:
    """A transient bar on stderr; silent when stderr is not a terminal."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("scanning"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task: TaskID | None = None

    def start(self, total_bytes: int | None) -> None:
        if self._task is not None:
            return
        self._progress.start()
        self._task = self._progress.add_task("scan", total=total_bytes)

    def advance(self, done_bytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, done_bytes)

    def stop(self) -> None:
        self._progress.stop()
