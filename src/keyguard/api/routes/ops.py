"""Operations: liveness, readiness (database, Redis, secrets backend: keyguard.api.readiness)
and Prometheus metrics; no key needed."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from keyguard.api.context import api_state
from keyguard.api.documented import UNAVAILABLE
from keyguard.api.enforcement import EnforcedRoute
from keyguard.api.metrics import CONTENT_TYPE
from keyguard.api.problems import problem_response
from keyguard.api.readiness import Check, ReadinessChecks

router = APIRouter(route_class=EnforcedRoute, tags=["operations"])
# How soon a load balancer may ask again after a 503.
NOT_READY_RETRY_SECONDS = 5.0


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, Check]


@router.get("/healthz", operation_id="health_get")
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get(
    "/readyz", operation_id="readiness_get", responses=UNAVAILABLE, response_model=Readiness
)
async def readyz(request: Request) -> Readiness | Response:
    """Readiness: the database answers, Redis when one is configured, the secrets backend.

    503 problem JSON `not_ready` names the failing checks in `detail` and carries every
    check's state in `checks`; the reasons are in the server log only.
    """
    checks = await _readiness(request).checks()
    failing = [name for name, state in checks.items() if state == "unavailable"]
    if not failing:
        return Readiness(status="ready", checks=checks)
    return problem_response(
        503,
        "not_ready",
        f"not ready: {', '.join(failing)} unavailable",
        retry_after=NOT_READY_RETRY_SECONDS,
        extensions={"checks": checks},
    )


@router.get("/metrics", operation_id="metrics_get", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    body = await run_in_threadpool(api_state(request).metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


def _readiness(request: Request) -> ReadinessChecks:
    """The app's checks, made on the first probe (their cache lives as long as the app)."""
    state = request.app.state
    checks: ReadinessChecks | None = getattr(state, "readiness", None)
    if checks is None:
        checks = ReadinessChecks(api_state(request).runtime, monotonic=time.monotonic)
        state.readiness = checks
    return checks
