"""Enforcement for every protected route: scope declared once, decision from the gate.

A route declares the scope it needs in its signature, and only there::

    router = APIRouter(route_class=EnforcedRoute)

    @router.get("/v1/things")
    def list_things(principal: Annotated[Principal, require_scope("things:read")]) -> ...

`EnforcedRoute` finds that declaration when the route is built, publishes it in the OpenAPI
operation (`x-required-scope`, security, description) and, on every request, authorises the
caller *before* the body is read, through the gate every door shares (keyguard.verification.
gate: key → state, scope, CIDR allowlist → request rate). Allowed or not, the request's
context is filled in so that the middleware writes one usage event for it
(unless the route wrote its own: `mark_usage_recorded`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.responses import Response

from keyguard.api.auth import presented_key
from keyguard.api.context import Principal, api_state, context_of
from keyguard.errors import AuthenticationFailed, ConfigurationError, PermissionDenied, RateLimited
from keyguard.policy import SCOPES, IPAddress
from keyguard.verification import Denied

# What a key's holder is told; an unknown key gets one fixed sentence, whatever the reason.
DENIAL_DETAIL: Final[dict[str, str]] = {
    "invalid_key": "the API key is not valid",
    "revoked": "this key has been revoked",
    "key_rotated": "this key was rotated and its grace period is over: use its successor",
    "expired": "this key has expired",
    "suspended": "this key is suspended",
}
MAX_BODY_EXTRA: Final = "x-max-body-bytes"
# A /v1 route that takes no key on purpose says why: `openapi_extra={PUBLIC_EXTRA: "…"}`.
PUBLIC_EXTRA: Final = "x-public"
SCOPE_EXTRA: Final = "x-required-scope"


class ScopeGuard:
    """The dependency `require_scope` installs; EnforcedRoute has already done the work."""

    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")  # a typo fails at import, not in prod
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:
        principal = context_of(request).principal
        if principal is None:  # a route outside EnforcedRoute: refuse rather than run open
            raise RuntimeError(f"{request.url.path} declares a scope but is not an EnforcedRoute")
        return principal


def require_scope(scope: str) -> Any:
    """Declare the scope a route needs; the parameter receives the Principal."""
    return Depends(ScopeGuard(scope))


def required_scope(dependant: Dependant) -> str | None:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, ScopeGuard):
            return dependency.call.scope
        found = required_scope(dependency)
        if found is not None:
            return found
    return None


class EnforcedRoute(APIRoute):
    """An APIRoute that authorises before anything else when it declares a scope.

    A route that accepts bodies larger than `max_body_bytes` says so with
    `openapi_extra={"x-max-body-bytes": N}` (also shown to clients in the OpenAPI).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.required_scope = required_scope(self.dependant)
        extra = dict(self.openapi_extra or {})
        self.max_body_bytes: int | None = extra.get(MAX_BODY_EXTRA)
        if self.required_scope is not None:
            extra[SCOPE_EXTRA] = self.required_scope
            note = f"Requires scope `{self.required_scope}`."
            self.description = f"{self.description}\n\n{note}" if self.description else note
        self.openapi_extra = extra or None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        scope = required_scope(self.dependant)
        if scope is None:
            return handler

        async def enforced(request: Request) -> Response:
            await authorize(request, scope)
            return await handler(request)

        return enforced


async def authorize(request: Request, scope: str) -> Principal:
    """Authenticate the caller and apply its key's policy; raise the problem on refusal."""
    context = context_of(request)
    context.required_scope = scope
    context.outcome = "invalid_key"
    presented = presented_key(request.scope["headers"])
    try:
        decision = await api_state(request).runtime.gate.admit(
            presented, scope=scope, ip=context.ip
        )
    except ConfigurationError:
        context.outcome = "rate_limited"  # refused because the limit could not be checked
        raise
    context.outcome = decision.outcome
    if decision.key is not None and decision.outcome != "invalid_key":
        context.key = decision.key
        context.key_last_used_at = decision.previous_use
    if decision.rate is not None:
        context.rate_headers = decision.rate.headers()
    if isinstance(decision, Denied):
        raise denial(decision, scope, context.ip)
    context.principal = Principal(decision.key, context.ip, context.user_agent)
    return context.principal


def denial(decision: Denied, scope: str | None, ip: IPAddress | None) -> Exception:
    if decision.rate is not None and not decision.rate.allowed:
        return RateLimited(
            f"this key allows {decision.rate.limit} requests per minute",
            retry_after=decision.rate.retry_after,
        )
    code = decision.problem_code
    if code in DENIAL_DETAIL:
        return AuthenticationFailed(DENIAL_DETAIL[code], code=code)
    if code == "denied_scope":
        return PermissionDenied(f"this key lacks the scope {scope} this operation needs", code=code)
    if code == "denied_ip":
        return PermissionDenied(
            f"this key may not be used from {ip or 'an unknown address'}", code=code
        )
    return PermissionDenied(f"this key may not be used here ({code})", code=code)
