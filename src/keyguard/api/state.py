"""ApiState: what one app holds for its lifetime (app.state.keyguard)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from keyguard.api.auth import TrustedProxies
from keyguard.api.metrics import Metrics
from keyguard.policy.restrictions import IPAddress
from keyguard.runtime import Runtime
from keyguard.verification import Decision, Owner


@dataclass
class ApiState:
    runtime: Runtime
    metrics: Metrics
    trusted: TrustedProxies
    access_log: Any  # a structlog logger (keyguard.logging.make_logger)
    max_body_bytes: int
    hsts: bool = False
    owns_runtime: bool = False

    async def verify(
        self,
        presented: str,
        *,
        scope: str | None,
        ip: IPAddress | str | None,
        env: str | None = None,
        owner: Owner | None = None,
    ) -> Decision:
        """Decide on the event loop when memory suffices; a database lookup goes to a thread
        so that a slow or locked database never stalls the other requests."""
        verifier = self.runtime.verifier
        decision = verifier.verify_from_memory(presented, scope=scope, ip=ip, env=env, owner=owner)
        if decision is None:
            started = time.perf_counter()
            decision = await run_in_threadpool(
                verifier.verify, presented, scope=scope, ip=ip, env=env, owner=owner
            )
            self.metrics.lookup_seconds.observe(time.perf_counter() - started)
        return decision
