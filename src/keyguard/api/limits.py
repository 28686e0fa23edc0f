"""How much of a request head the server reads before refusing it (docs/http-api.md, "Limits").

The protocol (keyguard.api.server) enforces these while the head is still arriving, before a
request exists; the middleware checks them again for ASGI servers other than ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

MAX_HEADER_BYTES: Final = 8 * 1024  # one header, name and value
MAX_HEAD_BYTES: Final = 64 * 1024  # the request line and every header together
MAX_HEADERS: Final = 100


def head_too_large(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why these headers exceed the limits, or None (the request line is not counted here)."""
    count = total = 0
    for name, value in headers:
        size = len(name) + len(value)
        count, total = count + 1, total + size
        if size > MAX_HEADER_BYTES:
            return f"a header exceeds {MAX_HEADER_BYTES} bytes"
    if count > MAX_HEADERS:
        return f"more than {MAX_HEADERS} headers"
    if total > MAX_HEAD_BYTES:
        return f"the headers exceed {MAX_HEAD_BYTES} bytes"
    return None
