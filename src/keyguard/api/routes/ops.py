"""Operations: liveness, readiness (database and Redis) and Prometheus metrics; no key needed."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from keyguard.api.context import api_state
from keyguard.api.documented import UNAVAILABLE
from keyguard.api.enforcement import EnforcedRoute
from keyguard.api.metrics import CONTENT_TYPE
from keyguard.errors import ConfigurationError
from keyguard.ratelimit import RedisBackend
from keyguard.runtime import Runtime

router = APIRouter(route_class=EnforcedRoute, tags=["operations"])

Check = Literal["ok", "unavailable", "not_configured"]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, Check]


@router.get("/healthz", operation_id="health_get")
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", operation_id="readiness_get", responses=UNAVAILABLE)
async def readyz(request: Request) -> Readiness:
    """Readiness: the database answers, and Redis when one is configured."""
    runtime = api_state(request).runtime
    checks: dict[str, Check] = {
        "database": "ok" if await run_in_threadpool(_database_ok, runtime) else "unavailable",
        "redis": "not_configured",
    }
    if isinstance(runtime.limits.backend, RedisBackend):
        checks["redis"] = "ok" if await runtime.limits.backend.ping_async() else "unavailable"
    if "unavailable" in checks.values():
        failing = ", ".join(name for name, state in checks.items() if state == "unavailable")
        raise ConfigurationError(f"not ready: {failing} unavailable", code="not_ready")
    return Readiness(status="ready", checks=checks)


@router.get("/metrics", operation_id="metrics_get", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    body = await run_in_threadpool(api_state(request).metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


def _database_ok(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not ready"; the reason is in the server log
        return False
    return True
