"""An ASGI middleware that lets a request through only if Keyguard says its key may.

    from keyguard_client import AsyncKeyguard
    gateway_client = AsyncKeyguard(key=...)            # a key holding keys:verify
    app = KeyguardGate(your_asgi_app, gateway_client, scope="mail:send")

Each request's `Authorization: Bearer …` (or `X-API-Key`) is checked with POST /v1/keys/verify
against the scope, the client's address and (optionally) the environment. Refused requests get
401 (no key, or one that does not authenticate), 403 (authenticates, but not for this) or 429,
as problem JSON, without reaching the app; allowed ones reach it with the key's public
metadata in `scope["state"]["keyguard_key"]`. If Keyguard cannot be asked, the gate fails
closed (503).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from keyguard_client import AsyncKeyguard, KeyguardError
from keyguard_client.models import Verification

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Outcomes of a key that is not (or no longer) valid: the caller must present another key.
UNAUTHENTICATED = {"invalid_key", "revoked", "expired", "suspended"}


class KeyguardGate:
    def __init__(
        self, app: ASGIApp, keyguard: AsyncKeyguard, *, scope: str, env: str | None = None
    ) -> None:
        self.app = app
        self.keyguard = keyguard
        self.scope = scope
        self.env = env

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = _presented_key(scope)
        if presented is None:
            await _refuse(send, 401, "missing_key", "no API key")
            return
        client = scope.get("client")
        try:
            answer = await self.keyguard.keys.verify(
                presented, scope=self.scope, ip=client[0] if client else None, env=self.env
            )
        except KeyguardError:
            await _refuse(send, 503, "gateway_unavailable", "the key cannot be checked now")
            return
        if not answer.valid:
            detail = f"the key may not do this: {answer.code or answer.outcome}"
            await _refuse(send, _status(answer), answer.outcome, detail)
            return
        scope.setdefault("state", {})["keyguard_key"] = answer.key
        await self.app(scope, receive, send)


def _presented_key(scope: Scope) -> str | None:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1")
               for name, value in scope["headers"]}  # fmt: skip
    bearer = headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        return bearer[7:].strip() or None
    return headers.get("x-api-key") or None


def _status(answer: Verification) -> int:
    if answer.outcome in UNAUTHENTICATED:
        return 401
    if answer.outcome in {"rate_limited", "quota_exceeded"}:
        return 429
    return 403


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"status": status, "code": code, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="keyguard"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
