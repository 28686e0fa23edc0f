"""Every error the client raises, one class per family of the server's stable problem `code`s.

::

    KeyguardError
    ├── KeySourceError          loading a key failed (code: key_source_invalid, key_not_found,
    │                           key_source_unsafe, key_source_unavailable)
    ├── TransportError          no answer: connection refused, timed out, broken off
    └── APIError                the server answered with a problem (`status`, `code`, `detail`)
        ├── BadRequest            400 405 415 431  malformed_json, key_in_query, …
        ├── AuthenticationFailed  401  invalid_key, revoked, expired, suspended
        │   └── KeyRotated        401  key_rotated, and no successor could be read
        ├── PermissionDenied      403  denied_scope, denied_ip, denied_sender, …
        ├── NotFound              404  not_found
        ├── Conflict              409  illegal_transition
        ├── PayloadTooLarge       413  payload_too_large
        ├── InvalidRequest        422  validation_failed and every input code (unknown_scope, …)
        ├── RateLimited           429  rate_limited, quota_exceeded (`retry_after`)
        └── ServerError           5xx  internal_error
            └── ServiceUnavailable  503  configuration, not_ready

The class follows the HTTP status (the server maps codes to statuses in one table), so an
`except NotFound` keeps working when the server adds a code; branch on `error.code` for detail.
Messages never hold a key: the server scrubs its `detail`, and the client adds none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

__all__ = [
    "APIError",
    "AuthenticationFailed",
    "BadRequest",
    "Conflict",
    "FieldError",
    "InvalidRequest",
    "KeyRotated",
    "KeySourceError",
    "KeyguardError",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
]

ROTATED_CODE: Final = "key_rotated"


class KeyguardError(Exception):
    """Root of every error the client raises; `code` is stable."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class KeySourceError(KeyguardError):
    """A key could not be read from its source (unset, unsafe file, vault unreachable)."""


class TransportError(KeyguardError):
    """The request got no answer; retried already, as far as that was safe."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="transport_error")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of a problem's `errors`: which field was refused, and why."""

    location: str
    field: str
    code: str
    message: str


class APIError(KeyguardError):
    """The server answered with RFC 9457 problem JSON (or, from a proxy, something else)."""

    status: int

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        code = str(problem.get("code") or f"http_{status}")
        detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        super().__init__(f"{detail} [{code}]", code=code)
        self.status = status
        self.detail = detail
        self.problem = problem
        self.request_id: str | None = problem.get("instance")
        self.errors = [
            FieldError(
                location=str(e.get("location", "")),
                field=str(e.get("field", "")),
                code=str(e.get("code", "")),
                message=str(e.get("message", "")),
            )
            for e in problem.get("errors") or []
            if isinstance(e, dict)
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r})"


class BadRequest(APIError):
    """The request itself is malformed (not the values in it)."""


class AuthenticationFailed(APIError):
    """The key does not authenticate; `code` is what its holder may learn."""


class KeyRotated(AuthenticationFailed):
    """The key was rotated out, and its source does not hold a successor (yet)."""


class PermissionDenied(APIError):
    """The key authenticates but lacks the scope, or its restrictions refuse the request."""


class NotFound(APIError):
    """No such object in the key's tenant and environment."""


class Conflict(APIError):
    """The object's state does not allow this (e.g. resuming a revoked key)."""


class PayloadTooLarge(APIError):
    """The request body exceeds the server's limit."""


class InvalidRequest(APIError):
    """A value was refused; `errors` names the fields."""


class RateLimited(APIError):
    """Too many requests or recipients; `retry_after` is in seconds (None if not said)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(status, problem)
        value = problem.get("retry_after")
        self.retry_after: int | None = value if isinstance(value, int) else None


class ServerError(APIError):
    """The server failed (5xx)."""


class ServiceUnavailable(ServerError):
    """A backend of the server is unavailable; worth retrying later."""


_BY_STATUS: Final[dict[int, type[APIError]]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    405: BadRequest,
    409: Conflict,
    413: PayloadTooLarge,
    415: BadRequest,
    422: InvalidRequest,
    429: RateLimited,
    431: BadRequest,
    503: ServiceUnavailable,
}


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem JSON of an error answer; a stand-in when the body is not JSON."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"status": response.status_code, "title": response.reason_phrase}


def error_for(response: httpx.Response) -> APIError:
    """The exception for an error answer: by status, and KeyRotated by code."""
    problem = problem_of(response)
    status = response.status_code
    if status == 401 and problem.get("code") == ROTATED_CODE:
        return KeyRotated(status, problem)
    if status in _BY_STATUS:
        return _BY_STATUS[status](status, problem)
    if status >= 500:
        return ServerError(status, problem)
    if 400 <= status < 500:
        return BadRequest(status, problem)
    return APIError(status, problem)  # a redirect or an informational answer: not ours
