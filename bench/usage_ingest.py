"""Usage-event ingest benchmark (run by hand; results go to docs/benchmarks.md).

    .venv/bin/python bench/usage_ingest.py --postgres URL [--events 200000] [--batch 1000]
                                           [--method copy|insert|both] [--sqlite]

Queues N usage events in the batched writer (keyguard.usage.writer), as the request path
does, then times `flush()`: the rows go to a fresh PostgreSQL schema migrated to head (so
`usage_events` is partitioned by day, today's partition made ahead), by COPY (the writer's
PostgreSQL path) or by executemany INSERT (what it did before), and to SQLite with --sqlite.
Reported per method: events/s by wall time, and the CPU time per event of this process and
of the PostgreSQL backends that served it (read from /proc: on a shared machine those do not
depend on what else runs). "On one core" is the sum of the two CPU times.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import os
import platform
import random
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import create_engine, text

from keyguard.settings import Settings
from keyguard.storage import migrate
from keyguard.usage import UsageRecord
from keyguard.usage.partitions import UsagePartitions
from keyguard.usage.writer import UsageWriter, _PlainInsert

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
APPLICATION = "kg-usage-ingest"


def _records(count: int, now: datetime) -> list[UsageRecord]:
    rng = random.Random(7)
    keys = [f"key_{rng.getrandbits(64):016X}" for _ in range(500)]
    paths = ["/v1/keys", "/v1/mail/send", "/v1/keys/verify", "/v1/contacts"]
    records = []
    for n in range(count):
        extra = {"via": keys[0]} if n % 10 == 0 else None  # a verification's second event
        records.append(
            UsageRecord(
                ts=now - timedelta(microseconds=count - n),
                method="GET",
                path=rng.choice(paths),
                outcome="ok" if n % 50 else "denied_scope",
                status=200,
                key_id=rng.choice(keys),
                tenant_id="default",
                env="live",
                ip=f"203.0.{rng.randrange(256)}.{rng.randrange(256)}",
                user_agent="bench/1.0",
                scope="keys:read",
                request_id=secrets.token_hex(16),
                extra=extra,
            )
        )
    return records


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backends(engine: object) -> list[int]:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        rows = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APPLICATION},
        )
        return [int(pid) for (pid,) in rows]


def _postgres_schema(base: str) -> tuple[str, str]:
    schema = "bench_" + secrets.token_hex(4)
    with create_engine(base).begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    options = quote(f"-csearch_path={schema}")
    return schema, f"{base}{separator}options={options}&application_name={APPLICATION}"


def run_one(url: str, method: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    from keyguard.runtime import Runtime

    settings = Settings(data_dir=work, database_url=url, pepper=PEPPER)
    runtime = Runtime.build(settings)
    try:
        migrate.upgrade(runtime.engine)
        now = datetime.now(UTC)
        UsagePartitions(runtime.sessions).prepare(now)
        records = _records(args.events, now)
        _PlainInsert.use_copy = method == "copy"
        writer = UsageWriter(runtime.sessions, max_batch=args.batch, max_queue=args.events)
        writer.submit(records[0])
        writer.flush()  # connection, compiled statements: not part of the figure
        started_submit = time.perf_counter()
        for record in records[1:]:
            writer.submit(record)
        submit_s = time.perf_counter() - started_submit
        postgres = url.startswith("postgresql")
        backends = _backends(runtime.engine) if postgres else []
        server_before = sum(_cpu_seconds(pid) for pid in backends)
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        written = writer.flush()
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
        server = sum(_cpu_seconds(pid) for pid in backends) - server_before
        assert written == args.events - 1, (written, writer.dropped)
        return {
            "events": written,
            "events_per_s": written / wall,
            "client_cpu_us": cpu / written * 1e6,
            "server_cpu_us": server / written * 1e6,
            "one_core_events_per_s": written / (cpu + server),
            "submit_us": submit_s / written * 1e6,
        }
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("KEYGUARD_TEST_POSTGRES_URL"))
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--method", choices=["copy", "insert", "both"], default="both")
    parser.add_argument("--sqlite", action="store_true", help="also SQLite (multi-row INSERT)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="kg-bench-usage-"))
    runs: list[tuple[str, dict[str, float]]] = []
    methods = ["copy", "insert"] if args.method == "both" else [args.method]
    schemas = []
    if args.postgres:
        for method in methods:
            schema, url = _postgres_schema(args.postgres)
            schemas.append(schema)
            runs.append((f"PostgreSQL, {method}", run_one(url, method, args, work / method)))
    if args.sqlite:
        url = f"sqlite:///{work / 'usage.db'}"
        runs.append(("SQLite, multi-row INSERT", run_one(url, "insert", args, work / "sqlite")))
    for schema in schemas:
        with create_engine(args.postgres).begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"load average before/after: {load_before} / {os.getloadavg()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: {' '.join(sys.argv)} (batch {args.batch})")
    print(
        "| database, method | events | events/s (wall) | writer CPU µs/event "
        "| database CPU µs/event | events/s on one core (CPU) | submit µs/event |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in runs:
        print(
            f"| {name} | {r['events']:,.0f} | {r['events_per_s']:,.0f} | "
            f"{r['client_cpu_us']:.1f} | {r['server_cpu_us']:.1f} | "
            f"{r['one_core_events_per_s']:,.0f} | {r['submit_us']:.2f} |"
        )


if __name__ == "__main__":
    main()
