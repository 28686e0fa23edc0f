"""`keyguard serve --workers 2`: two real processes answer on one port, and a revocation made
elsewhere reaches both of them.

Which worker holds a connection is read from the operating system (psutil: the worker whose
socket's peer is our connection's local port); the API exposes no process id.
"""

from __future__ import annotations

import http.client
import json
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psutil
import pytest

from keyguard.api.workers import WorkerSpec
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from tests.conftest import TEST_PEPPER, create_key
from tests.functional.api.servers import ProcessServer

pytestmark = pytest.mark.slow
CONNECTIONS = 24  # spread by the kernel's hash: all on one worker has odds of 2**-23
DEADLINE = 60.0


def _listening_workers(server: ProcessServer) -> set[int]:
    assert server.process is not None
    pids = set()
    for child in psutil.Process(server.process.pid).children():
        try:
            sockets = child.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(s.status == psutil.CONN_LISTEN and s.laddr.port == server.port for s in sockets):
            pids.add(child.pid)
    return pids


def _wait_for_workers(server: ProcessServer, count: int) -> set[int]:
    deadline = time.monotonic() + DEADLINE
    while len(pids := _listening_workers(server)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} workers never listened; log:\n{server.log()}")
        time.sleep(0.05)
    return pids


def _owner(pids: set[int], connection: http.client.HTTPConnection) -> int:
    """The worker process at the other end of this (open) connection."""
    assert connection.sock is not None
    local = connection.sock.getsockname()[1]
    for pid in pids:
        for sock in psutil.Process(pid).net_connections(kind="tcp"):
            if sock.raddr and sock.raddr.port == local:
                return pid
    raise AssertionError(f"no worker holds the connection from port {local}")


def _get(connection: http.client.HTTPConnection, key: str) -> tuple[int, dict[str, object]]:
    connection.request("GET", "/v1/keys", headers={"Authorization": f"Bearer {key}"})
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read())


@pytest.fixture
def served(runtime: Runtime, database_url: str, tmp_path: Path) -> Iterator[ProcessServer]:
    server = ProcessServer(tmp_path / "data", database_url, args=("--workers", "2")).start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_two_workers_answer_on_one_port_and_both_refuse_a_key_revoked_elsewhere(
    runtime: Runtime, served: ProcessServer
) -> None:
    created = create_key(runtime, scopes=["keys:read"])
    key = created.key.reveal()
    pids = _wait_for_workers(served, 2)
    with ExitStack() as stack:
        owners: dict[int, http.client.HTTPConnection] = {}
        for _ in range(CONNECTIONS):
            connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
            stack.callback(connection.close)
            status, _ = _get(connection, key)  # each worker caches the key as valid
            assert status == 200
            owners.setdefault(_owner(pids, connection), connection)
        assert set(owners) == pids  # both processes answered

        runtime.keys.revoke(OPERATOR, created.view.id)  # another process: the test's own

        refused = {}
        deadline = time.monotonic() + DEADLINE
        for pid, connection in owners.items():
            while (answer := _get(connection, key))[0] == 200:
                assert time.monotonic() < deadline, f"worker {pid} still accepts the key"
                time.sleep(0.05)
            refused[pid] = answer
    assert {status for status, _ in refused.values()} == {401}
    assert {body["code"] for _, body in refused.values()} == {"revoked"}
    assert served.stop() == 0  # SIGTERM: both workers drain and the supervisor exits cleanly
    assert not [pid for pid in pids if psutil.pid_exists(pid)]  # and none is left behind


def test_only_the_first_worker_runs_the_delivery_worker_and_smtp_submission(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, pepper=TEST_PEPPER, smtp_in_serve=True)
    first, second = (
        WorkerSpec(settings, "127.0.0.1", 8080, None, None, index=n).worker_settings()
        for n in (0, 1)
    )
    assert (first.mail_worker_in_serve, first.smtp_in_serve) == (True, True)
    assert (second.mail_worker_in_serve, second.smtp_in_serve) == (False, False)


def test_a_worker_that_dies_is_replaced_and_the_port_keeps_answering(
    served: ProcessServer,
) -> None:
    first = _wait_for_workers(served, 2)
    victim = min(first)
    psutil.Process(victim).kill()  # SIGKILL: no goodbye
    deadline = time.monotonic() + DEADLINE
    while len(now := _listening_workers(served)) < 2 or victim in now:
        assert time.monotonic() < deadline, f"no replacement; log:\n{served.log()}"
        time.sleep(0.05)
    assert len(now - first) == 1  # a new process took the dead one's place
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert f"exited (-{int(signal.SIGKILL)})" in served.log()
