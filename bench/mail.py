"""Email API benchmark (run by hand; results go to docs/benchmarks.md).

    .venv/bin/python bench/mail.py [--postgres URL] [--singles 3000] [--batches 100]
                                   [--concurrency 16] [--connections 4]

For each database (SQLite always, PostgreSQL when --postgres is given):

1. accepted messages/s of `POST /v1/mail/send` against a real `keyguard serve` process
   (worker off), single messages with `--concurrency` clients, then batches of 100;
2. delivered messages/s: a `keyguard worker` process drains that outbox into an aiosmtpd
   sink on loopback (in this process); timed from the first message received to the last.

The load generator, the server and the sink share the machine, so the figures are lower
bounds of what the server alone could do.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/mail.py` puts bench/ first on sys.path, where bench/secret_store.py would shadow
# the standard library's `secrets` (which key generation uses). Take bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import asyncio
import os
import platform
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
SENDER = "news@brand.example"
BATCH = 100


@dataclass
class Measure:
    """One line of the table: wall time, and CPU seconds of the process doing the work."""

    database: str
    what: str
    messages: int
    seconds: float
    cpu: dict[str, float]

    def row(self) -> str:
        cpu = ", ".join(f"{who} {1000 * t / self.messages:.2f}" for who, t in self.cpu.items())
        return (
            f"| {self.database} | {self.what} | {self.messages:,} | {self.seconds:.2f} "
            f"| {self.messages / self.seconds:,.0f} | {cpu} |"
        )


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    schema = "bench_" + secrets.token_hex(4)
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def prepare(database_url: str, data_dir: Path) -> str:
    """Schema, tenant, sender domain and a live mail:send key; returns the key."""
    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=database_url, pepper=PEPPER))
    try:
        migrate.upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
        runtime.mail.domains.add_domain(DEFAULT_TENANT, "brand.example", OPERATOR.id)
        spec = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["mail:send"])
        return runtime.keys.create(OPERATOR, spec).key.reveal()
    finally:
        runtime.close()


def environment(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(data_dir),
        "KEYGUARD_DATABASE_URL": database_url,
        "KEYGUARD_PEPPER": PEPPER,
        **extra,
    }


@contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = environment(database_url, data_dir, KEYGUARD_MAIL_WORKER_IN_SERVE="false")
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "keyguard", "serve", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("keyguard serve did not start")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def letter(n: int) -> dict[str, Any]:
    return {
        "from": SENDER,
        "to": [f"user{n}@example.com"],
        "subject": f"Your order {n} has shipped",
        "text": "Hello,\n\nyour order is on its way.\n\n-- Brand\n" * 3,
        "html": "<p>Hello,</p><p>your order is on its way.</p><p>-- Brand</p>" * 3,
    }


async def post_all(url: str, key: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    """Send every body with `concurrency` clients; every answer must be 202."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {key}"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
            while not queue.empty():
                answer = await http.post("/v1/mail/send", json=queue.get_nowait())
                if answer.status_code != 202:
                    raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started


class CountingSink:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.done = threading.Event()
        self.on_first: Callable[[], None] = lambda: None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.perf_counter()
        if not self.first:
            self.first = now
            self.on_first()
        self.last = now
        self.count += 1
        if self.count >= self.expected:
            self.done.set()
        return "250 2.0.0 accepted"


def deliver(
    database_url: str, data_dir: Path, expected: int, connections: int
) -> tuple[float, dict[str, float]]:
    """Seconds from the first message received to the last, and CPU of worker and sink."""
    sink = CountingSink(expected)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    env = environment(
        database_url,
        data_dir,
        KEYGUARD_SMTP_RELAY=f"smtp://127.0.0.1:{port}",
        KEYGUARD_MAIL_WORKER_CONNECTIONS=str(connections),
    )
    log = (data_dir / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "keyguard", "worker"], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    # CPU from the first delivery on (the worker's start-up is not delivery work); this
    # process runs only the sink meanwhile.
    marks: dict[str, float] = {}
    sink.on_first = lambda: marks.update(worker=cpu_seconds(worker.pid), sink=time.process_time())
    try:
        if not sink.done.wait(timeout=900):
            raise RuntimeError(f"only {sink.count} of {expected} messages were delivered")
        cpu = {
            "worker": cpu_seconds(worker.pid) - marks["worker"],
            "sink": time.process_time() - marks["sink"],
        }
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
        controller.stop()
    return sink.last - sink.first, cpu


def run(name: str, database_url: str, data_dir: Path, args: argparse.Namespace) -> list[Measure]:
    data_dir.mkdir(parents=True, exist_ok=True)
    key = prepare(database_url, data_dir)
    singles = [letter(n) for n in range(args.singles)]
    batches = [
        {"messages": [letter(b * BATCH + n) for n in range(BATCH)]} for b in range(args.batches)
    ]
    measures = []
    with serve(database_url, data_dir) as (url, pid):
        asyncio.run(post_all(url, key, [letter(0)] * 50, 4))  # warm up caches and pools
        for what, bodies, concurrency, count in (
            ("accepted, single messages", singles, args.concurrency, args.singles),
            (
                f"accepted, batches of {BATCH}",
                batches,
                args.batch_concurrency,
                len(batches) * BATCH,
            ),
        ):
            before = cpu_seconds(pid)
            seconds = asyncio.run(post_all(url, key, bodies, concurrency))
            cpu = {"server": cpu_seconds(pid) - before}
            measures.append(Measure(name, what, count, seconds, cpu))
    total = 50 + args.singles + args.batches * BATCH
    seconds, cpu = deliver(database_url, data_dir, total, args.connections)
    # timed from the first delivery to the last, so one message fewer than delivered
    measures.append(Measure(name, "delivered to the sink", total - 1, seconds, cpu))
    return measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="SQLAlchemy URL of a PostgreSQL server")
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--connections", type=int, default=4, help="worker SMTP connections")
    args = parser.parse_args()
    measures = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kg-bench-mail-") as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_url = f"sqlite:///{sqlite_dir / 'keyguard.db'}"
        measures += run("SQLite", sqlite_url, sqlite_dir, args)
        if args.postgres:
            with postgres_schema(args.postgres) as url:
                measures += run("PostgreSQL", url, Path(tmp) / "postgres", args)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"python {platform.python_version()}; load average before {load_before[0]:.1f}, "
          f"after {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| database | measure | messages | seconds | messages/s | CPU ms per message |")
    print("|---|---|---|---|---|---|")
    for measure in measures:
        print(measure.row())


if __name__ == "__main__":
    main()
