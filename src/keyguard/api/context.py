"""What one request carries through the API: its context, and the principal once authorised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

from fastapi import Depends, Request
from starlette.types import Scope

from keyguard.keys import Environment
from keyguard.lifecycle.views import Actor
from keyguard.policy.restrictions import IPAddress
from keyguard.runtime import Runtime
from keyguard.verification import KeySnapshot

if TYPE_CHECKING:
    from keyguard.api.state import ApiState

CONTEXT_KEY = "keyguard"
# Set to True by a route that wrote its own usage event inside its own transaction
# (the mail send does), so that enforcement does not write a second one.
USAGE_RECORDED = "usage_recorded"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller as routes see it: its key, client IP and user agent, and the
    lifecycle Actor the key acts as (built when a route asks for it)."""

    key: KeySnapshot
    ip: IPAddress | None
    user_agent: str | None

    @property
    def actor(self) -> Actor:
        key = self.key
        return Actor(
            id=f"key:{key.id}",
            tenant_id=key.tenant_id,
            scopes=key.scopes,
            env=cast(Environment, key.env),
            restrictions=key.restrictions,
            expires_at=key.expires_at,
        )


@dataclass(slots=True)
class RequestContext:
    """Filled in by the middleware, enforcement and the problem handlers; read at the end to
    write the access log line and the usage event."""

    ts: datetime
    ip: IPAddress | None
    user_agent: str | None
    status: int = 0
    required_scope: str | None = None  # set on protected routes: they leave a usage event
    key: KeySnapshot | None = None  # the presented key, when it is one of ours
    outcome: str | None = None
    principal: Principal | None = None
    problem_code: str | None = None
    rate_headers: dict[str, str] | None = None


def context_of(request: Request) -> RequestContext:
    return cast(RequestContext, request.scope["state"][CONTEXT_KEY])


def context_in(scope: Scope) -> RequestContext | None:
    return cast(RequestContext | None, scope.get("state", {}).get(CONTEXT_KEY))


def mark_usage_recorded(request: Request) -> None:
    """Tell enforcement that this request's usage event was written by the route itself."""
    setattr(request.state, USAGE_RECORDED, True)


def api_state(request: Request) -> ApiState:
    return cast("ApiState", request.app.state.keyguard)


def _runtime(request: Request) -> Runtime:
    return api_state(request).runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
