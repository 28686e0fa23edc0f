"""SMTP submission against abuse: cleartext AUTH off loopback, AUTH floods, a key revoked in
the middle of a transaction, headers only the service may write."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from keyguard.keys.format import generate_key
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.models import Message
from keyguard.runtime import Runtime
from keyguard.smtp.submission import SubmissionHandler, bound_port, start_server
from keyguard.usage.models import UsageEvent
from tests.conftest import create_key
from tests.functional.mail.sinks import Certificate
from tests.functional.mail.test_submission import client, letter, usage
from tests.unit.mail.conftest import SENDER

Scenario = Callable[[int], Awaitable[Any]]
AUTH_FAILURES_PER_CONNECTION = 3  # docs/smtp.md: the third failure closes the connection


def handler_for(runtime: Runtime) -> SubmissionHandler:
    return SubmissionHandler(
        runtime.gate,
        runtime.mail.sending,
        usage=runtime.usage,
        clock=runtime.clock,
    )


def serve(
    runtime: Runtime, scenario: Scenario, *, host: str = "127.0.0.1", tls: Certificate | None
) -> Any:
    async def main() -> Any:
        context = tls.server_context() if tls else None
        server = await start_server(handler_for(runtime), host=host, port=0, tls=context)
        try:
            return await scenario(bound_port(server))
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def non_loopback_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


async def auth_plain(smtp: aiosmtplib.SMTP, key: str) -> None:
    """One AUTH PLAIN (`login` would try LOGIN as well after a refusal: two attempts)."""
    if smtp.is_ehlo_or_helo_needed:
        await smtp.ehlo()
    await smtp.auth_plain("apikey", key)


def written(runtime: Runtime) -> int:
    """Usage rows in the database now (not flushing the writer's batch first)."""
    with runtime.sessions() as session:
        return len(session.scalars(select(UsageEvent)).all())


def wrong_key() -> str:
    """A well-formed key that was never stored."""
    return generate_key("live").reveal()


@pytest.fixture
def runtime_with_mail(runtime: Runtime) -> Runtime:
    runtime.mail.domains.add_domain(DEFAULT_TENANT, "brand.example", OPERATOR.id)
    return runtime


# -- 5: cleartext AUTH ------------------------------------------------------------------------


def test_cleartext_auth_from_a_non_loopback_address_is_refused_before_any_key_check(
    runtime_with_mail: Runtime,
) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    runtime = runtime_with_mail
    key = create_key(runtime).key.reveal()

    async def scenario(port: int) -> Any:
        plain = aiosmtplib.SMTP(hostname=address, port=port, start_tls=False, timeout=30)
        async with plain:
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
                await plain.login("apikey", key)
            return refused.value

    error = serve(runtime, scenario, host=address, tls=None)
    assert (error.code, "STARTTLS" in error.message) == (530, True)
    runtime.usage.flush()
    assert usage(runtime) == []


# -- 12: AUTH floods ----------------------------------------------------------------------------


def test_a_connection_is_closed_after_a_few_failed_authentications(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            codes = []
            for _ in range(AUTH_FAILURES_PER_CONNECTION + 1):
                try:
                    await auth_plain(smtp, wrong_key())
                except aiosmtplib.SMTPAuthenticationError as error:
                    codes.append(error.code)
                except aiosmtplib.SMTPServerDisconnected:
                    codes.append(-1)
                    break
            return codes, smtp.is_connected

    codes, connected = serve(runtime_with_mail, scenario, tls=certificate)
    assert codes[: AUTH_FAILURES_PER_CONNECTION - 1] == [535] * (AUTH_FAILURES_PER_CONNECTION - 1)
    assert codes[AUTH_FAILURES_PER_CONNECTION - 1] == 421
    assert not connected


def test_failed_authentications_from_one_address_are_throttled_across_connections(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = create_key(runtime).key.reveal()

    async def one_failure(port: int) -> int:
        async with client(port, certificate) as smtp:
            try:
                await auth_plain(smtp, wrong_key())
            except aiosmtplib.SMTPAuthenticationError as error:
                return error.code
        return 235

    async def scenario(port: int) -> Any:
        codes = [await one_failure(port) for _ in range(40)]  # the clock stands still
        async with client(port, certificate) as smtp:
            try:
                await auth_plain(smtp, key)
            except aiosmtplib.SMTPAuthenticationError as error:
                return codes, error.code
        return codes, 235

    codes, then = serve(runtime, scenario, tls=certificate)
    assert codes[0] == 535
    assert codes[-1] == 421
    assert then == 421  # even the right key, until the address's allowance comes back


def test_failed_authentications_are_recorded_through_the_batched_usage_writer(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            with pytest.raises(aiosmtplib.SMTPAuthenticationError):
                await auth_plain(smtp, wrong_key())

    serve(runtime, scenario, tls=certificate)
    assert written(runtime) == 0  # nothing written per failure…
    assert runtime.usage.flush() == 1  # …it waits in the writer's batch
    assert usage(runtime) == [("AUTH", "invalid_key", 535)]


# -- 1: a key revoked during an open session --------------------------------------------------


def test_a_key_revoked_between_mail_from_and_data_cannot_send(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    created = create_key(runtime)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", created.key.reveal())
            await smtp.mail(SENDER)
            await smtp.rcpt("a@example.com")
            await asyncio.to_thread(runtime.keys.revoke, OPERATOR, created.view.id)
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await smtp.data(letter().as_bytes())
            return refused.value

    error = serve(runtime, scenario, tls=certificate)
    assert (error.code, "revoked" in error.message) == (535, True)
    with runtime.sessions() as session:
        assert session.scalars(select(Message)).all() == []


# -- 11: headers the service writes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Sender", "ceo@bank.example"),
        ("Resent-From", "ceo@bank.example"),
        ("Return-Path", "<bounce@bank.example>"),
    ],
)
def test_headers_reserved_over_http_are_refused_over_smtp(
    runtime_with_mail: Runtime, certificate: Certificate, name: str, value: str
) -> None:
    runtime = runtime_with_mail
    key = create_key(runtime).key.reveal()
    message = letter()
    message[name] = value

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await smtp.sendmail(SENDER, ["a@example.com"], message.as_bytes())
            return refused.value

    error = serve(runtime, scenario, tls=certificate)
    assert (error.code, "reserved_header" in error.message) == (554, True)
    with runtime.sessions() as session:
        assert session.scalars(select(Message)).all() == []
