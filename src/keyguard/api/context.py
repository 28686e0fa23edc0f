"""What one request carries through the API: its context, and the principal once authorised."""

from __future__ import annotations

import itertools
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final, cast

from fastapi import Depends, Request
from starlette.types import Scope

from keyguard.keys import Environment
from keyguard.lifecycle import Actor
from keyguard.logging import scrub
from keyguard.policy import IPAddress
from keyguard.runtime import Runtime
from keyguard.verification import KeySnapshot

if TYPE_CHECKING:
    from keyguard.api.state import ApiState

CONTEXT_KEY = "keyguard"
# Set to True by a route that wrote its own usage event inside its own transaction
# (the mail send does), so that enforcement does not write a second one.
USAGE_RECORDED = "usage_recorded"

REQUEST_ID_HEADER: Final = b"x-request-id"
_WELL_FORMED_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
# The id of the request being served, for problem JSON's `instance` (set by the middleware).
current_request_id: ContextVar[str | None] = ContextVar("keyguard_request_id", default=None)


class _RequestIds:
    """32 hex digits: a random prefix drawn once per process, then a counter. Unique without
    a system call per request; a request id is a correlation handle, never a secret."""

    def __init__(self) -> None:
        self._prefix = ""
        self._counter = itertools.count()

    def __call__(self) -> str:
        if not self._prefix:  # drawn at first use, in the process that serves (not at import)
            self._prefix = secrets.token_hex(8)
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFFFFFF:016x}"


new_request_id: Final = _RequestIds()


def request_id_from(value: str | None) -> str:
    """The caller's X-Request-ID when well-formed (1-128 of A-Z a-z 0-9 . _ -), else a new id.

    The header is free text that reaches logs, a table and response bodies: a value that looks
    like a key (a client that put its key in the wrong header) is replaced, never echoed.
    """
    if value and _WELL_FORMED_REQUEST_ID.fullmatch(value) and not _looks_like_key(value):
        return value
    return new_request_id()


def _looks_like_key(value: str) -> bool:
    # The scrubber finds keys at a word boundary; "kg_" anywhere also covers a glued prefix.
    return "kg_" in value.lower() or scrub(value) != value


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
    request_id: str
    status: int = 0
    required_scope: str | None = None  # set on protected routes: they leave a usage event
    key: KeySnapshot | None = None  # the presented key, when it is one of ours
    key_last_used_at: datetime | None = None  # that key's use before this request
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


async def _runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain-def dependency in its thread pool, a thread hop
    # (wake-up, lock hand-over) per request for what is an attribute read.
    return api_state(request).runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
