"""The one middleware around every request: context, guards, headers, and what is left behind.

Before the app: the request context (time, request id, client IP, user agent), refusal of
oversized heads (for ASGI servers other than ours, whose protocol refuses them first) and of
keys in the URL, and the body size limit (enforced while the body is read, after routing, so
a route may declare a larger limit). After the app: X-Request-ID, security and RateLimit-*
headers on the response, then the latency metric, the usage event of a protected request and
the access log line.
The access log names the key's public id; it never sees the query string, the key or the
Authorization header.

This runs on every request, so it is written for the hot path (docs/benchmarks.md, "Request
path and workers"): one pass over the request headers, the histogram's labelled children
kept per (method, route, status), and the access log line rendered directly as JSON
(`AccessLog`), the same fields structlog wrote, without its processor chain.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any, Final, get_args

import structlog
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyguard.api.auth import HOW_TO_AUTHENTICATE, client_ip, key_in_query
from keyguard.api.context import (
    CONTEXT_KEY,
    REQUEST_ID_HEADER,
    USAGE_RECORDED,
    RequestContext,
    current_request_id,
    request_id_from,
)
from keyguard.api.limits import head_too_large
from keyguard.api.problems import PayloadTooLarge, problem_response
from keyguard.api.state import ApiState
from keyguard.logging import scrub
from keyguard.usage import UsageRecord, key_columns, logged_path
from keyguard.verification import Outcome

OUTCOMES: Final = frozenset(get_args(Outcome))
HSTS: Final = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
KEY_IN_QUERY_DETAIL: Final = (
    "API keys must never be sent in the URL: servers, proxies and browsers record URLs. "
    f"{HOW_TO_AUTHENTICATE[0].upper()}{HOW_TO_AUTHENTICATE[1:]}, and rotate this key, since it "
    "may have been recorded on its way here."
)


class KeyguardMiddleware:
    def __init__(self, app: ASGIApp, api: ApiState) -> None:
        self.app = app
        self.api = api
        self._headers = [(b"x-content-type-options", b"nosniff")] + ([HSTS] if api.hsts else [])
        self._latency: dict[tuple[str, str, int], Any] = {}  # the histogram's children
        self._access = AccessLog(api.access_log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given_id, user_agent = _request_headers(scope)
        context = RequestContext(
            ts=self.api.runtime.clock(),
            ip=client_ip(scope, self.api.trusted),
            user_agent=scrub(user_agent) if user_agent else None,  # once, for every reader
            request_id=request_id_from(given_id),
        )
        scope.setdefault("state", {})[CONTEXT_KEY] = context
        request_id = current_request_id.set(context.request_id)

        finished = False

        def finish() -> None:
            nonlocal finished
            if not finished:
                finished = True
                self._finish(scope, context, time.perf_counter() - started)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
                message["headers"] = self._response_headers(message, context)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Recorded before the last byte leaves: whoever holds the answer (a client
                # that hangs up right after it, a test) finds the usage event queued.
                finish()
            await send(message)

        try:
            refusal = _refusal(scope, context)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            else:
                # A direct route (keyguard.api.direct) by exact method and path; the rest
                # through FastAPI. Under a root path FastAPI's own matching decides.
                direct = self.api.direct.get((scope["method"], scope["path"]))
                app = self.app if direct is None or scope.get("root_path") else direct
                await app(scope, self._limited(scope, receive), send_with_headers)
        except Exception:
            context.status = context.status or 500
            raise
        finally:
            current_request_id.reset(request_id)
            finish()  # no answer, or an error before its end: recorded all the same

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        """`receive`, refusing bodies over the matched route's limit (or the default)."""
        received = 0
        limit: int | None = None

        async def limited_receive() -> Message:
            nonlocal received, limit
            if limit is None:
                declared = getattr(scope.get("route"), "max_body_bytes", None)
                limit = declared or self.api.max_body_bytes
                length = _header(scope, b"content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise PayloadTooLarge(limit)  # refused before a byte is read
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        return limited_receive

    def _response_headers(self, message: Message, context: RequestContext) -> list[Any]:
        headers = list(message.get("headers", ()))
        headers.extend(self._headers)
        headers.append((REQUEST_ID_HEADER, context.request_id.encode()))
        if not any(name.lower() == b"cache-control" for name, _ in headers):
            headers.append((b"cache-control", b"no-store"))  # answers may hold key metadata
        if context.rate_headers:
            headers.extend(
                (k.lower().encode(), v.encode()) for k, v in context.rate_headers.items()
            )
        return headers

    def _finish(self, scope: Scope, context: RequestContext, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        status = context.status or 500
        method = scope["method"]
        self._observe(method, route, status, elapsed)
        outcome = _usage_outcome(context)
        ip = str(context.ip) if context.ip else None
        if outcome is not None and not scope["state"].get(USAGE_RECORDED):
            self.api.runtime.usage.submit(_usage(scope, context, outcome, status, ip))
        key = context.key
        self._access.request(
            {
                "request_id": context.request_id,
                "method": method,
                "path": logged_path(scope["path"]),  # scrubbed and cut like the usage event's
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
                "ip": ip,
                "key_id": key.id if key else None,
                "tenant": key.tenant_id if key else None,
                "outcome": outcome,
                "code": context.problem_code,
                "user_agent": context.user_agent,
            }
        )

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        labels = (method, route, status)
        child = self._latency.get(labels)
        if child is None:  # bounded: methods x route templates x statuses
            child = self.api.metrics.request_seconds.labels(method, route, str(status))
            self._latency[labels] = child
        child.observe(elapsed)


class AccessLog:
    """The access log line, as the structlog pipeline of keyguard.logging renders it (same
    fields, same order) at a fraction of the cost.

    What `redact_secrets` would do to this line is done already: its field names are fixed
    and none is a sensitive one, and its only free text (the path, the user agent) went
    through the same `scrub` when the request came in; the rest are ids, numbers and
    values the server chose. When the logger is not one of `make_logger`'s (a test's
    stand-in), it is simply called.

    Lines are written whole, under structlog's lock for the stream, and flushed at most
    FLUSH_AFTER seconds later (or when the stream's buffer fills) rather than one write
    system call per request — that call was a sixth of a verification's CPU. An access line
    is not a record of the request (its usage event is, in the database): what a crash can
    lose is the last FLUSH_AFTER seconds of log lines; a normal exit flushes the stream.
    """

    FLUSH_AFTER: Final = 0.1

    def __init__(self, logger: Any) -> None:
        self._logger = logger
        writer = getattr(logger, "_logger", None)  # make_logger's lazy proxy holds it
        # structlog's WriteLogger keeps its stream's write, flush and lock (shared by every
        # writer of that stream) as attributes; without them, the logger's own pipeline.
        parts: list[Any] = [getattr(writer, n, None) for n in ("_lock", "_write", "_flush")]
        buffered = isinstance(writer, structlog.WriteLogger) and all(parts)
        self._buffered: tuple[Any, ...] | None = tuple(parts) if buffered else None
        self._context = dict(getattr(logger, "_initial_values", None) or {})
        self._dumps = json.JSONEncoder(default=repr).encode
        self._flush_due = False

    def request(self, fields: dict[str, Any]) -> None:
        if self._buffered is None:  # a stand-in, or a structlog without those attributes
            self._logger.info("request", **fields)
            return
        line = {**self._context, **fields, "event": "request", "level": "info"}
        line["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        lock, write, _ = self._buffered
        with lock:
            write(self._dumps(line) + "\n")
        if not self._flush_due:
            self._flush_due = True
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_AFTER, self.flush)
            except RuntimeError:  # no event loop here: flush now
                self.flush()

    def flush(self) -> None:
        self._flush_due = False
        if self._buffered is not None:
            lock, _, flush = self._buffered
            with lock:
                flush()


def _usage_outcome(context: RequestContext) -> str | None:
    """The PRODUCT.md outcome: a route's refusal (quota_exceeded, denied_sender…) wins over
    the authorisation's `ok`; None for requests that leave no usage event."""
    if context.outcome is None:
        return None
    if context.problem_code in OUTCOMES:
        return context.problem_code
    return context.outcome


def _usage(
    scope: Scope, context: RequestContext, outcome: str, status: int, ip: str | None
) -> UsageRecord:
    key = context.key
    code = context.problem_code
    return UsageRecord(
        **key_columns(key),
        ts=context.ts,
        method=scope["method"],
        path=scope["path"],  # UsageRecord scrubs it: a key pasted into a URL never lands
        outcome=outcome,
        status=status,
        ip=ip,
        user_agent=context.user_agent,
        scope=context.required_scope,
        request_id=context.request_id,
        extra={"code": code} if code and code != outcome else None,
        key_last_used_at=context.key_last_used_at,
    )


def _refusal(scope: Scope, context: RequestContext) -> Response | None:
    """The answer to a request refused before the app sees it, or None."""
    too_large = head_too_large(scope["headers"])
    if too_large is not None:
        context.problem_code = "headers_too_large"
        return problem_response(431, "headers_too_large", too_large)
    if key_in_query(scope.get("query_string", b"")):
        context.outcome, context.problem_code = "invalid_key", "key_in_query"
        return problem_response(400, "key_in_query", KEY_IN_QUERY_DETAIL)
    return None


def _request_headers(scope: Scope) -> tuple[str | None, str | None]:
    """X-Request-ID and User-Agent, in one pass over the headers (first of each wins)."""
    request_id = user_agent = None
    for key, value in scope["headers"]:
        if key == REQUEST_ID_HEADER and request_id is None:
            request_id = value.decode("latin-1")
        elif key == b"user-agent" and user_agent is None:
            user_agent = value.decode("latin-1")
    return request_id, user_agent


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
