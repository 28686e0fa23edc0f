"""A redis-server of the test's own, on a free loopback port, that a test may stop and restart.

The shared Redis (KEYGUARD_TEST_REDIS_URL) serves every test and every agent on the machine; a
test that takes Redis away starts one of its own instead. Without the binary the test is
skipped, or fails under KEYGUARD_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.services import services_required

STARTUP_DEADLINE = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    def __init__(self, binary: str, workdir: Path) -> None:
        self._binary = binary
        self._workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self._workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_real_clock_env(),
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + STARTUP_DEADLINE
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self._process.returncode}")
                try:
                    if client.ping():
                        return self
                except redis.RedisError:
                    time.sleep(0.02)  # still starting: nothing else to wait on
        finally:
            client.close()
        raise RuntimeError("redis-server did not answer")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=STARTUP_DEADLINE)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> PrivateRedis:
        self.stop()
        return self.start()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        if services_required():
            pytest.fail("redis-server is not installed, and KEYGUARD_REQUIRE_SERVICES=1")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(binary, tmp_path).start()
    yield server
    server.stop()


def _real_clock_env() -> dict[str, str]:
    """The server runs on the real clock, like the shared Redis: under a suite run with the
    date moved (libfaketime's LD_PRELOAD), a faked redis-server never answers."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
