"""`keyguard monitor replay`: the detection rules offline, over recorded usage events.

Starts with no history, like a detector on a fresh database; writes one alert per line
(PRODUCT.md schema) and a summary on stderr. A bad line stops the replay with one line
naming it and exit 2; never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated

import typer

from keyguard.cli.output import EXIT_USAGE, errors_as_exit, fail, stderr
from keyguard.monitoring import SEVERITIES, ReplaySummary, encode_alert, replay

app = typer.Typer(help="Usage monitoring: detection rules over usage events.", no_args_is_help=True)


@app.command("replay")
def replay_command(
    events: Annotated[
        str, typer.Argument(help="Usage events, one JSON object a line; - for stdin.")
    ],
    out: Annotated[
        str | None, typer.Option("--out", help="Where alerts go (JSON lines); default stdout.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The summary on stderr as one JSON object.")
    ] = False,
) -> None:
    """Run the detection rules over EVENTS (in time order) and write the alerts they raise.

    The alerts are JSON lines whatever the flag; `--json` makes the summary machine-readable."""
    with ExitStack() as stack:
        source = _open(stack, events, "rb", sys.stdin.buffer)
        sink = _open(stack, out or "-", "wb", sys.stdout.buffer)
        write = sink.write
        started = time.perf_counter()
        with errors_as_exit():
            summary = replay(_lines(source), lambda alert: write(encode_alert(alert)))
        sink.flush()
    seconds = time.perf_counter() - started
    if as_json:
        _print_summary_json(summary, seconds)
    else:
        _print_summary(summary, seconds)


def _open(stack: ExitStack, name: str, mode: str, standard: IO[bytes]) -> IO[bytes]:
    if name == "-":
        return standard
    try:
        return stack.enter_context(Path(name).open(mode))
    except OSError as error:
        fail(f"cannot open {name}: {error.strerror}", EXIT_USAGE)


def _lines(source: IO[bytes]) -> Iterator[bytes]:
    try:
        yield from source
    except OSError as error:
        fail(f"cannot read the events: {error.strerror}", EXIT_USAGE)


def _print_summary(summary: ReplaySummary, seconds: float) -> None:
    rate = summary.events / seconds if seconds > 0 else 0.0
    stderr.print(
        f"{summary.events} events, {summary.alerts} alerts in {seconds:.2f} s "
        f"({rate:,.0f} events/s)",
        markup=False,
    )
    severities = [f"{s} {summary.by_severity[s]}" for s in SEVERITIES if summary.by_severity[s]]
    if severities:
        stderr.print("by severity: " + ", ".join(severities), markup=False)
    for rule, count in sorted(summary.by_rule.items(), key=lambda item: (-item[1], item[0])):
        stderr.print(f"  {rule:<24} {count}", markup=False)


def _print_summary_json(summary: ReplaySummary, seconds: float) -> None:
    rate = summary.events / seconds if seconds > 0 else 0.0
    document = {
        "events": summary.events,
        "alerts": summary.alerts,
        "seconds": round(seconds, 3),
        "events_per_second": round(rate),
        "by_severity": {s: summary.by_severity[s] for s in SEVERITIES if summary.by_severity[s]},
        "by_rule": dict(sorted(summary.by_rule.items())),
    }
    sys.stderr.write(json.dumps(document) + "\n")
