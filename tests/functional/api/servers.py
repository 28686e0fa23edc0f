"""Real HTTP servers on loopback for the API tests: uvicorn in a thread, or `keyguard serve`
in a subprocess when only a separate process can show the behaviour."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from keyguard.api.server import uvicorn_config
from tests.conftest import TEST_PEPPER

STARTUP_DEADLINE = 60.0


def url_for(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class ThreadServer:
    """uvicorn serving `app` from a thread, on a socket bound here (no port race)."""

    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.url = url_for(host, self.port)
        self.server = uvicorn.Server(
            uvicorn_config(app, host=host, port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_DEADLINE
        while not self.server.started:  # waits for a thread, not for the clock under test
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Graceful shutdown: in-flight requests finish, then the lifespan flushes."""
        self.server.should_exit = True
        self.thread.join(timeout=STARTUP_DEADLINE)
        self.sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class ProcessServer:
    """`python -m keyguard serve` against the test database, output captured to a file."""

    data_dir: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    scheme: str = "http"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    output: Path | None = None

    @property
    def url(self) -> str:
        return url_for(self.host, self.port, self.scheme)

    def start(self) -> ProcessServer:
        self.port = self.port or free_port(self.host)
        self.output = self.data_dir.parent / f"serve-{self.port}.log"
        env = {
            **os.environ,
            "KEYGUARD_DATA_DIR": str(self.data_dir),
            "KEYGUARD_DATABASE_URL": self.database_url,
            "KEYGUARD_PEPPER": TEST_PEPPER,
            **self.env,
        }
        with self.output.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "keyguard", "serve", "--host", self.host,
                 "--port", str(self.port), *self.args],
                stdout=sink, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        return self

    def wait_ready(self, **client: Any) -> ProcessServer:
        deadline = time.monotonic() + STARTUP_DEADLINE
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"keyguard serve exited: {self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1, **client).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)  # the process is still importing; nothing else to wait on
        raise RuntimeError(f"keyguard serve did not answer: {self.log()}")

    def stop(self) -> int:
        """SIGTERM, the graceful path: uvicorn drains, the lifespan flushes."""
        if self.process is None:
            return 0
        self.process.terminate()
        try:
            return self.process.wait(timeout=STARTUP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output else ""


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def send_raw(url: str, request: bytes) -> RawAnswer:
    """Send bytes no HTTP client would send (NUL, obs-fold, huge heads) and read one answer."""
    address = httpx.URL(url)
    assert address.host and address.port
    with socket.create_connection((address.host, address.port), timeout=STARTUP_DEADLINE) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or len(received) < _expected_size(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (x.partition(": ") for x in lines)}
    return RawAnswer(int(status_line.split()[1]), headers, body)


def _expected_size(received: bytes) -> int:
    head, _, _ = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":", 1)[1])
    return len(received)
