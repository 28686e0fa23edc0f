"""Real SMTP servers on loopback for the email tests: relay sinks and a test certificate.

A sink is an aiosmtpd server in its own thread that records every message it accepts. It
can offer STARTTLS with a self-signed certificate made at test time, refuse recipients by
address, or count its SMTP sessions (to see connections being reused).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.certificates import Certificate


@dataclass
class Received:
    sender: str
    rcpt: list[str]
    data: bytes
    tls: bool


@dataclass
class SinkHandler:
    """Accepts everything except recipients listed in `refuse` (address → SMTP reply)."""

    refuse: dict[str, str] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    sessions: int = 0
    logins: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        received = Received(
            envelope.mail_from or "", list(envelope.rcpt_tos), content, session.ssl is not None
        )
        with self.lock:
            self.messages.append(received)
        return "250 2.0.0 accepted"

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)


@dataclass
class Sink:
    handler: SinkHandler
    port: int

    @property
    def messages(self) -> list[Received]:
        return self.handler.snapshot()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class _Authenticator:
    def __init__(self, username: str, password: str, handler: SinkHandler) -> None:
        self.expected = (username.encode(), password.encode())
        self.handler = handler

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == self.expected
        with self.handler.lock:
            self.handler.logins.append(ok)
        return AuthResult(success=ok)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_sink(
    *,
    certificate: Certificate | None = None,
    refuse: dict[str, str] | None = None,
    login: tuple[str, str] | None = None,
    implicit_tls: bool = False,
) -> Iterator[Sink]:
    """A relay sink on a free loopback port; with a certificate it offers STARTTLS, with a
    login it requires AUTH (over TLS) with exactly that username and password."""
    handler = SinkHandler(refuse=dict(refuse or {}))
    port = free_port()
    kwargs: dict[str, Any] = {}
    if certificate is not None and implicit_tls:
        kwargs = {"ssl_context": certificate.server_context()}
    elif certificate is not None:
        kwargs = {"tls_context": certificate.server_context(), "require_starttls": True}
    if login is not None:
        kwargs.update(auth_required=True, authenticator=_Authenticator(*login, handler))
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, ready_timeout=10, decode_data=False, **kwargs
    )
    controller.start()
    try:
        yield Sink(handler, port)
    finally:
        controller.stop()
