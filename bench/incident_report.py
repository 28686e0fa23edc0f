"""An incident's investigation report over a key with 1,000,000 usage events (run by hand;
results go to docs/benchmarks.md).

    .venv/bin/python bench/incident_report.py [--events 1000000] [--keep PATH]

On a throwaway SQLite database: one key used for 30 days from two office networks, then
from an attacker's network for its last two days, and refused a few hundred times after
the incident revoked it. The events are written with one executemany per 50,000 rows on
the raw DB-API connection (no ORM), then the report is built (`IncidentReports.build`) and
rendered as JSON, Markdown and HTML; each step is timed. Goal (issue 12): ≤ 10 s for the
report over 1,000,000 events.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/…` puts bench/ first on sys.path, where bench/secret_store.py would shadow the
# standard library's `secrets` (which key generation uses). Take bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert
from sqlalchemy.dialects import sqlite

from keyguard.clock import ManualClock
from keyguard.incidents import OpenRequest, render
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate
from keyguard.usage import UsageEvent

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
CHUNK = 50_000
COLUMNS = (
    "ts",
    "key_id",
    "tenant_id",
    "env",
    "ip",
    "user_agent",
    "method",
    "path",
    "scope",
    "outcome",
    "status",
    "geo",
    "asn",
)
# The statement as the DB-API takes it (qmark parameters), compiled from the table.
INSERT = str(
    insert(UsageEvent.__table__)
    .values({name: bindparam(name) for name in COLUMNS})
    .compile(dialect=sqlite.dialect())
)
ENDPOINTS = [
    ("POST", "/v1/mail/send", "mail:send"),
    ("GET", "/v1/contacts", "contacts:read"),
    ("GET", "/v1/lists", "lists:read"),
]


def _sqlite_time(ts: datetime) -> str:
    """How SQLAlchemy stores a DateTime on SQLite."""
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")


def events(key_id: str, count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    """`count` events in time order: office use, then the attacker's last two days."""
    span = timedelta(days=DAYS).total_seconds()
    attack_from = span - timedelta(days=2).total_seconds()
    step = span / count
    for i in range(count):
        t = i * step
        ts = _sqlite_time(START + timedelta(seconds=t))
        if t >= attack_from and rng.random() < 0.3:
            method, path, scope = ENDPOINTS[rng.randrange(3)]
            yield (
                ts,
                key_id,
                DEFAULT_TENANT,
                "live",
                f"203.0.113.{rng.randrange(1, 255)}",
                "python-requests/2.31",
                method,
                path,
                scope,
                "ok",
                200,
                "NL",
                64500,
            )
            continue
        office = "10.1.2" if rng.random() < 0.7 else "10.9.8"
        yield (
            ts,
            key_id,
            DEFAULT_TENANT,
            "live",
            f"{office}.{rng.randrange(1, 30)}",
            "mailer/4.2",
            "POST",
            "/v1/mail/send",
            "mail:send",
            "ok",
            202,
            "DE",
            64501,
        )


def refused(key_id: str, after: datetime, count: int) -> Iterator[tuple[object, ...]]:
    """The attacker retrying after the revocation."""
    for i in range(count):
        ts = _sqlite_time(after + timedelta(seconds=10 * (i + 1)))
        yield (
            ts,
            key_id,
            DEFAULT_TENANT,
            "live",
            "203.0.113.50",
            "python-requests/2.31",
            "POST",
            "/v1/mail/send",
            None,
            "revoked",
            401,
            "NL",
            64500,
        )


def seed(runtime: Runtime, rows: Iterator[tuple[object, ...]]) -> None:
    connection = runtime.engine.raw_connection()
    try:
        cursor = connection.cursor()
        batch: list[tuple[object, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == CHUNK:
                cursor.executemany(INSERT, batch)
                batch.clear()
        if batch:
            cursor.executemany(INSERT, batch)
        connection.commit()
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        clock = ManualClock(START)
        runtime = Runtime.build(
            Settings(data_dir=Path(tmp) / "data", database_url=url, pepper=PEPPER), clock
        )
        try:
            migrate.upgrade(runtime.engine)
            with runtime.sessions.begin() as session:
                ensure_tenant(session, clock, DEFAULT_TENANT, OPERATOR.id)
            spec = KeySpec(
                tenant_id=DEFAULT_TENANT,
                env="live",
                scopes=["mail:send", "contacts:read", "lists:read", "keys:read"],
            )
            key_id = runtime.keys.create(OPERATOR, spec).view.id
            began = time.perf_counter()
            seed(runtime, events(key_id, args.events, random.Random(12)))
            print(f"seeded {args.events:,} events in {time.perf_counter() - began:.1f} s")
            clock.advance(timedelta(days=DAYS))
            opened = runtime.incidents.open(OPERATOR, OpenRequest(key_id, "bench"))
            seed(runtime, refused(key_id, clock(), 300))
            clock.advance(timedelta(hours=1))
            began = time.perf_counter()
            report = runtime.incident_reports.build(OPERATOR, opened.incident.id)
            built = time.perf_counter() - began
            print(
                f"report built in {built:.2f} s (window from {report.window.start:%Y-%m-%d %H:%M}"
                f", {report.totals['requests']:,} requests in it)"
            )
            for fmt in ("json", "md", "html"):
                began = time.perf_counter()
                size = len(render(report, fmt))
                print(
                    f"  {fmt:<4} rendered in {time.perf_counter() - began:.3f} s ({size:,} chars)"
                )
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
