"""SMTP submission leaves usage events like HTTP does: AUTH failures, refusals and accepted
mail, each with the key's previous use and the client's location when IP databases are set."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from keyguard.clock import ManualClock
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.smtp.submission import SubmissionHandler, bound_port, start_server
from keyguard.usage import UsageEvent
from tests.certificates import Certificate
from tests.conftest import create_key
from tests.functional.mail.test_submission import client, letter
from tests.usage_support import asn_db, country_db


@pytest.fixture
def located(
    runtime: Runtime, settings: Settings, clock: ManualClock, tmp_path: Path
) -> Iterator[Runtime]:
    """A process with IP databases configured, on the test database (migrated by `runtime`)."""
    databases = {
        "geoip_db": country_db(tmp_path / "country.mmdb"),
        "asn_db": asn_db(tmp_path / "asn.mmdb"),
    }
    own = Runtime.build(settings.model_copy(update=databases), clock, monotonic=clock.monotonic)
    yield own
    own.close()


def _serve(runtime: Runtime, certificate: Certificate, scenario: Any) -> Any:
    async def main() -> Any:
        handler = SubmissionHandler(
            runtime.gate, runtime.mail.sending, usage=runtime.usage, clock=runtime.clock,
            locator=runtime.locator,
        )  # fmt: skip
        server = await start_server(
            handler, host="127.0.0.1", port=0, tls=certificate.server_context()
        )
        try:
            return await scenario(bound_port(server))
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def _events(runtime: Runtime) -> list[UsageEvent]:
    runtime.usage.flush()
    with runtime.sessions() as session:
        return list(session.scalars(select(UsageEvent).order_by(UsageEvent.id)))


def test_smtp_events_carry_the_previous_use_and_the_location(
    located: Runtime, certificate: Certificate, clock: ManualClock
) -> None:
    runtime = located
    runtime.mail.add_domain(DEFAULT_TENANT, "brand.example", OPERATOR.id)
    key = create_key(runtime).key.reveal()
    assert runtime.verifier.verify(key).allowed  # used once, over HTTP say
    used_at = clock()
    clock.advance(timedelta(days=3))

    async def scenario(port: int) -> Any:
        async with client(port, certificate) as smtp:
            with pytest.raises(aiosmtplib.SMTPAuthenticationError):
                await smtp.login("apikey", "kg_live_not-a-key")
            await smtp.login("apikey", key)
            refused = await smtp.send_message(letter(sender="news@elsewhere.example"))
            return refused, await smtp.send_message(letter())

    with pytest.raises(aiosmtplib.SMTPSenderRefused):
        _serve(runtime, certificate, scenario)

    async def accepted(port: int) -> Any:
        async with client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            return await smtp.send_message(letter())

    _serve(runtime, certificate, accepted)
    events = _events(runtime)
    by_path = [(e.method, e.path, e.outcome) for e in events]
    assert ("SMTP", "AUTH", "invalid_key") in by_path
    assert ("SMTP", "MAIL", "denied_sender") in by_path
    assert ("SMTP", "DATA", "ok") in by_path
    assert all((e.geo, e.asn, e.ip) == ("IS", 64512, "127.0.0.1") for e in events)
    for event in events:
        if event.key_id is not None:
            assert event.key_last_used_at is not None
    denial = next(e for e in events if e.outcome == "denied_sender")
    assert denial.key_last_used_at == used_at  # the use before this session
