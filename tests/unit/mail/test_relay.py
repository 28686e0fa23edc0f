"""Relay and submission settings: TLS rules and credentials that never leak."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from keyguard.errors import ConfigurationError
from keyguard.mail.metrics import MailCollector
from keyguard.mail.schemas import MessageIn
from keyguard.mail.service import MailService
from keyguard.mail.transport.delivery import DeliveryWorker
from keyguard.mail.transport.relay import RelayConfig
from keyguard.runtime import Runtime
from keyguard.runtime.mail import relay_from_settings, submission_tls
from keyguard.settings import Settings
from tests.certificates import make_certificate
from tests.functional.mail.sinks import running_sink
from tests.unit.mail.conftest import SENDER, MakeCaller


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_smtp_means_starttls_and_smtps_means_tls_from_the_first_byte() -> None:
    starttls = relay_from_settings(settings(smtp_relay="smtp://relay.example:2587"))
    implicit = relay_from_settings(settings(smtp_relay="smtps://relay.example"))
    assert starttls is not None and implicit is not None
    assert (starttls.port, starttls.implicit_tls) == (2587, False)
    assert (implicit.port, implicit.implicit_tls) == (465, True)


def test_live_mode_requires_tls_and_dev_mode_prefers_it() -> None:
    live = relay_from_settings(settings(mode="live", smtp_relay="smtp://relay.example"))
    dev = relay_from_settings(settings(smtp_relay="smtp://relay.example"))
    assert live is not None and live.require_tls
    assert dev is not None and not dev.require_tls


@pytest.mark.parametrize(
    "url", ["smtp://user:pa55w0rd@relay.example", "http://relay.example", "smtp://", "smtp://h:x"]
)
def test_bad_relay_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        relay_from_settings(settings(smtp_relay=url))
    assert "pa55w0rd" not in refused.value.message


def test_no_relay_means_none() -> None:
    assert relay_from_settings(settings()) is None


def test_the_relay_password_never_shows() -> None:
    relay = relay_from_settings(
        settings(smtp_relay="smtp://r.example", smtp_username="u", smtp_password="hunter2-pw")
    )
    assert relay is not None and relay.password is not None
    assert "hunter2" not in repr(relay) and "hunter2" not in relay.display


def test_live_submission_refuses_to_run_without_a_certificate() -> None:
    with pytest.raises(ConfigurationError, match="TLS_CERT_FILE"):
        submission_tls(settings(mode="live"))
    assert submission_tls(settings()) is None


def test_the_worker_logs_in_to_the_relay_over_starttls(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, tmp_path: Path
) -> None:
    certificate = make_certificate(tmp_path)
    item = MessageIn.model_validate(
        {"from": SENDER, "to": ["a@example.com"], "subject": "s", "text": "t"}
    )
    mail.sending.send(make_caller(), item)
    with running_sink(certificate=certificate, login=("relay-user", "relay-pw")) as sink:
        relay = RelayConfig(
            "127.0.0.1",
            sink.port,
            implicit_tls=False,
            require_tls=True,
            username="relay-user",
            password=SecretStr("relay-pw"),
            ca_file=certificate.cert,
        )
        worker = DeliveryWorker(runtime.sessions, runtime.clock, relay, counts=mail.deliveries)

        async def once() -> int:
            try:
                return await worker.run_once()
            finally:
                await worker.close()

        assert asyncio.run(once()) == 1
    assert sink.handler.logins == [True]
    assert [m.tls for m in sink.messages] == [True]
    names = {m.name: m for m in MailCollector(mail).collect()}
    assert names["keyguard_mail_deliveries"].samples[0].labels == {"state": "sent"}
    assert names["keyguard_mail_accepted"].samples[0].value == 1
