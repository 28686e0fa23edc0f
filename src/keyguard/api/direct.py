"""Direct routes: the gateway's hot path, served without FastAPI's per-request machinery.

`POST /v1/keys/verify` is called once per request a gateway admits, so its cost is added to
every request of every service behind it. Through FastAPI, more than half of that cost was
FastAPI's own per-request work — matching the path against the included routers one after
the other, solving the dependency graph, reading the body through its own layers — and not
Keyguard's (docs/benchmarks.md, "Request path and workers"). A direct route keeps the rest:

- it is still declared as an EnforcedRoute with its models, so the OpenAPI document, the
  scope check at start-up and `routes=` in tests are unchanged;
- KeyguardMiddleware dispatches it by exact method and path, inside the same middleware:
  the same request context, body limit, headers, metric, access log line and usage event;
- the handler authorises through the same `authorize` (the gate every door shares) before
  it reads the body, and validates the body with the route's own pydantic model;
- its errors become problem JSON through the same handlers FastAPI's exception middleware
  calls (`problems.answer`), and anything unexpected propagates to the same outer handler.

`json_body` reproduces what FastAPI does with a JSON body (which content types it parses,
which errors it reports at which location), so that a client sees the same answers either
way; tests/functional/api/test_direct_routes.py sends the same requests both ways.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from keyguard.api import problems
from keyguard.api.enforcement import EnforcedRoute
from keyguard.errors import ConfigurationError

Model = TypeVar("Model", bound=BaseModel)
Body = TypeVar("Body")
DirectHandler = Callable[[Request], Awaitable[Response]]
# What FastAPI answers when a body cannot be read or decoded (problems maps it to
# malformed_json).
UNPARSEABLE_BODY = "There was an error parsing the body"


@dataclass(frozen=True, slots=True)
class DirectRoute:
    """One route served directly: its EnforcedRoute (limits, metric label, models) and the
    handler that answers it."""

    route: EnforcedRoute
    handler: DirectHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # What FastAPI's router would have set: the body limit, the metric's route label and
        # the problem handlers read the matched route from the scope.
        scope["route"] = self.route
        request = Request(scope, receive)
        try:
            response = await self.handler(request)
        except problems.ANSWERED as exc:
            response = await problems.answer(request, exc)
        await response(scope, receive, send)


def direct_routes(
    routers: Iterable[APIRouter], handlers: Mapping[str, DirectHandler]
) -> dict[tuple[str, str], ASGIApp]:
    """The routes among `routers` that have a direct handler (by operation id), keyed by
    (method, path). Only static paths: a direct route is matched exactly."""
    found: dict[tuple[str, str], ASGIApp] = {}
    for router in routers:
        for route in router.routes:
            handler = handlers.get(getattr(route, "operation_id", None) or "")
            if handler is None:
                continue
            if not isinstance(route, EnforcedRoute) or "{" in route.path:
                where = getattr(route, "path", "?")
                raise ConfigurationError(f"{where}: a direct route is a static EnforcedRoute")
            for method in route.methods or ():
                found[(method, route.path)] = DirectRoute(route, handler)
    return found


@overload
async def json_body(
    request: Request, model: type[Model], *, errors: Sequence[Any] = ()
) -> Model: ...
@overload
async def json_body(
    request: Request, model: TypeAdapter[Body], *, errors: Sequence[Any] = ()
) -> Body: ...
async def json_body(
    request: Request, model: type[Model] | TypeAdapter[Body], *, errors: Sequence[Any] = ()
) -> Any:
    """The request's JSON body as `model` (a pydantic model, or a TypeAdapter for a union),
    refused exactly as FastAPI refuses it: an unreadable body is a 400, a missing one or a
    non-JSON content type a validation error of the body (which problems turns into 422, or
    415 for the content type), fields at ("body", …).

    `errors` are the route's other parameters' validation errors (a header's): FastAPI
    reports them in one answer with the body's, but not with a body that is not JSON."""
    try:
        raw = await request.body()
    except HTTPException:
        raise  # the body limit (PayloadTooLarge)
    except Exception as exc:  # a client that went away mid-body: FastAPI's answer
        raise HTTPException(400, UNPARSEABLE_BODY) from exc
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([*errors, missing])
    data: Any = raw  # not declared as JSON: validated as bytes, refused as not an object
    if problems.is_json(request.headers.get("content-type")):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            invalid = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
            raise RequestValidationError([invalid]) from exc
        except Exception as exc:  # not UTF-8, nested past the recursion limit: FastAPI's 400
            raise HTTPException(400, UNPARSEABLE_BODY) from exc
    try:
        # from_attributes as FastAPI validates a body field: the same error for a non-object.
        body: Any = (
            model.validate_python(data, from_attributes=True)
            if isinstance(model, TypeAdapter)
            else model.model_validate(data, from_attributes=True)
        )
    except ValidationError as exc:
        found = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
        raise RequestValidationError([*errors, *found]) from exc
    if errors:
        raise RequestValidationError(list(errors))
    return body
