"""Revocation fan-out across nodes (issue 13; run by hand, results go to docs/benchmarks.md).

    KEYGUARD_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
    .venv/bin/python bench/revocation_fanout.py [--revocations 200] [--fallback 40]

Real processes on loopback, on the real clock: three `keyguard serve` nodes and one
`keyguard smtp`, sharing a PostgreSQL schema of their own (created and dropped here) and a
redis-server this script starts on a free port (never the shared one). This process is the
revoker, as `keyguard keys revoke` would be: a Runtime on the same database and Redis.

For each revocation (a bounded loop): a new key is verified once on every node (so that each
holds it in its cache), then revoked; the time runs from the revoke's commit (an after_commit
hook of this process, which fires before the fan-out's publish) until the bench has seen
every node refuse the key: `POST /v1/keys/verify` (a gateway key) on each HTTP node and a new
SMTP connection with AUTH PLAIN on the SMTP node, each polled back to back, for at most
BOUND_SECONDS. Phase 1 with Redis up; phase 2 after stopping the private redis-server (the
nodes fall back to the database change feed); phase 3 after starting it again (the nodes'
subscribers reconnect). Prints p50/p95/p99/max per phase. Goals: p99 <= 250 ms with Redis,
every node within the fallback interval (2 s) without.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/…` puts bench/ first on sys.path, where bench/secret_store.py would shadow the
# standard library's `secrets` (which key generation uses). Take bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import asyncio
import base64
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import quote

import httpx
import redis
from sqlalchemy import create_engine, event, text

from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
READY = re.compile(r"listening on port (\d+)")
BOUND_SECONDS = 5.0  # a node that has not refused by then counts as a miss
STARTUP_SECONDS = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    schema = "bench_" + secrets.token_hex(5)
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


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed")
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        for _ in range(400):
            try:
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "keyguard", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_http(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"keyguard serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"keyguard serve did not answer:\n{log.read_text()}")


def wait_smtp(process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not (match := READY.search(log.read_text())):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"keyguard smtp did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return int(match.group(1))


async def smtp_accepts(port: int, key: str, source: str) -> bool:
    """One AUTH PLAIN on a new connection from `source`: True when the server accepts the key.

    Each revocation ends in one failed AUTH, and `keyguard smtp` refuses an address that fails
    20 times a minute: each revocation's connections come from an address of its own in
    127.0.0.0/8 (all of it is loopback)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        await _reply(reader)
        writer.write(b"EHLO bench.invalid\r\n")
        await _reply(reader)
        token = base64.b64encode(f"\0apikey\0{key}".encode()).decode()
        writer.write(f"AUTH PLAIN {token}\r\n".encode())
        code = await _reply(reader)
        writer.write(b"QUIT\r\n")
        return code == 235
    except (ConnectionError, asyncio.IncompleteReadError):
        return False  # 421: refused and closed
    finally:
        writer.close()


async def _reply(reader: asyncio.StreamReader) -> int:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return int(line[:3])


class Nodes:
    def __init__(self, urls: list[str], smtp_port: int, gateway: str) -> None:
        self.urls, self.smtp_port = urls, smtp_port
        self.clients = [
            httpx.AsyncClient(base_url=u, headers={"Authorization": f"Bearer {gateway}"})
            for u in urls
        ]

    async def http_accepts(self, node: int, key: str) -> bool:
        answer = await self.clients[node].post("/v1/keys/verify", json={"key": key})
        answer.raise_for_status()
        return bool(answer.json()["valid"])

    def checks(self, key: str, serial: int) -> list[object]:
        source = f"127.{1 + serial // 62500}.{serial // 250 % 250}.{2 + serial % 250}"
        return [
            *(lambda n=n: self.http_accepts(n, key) for n in range(len(self.clients))),
            lambda: smtp_accepts(self.smtp_port, key, source),
        ]

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


async def refused_after(check: object, committed: list[float]) -> float | None:
    """Poll `check` back to back until it refuses; seconds from the commit, None past BOUND."""
    deadline = time.perf_counter() + BOUND_SECONDS
    while time.perf_counter() < deadline:
        if not await check():  # type: ignore[operator]
            return time.perf_counter() - committed[0]
    return None


async def one_revocation(
    runtime: Runtime, nodes: Nodes, committed: list[float], serial: int
) -> list[float | None]:
    created = runtime.keys.create(OPERATOR, KeySpec(DEFAULT_TENANT, "live", ["mail:send"]))
    key = created.key.reveal()
    checks = nodes.checks(key, serial)
    accepted = await asyncio.gather(*(c() for c in checks))  # type: ignore[operator]
    if not all(accepted):
        raise SystemExit(f"revocation {serial}: a node refused a new key first: {accepted}")
    # A pause of 0-0.5 s (seeded): otherwise each revocation would follow the slowest node's
    # last refusal by the same few milliseconds, in step with its feed's 0.5 s polls.
    await asyncio.sleep(random.Random(serial).uniform(0, 0.5))
    committed.clear()
    await asyncio.to_thread(runtime.keys.revoke, OPERATOR, created.view.id)
    if not committed:
        raise SystemExit("the revocation's commit was not seen")
    return list(await asyncio.gather(*(refused_after(c, committed) for c in checks)))


def summary(name: str, per_node: list[list[float | None]]) -> str:
    """Every node's refusal (the slowest of the four per revocation), then each node's own."""
    everyone = [
        None if None in times else max(t for t in times if t is not None) for times in per_node
    ]
    lines = [_quantiles(name, everyone)]
    for n, label in enumerate([*(f"http{n + 1}" for n in range(len(per_node[0]) - 1)), "smtp"]):
        lines.append("  " + _quantiles(label, [times[n] for times in per_node]))
    return "\n".join(lines)


def _quantiles(name: str, results: list[float | None]) -> str:
    done = sorted(r for r in results if r is not None)
    missed = len(results) - len(done)
    if not done:
        return f"{name}: no revocation seen by every node ({missed} missed)"
    q = statistics.quantiles(done, n=100, method="inclusive") if len(done) > 1 else done * 99
    return (
        f"{name}: n={len(results)}  p50 {q[49] * 1000:.1f} ms  p95 {q[94] * 1000:.1f} ms  "
        f"p99 {q[98] * 1000:.1f} ms  max {done[-1] * 1000:.1f} ms  missed {missed}"
    )


SERIAL = iter(range(10**6))


async def phase(
    runtime: Runtime, nodes: Nodes, committed: list[float], n: int
) -> list[list[float | None]]:
    return [await one_revocation(runtime, nodes, committed, next(SERIAL)) for _ in range(n)]


def start_nodes(
    stack: ExitStack, workdir: Path, database_url: str, redis_url: str, count: int
) -> tuple[list[str], int]:
    """`count` x `keyguard serve` and one `keyguard smtp`; their URLs and the SMTP port."""
    env = {
        **os.environ, "KEYGUARD_DATA_DIR": str(workdir / "data"),
        "KEYGUARD_DATABASE_URL": database_url, "KEYGUARD_PEPPER": PEPPER,
        "KEYGUARD_REDIS_URL": redis_url, "KEYGUARD_MAIL_WORKER_IN_SERVE": "false",
        "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    serving = []
    for n in range(count):
        port = free_port()
        log = workdir / f"serve-{n}.log"
        process = spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log)
        stack.callback(_stop, process)
        serving.append((process, f"http://127.0.0.1:{port}", log))
    smtp_log = workdir / "smtp.log"
    smtp = spawn(["smtp", "--port", "0"], env, smtp_log)
    stack.callback(_stop, smtp)
    for process, url, log in serving:
        wait_http(process, url, log)
    return [url for _, url, _ in serving], wait_smtp(smtp, smtp_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revocations", type=int, default=200)
    parser.add_argument("--fallback", type=int, default=40, help="revocations with Redis down")
    parser.add_argument("--after", type=int, default=20, help="revocations after the restart")
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    base_url = os.environ.get("KEYGUARD_TEST_POSTGRES_URL")
    if not base_url:
        raise SystemExit("set KEYGUARD_TEST_POSTGRES_URL (the bench makes a schema of its own)")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url = stack.enter_context(postgres_schema(base_url))
        private = PrivateRedis(workdir)
        private.start()
        stack.callback(private.stop)
        settings = Settings(
            data_dir=workdir / "data", database_url=database_url, pepper=PEPPER,
            redis_url=private.url,
        )  # fmt: skip
        runtime = Runtime.build(settings)
        stack.callback(runtime.close)
        migrate.upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
        committed: list[float] = []
        # First among the after_commit listeners: the instant of the commit, before the publish.
        event.listen(
            runtime.sessions, "after_commit", lambda _s: committed.append(time.perf_counter()),
            insert=True,
        )  # fmt: skip
        urls, smtp_port = start_nodes(stack, workdir, database_url, private.url, args.nodes)
        gateway = runtime.keys.create(
            OPERATOR, KeySpec(DEFAULT_TENANT, "live", ["keys:verify"])
        ).key.reveal()

        async def run() -> list[str]:
            nodes = Nodes(urls, smtp_port, gateway)
            try:
                lines = [
                    summary("redis up", await phase(runtime, nodes, committed, args.revocations))
                ]
                await asyncio.to_thread(private.stop)
                lines.append(
                    summary("redis down", await phase(runtime, nodes, committed, args.fallback))
                )
                await asyncio.to_thread(private.start)
                # The subscribers' backoff is capped at 2 s, the publisher's pause at 5 s.
                await asyncio.sleep(6.0)
                lines.append(
                    summary("redis back", await phase(runtime, nodes, committed, args.after))
                )
                return lines
            finally:
                await nodes.aclose()

        lines = asyncio.run(run())
    print(f"{args.nodes} x keyguard serve + keyguard smtp, PostgreSQL + a private redis-server")
    for line in lines:
        print(line)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


if __name__ == "__main__":
    main()
