"""HTTP API benchmark (run by hand; results go to docs/benchmarks.md, "## HTTP API").

    .venv/bin/python bench/http.py [--duration 10] [--connections 32] [--rounds 2]
                                   [--postgres URL] [--load wrk|python] [--pin]

One server process (uvicorn, one worker, SQLite unless --postgres) serves two otherwise
identical endpoints mounted through the router extension point:

    GET /bench/open          no key
    GET /v1/bench/authed     full enforcement: key → Verifier → rate limit → usage event

A second process loads each one in turn for a fixed duration (wrk when installed, else an
asyncio httpx client) and reports requests/s, p50 and p99; their ratio is the cost of
authentication. Then it loads `POST /v1/keys/verify` (the gateway endpoint). The access log
is written (to /dev/null) on both paths, as in production. The two endpoints alternate over
`--rounds` rounds so that background noise hits both alike; `--pin` puts the server on CPU 0
and the load generator on CPU 1.
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

from keyguard.api import EnforcedRoute, Principal, require_scope

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
OPEN, AUTHED, VERIFY = "/bench/open", "/v1/bench/authed", "/v1/keys/verify"
SERVER_CPU, LOAD_CPU = 0, 1


# -- the server side ----------------------------------------------------------------------


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


def serve(data_dir: Path, database_url: str, port: int) -> None:
    import uvicorn

    from keyguard.api import create_app
    from keyguard.api.server import uvicorn_config
    from keyguard.runtime import freeze_start_up_heap
    from keyguard.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url, pepper=PEPPER)
    with open(os.devnull, "w") as sink:
        app = create_app(settings, extra_routers=[_bench_router()], log_stream=sink)
        freeze_start_up_heap()  # as `keyguard serve` does before serving
        uvicorn.Server(uvicorn_config(app, port=port, log_level="warning")).run()


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


def load_process(args: argparse.Namespace) -> None:
    """Entry point of the load subprocess (the python load generator)."""
    spec = json.loads(sys.stdin.read())
    result = asyncio.run(_python_load(spec))
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


def measure(base: str, target: Target, args: argparse.Namespace, work: Path, server: int) -> Result:
    """Load one endpoint; also charge the server's CPU time to the requests it served."""
    before = _cpu_seconds(server)
    result = _load(base, target, args, work)
    if result.requests:
        result.server_cpu_us = (_cpu_seconds(server) - before) / result.requests * 1e6
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
        "method": target.method, "headers": headers, "body": target.body,
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


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit("the benchmark server exited")
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the benchmark server did not start")


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="kg-bench-http-"))
    database_url = args.postgres or f"sqlite:///{work / 'keyguard.db'}"
    key = prepare(work / "data", database_url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(port),
         "--data-dir", str(work / "data"), "--database-url", database_url],
    )  # fmt: skip
    _pin(server.pid, SERVER_CPU)
    auth = {"Authorization": f"Bearer {key}"}
    verify_body = json.dumps({"key": key, "scope": "keys:read", "ip": "203.0.113.7"})
    targets = [
        Target("unauthenticated", OPEN),
        Target("authenticated", AUTHED, headers=auth),
    ]
    verify = Target(
        "verify", VERIFY, "POST", {**auth, "Content-Type": "application/json"}, verify_body
    )
    try:
        _wait(base, server)
        for target in targets:  # warm-up: caches, connections, JIT-free but not cold
            warm = argparse.Namespace(**{**vars(args), "duration": 2})
            measure(base, target, warm, work, server.pid)
        results: dict[str, list[Result]] = {t.name: [] for t in [*targets, verify]}
        for round_ in range(args.rounds):  # alternate, so background noise hits both alike
            for target in targets if round_ % 2 == 0 else targets[::-1]:
                results[target.name].append(measure(base, target, args, work, server.pid))
        results["verify"].append(measure(base, verify, args, work, server.pid))
    finally:
        server.terminate()
        server.wait()
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, list[Result]]) -> None:
    def mean(name: str, field: str) -> float:
        return statistics.fmean(getattr(r, field) for r in results[name])

    ratio = mean("authenticated", "requests_per_s") / mean("unauthenticated", "requests_per_s")
    pairs = [
        a.requests_per_s / u.requests_per_s
        for a, u in zip(results["authenticated"], results["unauthenticated"], strict=True)
    ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}")
    print(f"load average before/after: {args.load_before} / {os.getloadavg()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: {' '.join(sys.argv)} (load: {args.load}, {args.connections} connections, "
          f"{args.duration} s x {args.rounds} rounds)")  # fmt: skip
    print("| endpoint | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/req |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        for r in runs:
            print(f"| {name} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
                  f"| {r.non_2xx} | {r.server_cpu_us:.0f} |")  # fmt: skip
    for name in ("unauthenticated", "authenticated"):
        print(f"mean {name}: {mean(name, 'requests_per_s'):,.0f} req/s, "
              f"p50 {mean(name, 'p50_ms'):.2f} ms, p99 {mean(name, 'p99_ms'):.2f} ms, "
              f"server CPU {mean(name, 'server_cpu_us'):.0f} µs/req")  # fmt: skip
    cpu_ratio = mean("unauthenticated", "server_cpu_us") / mean("authenticated", "server_cpu_us")
    print(f"CPU-bound ratio (unauthenticated/authenticated server CPU per request): "
          f"{cpu_ratio:.3f}: the throughput ratio on a dedicated core")  # fmt: skip
    print("ratio per round: " + ", ".join(f"{p:.3f}" for p in pairs))
    verdict = "met" if ratio >= 0.85 else "MISSED"
    print(f"ratio of the means: {ratio:.3f}, median of the rounds: {statistics.median(pairs):.3f}"
          f" (goal >= 0.85: {verdict})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", help="benchmark on this PostgreSQL URL instead of SQLite")
    parser.add_argument("--load", choices=["wrk", "python"], default=None)
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
        serve(args.data_dir, args.database_url, args.port)
    elif args.load_process:
        load_process(args)
    else:
        if args.load is None:
            args.load = "wrk" if shutil.which("wrk") else "python"
        run(args)


if __name__ == "__main__":
    main()
