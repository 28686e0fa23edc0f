"""Revocation latency of `keyguard smtp` (run by hand; results go to docs/benchmarks.md).

    .venv/bin/python bench/smtp_revocation.py [--trials 5]

Starts a real `keyguard smtp` process on an embedded SQLite database (the default setup, plain
SMTP on loopback). Each trial creates a key, authenticates with it once (so that the server
has it cached), then revokes it with a `keyguard keys revoke` process while trying a new AUTH
every 10 ms (for at most 10 s after that process has exited) until the server refuses the key.
The time is counted from the revocation's audit timestamp, which the CLI takes just before
its commit (so the figure errs high, never low), to the first refusal, both on the wall
clock of this machine. Prints each trial, then the median and the maximum.
"""

# ruff: noqa: E402 - the sys.path fix below must run before the other imports

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/…` puts bench/ first on sys.path, where bench/secret_store.py would shadow the
# standard library's `secrets` (which key generation uses). Take bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import os
import re
import smtplib
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select

from keyguard.audit.models import AuditEvent
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate

PEPPER = "bench-pepper-" + "0f1e2d3c4b5a6978" * 3
READY = re.compile(r"listening on port (\d+)")
POLL_SECONDS = 0.01
BOUND_SECONDS = 10.0


def environment(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(data_dir),
        "KEYGUARD_DATABASE_URL": database_url,
        "KEYGUARD_PEPPER": PEPPER,
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def smtp_server(env: dict[str, str], log_path: Path) -> Iterator[int]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyguard", "smtp", "--port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while not (match := READY.search(log_path.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"keyguard smtp did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield int(match.group(1))
    finally:
        process.terminate()
        process.wait(timeout=30)


def accepted(port: int, key: str) -> bool:
    """One AUTH PLAIN on a new connection: True when the server accepts the key."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.user, client.password = "apikey", key
        try:
            client.auth("PLAIN", client.auth_plain)
        except smtplib.SMTPAuthenticationError:
            return False
        except smtplib.SMTPServerDisconnected:
            return False  # 421: refused and closed
    return True


def trial(runtime: Runtime, env: dict[str, str], port: int) -> float | None:
    created = runtime.keys.create(OPERATOR, KeySpec(DEFAULT_TENANT, "live", ["mail:send"]))
    key = created.key.reveal()
    if not accepted(port, key):
        raise SystemExit("the new key was refused before its revocation")
    revoke = subprocess.Popen(
        [sys.executable, "-m", "keyguard", "keys", "revoke", created.view.id],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    refused_at = None
    exited: float | None = None
    while exited is None or time.monotonic() - exited < BOUND_SECONDS:
        if exited is None and revoke.poll() is not None:
            exited = time.monotonic()
        if not accepted(port, key):
            refused_at = datetime.now(UTC)
            break
        time.sleep(POLL_SECONDS)
    if revoke.wait(timeout=120) != 0:
        raise SystemExit("keyguard keys revoke failed")
    if refused_at is None:
        return None
    return (refused_at - revoked_at(runtime, created.view.id)).total_seconds()


def revoked_at(runtime: Runtime, key_id: str) -> datetime:
    with runtime.sessions() as session:
        ts = session.scalars(
            select(AuditEvent.ts)
            .where(AuditEvent.target == key_id, AuditEvent.action.contains("revoke"))
            .order_by(AuditEvent.seq.desc())
        ).first()
    if ts is None:
        raise SystemExit("no audit event for the revocation")
    return ts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        database_url = f"sqlite:///{Path(tmp) / 'keyguard.db'}"
        runtime = Runtime.build(
            Settings(data_dir=data_dir, database_url=database_url, pepper=PEPPER)
        )
        migrate.upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
        env = environment(database_url, data_dir)
        try:
            with smtp_server(env, Path(tmp) / "smtp.log") as port:
                results = [trial(runtime, env, port) for _ in range(args.trials)]
        finally:
            runtime.close()
    for n, seconds in enumerate(results, 1):
        shown = f"{seconds * 1000:.0f} ms" if seconds is not None else f"> {BOUND_SECONDS:.0f} s"
        print(f"trial {n}: first refusal {shown} after the revoke")
    measured = [s if s is not None else float("inf") for s in results]
    print(
        f"median {statistics.median(measured) * 1000:.0f} ms, "
        f"max {max(measured) * 1000:.0f} ms ({args.trials} trials, SQLite, poll every 10 ms)"
    )


if __name__ == "__main__":
    main()
