"""The email service's background work in one process: the delivery worker and, optionally,
the SMTP submission server, started and stopped together on the running event loop.

`keyguard serve` enters `MailTasks.for_serve(runtime)` in its lifespan (the worker runs
unless KEYGUARD_MAIL_WORKER_IN_SERVE=false; SMTP only with KEYGUARD_SMTP_IN_SERVE=true);
`keyguard worker` and `keyguard smtp` run one part each until a signal arrives, inside the
runtime's housekeeping (runtime/housekeeping.py: the change feed above all).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import TracebackType
from typing import Final

import structlog

from keyguard.mail import DeliveryWorker
from keyguard.runtime import Runtime, relay_from_settings, submission_tls, worker_config
from keyguard.smtp.submission import SubmissionHandler, bound_port, drain, start_server

log = structlog.get_logger("keyguard.smtp.tasks")

# After SIGTERM, how long a message under way may take to finish (as HTTP's drain).
DRAIN_SECONDS: Final = 30.0


class MailTasks:
    def __init__(
        self,
        runtime: Runtime,
        *,
        deliver: bool,
        submit: bool,
        smtp_host: str | None = None,
        smtp_port: int | None = None,
    ) -> None:
        self._runtime = runtime
        self._deliver = deliver
        self._submit = submit
        self._smtp_host = smtp_host or runtime.settings.smtp_host
        self._smtp_port = runtime.settings.smtp_port if smtp_port is None else smtp_port
        self._stop = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._handler: SubmissionHandler | None = None
        self.worker: DeliveryWorker | None = None

    @classmethod
    def for_serve(cls, runtime: Runtime) -> MailTasks:
        settings = runtime.settings
        return cls(runtime, deliver=settings.mail_worker_in_serve, submit=settings.smtp_in_serve)

    @property
    def smtp_port(self) -> int | None:
        return bound_port(self._server) if self._server is not None else None

    async def start(self) -> None:
        runtime = self._runtime
        if self._submit:
            handler = self._handler = SubmissionHandler(
                runtime.gate,
                runtime.mail.sending,
                usage=runtime.usage,
                clock=runtime.clock,
                locator=runtime.locator,
            )
            self._server = await start_server(
                handler,
                host=self._smtp_host,
                port=self._smtp_port,
                tls=submission_tls(runtime.settings),
            )
        if self._deliver:
            self._start_worker()

    async def stop(self) -> None:
        """Stop accepting connections, let the messages under way finish, stop the worker."""
        self._stop.set()
        if self._server is not None and self._handler is not None:
            self._server.close()
            await drain(self._handler, grace=DRAIN_SECONDS)
            await self._server.wait_closed()
        if self._worker_task is not None:
            await self._worker_task

    async def run_until_signalled(self, on_ready: Callable[[], None] | None = None) -> None:
        """For `keyguard worker` and `keyguard smtp`: run until SIGINT or SIGTERM."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        async with self:
            if on_ready is not None:
                on_ready()
            await stopping.wait()
            # Leaving the block stops accepting and finishes what is under way (`stop`).
            log.info("stopping: finishing the work under way")

    async def __aenter__(self) -> MailTasks:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _start_worker(self) -> None:
        runtime = self._runtime
        relay = relay_from_settings(runtime.settings)
        if relay is None:
            log.warning("KEYGUARD_SMTP_RELAY is not set: live mail stays queued until it is")
            return
        self.worker = DeliveryWorker(
            runtime.sessions,
            runtime.clock,
            relay,
            config=worker_config(runtime.settings),
            counts=runtime.mail.deliveries,
        )
        runtime.mail.sending.add_listener(self.worker.wake)
        self._worker_task = asyncio.create_task(self.worker.run(self._stop))
