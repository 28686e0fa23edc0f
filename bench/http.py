"""HTTP API benchmark (run by hand; results go to docs/benchmarks.md, "## HTTP API").

    .venv/bin/python bench/http.py [--duration 10] [--connections 32] [--rounds 2]
                                   [--postgres URL] [--load wrk|raw|python] [--pin]
                                   [--workers N] [--api-node]

A bare FastAPI app (the yardstick: a hello-world GET and a POST with a pydantic body, on the
same uvicorn settings) and Keyguard (one server process, SQLite unless --postgres) serve:

    GET  /bare               bare FastAPI, no middleware
    POST /bare               bare FastAPI, a pydantic body like /v1/keys/verify's
    GET  /bench/open         Keyguard, no key
    GET  /v1/bench/authed    Keyguard, full enforcement: key → Verifier → rate limit → usage
    POST /v1/keys/verify     Keyguard, the gateway endpoint

A second process loads each one in turn for a fixed duration (wrk when installed, else a
small asyncio loader over raw sockets, `raw`, or httpx, `python`) and reports requests/s,
p50 and p99, and the server's CPU time per request (all its threads; on a shared machine the
one figure that does not depend on what else runs). The ratios are Keyguard against the bare
app, by throughput and by CPU per request. The endpoints alternate over `--rounds` rounds so
that background noise hits all alike; `--pin` puts the server on CPU 0 and the load generator
on CPU 1. `--workers N` serves Keyguard with N worker processes (keyguard.api.workers) and
sums their CPU. By default the first one also runs the delivery worker, maintenance and the
online detector (the embedded default: one process does everything), which consume the
usage events the load produces; `--api-node` serves as stateless API nodes do beside a
separate `keyguard worker`.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/http.py` puts bench/ first on sys.path, where this very file would shadow the
# standard library's `http` (and bench/secret_store.py its `secrets`). Take bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter
from pydantic import BaseModel

from keyguard.api import EnforcedRoute, Principal, require_scope

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
OPEN, AUTHED, VERIFY = "/bench/open", "/v1/bench/authed", "/v1/keys/verify"
BARE = "/bare"
SERVER_CPU, LOAD_CPU = 0, 1


# -- the server side ----------------------------------------------------------------------


def _reuse_port_socket(port: int) -> socket.socket:
    """The port as `keyguard serve --workers` binds it (SO_REUSEPORT), so that --workers N
    bench servers share it; kept here so the bench also runs against older revisions."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _bench_router() -> APIRouter:
    router = APIRouter(route_class=EnforcedRoute)

    @router.get(OPEN)
    async def bench_open() -> dict[str, bool]:
        return {"ok": True}

    @router.get(AUTHED)
    async def bench_authed(
        principal: Annotated[Principal, require_scope("keys:read")],
    ) -> dict[str, bool]:
        return {"ok": True}

    return router


class VerifyBody(BaseModel):
    """The bare POST's body: the shape of /v1/keys/verify's."""

    key: str
    scope: str | None = None
    ip: str | None = None


def bare_app() -> Any:
    """The yardstick: FastAPI with nothing of ours, a GET and a POST with a pydantic body."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get(BARE)
    async def bare_get() -> dict[str, bool]:
        return {"ok": True}

    @app.post(BARE)
    async def bare_post(body: VerifyBody) -> dict[str, bool]:
        return {"ok": bool(body.key)}

    return app


def serve(data_dir: Path | None, database_url: str, port: int, index: int) -> None:
    """One server process: the bare app (no data dir), or Keyguard worker `index` binding
    the port with SO_REUSEPORT as `keyguard serve --workers N` does (keyguard.api.workers)."""
    import uvicorn

    from keyguard.api import ROUTERS, create_app
    from keyguard.api.server import uvicorn_config
    from keyguard.runtime import freeze_start_up_heap
    from keyguard.settings import Settings

    sock = _reuse_port_socket(port)
    if data_dir is None:  # the bare app, on Keyguard's uvicorn settings
        app = bare_app()
        freeze_start_up_heap()
        uvicorn.Server(uvicorn_config(app, port=port, log_level="warning")).run(sockets=[sock])
        return
    settings = Settings(data_dir=data_dir, database_url=database_url, pepper=PEPPER)
    if index > 0:  # as keyguard.api.workers does: delivery and maintenance in worker 0 only
        settings = settings.model_copy(
            update={"mail_worker_in_serve": False, "smtp_in_serve": False}
        )
    with open(os.devnull, "w") as sink:
        # The bench routes first, where a hot route sits (verify is second): FastAPI matches
        # the included routers one after the other, so the last route pays for all before it.
        routers = [_bench_router(), *ROUTERS]
        app = create_app(settings, routers=routers, log_stream=sink)
        freeze_start_up_heap()  # as `keyguard serve` does before serving
        config = uvicorn_config(app, port=port, log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])


def prepare(data_dir: Path, database_url: str) -> str:
    """Schema, tenant and one key holding keys:read and keys:verify; returns the raw key."""
    from keyguard.lifecycle.service import KeySpec
    from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
    from keyguard.lifecycle.views import OPERATOR
    from keyguard.runtime import Runtime
    from keyguard.settings import Settings
    from keyguard.storage import migrate

    runtime = Runtime.build(Settings(data_dir=data_dir, database_url=database_url, pepper=PEPPER))
    try:
        migrate.upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
        spec = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["keys:read", "keys:verify"])
        return runtime.keys.create(OPERATOR, spec).key.reveal()
    finally:
        runtime.close()


# -- the load side ------------------------------------------------------------------------


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int = 0
    server_cpu_us: float = 0.0  # server CPU time (all its threads) per request


def _wrk(url: str, duration: int, connections: int, script: Path | None) -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    with subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True) as wrk:
        _pin(wrk.pid, LOAD_CPU)
        out, _ = wrk.communicate()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result(
        rate,
        _wrk_ms(out, "50%"),
        _wrk_ms(out, "99%"),
        int(errors.group(1)) if errors else 0,
        requests=total,
    )


def _wrk_ms(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk_script(directory: Path, method: str, headers: dict[str, str], body: str | None) -> Path:
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    path = directory / f"wrk-{len(list(directory.glob('wrk-*')))}.lua"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it holds the benchmark's key
    return path


async def _python_load(spec: dict[str, Any]) -> Result:
    url, method, body = spec["url"], spec["method"], spec["body"]
    duration, connections, headers = spec["duration"], spec["connections"], spec["headers"]
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            answer = await client.request(method, url, headers=headers, content=body)
            latencies.append(time.perf_counter() - started)
            failures += answer.status_code >= 300

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return Result(
        len(latencies) / elapsed,
        quantiles[49] * 1000,
        quantiles[98] * 1000,
        failures,
        requests=len(latencies),
    )


class _RawConnection(asyncio.Protocol):
    """One keep-alive connection sending the same request again as soon as it is answered."""

    def __init__(self, request: bytes, deadline: float, latencies: list[float]) -> None:
        self.request, self.deadline, self.latencies = request, deadline, latencies
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.failures = 0
        self.buffer = b""
        self.started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.buffer = b""
        self.started = time.perf_counter()
        self.transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at) if b"\r\n" in head[at:] else None])
        if len(self.buffer) < end + 4 + length:
            return
        now = time.perf_counter()
        self.latencies.append(now - self.started)
        self.failures += self.buffer[9:10] != b"2"
        if now < self.deadline:
            self._send()
        elif not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _raw_load(spec: dict[str, Any]) -> Result:
    """A load generator light enough not to be the bottleneck: requests prepared once."""
    url = httpx.URL(spec["url"])
    headers = {"Host": f"{url.host}:{url.port}", **spec["headers"]}
    body = (spec["body"] or "").encode()
    if spec["body"] is not None:
        headers["Content-Length"] = str(len(body))
    head = f"{spec['method']} {url.raw_path.decode()} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    request = head.encode() + b"\r\n" + body
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    deadline = started + spec["duration"]
    connections = [
        (await loop.create_connection(
            lambda: _RawConnection(request, deadline, latencies), url.host, url.port
        ))[1]
        for _ in range(spec["connections"])
    ]  # fmt: skip
    await asyncio.gather(*(c.done for c in connections))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return Result(
        len(latencies) / elapsed,
        quantiles[49] * 1000,
        quantiles[98] * 1000,
        sum(c.failures for c in connections),
        requests=len(latencies),
    )


def load_process(args: argparse.Namespace) -> None:
    """Entry point of the load subprocess (the python load generators)."""
    spec = json.loads(sys.stdin.read())
    load = _raw_load if spec["kind"] == "raw" else _python_load
    result = asyncio.run(load(spec))
    print(json.dumps(result.__dict__))


@dataclass
class Target:
    name: str
    path: str
    method: str = "GET"
    headers: dict[str, str] | None = None
    body: str | None = None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    base: str, target: Target, args: argparse.Namespace, work: Path, servers: list[int]
) -> Result:
    """Load one endpoint; also charge the servers' CPU time to the requests they served."""
    before = sum(_cpu_seconds(pid) for pid in servers)
    result = _load(base, target, args, work)
    if result.requests:
        spent = sum(_cpu_seconds(pid) for pid in servers) - before
        result.server_cpu_us = spent / result.requests * 1e6
    return result


def _load(base: str, target: Target, args: argparse.Namespace, work: Path) -> Result:
    url, headers = base + target.path, target.headers or {}
    if args.load == "wrk":
        script = (
            _wrk_script(work, target.method, headers, target.body)
            if headers or target.body
            else None
        )
        return _wrk(url, args.duration, args.connections, script)
    spec = {
        "url": url, "duration": args.duration, "connections": args.connections,
        "method": target.method, "headers": headers, "body": target.body, "kind": args.load,
    }  # fmt: skip
    with subprocess.Popen(
        [sys.executable, __file__, "--load-process"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as load:  # fmt: skip
        _pin(load.pid, LOAD_CPU)
        out, _ = load.communicate(json.dumps(spec))
    return Result(**json.loads(out))


PIN = False  # set by --pin


def _pin(pid: int, cpu: int) -> None:
    """Server and load generator on different CPUs, so they do not take turns on one (on a
    machine shared with other work this can hurt: the pinned CPU may be the busy one)."""
    if PIN and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {cpu})


# -- orchestration ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(base: str, processes: list[subprocess.Popen[bytes]]) -> None:
    for _ in range(600):
        if any(process.poll() is not None for process in processes):
            raise SystemExit("a benchmark server exited")
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the benchmark server did not start")


def _start_server(port: int, data_dir: Path | None, database_url: str, index: int) -> Any:
    command = [sys.executable, __file__, "--serve", "--port", str(port), "--index", str(index)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir), "--database-url", database_url]
    server = subprocess.Popen(command)
    _pin(server.pid, SERVER_CPU)
    return server


def _wait_bare(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit("the bare server exited")
        try:
            httpx.get(base + BARE)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the bare server did not start")


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="kg-bench-http-"))
    database_url = args.postgres or f"sqlite:///{work / 'keyguard.db'}"
    key = prepare(work / "data", database_url)
    port, bare_port = _free_port(), _free_port()
    base, bare_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    # --api-node: every worker as an API node whose delivery, maintenance and detection run in
    # a `keyguard worker` elsewhere (as worker 1… of `serve --workers N` always are).
    first = 1 if args.api_node else 0
    servers = [
        _start_server(port, work / "data", database_url, first + n) for n in range(args.workers)
    ]
    bare = _start_server(bare_port, None, "", 0)
    auth = {"Authorization": f"Bearer {key}"}
    verify_body = json.dumps({"key": key, "scope": "keys:read", "ip": "203.0.113.7"})
    json_type = {"Content-Type": "application/json"}
    targets = [
        (bare_base, [bare], Target("bare GET", BARE)),
        (bare_base, [bare], Target("bare POST", BARE, "POST", json_type, verify_body)),
        (base, servers, Target("unauthenticated", OPEN)),
        (base, servers, Target("authenticated", AUTHED, headers=auth)),
        (base, servers, Target("verify", VERIFY, "POST", {**auth, **json_type}, verify_body)),
    ]
    try:
        _wait(base, servers)
        _wait_bare(bare_base, bare)
        pids = {id(s): [p.pid for p in s] for _, s, _ in targets}
        for url, group, target in targets:  # warm-up: caches, connections
            warm = argparse.Namespace(**{**vars(args), "duration": 2})
            measure(url, target, warm, work, pids[id(group)])
        results: dict[str, list[Result]] = {t.name: [] for _, _, t in targets}
        for round_ in range(args.rounds):  # alternate, so background noise hits all alike
            for url, group, target in targets if round_ % 2 == 0 else targets[::-1]:
                results[target.name].append(measure(url, target, args, work, pids[id(group)]))
    finally:
        for server in [*servers, bare]:
            server.terminate()
            server.wait()
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, list[Result]]) -> None:
    def mean(name: str, field: str) -> float:
        return statistics.fmean(getattr(r, field) for r in results[name])

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"load average before/after: {args.load_before} / {os.getloadavg()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: {' '.join(sys.argv)} (load: {args.load}, {args.connections} connections, "
          f"{args.duration} s x {args.rounds} rounds, {args.workers} Keyguard workers)")  # fmt: skip  # noqa: E501
    print("| endpoint | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/req |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        for r in runs:
            print(f"| {name} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
                  f"| {r.non_2xx} | {r.server_cpu_us:.0f} |")  # fmt: skip
    for name in results:
        print(f"mean {name}: {mean(name, 'requests_per_s'):,.0f} req/s, "
              f"p50 {mean(name, 'p50_ms'):.2f} ms, p99 {mean(name, 'p99_ms'):.2f} ms, "
              f"server CPU {mean(name, 'server_cpu_us'):.0f} µs/req")  # fmt: skip
    print("| ratio | by req/s | by server CPU per request | goal |")
    print("|---|---|---|---|")
    for ours, bare, goal in [
        ("unauthenticated", "bare GET", None),
        ("authenticated", "bare GET", 0.6),
        ("verify", "bare POST", 0.6),
    ]:
        by_rate = mean(ours, "requests_per_s") / mean(bare, "requests_per_s")
        by_cpu = mean(bare, "server_cpu_us") / mean(ours, "server_cpu_us")
        verdict = "" if goal is None else f">= {goal}: {'met' if by_cpu >= goal else 'MISSED'}"
        print(f"| {ours} / {bare} | {by_rate:.3f} | {by_cpu:.3f} | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", help="benchmark on this PostgreSQL URL instead of SQLite")
    parser.add_argument("--load", choices=["wrk", "raw", "python"], default=None)
    parser.add_argument("--workers", type=int, default=1, help="Keyguard worker processes")
    parser.add_argument(
        "--api-node",
        action="store_true",
        help="no delivery worker, maintenance or detector in the served processes",
    )
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, load on CPU 1")
    args = parser.parse_args()
    args.load_before = os.getloadavg()
    global PIN  # noqa: PLW0603 - a command-line switch read by _pin
    PIN = args.pin
    if args.serve:
        serve(args.data_dir, args.database_url, args.port, args.index)
    elif args.load_process:
        load_process(args)
    else:
        if args.load is None:
            args.load = "wrk" if shutil.which("wrk") else "raw"
        run(args)


if __name__ == "__main__":
    main()
