"""WebRoute: every dashboard answer gets its security headers; errors become HTML pages.

The Content-Security-Policy allows nothing inline and nothing from elsewhere: every script
and style is a file Keyguard serves itself, so an injected `<script>` does not run and a
compromised CDN cannot reach a page that manages keys.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keyguard.errors import (
    AuthenticationFailed,
    IllegalTransition,
    InvalidInput,
    KeyguardError,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from keyguard.web.render import error_page
from keyguard.web.state import web_state

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    # Set-up links carry a token in the query: never sent to another site. (no-referrer
    # would also make the browser send `Origin: null` on our own forms.)
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS: Final = "max-age=31536000; includeSubDomains"
STATUS: Final[dict[type[KeyguardError], int]] = {
    InvalidInput: 400,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    NotFound: 404,
    IllegalTransition: 409,
    RateLimited: 429,
}


class Redirect(Exception):
    """Raised by a dependency to send the browser elsewhere (sign-in, re-authentication)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def status_of(error: KeyguardError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def web_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Redirect as redirect:
                response = RedirectResponse(redirect.location, status_code=303)
            except KeyguardError as error:
                response = error_page(request, error, status_of(error))
            return secured(request, response)

        return web_handler


def secured(request: Request, response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if web_state(request).live:
        response.headers["Strict-Transport-Security"] = HSTS
    return response
