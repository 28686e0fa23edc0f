"""Online detector lag under load, and time to an alert (run by hand; results go to
docs/benchmarks.md; issue 11).

    .venv/bin/python bench/detector_lag.py [--rate 1000] [--seconds 20] [--trials 3] [--inject]
                                           [--keys 4] [--connections 64]

On an embedded SQLite database (the default install), creates a tenant with `--keys` live
keys (`keys:read`; at least one per trial) and an `alerts:read` key, and stores seven days of
usage for each key (one request every 10 minutes from 203.0.113.0/24, the same client) in
`usage_events`: a stable history, so that the new-network rule can fire. Then starts ONE
`keyguard serve` (the worker inside it, so the online detector runs there; its first start
is warmed on that week) trusting X-Forwarded-For from 127.0.0.1, and:

- a load process (asyncio httpx) sends `GET /v1/keys/{id}` at a steady `--rate` for
  `--seconds`, round robin over the keys, each from the baseline network (X-Forwarded-For);
- this process samples `GET /metrics` every 0.5 s while the load runs for
  `keyguard_detector_lag_seconds` (from the first scrape after the detector processed a live
  event: before, it is the lag of the stored history's last event) and
  `keyguard_detector_events_total` (the events/s the detector processed during the load);
- over the second half of the load, each trial uses one more key once from a network and
  client it never used (X-Forwarded-For 198.51.100.7 and other fresh /16s, `curl/8.5.0`): a
  compromise, `new_network`. Its time runs from just before that request is sent to the
  moment `GET /v1/alerts?key_id=…&rule=new_network` first shows the alert, polled every
  0.1 s, at most 30 s.

Prints machine, date and command, the achieved request rate, the detector's events/s, lag
p50/p95/max, each trial's time to alert (goal: ≤ 5 s) and the alerts stored during the run
(`keyguard_alerts_total`: the loaded keys also raise volume_spike); exits 1 if an alert did not
arrive within 30 s. Loopback only; the keys live in a throwaway directory and are never
printed. Bounded: the load stops after `--seconds`, each trial after 30 s.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/…` puts bench/ first on sys.path, where bench/http.py would shadow the
# standard library's `http` (and bench/secret_store.py its `secrets`). Take bench/ off it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
HISTORY = timedelta(days=7)
HISTORY_EVERY = timedelta(minutes=10)
BASELINE = "203.0.113.{}"  # the keys' usual network (/24) and provider (203.0/16)
ATTACKERS = ["198.51.100.7", "192.0.2.66", "100.77.3.9", "185.220.101.4", "45.33.32.156"]
ATTACKER_CLIENT = "curl/8.5.0"
ALERT_BOUND = 30.0
SAMPLE_EVERY = 0.5
USER_AGENT = f"python-httpx/{httpx.__version__}"  # what the load sends, and the history


# -- the data -----------------------------------------------------------------------------


def prepare(tmp: Path, keys: int) -> tuple[str, Path]:
    """Schema, tenant, keys, a week of history for each; returns the database URL and a file
    (0600) with the keys as JSON: [{"id", "key"}], and the reader key last."""
    from sqlalchemy import insert

    from keyguard.lifecycle.service import KeySpec
    from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
    from keyguard.lifecycle.views import OPERATOR
    from keyguard.runtime import Runtime
    from keyguard.settings import Settings
    from keyguard.storage import migrate
    from keyguard.usage import UsageEvent
    from keyguard.usage.records import UsageRecord

    database_url = f"sqlite:///{tmp / 'keyguard.db'}"
    runtime = Runtime.build(
        Settings(data_dir=tmp / "data", database_url=database_url, pepper=PEPPER)
    )
    try:
        migrate.upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
        spec = KeySpec(DEFAULT_TENANT, "live", ["keys:read"])
        created = [runtime.keys.create(OPERATOR, spec) for _ in range(keys)]
        reader = runtime.keys.create(OPERATOR, KeySpec(DEFAULT_TENANT, "live", ["alerts:read"]))
        end = runtime.clock() - timedelta(minutes=5)
        steps = int(HISTORY / HISTORY_EVERY)
        with runtime.sessions.begin() as session:
            for made in created:
                rows = [
                    UsageRecord(
                        ts=end - HISTORY + n * HISTORY_EVERY,
                        method="GET",
                        path=f"/v1/keys/{made.view.id}",
                        outcome="ok",
                        status=200,
                        key_id=made.view.id,
                        tenant_id=DEFAULT_TENANT,
                        env="live",
                        ip=BASELINE.format(1 + n % 8),
                        user_agent=USER_AGENT,
                        scope="keys:read",
                    ).columns()
                    for n in range(steps + 1)
                ]
                session.execute(insert(UsageEvent), rows)
    finally:
        runtime.close()
    key_file = tmp / "keys.json"
    key_file.touch(mode=0o600)
    entries = [{"id": c.view.id, "key": c.key.reveal()} for c in [*created, reader]]
    key_file.write_text(json.dumps(entries))
    return database_url, key_file


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(tmp: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(tmp / "data"),
        "KEYGUARD_DATABASE_URL": database_url,
        "KEYGUARD_PEPPER": PEPPER,
        "KEYGUARD_MAIL_WORKER_IN_SERVE": "true",  # the default, said: the detector runs here
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyguard", "serve", "--port", str(port),
             "--behind-proxy", "127.0.0.1/32"],
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"keyguard serve did not start:\n{log.read_text()[-2000:]}")


# -- the load process ---------------------------------------------------------------------


async def _steady_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Request n at start + n/rate (open loop, at most `connections` in flight: a request
    whose slot comes while all are busy goes out late), until `seconds` have passed; a slot
    still unsent then is dropped (the achieved rate says so)."""
    base, keys, rate = spec["base"], spec["keys"], spec["rate"]
    seconds, connections = spec["seconds"], spec["connections"]
    counts = {"ok": 0, "non_2xx": 0, "errors": 0}
    next_slot = 0
    print("started", flush=True)  # the parent's clock for the trials and samples starts here
    start = time.perf_counter()
    deadline = start + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_slot
        while True:
            n, next_slot = next_slot, next_slot + 1
            due = start + n / rate
            if due >= deadline or time.perf_counter() >= deadline:
                return  # a server behind schedule sees fewer requests, not a longer run
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            entry = keys[n % len(keys)]
            headers = {
                "Authorization": f"Bearer {entry['key']}",
                "X-Forwarded-For": BASELINE.format(1 + n % 8),
            }
            try:
                answer = await client.get(f"{base}/v1/keys/{entry['id']}", headers=headers)
            except httpx.HTTPError:
                counts["errors"] += 1
                continue
            counts["ok" if answer.status_code == 200 else "non_2xx"] += 1

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return {**counts, "elapsed": time.perf_counter() - start}


def inject_stream(
    database_url: str, entries: list[dict[str, str]], rate: float, seconds: float
) -> dict[str, Any]:
    """`--inject`: the usage events of `rate` requests/s written straight into the stream,
    as several API nodes sharing the database would (a batch every 0.1 s, each key from its
    usual networks): the detector's input at a rate one process on two cores cannot serve."""
    from sqlalchemy import create_engine, insert

    from keyguard.usage import UsageEvent
    from keyguard.usage.records import UsageRecord

    engine = create_engine(database_url)
    written, n = 0, 0
    print("started", flush=True)
    start = time.perf_counter()
    try:
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate) - written
            now = datetime.now(UTC)
            rows = []
            for _ in range(due):
                entry, n = entries[n % len(entries)], n + 1
                rows.append(UsageRecord(
                    ts=now, method="GET", path=f"/v1/keys/{entry['id']}", outcome="ok",
                    status=200, key_id=entry["id"], tenant_id="default", env="live",
                    ip=BASELINE.format(1 + n % 8), user_agent=USER_AGENT, scope="keys:read",
                ).columns())  # fmt: skip
            if rows:
                with engine.begin() as connection:
                    connection.execute(insert(UsageEvent), rows)
                written += len(rows)
            time.sleep(0.1)
    finally:
        engine.dispose()
    return {"ok": written, "non_2xx": 0, "errors": 0, "elapsed": time.perf_counter() - start}


def inject_process() -> None:
    spec = json.loads(sys.stdin.read())
    entries = json.loads(Path(spec["key_file"]).read_text())[:-1]
    result = inject_stream(spec["database_url"], entries, spec["rate"], spec["seconds"])
    print(json.dumps(result), flush=True)


def load_process() -> None:
    spec = json.loads(sys.stdin.read())
    spec["keys"] = json.loads(Path(spec.pop("key_file")).read_text())[:-1]
    print(json.dumps(asyncio.run(_steady_load(spec))), flush=True)


# -- sampling and trials ------------------------------------------------------------------

_LAG = re.compile(r"^keyguard_detector_lag_seconds ([0-9.eE+-]+)$", re.MULTILINE)
_EVENTS = re.compile(r"^keyguard_detector_events_total ([0-9.eE+-]+)$", re.MULTILINE)
_ALERTS = re.compile(r"^keyguard_alerts_total\{(.*)\} ([0-9.eE+-]+)$", re.MULTILINE)


@dataclass
class Samples:
    lag: list[float] = field(default_factory=list)
    events: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, total)
    failures: int = 0


def sample(base: str, samples: Samples, window: tuple[float, float], stop: threading.Event) -> None:
    """Scrape /metrics every SAMPLE_EVERY while the load runs (`window`, monotonic); lag
    samples start once the detector processed a live event (before, the lag is that of the
    stored history's last event)."""
    start, end = window
    live = False
    with httpx.Client(timeout=5) as client:
        first = _scrape(client, base)
        floor = first[1] if first else 0.0
        samples.events.append((time.monotonic(), floor))  # events/s: over the whole load
        while not stop.wait(SAMPLE_EVERY):
            now = time.monotonic()
            if now > end:
                return
            scraped = _scrape(client, base)
            if scraped is None:
                samples.failures += 1
                continue
            lag, events = scraped
            samples.events.append((now, events))
            live = live or events > floor
            if live and lag is not None and now >= start:
                samples.lag.append(lag)


def _scrape(client: httpx.Client, base: str) -> tuple[float | None, float] | None:
    """(lag, events processed) from /metrics; None when the scrape failed."""
    try:
        text = client.get(f"{base}/metrics").text
    except httpx.HTTPError:
        return None
    lag, events = _LAG.search(text), _EVENTS.search(text)
    return (float(lag.group(1)) if lag else None), (float(events.group(1)) if events else 0.0)


@dataclass
class Trial:
    key_index: int
    ip: str
    at: float  # seconds into the load
    under_load: bool
    seconds: float | None  # to the alert; None: none within ALERT_BOUND
    severity: str | None = None


def trial(
    base: str, entry: dict[str, str], reader: str, ip: str
) -> tuple[float | None, str | None]:
    """One compromise: the key from a network and client it never used; seconds until the
    alert is listed (None: not within ALERT_BOUND) and its severity."""
    use = {"Authorization": f"Bearer {entry['key']}", "X-Forwarded-For": ip,
           "User-Agent": ATTACKER_CLIENT}  # fmt: skip
    look = {"Authorization": f"Bearer {reader}"}
    query = {"key_id": entry["id"], "rule": "new_network"}
    with httpx.Client(base_url=base, timeout=10) as client:
        sent = time.monotonic()
        answer = client.get(f"/v1/keys/{entry['id']}", headers=use)
        if answer.status_code != 200:
            raise SystemExit(f"the compromise request failed: {answer.status_code}")
        while time.monotonic() - sent < ALERT_BOUND:
            page = client.get("/v1/alerts", params=query, headers=look)
            if page.status_code != 200:
                raise SystemExit(f"GET /v1/alerts failed: {page.status_code} {page.text[:200]}")
            alerts = page.json()["alerts"]
            if alerts:
                return time.monotonic() - sent, str(alerts[0]["severity"])
            time.sleep(0.1)
    return None, None


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="kg-bench-detector-") as name:
        tmp = Path(name)
        keys = max(args.keys, args.trials)
        database_url, key_file = prepare(tmp, keys)
        entries = json.loads(key_file.read_text())
        reader = entries[-1]["key"]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = serve(tmp, database_url, port)
        try:
            return measure(
                args, base=base, key_file=key_file, entries=entries[:-1], reader=reader, keys=keys,
                database_url=database_url,
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)


def measure(
    args: argparse.Namespace,
    *,
    base: str,
    key_file: Path,
    entries: list[dict[str, str]],
    reader: str,
    keys: int,
    database_url: str,
) -> int:
    spec = {"base": base, "key_file": str(key_file), "rate": args.rate,
            "seconds": args.seconds, "connections": args.connections,
            "database_url": database_url}  # fmt: skip
    load = subprocess.Popen(
        [sys.executable, __file__, "--inject-process" if args.inject else "--load-process"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert load.stdin is not None
    assert load.stdout is not None
    load.stdin.write(json.dumps(spec))
    load.stdin.close()
    if load.stdout.readline().strip() != "started":
        raise SystemExit("the load process did not start")
    started = time.monotonic()
    samples, stop = Samples(), threading.Event()
    window = (started, started + args.seconds)
    sampler = threading.Thread(target=sample, args=(base, samples, window, stop))
    sampler.start()
    trials: list[Trial] = []
    try:
        for n in range(args.trials):  # over the second half of the load
            at = args.seconds * (0.5 + 0.4 * (n + 1) / args.trials)
            time.sleep(max(0.0, started + at - time.monotonic()))
            fired = time.monotonic() - started
            ip = ATTACKERS[n % len(ATTACKERS)]
            seconds, severity = trial(base, entries[n], reader, ip)
            trials.append(Trial(n, ip, fired, fired < args.seconds, seconds, severity))
        result = json.loads(load.stdout.read() or "{}")
        load.wait(timeout=args.seconds + 60)
        raised = _ALERTS.findall(httpx.get(f"{base}/metrics", timeout=10).text)
    finally:
        stop.set()
        sampler.join()
        load.kill()
    report(args, keys, result, samples, trials)
    print(
        "alerts stored during the run: "
        + (", ".join(f"{{{labels}}} {float(n):.0f}" for labels, n in raised) or "none")
    )
    return 0 if all(t.seconds is not None for t in trials) else 1


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def report(
    args: argparse.Namespace,
    keys: int,
    load: dict[str, Any],
    samples: Samples,
    trials: list[Trial],
) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"load average before/after: {args.load_before} / {os.getloadavg()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: {' '.join(sys.argv)} (embedded SQLite, one `keyguard serve` with the "
          f"worker, {keys} keys, {args.connections} connections)")  # fmt: skip
    if load:
        sent = load["ok"] + load["non_2xx"] + load["errors"]
        what = "usage events written into the stream" if args.inject else "requests"
        print(f"load ({what}): target {args.rate:,.0f}/s for {args.seconds:.0f} s; achieved "
              f"{sent / load['elapsed']:,.0f}/s ({load['ok']} ok, {load['non_2xx']} "
              f"non-2xx, {load['errors']} errors)")  # fmt: skip
    if len(samples.events) >= 2:
        (t0, e0), (t1, e1) = samples.events[0], samples.events[-1]
        print(f"detector: {(e1 - e0) / (t1 - t0):,.0f} events/s processed during the load")
    if samples.lag:
        lag = samples.lag
        print(f"keyguard_detector_lag_seconds over {len(lag)} samples (every {SAMPLE_EVERY} s): "
              f"p50 {statistics.median(lag):.2f} s, p95 {_quantile(lag, 0.95):.2f} s, "
              f"max {max(lag):.2f} s")  # fmt: skip
    else:
        print("keyguard_detector_lag_seconds: no samples")
    if samples.failures:
        print(f"metrics scrapes failed: {samples.failures}")
    for t in trials:
        when = f"at {t.at:.1f} s" + ("" if t.under_load else " (after the load)")
        if t.seconds is None:
            print(f"trial {t.key_index + 1}: key {t.key_index + 1} from {t.ip} {when}: "
                  f"NO alert within {ALERT_BOUND:.0f} s")  # fmt: skip
        else:
            print(f"trial {t.key_index + 1}: key {t.key_index + 1} from {t.ip} {when}: "
                  f"new_network ({t.severity}) listed after {t.seconds:.2f} s")  # fmt: skip
    times = [t.seconds for t in trials if t.seconds is not None]
    if times:
        verdict = "met" if len(times) == len(trials) and max(times) <= 5.0 else "MISSED"
        print(f"time to alert: max {max(times):.2f} s over {len(trials)} trials "
              f"(goal <= 5 s: {verdict})")  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--load-process"]:
        load_process()
        return
    if sys.argv[1:2] == ["--inject-process"]:
        inject_process()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="target requests/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    parser.add_argument("--trials", type=int, default=3, help="compromises, one key each")
    parser.add_argument("--keys", type=int, default=4, help="keys under load (≥ trials)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--inject", action="store_true",
        help="write the usage events of --rate requests/s straight into the stream (several "
        "API nodes' worth) instead of sending the requests to the one server",
    )  # fmt: skip
    args = parser.parse_args()
    if not (0 < args.rate <= 20_000 and 0 < args.seconds <= 600 and 1 <= args.trials <= 20):
        parser.error("--rate in (0, 20000], --seconds in (0, 600], --trials in [1, 20]")
    if not 1 <= args.keys <= 1000 or not 1 <= args.connections <= 1024:
        parser.error("--keys in [1, 1000], --connections in [1, 1024]")
    args.load_before = os.getloadavg()
    sys.exit(run(args))


if __name__ == "__main__":
    main()
