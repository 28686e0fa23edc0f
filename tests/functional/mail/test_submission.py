"""SMTP submission end to end: a real aiosmtplib client against Keyguard's aiosmtpd server,
the outbox, and a real relay sink — with every policy denial the HTTP path has."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.models import Message
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import SuppressionIn
from keyguard.mail.transport.delivery import DeliveryWorker
from keyguard.mail.transport.relay import RelayConfig
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from keyguard.smtp.submission import SubmissionHandler, bound_port, start_server
from keyguard.usage.models import UsageEvent
from tests.certificates import Certificate
from tests.conftest import create_key
from tests.functional.mail.sinks import running_sink
from tests.unit.mail.conftest import SENDER

Scenario = Callable[[int], Awaitable[Any]]


def run_with_server(runtime: Runtime, certificate: Certificate | None, scenario: Scenario) -> Any:
    """Start the submission server on a free port, run `scenario(port)`, stop the server."""

    async def main() -> Any:
        handler = SubmissionHandler(
            runtime.gate,
            runtime.mail.sending,
            usage=runtime.usage,
            clock=runtime.clock,
        )
        tls = certificate.server_context() if certificate else None
        server = await start_server(handler, host="127.0.0.1", port=0, tls=tls)
        try:
            return await scenario(bound_port(server))
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def client(port: int, certificate: Certificate) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        start_tls=True,
        tls_context=certificate.client_context(),
        local_hostname="tests.localhost",
        timeout=30,
    )


def letter(sender: str = SENDER, to: str = "a@example.com", body: str = "Hi.") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Over SMTP"
    message.set_content(body)
    return message


def usage(runtime: Runtime) -> list[tuple[str, str, int]]:
    """The usage events written so far (failed AUTHs wait in the writer's batch: flushed)."""
    runtime.usage.flush()
    with runtime.sessions() as session:
        return [(e.path, e.outcome, e.status) for e in session.scalars(select(UsageEvent))]


def secret(runtime: Runtime, **overrides: object) -> str:
    return create_key(runtime, **overrides).key.reveal()


@pytest.fixture
def runtime_with_mail(runtime: Runtime) -> Runtime:
    runtime.mail.domains.add_domain(DEFAULT_TENANT, "brand.example", OPERATOR.id)
    return runtime


def test_submitted_mail_is_queued_then_delivered_to_the_relay(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            return await smtp.send_message(letter(body="Exactly this."))

    refused, reply = run_with_server(runtime, certificate, scenario)
    assert refused == {}
    assert "queued as msg_" in reply
    with running_sink() as sink:
        relay = RelayConfig("127.0.0.1", sink.port, implicit_tls=False, require_tls=False)
        worker = DeliveryWorker(runtime.sessions, runtime.clock, relay)

        async def deliver() -> int:
            try:
                return await worker.run_once()
            finally:
                await worker.close()

        assert asyncio.run(deliver()) == 1
    [received] = sink.messages
    assert (received.sender, received.rcpt) == (SENDER, ["a@example.com"])
    assert b"Exactly this." in received.data
    assert b"Message-ID: <msg_" in received.data
    assert ("DATA", "ok", 250) in usage(runtime)


def test_a_test_key_submission_lands_in_the_sandbox(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime, env="test")

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            await smtp.send_message(letter())

    run_with_server(runtime, certificate, scenario)
    with runtime.sessions() as session:
        [message] = session.scalars(select(Message)).all()
    assert (message.state, message.env, message.rcpt) == ("sandboxed", "test", [])


@pytest.mark.parametrize(
    ("login", "overrides", "code"),
    [
        ("apikey", {"scopes": ["contacts:read"]}, "denied_scope"),
        ("someone", {}, "invalid_key"),
        ("apikey", {"restrictions": build_restrictions(allowed_cidrs=["10.0.0.0/8"])}, "denied_ip"),
    ],
)
def test_authentication_is_refused_with_the_verification_outcome(
    runtime_with_mail: Runtime,
    certificate: Certificate,
    login: str,
    overrides: dict[str, object],
    code: str,
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime, **overrides)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
                await smtp.login(login, key)
            return refused.value

    error = run_with_server(runtime, certificate, scenario)
    assert error.code == 535
    assert code in error.message
    assert ("AUTH", code, 535) in usage(runtime)


def test_a_revoked_key_is_told_so(runtime_with_mail: Runtime, certificate: Certificate) -> None:
    runtime = runtime_with_mail
    created = create_key(runtime)
    runtime.keys.revoke(OPERATOR, created.view.id)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
                await smtp.login("apikey", created.key.reveal())
            return refused.value

    assert "revoked" in run_with_server(runtime, certificate, scenario).message


def test_authentication_before_starttls_is_refused(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime)

    async def scenario(port: int) -> Any:
        plain = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
        async with plain:
            with pytest.raises(aiosmtplib.SMTPException):
                await plain.login("apikey", key)
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
                await plain.mail(SENDER)
            return refused.value.code

    assert run_with_server(runtime, certificate, scenario) == 530
    assert usage(runtime) == []


def test_mail_without_authentication_is_refused(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
                await smtp.mail(SENDER)
            return refused.value.code

    assert run_with_server(runtime_with_mail, certificate, scenario) == 530


def test_an_unregistered_sender_is_refused_at_mail_from(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await smtp.send_message(letter(sender="news@elsewhere.example"))
            return refused.value

    error = run_with_server(runtime, certificate, scenario)
    assert (error.code, "denied_sender" in error.message) == (550, True)
    assert ("MAIL", "denied_sender", 550) in usage(runtime)


def test_recipients_outside_the_allowlist_are_refused_one_by_one(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime, restrictions=build_restrictions(recipients=["@example.com"]))

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            return await smtp.sendmail(
                SENDER,
                ["a@example.com", "b@elsewhere.example"],
                letter().as_bytes(),
            )

    refused, _ = run_with_server(runtime, certificate, scenario)
    assert list(refused) == ["b@elsewhere.example"]
    assert refused["b@elsewhere.example"].code == 550
    assert ("RCPT", "denied_recipient", 550) in usage(runtime)
    with runtime.sessions() as session:
        [message] = session.scalars(select(Message)).all()
    assert message.rcpt == ["a@example.com"]


def test_a_suppressed_recipient_is_refused(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    runtime.mail.suppressions.add(
        Partition(DEFAULT_TENANT, "live"), SuppressionIn(address="a@example.com")
    )
    key = secret(runtime)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
                await smtp.send_message(letter())
            return refused.value.recipients[0]

    error = run_with_server(runtime, certificate, scenario)
    assert (error.code, "suppressed_recipient" in error.message) == (550, True)
    assert ("RCPT", "denied_recipient", 550) in usage(runtime)


def test_a_forged_header_from_is_refused_even_with_an_allowed_envelope(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await smtp.sendmail(
                    SENDER, ["a@example.com"], letter(sender="ceo@bank.example").as_bytes()
                )
            return refused.value

    error = run_with_server(runtime, certificate, scenario)
    assert (error.code, "denied_sender" in error.message) == (550, True)
    assert ("DATA", "denied_sender", 550) in usage(runtime)
    with runtime.sessions() as session:
        assert session.scalars(select(Message)).all() == []


def test_the_daily_quota_counts_submitted_recipients(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime, restrictions=build_restrictions(daily_quota=2))

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            await smtp.sendmail(SENDER, ["a@example.com", "b@example.com"], letter().as_bytes())
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await smtp.sendmail(SENDER, ["c@example.com"], letter().as_bytes())
            return refused.value

    error = run_with_server(runtime, certificate, scenario)
    assert (error.code, "quota_exceeded" in error.message) == (452, True)
    assert ("DATA", "quota_exceeded", 452) in usage(runtime)
    assert runtime.limits.hits["quota"] == 1  # keyguard_rate_limit_hits_total{kind="quota"}


def test_a_key_revoked_mid_session_cannot_send_more(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    created = create_key(runtime)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", created.key.reveal())
            await smtp.send_message(letter())
            await asyncio.to_thread(runtime.keys.revoke, OPERATOR, created.view.id)
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await smtp.send_message(letter())
            return refused.value

    error = run_with_server(runtime, certificate, scenario)
    assert "revoked" in error.message


def test_an_oversized_message_is_refused(
    runtime_with_mail: Runtime, certificate: Certificate
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime)
    huge = letter(body="x" * 100 + ("y" * 998 + "\n") * 10_600)

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
                await smtp.send_message(huge)
            return refused.value.code

    assert run_with_server(runtime, certificate, scenario) == 552


def test_dev_mode_without_a_certificate_accepts_plain_submission(
    runtime_with_mail: Runtime,
) -> None:
    runtime = runtime_with_mail
    key = secret(runtime)

    async def scenario(port: int) -> Any:
        plain = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
        async with plain:
            await plain.login("apikey", key)
            return await plain.send_message(letter())

    refused, _ = run_with_server(runtime, None, scenario)
    assert refused == {}
