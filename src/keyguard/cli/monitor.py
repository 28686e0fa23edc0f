"""`keyguard monitor replay`: the detection rules offline, over recorded usage events;
`keyguard monitor policy show|set TENANT`: the response policy; `keyguard monitor detect`:
the online detector alone.

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

from keyguard.cli.context import state
from keyguard.cli.output import EXIT_USAGE, errors_as_exit, fail, print_json, stderr, stdout
from keyguard.monitoring import (
    POLL_SECONDS,
    SEVERITIES,
    Detector,
    ReplaySummary,
    encode_alert,
    replay,
)

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


policy_app = typer.Typer(
    help="A tenant's response policy (severity → action).", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")
Tenant = Annotated[str, typer.Argument(help="The tenant's id.")]


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    tenant: Tenant,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a tenant's policy (the default, monitor-only, when none was set)."""
    from keyguard.monitoring import load_policy

    runtime = state(ctx).runtime
    with runtime.sessions() as session:
        policy = load_policy(session, tenant)
    _print_policy(policy.to_json(), json_output)


@policy_app.command("set")
def policy_set(
    ctx: typer.Context,
    tenant: Tenant,
    mode: Annotated[
        str | None, typer.Option(help="monitor (store and notify only) or enforce.")
    ] = None,
    severity: Annotated[
        list[str] | None,
        typer.Option("--severity", help="SEVERITY=ACTION (notify, throttle, quarantine, revoke)."),
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="RULE=ACTION, over its severity's.")
    ] = None,
    throttle_rate: Annotated[
        int | None, typer.Option(help="A throttled key's requests per minute.")
    ] = None,
    throttle_for: Annotated[
        str | None, typer.Option(help="How long a throttle lasts: 30m, 1h, 1d…")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Change a tenant's policy; what is not given stays as it was. Audited."""
    from keyguard.lifecycle import OPERATOR, get_tenant
    from keyguard.monitoring import load_policy, save_policy, updated
    from keyguard.policy import parse_duration

    runtime = state(ctx).runtime
    with errors_as_exit(), runtime.sessions.begin() as session:
        get_tenant(session, tenant)  # an unknown tenant is refused, not created
        current = load_policy(session, tenant)
        seconds = (
            int(parse_duration(throttle_for, field="throttle_for").total_seconds())
            if throttle_for
            else None
        )
        policy = updated(
            current,
            mode=mode,
            by_severity={**current.by_severity, **_pairs(severity or [], "--severity")},
            by_rule={**current.by_rule, **_pairs(rule or [], "--rule")},
            throttle_per_minute=throttle_rate,
            throttle_seconds=seconds,
        )
        save_policy(session, runtime.clock(), OPERATOR.id, tenant, policy)
    _print_policy(policy.to_json(), json_output)


def _pairs(given: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in given:
        name, sep, action = item.partition("=")
        if not sep or not name or not action:
            fail(f"{option} takes NAME=ACTION, not {item!r}", EXIT_USAGE)
        pairs[name.strip()] = action.strip()
    return pairs


def _print_policy(data: dict[str, object], json_output: bool) -> None:
    if json_output:
        print_json(data)
        return
    for name, value in data.items():
        stdout.print(f"{name}: {value}", markup=False)


@app.command("detect")
def detect(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="Wait for the lease, process what is stored, then exit."),
    ] = False,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Events per transaction.")] = 2000,
    json_output: Annotated[
        bool, typer.Option("--json", help="With --once: the count as JSON.")
    ] = False,
) -> None:
    """Run the online detector alone (the worker runs it too); until SIGINT or SIGTERM."""
    import dataclasses

    runtime = state(ctx).runtime
    detector = runtime.detector
    detector.config = dataclasses.replace(detector.config, batch=batch)
    with errors_as_exit():
        if once:
            try:
                fed = _drain_when_leading(detector, runtime.settings.detector_lease_seconds)
            finally:
                detector.release()
            if json_output:
                print_json({"processed": fed})
            else:
                stdout.print(f"processed {fed} events", markup=False)
            return
        _run_until_signalled(detector)


def _drain_when_leading(detector: Detector, lease_seconds: float) -> int:
    deadline = time.monotonic() + 2 * lease_seconds + 1
    while True:
        fed = detector.poll()
        if fed or detector.leading or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)  # another detector's lease has yet to run out
    return fed + detector.drain()


def _run_until_signalled(detector: Detector) -> None:
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stdout.print("detector running", markup=False)
    try:
        while not stop.is_set():
            if detector.catch_up() < detector.config.batch:
                stop.wait(POLL_SECONDS)
    finally:
        detector.release()
