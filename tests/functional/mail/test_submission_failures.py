"""SMTP submission when a dependency is down (docs/operations.md): a temporary reply, so that
clients retry instead of bouncing the mail."""

from __future__ import annotations

import aiosmtplib
import pytest

from keyguard.clock import ManualClock
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from tests.conftest import create_key
from tests.functional.api.servers import free_port
from tests.functional.mail.test_submission import run_with_server
from tests.unit.mail.conftest import SENDER


def plain(port: int) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, start_tls=False, local_hostname="t.localhost", timeout=30
    )


def test_with_redis_down_and_failing_closed_mail_from_is_refused_for_now(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    unreachable = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    node = Runtime.build(unreachable, clock, monotonic=clock.monotonic)
    key = create_key(
        runtime, restrictions=build_restrictions(rate_limit_per_minute=10)
    ).key.reveal()

    async def scenario(port: int) -> int:
        async with plain(port) as smtp:
            await smtp.login("apikey", key)  # AUTH alone spends no rate: Redis is not asked
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
                await smtp.mail(SENDER)
            return refused.value.code

    try:
        assert run_with_server(node, None, scenario) == 451
    finally:
        node.close()


def test_with_the_database_away_auth_of_an_uncached_key_is_a_temporary_failure(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    away = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://keyguard@127.0.0.1:{free_port()}/none"}
    )
    node = Runtime.build(away, clock, monotonic=clock.monotonic)
    key = create_key(runtime).key.reveal()

    async def scenario(port: int) -> tuple[int, str]:
        async with plain(port) as smtp:
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
                await smtp.login("apikey", key)
            return refused.value.code, refused.value.message

    try:
        code, message = run_with_server(node, None, scenario)
    finally:
        node.close()
    assert (code, "database_unavailable" in message) == (454, True)
