"""WebState: what the dashboard holds for an app's lifetime (app.state.dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from starlette.requests import Request

from keyguard.runtime import Runtime

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class WebState:
    runtime: Runtime
    live: bool  # live mode: Secure cookies everywhere, HSTS
    # Settings.public_url: the address browsers see, whatever a proxy did to Host or scheme.
    public_url: str | None = None

    def secure_cookies(self, request: Request) -> bool:
        """Secure cookies, except in dev mode over plain HTTP on loopback (`make run`)."""
        if self.live or self.origin(request).startswith("https://"):
            return True
        return self.host(request) not in LOOPBACK_HOSTS

    def origin(self, request: Request) -> str:
        """The dashboard's origin as the browser sees it: the public URL, else the request's."""
        if self.public_url is not None:
            return self.public_url
        return f"{request.url.scheme}://{request.url.netloc}"

    def host(self, request: Request) -> str:
        """The host name passkeys are bound to (the WebAuthn relying party id)."""
        if self.public_url is not None:
            return urlsplit(self.public_url).hostname or "localhost"
        return request.url.hostname or "localhost"


def web_state(request: Request) -> WebState:
    return cast(WebState, request.app.state.dashboard)


def client_ip(request: Request) -> str | None:
    """The address the API middleware resolved (trusted proxies applied), as text."""
    context = request.scope.get("state", {}).get("keyguard")
    ip = getattr(context, "ip", None)
    return str(ip) if ip is not None else None
