"""In-process verification benchmark (run by hand; results go to docs/benchmarks.md).

    .venv/bin/python bench/verify.py [--keys 100000] [--postgres URL]

Stores N keys, then measures on one core: cache-hit throughput and p50/p99 latency, cache-miss
p50/p99 (SQLite, and PostgreSQL when --postgres is given) and garbage strings rejected per second.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/verify.py` puts bench/ first on sys.path, where bench/http.py would shadow the
# standard library's `http` (which httpx, imported by the runtime, needs). Take bench/ off it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import os
import platform
import random
import statistics
import string
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from keyguard.clock import system_clock
from keyguard.keys import digest_key, generate_key
from keyguard.keys.format import display_prefix
from keyguard.lifecycle.models import ApiKey
from keyguard.lifecycle.service import new_key_id
from keyguard.lifecycle.tenants import ensure_tenant
from keyguard.runtime import Runtime, freeze_start_up_heap
from keyguard.settings import Settings
from keyguard.storage import migrate
from keyguard.verification import Verifier
from keyguard.verification.cache import SnapshotCache

PEPPER = "bench-pepper-" + "9f8e7d6c5b4a3210" * 3


def build(database_url: str, data_dir: Path, count: int) -> tuple[Runtime, list[str]]:
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=database_url, pepper=PEPPER))
    migrate.upgrade(runtime.engine)
    now = datetime.now(UTC)
    with runtime.sessions.begin() as session:
        ensure_tenant(session, system_clock, "bench", "bench")
    raws: list[str] = []
    pepper = runtime.peppers.current
    for start in range(0, count, 5000):
        rows = []
        for _ in range(min(5000, count - start)):
            raw = generate_key("live")
            raws.append(raw.reveal())
            rows.append(
                {
                    "id": new_key_id(), "tenant_id": "bench", "name": None, "env": "live",
                    "display_prefix": display_prefix(raw.reveal()),
                    "digest": digest_key(pepper, raw), "pepper_version": pepper.version,
                    "scopes": ["mail:send", "contacts:read"],
                    "restrictions": {"allowed_cidrs": ["10.0.0.0/8", "2001:db8::/32"]},
                    "state": "active", "state_reason": None, "created_at": now,
                    "expires_at": now + timedelta(days=90), "grace_until": None,
                    "last_used_at": None, "created_by": "bench", "parent_id": None,
                }
            )  # fmt: skip
        with runtime.sessions.begin() as session:
            session.execute(insert(ApiKey), rows)
    return runtime, raws


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000)[int(q * 1000) - 1]


def cache_hits(runtime: Runtime, raws: list[str], calls: int) -> None:
    verifier = runtime.verifier
    hot = raws[:1000]
    for key in hot:
        assert verifier.verify(key, scope="mail:send", ip="10.1.2.3").allowed
    sequence = [hot[i % len(hot)] for i in range(calls)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for key in sequence:
        verifier.verify(key, scope="mail:send", ip="10.1.2.3")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    latencies = []
    clock = time.perf_counter_ns
    for key in sequence[:200_000]:
        t0 = clock()
        verifier.verify(key, scope="mail:send", ip="10.1.2.3")
        latencies.append((clock() - t0) / 1000)
    print(f"  cache hit: {calls / elapsed:,.0f} verifications/s wall clock, one thread")
    print(f"  cache hit: {calls / cpu:,.0f} verifications per CPU-second (load-independent)")
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"  cache hit latency: p50 {p50:.1f} µs, p99 {p99:.1f} µs")


def cache_misses(runtime: Runtime, raws: list[str], label: str, samples: int) -> None:
    verifier = Verifier(runtime.sessions, runtime.peppers, system_clock, SnapshotCache(30))
    cold = random.sample(raws[1000:], samples)
    latencies = []
    cpu_started = time.process_time()
    for key in cold:
        t0 = time.perf_counter_ns()
        decision = verifier.verify(key, scope="mail:send", ip="10.1.2.3")
        latencies.append((time.perf_counter_ns() - t0) / 1000)
        assert decision.allowed
    cpu_each = (time.process_time() - cpu_started) / samples * 1e6
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"  cache miss ({label}): p50 {p50:.0f} µs, p99 {p99:.0f} µs, {cpu_each:.0f} µs CPU each")


def garbage(runtime: Runtime, calls: int) -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    junk = []
    for i in range(1000):
        if i % 2:  # right shape, wrong checksum: the most expensive garbage
            junk.append("kg_live_" + "".join(rng.choices(alphabet, k=32)))
        else:
            junk.append("".join(rng.choices(alphabet + "_-", k=rng.randint(5, 60))))
    sequence = [junk[i % len(junk)] for i in range(calls)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for item in sequence:
        runtime.verifier.verify(item)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"  garbage rejected: {calls / elapsed:,.0f} strings/s ({calls / cpu:,.0f} per CPU-s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=500_000)
    parser.add_argument("--postgres", help="PostgreSQL URL for the cache-miss figures")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        runtime, raws = build(url, Path(tmp), args.keys)
        print(f"SQLite: stored {len(raws):,} keys in {time.perf_counter() - started:.1f} s")
        freeze_start_up_heap()  # as `keyguard serve` does before serving
        cache_hits(runtime, raws, args.calls)
        cache_misses(runtime, raws, "SQLite", 5000)
        garbage(runtime, args.calls)
        runtime.close()
        if args.postgres:
            admin = Runtime.build(
                Settings(data_dir=Path(tmp), database_url=args.postgres, pepper=PEPPER)
            )
            with admin.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS bench CASCADE"))
                connection.execute(text("CREATE SCHEMA bench"))
            admin.close()
            pg_url = (
                args.postgres
                + ("&" if "?" in args.postgres else "?")
                + "options=-csearch_path%3Dbench"
            )
            runtime, raws = build(pg_url, Path(tmp), args.keys)
            print(f"PostgreSQL: stored {len(raws):,} keys")
            cache_misses(runtime, raws, "PostgreSQL", 5000)
            runtime.close()


if __name__ == "__main__":
    main()
