"""What `GET /readyz` checks: the database, Redis when configured, and the secrets backend.

Each check answers "ok", "unavailable" or "not_configured"; a failure's reason goes to the log,
never to the answer (a driver's or client's message can carry a URL with credentials).

The secrets check is cheap by design. The pepper ring was loaded when the process started
(it cannot run without one), so with the env backend there is nothing to ask. With a provider
backend (file, openbao, aws) the provider's `health()` is asked at most once per
SECRETS_TTL_SECONDS and answers within SECRETS_TIMEOUT_SECONDS: a readiness probe every second
on every node must not become a request to the vault every second, and a vault that hangs
must not hang the probe. While one check is under way, every caller waits on that one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal

import anyio.to_thread
from sqlalchemy import text

from keyguard.errors import KeyguardError
from keyguard.ratelimit import RedisBackend
from keyguard.runtime import Runtime

if TYPE_CHECKING:
    from keyguard.secrets import SecretProvider

log = logging.getLogger(__name__)

Check = Literal["ok", "unavailable", "not_configured"]

SECRETS_TTL_SECONDS: Final = 30.0
SECRETS_TIMEOUT_SECONDS: Final = 2.0


class CachedProbe:
    """A blocking check run in a thread at most once per `ttl`, answered within `timeout`."""

    def __init__(
        self,
        check: Callable[[], None],
        *,
        ttl: float,
        timeout: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._check = check
        self._ttl = ttl
        self._timeout = timeout
        self._monotonic = monotonic
        self._result: bool | None = None
        self._checked_at = 0.0
        self._running: asyncio.Task[bool] | None = None

    async def __call__(self) -> bool:
        if self._result is not None and self._monotonic() - self._checked_at < self._ttl:
            return self._result
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._run())
        try:
            # shield: a caller that gives up leaves the check running for the next caller.
            return await asyncio.wait_for(asyncio.shield(self._running), self._timeout)
        except TimeoutError:
            log.warning("readiness.check_timeout", extra={"timeout_seconds": self._timeout})
            return False

    async def _run(self) -> bool:
        try:
            await anyio.to_thread.run_sync(self._check)
        except KeyguardError as exc:
            log.warning("readiness.check_failed", extra={"reason": exc.message})
            ok = False
        except Exception as exc:  # any failure means "not ready"; the type is logged
            log.warning("readiness.check_failed", extra={"reason": type(exc).__name__})
            ok = False
        else:
            ok = True
        self._result, self._checked_at = ok, self._monotonic()
        return ok


class ReadinessChecks:
    """The checks of one app; built with it, the secrets probe on first use."""

    def __init__(self, runtime: Runtime, *, monotonic: Callable[[], float]) -> None:
        self._runtime = runtime
        self._monotonic = monotonic
        self._secrets: CachedProbe | None = None
        self._provider: SecretProvider | None = None

    async def checks(self) -> dict[str, Check]:
        database, redis, secrets = await asyncio.gather(
            self._database(), self._redis(), self._secrets_backend()
        )
        return {"database": database, "redis": redis, "secrets": secrets}

    async def _database(self) -> Check:
        ok = await anyio.to_thread.run_sync(_database_ok, self._runtime)
        return "ok" if ok else "unavailable"

    async def _redis(self) -> Check:
        backend = self._runtime.limits.backend
        if not isinstance(backend, RedisBackend):
            return "not_configured"
        return "ok" if await backend.ping_async() else "unavailable"

    async def _secrets_backend(self) -> Check:
        settings = self._runtime.settings.secrets
        if settings.backend == "env":
            return "ok"  # the pepper ring is in memory: nothing outside to ask
        if self._secrets is None:
            self._secrets = CachedProbe(
                self._provider_health,
                ttl=SECRETS_TTL_SECONDS,
                timeout=SECRETS_TIMEOUT_SECONDS,
                monotonic=self._monotonic,
            )
        return "ok" if await self._secrets() else "unavailable"

    def _provider_health(self) -> None:
        if self._provider is None:
            from keyguard.secrets import build_provider  # noqa: PLC0415 - hvac, boto3 when used

            self._provider = build_provider(self._runtime.settings.secrets, check=False)
        self._provider.health()


def _database_ok(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the message may carry the URL
        log.warning("readiness.database_failed", extra={"reason": type(exc).__name__})
        return False
    return True
