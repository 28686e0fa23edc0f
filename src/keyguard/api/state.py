"""ApiState: what one app holds for its lifetime (app.state.keyguard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
