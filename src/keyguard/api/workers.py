"""`keyguard serve --workers N`: N API processes on one port, each with its own Runtime.

    supervisor (this process)          reserves the port (bound, never listening), starts N
      │                                children, forwards SIGTERM/SIGINT, restarts a child
      ├─ worker 0  Runtime, app, the   that dies (a bounded number of times)
      │            delivery worker and maintenance (as a single `serve` would run them)
      └─ worker 1… Runtime, app, housekeeping without maintenance

Each worker binds the port itself with SO_REUSEPORT, so the kernel spreads new connections
over the workers' own listening sockets (no shared accept queue, no thundering herd). Caches
stay coherent the way they are between nodes: every worker follows the change feed (and
whatever fan-out its Runtime subscribes to). Only worker 0 runs the mail delivery worker, the
SMTP submission server (when `smtp_in_serve`) and usage maintenance, so one `serve` still
means one of each. Children are spawned, not forked: nothing (engine pools, threads, Redis
connections) crosses from the supervisor.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Final

import structlog

from keyguard.api.app import create_app
from keyguard.api.server import GracefulServer, uvicorn_config
from keyguard.logging import configure_logging
from keyguard.runtime import Runtime, freeze_start_up_heap
from keyguard.settings import Settings

# A worker that keeps dying is a bug or a broken environment: give up after this many.
MAX_RESTARTS: Final = 10
STOP_SECONDS: Final = 40.0  # uvicorn's graceful shutdown (30 s) plus the lifespan's flush
log = structlog.get_logger("keyguard.serve")


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker process needs to serve: pickled to the spawned child."""

    settings: Settings
    host: str
    port: int
    tls_cert: Path | None
    tls_key: Path | None
    index: int

    def worker_settings(self) -> Settings:
        """Worker 0 runs what a single `serve` runs; the others only answer requests."""
        if self.index == 0:
            return self.settings
        return self.settings.model_copy(
            update={"mail_worker_in_serve": False, "smtp_in_serve": False}
        )


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve_worker(spec: WorkerSpec) -> None:
    """The body of one worker process (the target of the spawned child)."""
    configure_logging()
    sock = reuse_port_socket(spec.host, spec.port)
    tls = spec.tls_cert is not None
    runtime = Runtime.build(spec.worker_settings())
    app = create_app(runtime, hsts=tls)
    config = uvicorn_config(
        app, host=spec.host, port=spec.port, tls_cert=spec.tls_cert, tls_key=spec.tls_key
    )
    server = GracefulServer(config)  # SIGTERM: drain, then close the runtime (usage flushed)
    freeze_start_up_heap()  # each worker's own start-up heap
    try:
        server.run(sockets=[sock])
    finally:
        runtime.close()
        sock.close()
    if not server.started:
        raise SystemExit(1)


class Supervisor:
    """Starts the workers, keeps them running, stops them on SIGTERM or SIGINT."""

    def __init__(self, spec: WorkerSpec, workers: int) -> None:
        self._spec = spec
        self._count = workers
        self._context = multiprocessing.get_context("spawn")
        self._children: dict[int, BaseProcess] = {}
        self._stopping = False
        self.restarts = 0

    def run(self) -> int:
        """Serve until signalled; the exit status (0 after a clean stop)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for index in range(self._count):
                self._start(index)
            return self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self, index: int) -> None:
        spec = replace(self._spec, index=index)
        child = self._context.Process(target=serve_worker, args=(spec,), name=f"worker-{index}")
        child.start()
        self._children[index] = child
        log.info(f"worker {index} started (pid {child.pid})", worker=index, pid=child.pid)

    def _watch(self) -> int:
        while not self._stopping:
            sentinels = {child.sentinel: index for index, child in self._children.items()}
            for ready in wait(list(sentinels), timeout=1.0):
                index = sentinels[ready]  # type: ignore[index]  # sentinels are ints
                child = self._children[index]
                child.join(5.0)  # the sentinel can close a moment before the exit is reaped
                code = child.exitcode
                if self._stopping:
                    break
                log.warning(f"worker {index} exited ({code})", worker=index, exitcode=code)
                if self.restarts >= MAX_RESTARTS:
                    log.error("workers keep exiting: stopping", restarts=self.restarts)
                    return 1
                self.restarts += 1
                self._start(index)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _stop_all(self) -> None:
        children = [child for child in self._children.values() if child.is_alive()]
        for child in children:
            if child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)  # uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_SECONDS
        for child in children:
            child.join(max(0.0, deadline - time.monotonic()))
            if child.is_alive():
                child.kill()
                child.join()


def serve_workers(
    settings: Settings,
    *,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    workers: int,
    announce: Callable[[int], None],
) -> int:
    """Run `workers` API processes on host:port (port 0: a free one, given to `announce`
    before the workers start); returns the exit status."""
    reserved = reuse_port_socket(host, port)  # bound, never listening: takes no connections
    try:
        port = int(reserved.getsockname()[1])
        announce(port)
        spec = WorkerSpec(settings, host, port, tls_cert, tls_key, index=0)
        return Supervisor(spec, workers).run()
    finally:
        reserved.close()
