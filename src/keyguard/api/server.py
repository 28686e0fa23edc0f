"""How Keyguard runs under uvicorn: the same options for `keyguard serve`, tests and benches.

Uvicorn's own proxy-header handling and access log are off on purpose: the client IP is
decided by keyguard.api.auth against the configured trusted proxies only, and uvicorn's
access log would print query strings, where a careless client may have put a key.

The HTTP protocol is uvicorn's httptools one with two changes (`KeyguardProtocol`): the
request head is limited while it arrives (keyguard.api.limits: 431 before a request exists,
so a huge header costs neither memory nor event-loop time), and a request the parser rejects
(NUL bytes, obs-fold, a broken request line) gets problem JSON instead of uvicorn's text/plain.

On SIGTERM or SIGINT uvicorn stops accepting, lets in-flight requests finish (at most
GRACEFUL_SHUTDOWN_SECONDS), then runs the lifespan's shutdown, where housekeeping writes the
queued usage events and last-used times (`GracefulServer`: docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from keyguard.api.context import REQUEST_ID_HEADER, new_request_id
from keyguard.api.limits import MAX_HEAD_BYTES, MAX_HEADER_BYTES, MAX_HEADERS
from keyguard.api.problems import problem_response

MALFORMED: Final = (400, "malformed_request", "the request is not valid HTTP/1.1")
HEAD_TOO_LARGE: Final = (
    431,
    "headers_too_large",
    f"the request head exceeds {MAX_HEAD_BYTES} bytes, {MAX_HEADERS} headers, "
    f"or {MAX_HEADER_BYTES} bytes in one header",
)
_FIXED_HEADERS: Final = b"x-content-type-options: nosniff\r\ncache-control: no-store\r\n"


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; httptools re-raises it wrapped."""


class KeyguardProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head limits and problem JSON refusals."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows the transport type too
        super().connection_made(transport)
        self._new_head()

    def _new_head(self) -> None:
        self._head_done = False
        self._head_bytes = 0
        self._header_count = 0
        self._refusal = MALFORMED

    def data_received(self, data: bytes) -> None:
        counting = not self._head_done
        super().data_received(data)
        # Counted after parsing, so that a chunk holding the end of a head and a large body
        # is not taken for a large head. The parser holds at most one chunk more than the limit.
        if counting and not self._head_done and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(*HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._new_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if len(name) + len(value) > MAX_HEADER_BYTES or self._header_count > MAX_HEADERS:
            self._refusal = HEAD_TOO_LARGE
            raise _HeadTooLarge  # uvicorn answers the parser error with send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(*self._refusal)

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer problem JSON and close: the rest of the connection cannot be trusted."""
        request_id = new_request_id()
        self.logger.warning(
            "request_refused", extra={"status": status, "code": code, "request_id": request_id}
        )
        response = problem_response(status, code, detail, instance=request_id)
        content = [b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())]
        for name, value in [*self.server_state.default_headers, *response.raw_headers]:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([REQUEST_ID_HEADER, b": ", request_id.encode(), b"\r\n", _FIXED_HEADERS])
        content.extend([b"connection: close\r\n\r\n", bytes(response.body)])
        self.transport.write(b"".join(content))
        self.transport.close()


# How long in-flight requests may take to finish after SIGTERM; systemd's TimeoutStopSec and
# compose's stop_grace_period are set above it (deploy/), so the flush after it is not killed.
GRACEFUL_SHUTDOWN_SECONDS: Final = 30


class GracefulServer(uvicorn.Server):
    """uvicorn's Server that returns after a graceful stop on a signal.

    uvicorn re-raises the signal once it has drained, which kills the process before the
    caller's `finally` (Runtime.close) runs; returning lets `keyguard serve` close its runtime
    and exit 0, which is what supervisors and `docker stop` expect of a clean stop.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()  # drained already: nothing left to re-raise for


def uvicorn_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "info",
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        http=KeyguardProtocol,
        proxy_headers=False,
        access_log=False,
        server_header=False,
        log_config=None,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
