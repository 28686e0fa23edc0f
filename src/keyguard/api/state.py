"""ApiState: what one app holds for its lifetime (app.state.keyguard)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp

from keyguard.api.auth import TrustedProxies
from keyguard.api.metrics import Metrics
from keyguard.runtime import Runtime


@dataclass
class ApiState:
    runtime: Runtime
    metrics: Metrics
    trusted: TrustedProxies
    access_log: Any  # a structlog logger (keyguard.logging.make_logger)
    max_body_bytes: int
    hsts: bool = False
    owns_runtime: bool = False
    # (method, path) → the route KeyguardMiddleware serves directly (keyguard.api.direct's
    # DirectRoute; the middleware only calls it as an ASGI app).
    direct: dict[tuple[str, str], ASGIApp] = field(default_factory=dict)
