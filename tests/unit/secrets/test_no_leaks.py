"""No secret value reaches a log record, a repr or an error message."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import ManualClock
from keyguard.errors import KeyguardError
from keyguard.secrets.envelope import Binding, seal, unseal
from keyguard.secrets.factory import openbao_connection
from keyguard.secrets.file import FileSecretProvider
from keyguard.secrets.interfaces import SecretValue
from keyguard.secrets.local import LocalKeyWrapper
from keyguard.secrets.openbao import AppRoleAuth, TokenAuth
from keyguard.secrets.service import read_secret, rewrap_all, store_secret
from keyguard.secrets.settings import SecretsSettings
from tests.unit.secrets.conftest import Bao

SECRET = "leak-canary-" + secrets.token_hex(16)


def _assert_absent(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_provider_and_service_logs_hold_no_secret(
    tmp_path: Path,
    sessions: sessionmaker[Session],
    local_wrapper: LocalKeyWrapper,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="keyguard")
    provider = FileSecretProvider(tmp_path / "secrets")
    provider.put("smtp/relay", SecretValue(SECRET))
    value = provider.get("smtp/relay")
    with sessions.begin() as session:
        store_secret(
            session,
            local_wrapper,
            tenant_id="t",
            purpose="smtp_credentials",
            name="relay",
            value=value,
            clock=clock,
        )
    local_wrapper.rotate()
    rewrap_all(sessions, local_wrapper, clock=clock)
    with sessions() as session:
        read = read_secret(
            session, local_wrapper, tenant_id="t", purpose="smtp_credentials", name="relay"
        )
    assert read.reveal() == SECRET  # the operations really handled the canary
    assert caplog.records, "expected the operations to log something"
    _assert_absent(caplog.text, *(repr(r.__dict__) for r in caplog.records))
    _assert_absent(repr(provider), repr(value), repr(read), repr(local_wrapper))


def test_refused_file_error_holds_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="keyguard")
    path = tmp_path / "pepper"
    path.write_text(SECRET)
    path.chmod(0o644)
    with pytest.raises(KeyguardError) as raised:
        FileSecretProvider(tmp_path).get("pepper")
    _assert_absent(str(raised.value), repr(raised.value), caplog.text)


def test_tampered_envelope_error_holds_no_secret(local_wrapper: LocalKeyWrapper) -> None:
    binding = Binding("t", "p", "n", "r")
    envelope = seal(local_wrapper, SecretValue(SECRET), binding)
    with pytest.raises(KeyguardError) as raised:
        unseal(local_wrapper, dataclasses.replace(envelope, nonce=bytes(12)), binding)
    _assert_absent(str(raised.value), repr(envelope))


def test_openbao_credentials_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAO_ADDR", "https://bao.example:8200")
    monkeypatch.setenv("BAO_TOKEN", SECRET)
    monkeypatch.setenv("KEYGUARD_OPENBAO_SECRET_ID", SECRET)
    settings = SecretsSettings.from_environment()
    connection = openbao_connection(settings)
    approle = AppRoleAuth("role", SecretValue(SECRET))
    _assert_absent(
        repr(settings),
        str(settings),
        repr(connection),
        repr(approle),
        repr(TokenAuth(SecretValue(SECRET))),
    )


def test_openbao_logs_hold_no_secret(bao: Bao, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # hvac, requests and urllib3 too
    bao.provider.put("canary", SecretValue(SECRET))
    assert bao.provider.get("canary").reveal() == SECRET
    _assert_absent(caplog.text)
