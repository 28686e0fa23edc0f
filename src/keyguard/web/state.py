"""WebState: what the dashboard holds for an app's lifetime (app.state.dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.requests import Request

from keyguard.runtime import Runtime

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class WebState:
    runtime: Runtime
    live: bool  # live mode: Secure cookies everywhere, HSTS

    def secure_cookies(self, request: Request) -> bool:
        """Secure cookies, except in dev mode over plain HTTP on loopback (`make run`)."""
        if self.live or request.url.scheme == "https":
            return True
        return (request.url.hostname or "") not in LOOPBACK_HOSTS


def web_state(request: Request) -> WebState:
    return cast(WebState, request.app.state.dashboard)


def client_ip(request: Request) -> str | None:
    """The address the API middleware resolved (trusted proxies applied), as text."""
    context = request.scope.get("state", {}).get("keyguard")
    ip = getattr(context, "ip", None)
    return str(ip) if ip is not None else None
