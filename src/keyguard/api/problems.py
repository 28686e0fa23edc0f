"""RFC 9457 problem details: every 4xx and 5xx is `application/problem+json` with a stable `code`.

The one table from errors to HTTP status is `STATUS_BY_ERROR` (by class) refined by
`STATUS_BY_CODE` (codes whose status differs from their class's). Nothing else in the API
chooses an error status.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any, Final

import fastapi.routing
import structlog
from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from keyguard.api.context import context_in, current_request_id
from keyguard.errors import (
    AuthenticationFailed,
    ConfigurationError,
    IllegalTransition,
    InvalidInput,
    KeyguardError,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from keyguard.logging import scrub

PROBLEM_JSON: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:keyguard:problem:"

STATUS_BY_ERROR: Final[dict[type[KeyguardError], int]] = {
    InvalidInput: 422,
    NotFound: 404,
    IllegalTransition: 409,
    PermissionDenied: 403,
    AuthenticationFailed: 401,
    RateLimited: 429,
    ConfigurationError: 503,
}
STATUS_BY_CODE: Final[dict[str, int]] = {
    "key_in_query": 400,
    "ambiguous_credentials": 400,
    "malformed_request": 400,
    "malformed_json": 400,
    "payload_too_large": 413,
    "method_not_allowed": 405,
    "unsupported_media_type": 415,
    "headers_too_large": 431,
    "internal_error": 500,
}
# Framework-level HTTP errors (routing, body limits) and the code each one gets.
CODE_BY_STATUS: Final[dict[int, str]] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    431: "headers_too_large",
}

log = structlog.get_logger("keyguard.api")
# What FastAPI says when a JSON body is not even text (e.g. invalid UTF-8).
_UNPARSEABLE_BODY: Final = "There was an error parsing the body"
MALFORMED_JSON_DETAIL: Final = "the request body is not valid JSON"


_TEXT: Final = {"type": "string"}
# The JSON Schema of every error body, published in the OpenAPI document.
PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details with a stable `code`.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": _TEXT,
        "title": _TEXT,
        "status": {"type": "integer"},
        "detail": _TEXT,
        "code": _TEXT,
        "instance": {"type": "string", "description": "The request id (also in X-Request-ID)."},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field.",
            "items": {
                "type": "object",
                "required": ["location", "field", "code", "message"],
                "properties": {"location": _TEXT, "field": _TEXT, "code": _TEXT, "message": _TEXT},
            },
        },
        "retry_after": {"type": "integer", "description": "Seconds; also in Retry-After."},
    },
}


class PayloadTooLarge(StarletteHTTPException):
    """Raised while the body is read; an HTTPException so FastAPI passes it through as is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


def status_for(error: KeyguardError) -> int:
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    retry_after: float | None = None,
    instance: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    """The problem JSON answer; `instance` is the request id, by default the current one;
    `extensions` are further members (RFC 9457 §3.2), never user input."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": scrub(detail),  # messages may quote the caller's input, e.g. a pasted key
        "code": code,
    }
    instance = instance or current_request_id.get()
    if instance:
        body["instance"] = instance
    headers = dict(headers or {})
    if errors:
        body["errors"] = [{name: scrub(value) for name, value in e.items()} for e in errors]
    if retry_after is not None:
        body["retry_after"] = max(1, math.ceil(retry_after))
        headers["Retry-After"] = str(body["retry_after"])
    body.update(extensions or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="keyguard"'
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def error_response(error: KeyguardError) -> JSONResponse:
    field = getattr(error, "field", None)
    errors = None
    if isinstance(error, InvalidInput) and field:
        errors = [
            {"location": "request", "field": field, "code": error.code, "message": error.message}
        ]
    retry_after = error.retry_after if isinstance(error, RateLimited) else None
    if isinstance(error, ConfigurationError):
        retry_after = 1.0
    return problem_response(
        status_for(error), error.code, error.message, errors=errors, retry_after=retry_after
    )


def _remember(request: Request, code: str) -> None:
    context = context_in(request.scope)
    if context is not None:
        context.problem_code = code


async def keyguard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KeyguardError)  # noqa: S101 - registered for KeyguardError only
    _remember(request, exc.code)
    return error_response(exc)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    if _not_json(request, exc.errors()):
        _remember(request, "unsupported_media_type")
        detail = "the request body must be JSON (Content-Type: application/json)"
        return problem_response(415, "unsupported_media_type", detail)
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        # Pydantic's location of a JSON error is a character position, not a field.
        _remember(request, "malformed_json")
        return problem_response(400, "malformed_json", MALFORMED_JSON_DETAIL)
    _remember(request, "validation_failed")
    # Only location, field, type and message: never `input`, which may hold a key.
    errors = [
        {
            "location": str(e["loc"][0]) if e.get("loc") else "body",
            "field": ".".join(str(part) for part in e.get("loc", ())[1:]),
            "code": str(e.get("type", "invalid")),
            "message": str(e.get("msg", "invalid value")),
        }
        for e in exc.errors()
    ]
    return problem_response(422, "validation_failed", "the request is not valid", errors=errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    code = CODE_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and detail == _UNPARSEABLE_BODY:
        code, detail = "malformed_json", MALFORMED_JSON_DETAIL
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    _remember(request, code)
    return problem_response(exc.status_code, code, detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route on this path: the router stops at the first route whose
    path matches, whose 405 would name its own methods only."""
    methods: set[str] = set()
    path = request.scope["path"]
    for route in _routes(request.app.router.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def _routes(routes: Sequence[Any]) -> Iterable[Any]:
    # FastAPI >= 0.16x nests included routers; iter_route_contexts flattens them.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return flatten(routes) if flatten is not None else routes


def _not_json(request: Request, errors: Sequence[Any]) -> bool:
    """The body was refused because it is declared as something other than JSON."""
    content_type = request.headers.get("content-type")
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if not content_type or body_field is None or isinstance(body_field.field_info, params.Form):
        return False
    if not any(e.get("loc", ("",))[0] == "body" for e in errors):
        return False
    return not is_json(content_type)


def is_json(content_type: str | None) -> bool:
    """The media types FastAPI parses as JSON: `application/json` and `application/*+json`
    (parameters aside); no Content-Type at all is not JSON."""
    if content_type is None:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database is unreachable (docs/operations.md): a route that needs it is refused for
    now ("try later", as the gate refuses a lookup), not reported as a bug of ours."""
    _remember(request, "database_unavailable")
    log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
    detail = "the database is unreachable; retry shortly"
    return problem_response(503, "database_unavailable", detail, retry_after=1.0)


async def internal_error(request: Request, exc: Exception) -> Response:
    _remember(request, "internal_error")
    log.error("unhandled_error", path=request.url.path, error=type(exc).__name__)
    return problem_response(500, "internal_error", "an unexpected error occurred")


Handler = Callable[[Request, Exception], Awaitable[Response]]
# The errors a route may raise and the handler that answers each; anything else reaches
# `internal_error` through Starlette's outermost middleware (which also re-raises it).
HANDLERS: Final[dict[type[Exception], Handler]] = {
    KeyguardError: keyguard_error,
    RequestValidationError: validation_error,
    StarletteHTTPException: http_error,
    OperationalError: database_unavailable,
}
ANSWERED: Final = tuple(HANDLERS)


async def answer(request: Request, exc: Exception) -> Response:
    """The problem answer to one of the ANSWERED errors, as the installed handlers give it
    (for a route served outside FastAPI's exception middleware: keyguard.api.direct)."""
    for cls in type(exc).__mro__:
        handler = HANDLERS.get(cls)
        if handler is not None:
            return await handler(request, exc)
    raise exc


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem JSON."""
    for cls, handler in HANDLERS.items():
        app.add_exception_handler(cls, handler)
    app.add_exception_handler(Exception, internal_error)
