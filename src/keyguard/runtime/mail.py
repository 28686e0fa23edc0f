"""The email service in a process: its settings turned into configs (relay, worker, TLS), and
the background work — the delivery worker and, optionally, the SMTP submission server —
started and stopped together on the running event loop.

`keyguard serve` enters `MailTasks.for_serve(runtime)` in its lifespan (the worker runs
unless KEYGUARD_MAIL_WORKER_IN_SERVE=false; SMTP only with KEYGUARD_SMTP_IN_SERVE=true);
`keyguard worker` and `keyguard smtp` run one part each until a signal arrives, inside the
runtime's housekeeping (runtime/housekeeping.py: the change feed above all).
"""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from urllib.parse import urlsplit

import structlog
from pydantic import SecretStr

from keyguard.errors import ConfigurationError, NotFound
from keyguard.mail.delivery import DeliveryWorker, WorkerConfig
from keyguard.mail.outbox import RetryPolicy
from keyguard.mail.relay import RelayConfig
from keyguard.mail.submission import SubmissionHandler, bound_port, start_server
from keyguard.runtime.container import Runtime
from keyguard.settings import Settings

log = structlog.get_logger("keyguard.runtime.mail")
RELAY_PASSWORD_SECRET = "smtp/password"
_DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


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
            handler = SubmissionHandler(
                runtime.gate,
                runtime.mail.sending,
                usage=runtime.usage,
                clock=runtime.clock,
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
        self._stop.set()
        if self._worker_task is not None:
            await self._worker_task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

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


def relay_from_settings(settings: Settings) -> RelayConfig | None:
    """The relay, or None when none is configured (mail then stays queued)."""
    if not settings.smtp_relay:
        return None
    parts = urlsplit(settings.smtp_relay)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigurationError(
            "KEYGUARD_SMTP_RELAY must look like smtp://host:port (STARTTLS) or smtps://host:port"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "put the relay's credentials in KEYGUARD_SMTP_USERNAME / KEYGUARD_SMTP_PASSWORD "
            "(or the secret provider), not in KEYGUARD_SMTP_RELAY"
        )
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigurationError("KEYGUARD_SMTP_RELAY has an invalid port") from None
    return RelayConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        require_tls=settings.mode == "live",
        username=settings.smtp_username,
        password=_password(settings),
        ca_file=settings.smtp_relay_ca_file,
        timeout=settings.smtp_timeout_seconds,
    )


def _password(settings: Settings) -> SecretStr | None:
    if settings.smtp_password is not None or settings.smtp_username is None:
        return settings.smtp_password
    if settings.secrets.backend == "env":
        return None  # the env provider would read KEYGUARD_SMTP_PASSWORD: already looked at
    from keyguard.secrets.factory import build_provider  # noqa: PLC0415 - optional backends

    provider = build_provider(settings.secrets)
    try:
        return SecretStr(provider.get(RELAY_PASSWORD_SECRET).reveal())
    except NotFound:
        return None


def worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        batch=settings.mail_worker_batch,
        connections=settings.mail_worker_connections,
        poll_interval=settings.mail_poll_seconds,
        lease=timedelta(seconds=settings.mail_lease_seconds),
        retry=RetryPolicy(
            base=timedelta(seconds=settings.mail_retry_base_seconds),
            max_attempts=settings.mail_max_attempts,
        ),
    )


def submission_tls(settings: Settings) -> ssl.SSLContext | None:
    """The server certificate for STARTTLS; required in live mode."""
    cert, key = settings.smtp_tls_cert_file, settings.smtp_tls_key_file
    if cert is None or key is None:
        if settings.mode == "live":
            raise ConfigurationError(
                "live mode needs KEYGUARD_SMTP_TLS_CERT_FILE and KEYGUARD_SMTP_TLS_KEY_FILE: "
                "keys must never cross the network in clear"
            )
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"cannot load the SMTP certificate: {exc}") from None
    return context
