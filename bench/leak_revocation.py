"""Leak report → key refused everywhere, for a batch of tokens (run by hand; results go to
docs/benchmarks.md).

    .venv/bin/python bench/leak_revocation.py [--tokens 1000] [--trials 1]

On an embedded SQLite database, creates the keys, then starts two processes:

- `keyguard serve`, which receives the report: `POST /v1/leaks/report` (a `leaks:report` key
  of the same tenant) with every token in one request;
- a verifier process (this script with `--verifier`) that has verified every key through the
  gate (so each sits in its cache, as on a busy gateway), then follows the change feed every
  CHANGE_FEED_SECONDS as every Keyguard process does, and re-verifies each key still accepted
  until the gate refuses it.

Each key's latency runs from just before the report is sent to the moment the verifier
process first refuses it, on this machine's wall clock. Prints p50, p95 and the maximum over
all keys, and how long the report request itself took. Goal (issue 12): p95 ≤ 5 s for 1,000.
The keys live in a temporary directory (a throwaway database) and are never printed.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/…` puts bench/ first on sys.path, where bench/secret_store.py would shadow the
# standard library's `secrets` (which key generation uses). Take bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

import httpx

from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.runtime.housekeeping import CHANGE_FEED_SECONDS
from keyguard.settings import Settings
from keyguard.storage import migrate

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
BOUND_SECONDS = 60.0


def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, pepper=PEPPER)


def environment(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(data_dir),
        "KEYGUARD_DATABASE_URL": database_url,
        "KEYGUARD_PEPPER": PEPPER,
        "KEYGUARD_MAIL_WORKER_IN_SERVE": "false",
        "PYTHONUNBUFFERED": "1",
    }


def verifier(database_url: str, data_dir: Path, key_file: Path) -> None:
    """The second process: warm the gate's cache, say ready, then time each refusal."""
    runtime = Runtime.build(settings(database_url, data_dir))
    keys = key_file.read_text().split()
    for key in keys:
        if not runtime.gate.admit_blocking(key, scope=None, ip=None).allowed:
            raise SystemExit("a key was refused before the report")
    runtime.changes.poll()  # the change feed's starting point, as at a process's start
    print("ready", flush=True)
    remaining = dict(enumerate(keys))
    refused: dict[int, float] = {}
    next_poll = time.monotonic() + CHANGE_FEED_SECONDS
    deadline = time.monotonic() + BOUND_SECONDS
    while remaining and time.monotonic() < deadline:
        if time.monotonic() >= next_poll:
            runtime.changes.poll()
            next_poll = time.monotonic() + CHANGE_FEED_SECONDS
        for index, key in list(remaining.items()):
            if not runtime.gate.admit_blocking(key, scope=None, ip=None).allowed:
                refused[index] = time.time()
                del remaining[index]
        time.sleep(0.005)
    print(json.dumps({"refused": list(refused.values()), "missing": len(remaining)}), flush=True)
    runtime.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyguard", "serve", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"keyguard serve did not start:\n{log.read_text()}")


def trial(tmp: Path, tokens: int) -> tuple[list[float], float, int]:
    data_dir = tmp / "data"
    database_url = f"sqlite:///{tmp / 'keyguard.db'}"
    runtime = Runtime.build(settings(database_url, data_dir))
    migrate.upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
    spec = KeySpec(DEFAULT_TENANT, "live", ["mail:send"])
    keys = [runtime.keys.create(OPERATOR, spec).key.reveal() for _ in range(tokens)]
    reporter = runtime.keys.create(OPERATOR, KeySpec(DEFAULT_TENANT, "live", ["leaks:report"]))
    runtime.close()
    key_file = tmp / "keys.txt"
    key_file.touch(mode=0o600)
    key_file.write_text("\n".join(keys))
    env = environment(database_url, data_dir)
    port = free_port()
    server = serve(env, port, tmp / "serve.log")
    checker = subprocess.Popen(
        [sys.executable, __file__, "--verifier", database_url, str(data_dir), str(key_file)],
        stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        assert checker.stdout is not None
        if checker.stdout.readline().strip() != "ready":
            raise SystemExit("the verifier process did not start")
        body = {"reports": [{"token": k, "path": "leak.txt", "line": n + 1}
                            for n, k in enumerate(keys)]}  # fmt: skip
        headers = {"Authorization": f"Bearer {reporter.key.reveal()}"}
        sent = time.time()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/leaks/report", json=body, headers=headers, timeout=120
        )
        request_seconds = time.time() - sent
        if answer.status_code != 200:
            raise SystemExit(f"the report failed: {answer.status_code} {answer.text[:200]}")
        result = json.loads(checker.stdout.readline())
        checker.wait(timeout=30)
    finally:
        checker.kill()
        server.terminate()
        server.wait(timeout=30)
    return [t - sent for t in result["refused"]], request_seconds, result["missing"]


def main() -> None:
    if sys.argv[1:2] == ["--verifier"]:
        verifier(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=1)
    args = parser.parse_args()
    for n in range(1, args.trials + 1):
        with tempfile.TemporaryDirectory() as tmp:
            latencies, request_seconds, missing = trial(Path(tmp), args.tokens)
        latencies.sort()
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else float("inf")
        print(
            f"trial {n}: {args.tokens} tokens, report request {request_seconds:.2f} s; "
            f"refused in the other process: p50 {statistics.median(latencies):.2f} s, "
            f"p95 {p95:.2f} s, max {latencies[-1]:.2f} s"
            + (f"; {missing} never refused within {BOUND_SECONDS:.0f} s" if missing else "")
        )


if __name__ == "__main__":
    main()
