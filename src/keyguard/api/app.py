"""create_app: the composition root of the HTTP API. Nothing is built at import time.

Adding a feature's routes (the extension point)::

    # in keyguard/<feature>/api.py
    router = APIRouter(route_class=EnforcedRoute, tags=["mail"])

    @router.post("/v1/mail/send", status_code=202, openapi_extra={"x-max-body-bytes": N})
    def send(principal: Annotated[Principal, require_scope("mail:send")], ...): ...

then append `router` to ROUTERS below. create_app refuses to start when a /v1 route declares
no scope, or declares one without being an EnforcedRoute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from importlib.metadata import version
from typing import Any, Final, TextIO

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from keyguard.api import problems
from keyguard.api.auth import TrustedProxies
from keyguard.api.direct import DirectHandler, direct_routes
from keyguard.api.enforcement import PUBLIC_EXTRA, SCOPE_EXTRA, EnforcedRoute, required_scope
from keyguard.api.metrics import Metrics
from keyguard.api.middleware import KeyguardMiddleware
from keyguard.api.routes import (
    alerts,
    audit,
    incidents,
    keys,
    leaks,
    mail,
    mail_data,
    ops,
    review,
    usage,
    verify,
    webhooks,
)
from keyguard.api.state import ApiState
from keyguard.errors import ConfigurationError
from keyguard.logging import make_logger
from keyguard.rotation import scheduled_rotation
from keyguard.runtime import Runtime, housekeeping
from keyguard.settings import Settings
from keyguard.smtp import MailTasks
from keyguard.web import mount_dashboard

# The routers create_app mounts, in this order: FastAPI tries them one after the other, so a
# request pays for every route mounted before its own. The hot paths first — verify (also
# before keys: /v1/keys/verify is not a key id), then mail (its send route first). A feature
# appends its own.
ROUTERS: Final[list[APIRouter]] = [ops.router, verify.router, mail.router, keys.router]
ROUTERS.extend([audit.router, mail_data.router])  # mail_data: the email service's data
ROUTERS.append(usage.router)  # usage history (docs/usage.md)
ROUTERS.extend([incidents.router, leaks.router])  # compromise response (docs/incidents.md)
ROUTERS.append(webhooks.router)  # webhook endpoints and delivery logs (keyguard.webhooks)
ROUTERS.append(alerts.router)  # online detection's alerts (docs/monitoring.md)
ROUTERS.append(review.router)  # access review (docs/review.md)

# The hot routes KeyguardMiddleware serves without FastAPI's routing (keyguard.api.direct),
# by operation id; each is also a FastAPI route, for the OpenAPI document.
DIRECT_HANDLERS: Final[dict[str, DirectHandler]] = {**verify.DIRECT, **mail.DIRECT}

SECURITY_SCHEMES: Final = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer kg_<env>_…`",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
# Background work of every API process, entered at startup and left at shutdown, in reverse.
# A feature appends a factory taking the Runtime and returning an async context manager.
BACKGROUND: Final[list[Callable[[Runtime], AbstractAsyncContextManager[object]]]] = [
    MailTasks.for_serve,  # the delivery worker (and SMTP submission when configured)
    # Rotates delivered keys that are due; finishes interrupted rotations.
    lambda runtime: scheduled_rotation(runtime.scheduler),
]

log = structlog.get_logger("keyguard.api")


def create_app(
    source: Settings | Runtime,
    *,
    routers: Sequence[APIRouter] | None = None,
    extra_routers: Sequence[APIRouter] = (),
    log_stream: TextIO | None = None,
    hsts: bool = False,
) -> FastAPI:
    """The ASGI app. Given Settings it builds (and on shutdown closes) its own Runtime; given a
    Runtime it uses it and leaves closing to the caller."""
    owns_runtime = isinstance(source, Settings)
    runtime = Runtime.build(source) if isinstance(source, Settings) else source
    settings = runtime.settings
    api = ApiState(
        runtime=runtime,
        metrics=Metrics(runtime),
        trusted=TrustedProxies(settings.trusted_proxies),
        access_log=make_logger(log_stream, log="keyguard.access"),
        max_body_bytes=settings.max_body_bytes,
        hsts=hsts,
        owns_runtime=owns_runtime,
    )
    # The gate times its database lookups; this app's /metrics exports them.
    runtime.gate.observe_lookup = api.metrics.lookup_seconds.observe
    app = FastAPI(
        title="Keyguard",
        version=version("keyguard"),
        description="API key security: key lifecycle, verification for gateways, audit.",
        lifespan=_lifespan,
        # No interactive docs: FastAPI's /docs loads Swagger UI from a CDN without integrity
        # checks, i.e. runs third-party script next to key-management endpoints. The OpenAPI
        # document stays at /openapi.json for any local viewer.
        docs_url=None,
        redoc_url=None,
        # Keyguard's metrics are Prometheus (/metrics): FastAPI's OpenTelemetry bridge would
        # only look up, on every request, whether an OTel provider was configured meanwhile.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.keyguard = api
    problems.install(app)
    mounted = [*(ROUTERS if routers is None else routers), *extra_routers]
    for router in mounted:
        _check_router(router)
        app.include_router(router)
    api.direct = direct_routes(mounted, DIRECT_HANDLERS)
    mount_dashboard(app, runtime)  # the dashboard at /ui/ (docs/dashboard.md)
    app.add_middleware(KeyguardMiddleware, api=api)
    app.openapi = partial(_openapi, app)  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def _check_router(router: APIRouter) -> None:
    """Fail at startup, not in production traffic, when a route could run unprotected."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        scope = required_scope(route.dependant)
        if scope is not None and not isinstance(route, EnforcedRoute):
            raise ConfigurationError(f"{route.path} declares a scope but is not an EnforcedRoute")
        public = bool((route.openapi_extra or {}).get(PUBLIC_EXTRA))
        if scope is None and route.path.startswith("/v1/") and not public:
            raise ConfigurationError(f"{route.path} must declare its scope with require_scope()")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    api: ApiState = app.state.keyguard
    runtime = api.runtime
    try:
        async with AsyncExitStack() as stack:
            maintenance = runtime.settings.mail_worker_in_serve  # the worker's process
            await stack.enter_async_context(housekeeping(runtime, maintenance=maintenance))
            for background in BACKGROUND:
                await stack.enter_async_context(background(runtime))
            yield
    finally:
        if api.owns_runtime:
            await run_in_threadpool(runtime.close)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus security, required scopes and problem responses."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = problems.PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            _document(operation)
    app.openapi_schema = schema
    return schema


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _document(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = _problem("Invalid request (one entry per field in `errors`).")
    responses["default"] = _problem("Any other error, as problem JSON.")
    if operation.get(SCOPE_EXTRA) is None:
        operation["security"] = []
        return
    operation["security"] = [{"bearer": []}, {"apiKey": []}]
    responses["401"] = _problem("No key, or a key that does not authenticate.")
    responses["403"] = _problem(f"The key lacks `{operation[SCOPE_EXTRA]}`, or its policy refuses.")
    responses["429"] = _problem("The key's request rate is exhausted (see Retry-After).")
