"""One setting picks the backend; a wrong configuration fails at startup and says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyguard.errors import ConfigurationError
from keyguard.secrets.aws import KmsKeyWrapper, SecretsManagerProvider
from keyguard.secrets.env import EnvSecretProvider
from keyguard.secrets.factory import build_provider, build_wrapper
from keyguard.secrets.file import FileSecretProvider
from keyguard.secrets.local import LocalKeyWrapper
from keyguard.secrets.openbao import OpenBaoSecretProvider, TransitKeyWrapper
from keyguard.secrets.settings import SecretsSettings
from keyguard.settings import Settings
from tests.unit.secrets.servers import OpenBaoServer


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "BAO_ADDR",
        "VAULT_ADDR",
        "BAO_TOKEN",
        "VAULT_TOKEN",
        "BAO_CACERT",
        "VAULT_CACERT",
        "BAO_SKIP_VERIFY",
        "VAULT_SKIP_VERIFY",
        "KEYGUARD_SECRETS_BACKEND",
        "KEYGUARD_SECRETS_WRAPPER",
        "KEYGUARD_MODE",
        "KEYGUARD_OPENBAO_ROLE_ID",
        "KEYGUARD_OPENBAO_SECRET_ID",
    ):
        monkeypatch.delenv(variable, raising=False)


def _settings(tmp_path: Path, mode: str = "dev", **values: object) -> SecretsSettings:
    """The [secrets] block as a process reads it: `values` over the environment's variables."""
    settings = Settings(data_dir=tmp_path, mode=mode, secrets=values)  # type: ignore[arg-type]
    return settings.secrets


def test_env_is_the_default_backend_with_the_local_wrapper_in_dev(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert isinstance(build_provider(settings), EnvSecretProvider)
    assert isinstance(build_wrapper(settings), LocalKeyWrapper)
    assert (tmp_path / "master.key").exists()


def test_the_local_wrapper_is_refused_in_live_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="dev mode only"):
        build_wrapper(_settings(tmp_path, mode="live"))


def test_file_backend_needs_its_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        build_provider(_settings(tmp_path, backend="file"))
    (tmp_path / "secrets").mkdir()
    assert isinstance(build_provider(_settings(tmp_path, backend="file")), FileSecretProvider)


def test_openbao_backend_reads_the_standard_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openbao_server: OpenBaoServer
) -> None:
    monkeypatch.setenv("VAULT_ADDR", openbao_server.address)
    monkeypatch.setenv("BAO_TOKEN", openbao_server.root_token)
    settings = _settings(tmp_path, backend="openbao")
    assert isinstance(build_provider(settings), OpenBaoSecretProvider)
    wrapper = build_wrapper(settings, check=False)
    assert isinstance(wrapper, TransitKeyWrapper)


def test_openbao_backend_without_an_address_is_misconfigured(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="BAO_ADDR"):
        build_provider(_settings(tmp_path, backend="openbao"))


def test_openbao_backend_without_credentials_is_misconfigured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAO_ADDR", "https://bao.example:8200")
    with pytest.raises(ConfigurationError, match="BAO_TOKEN"):
        build_provider(_settings(tmp_path, backend="openbao"))


def test_a_role_id_without_a_secret_id_is_misconfigured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAO_ADDR", "https://bao.example:8200")
    monkeypatch.setenv("KEYGUARD_OPENBAO_ROLE_ID", "role")
    with pytest.raises(ConfigurationError, match="SECRET_ID"):
        build_provider(_settings(tmp_path, backend="openbao"))


def test_skip_verify_is_refused_not_obeyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAO_ADDR", "https://bao.example:8200")
    monkeypatch.setenv("BAO_TOKEN", "t")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    with pytest.raises(ConfigurationError, match="never turns TLS verification off"):
        build_provider(_settings(tmp_path, backend="openbao"), check=False)


def test_an_unreachable_openbao_fails_at_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:9")
    monkeypatch.setenv("BAO_TOKEN", "t")
    with pytest.raises(ConfigurationError, match="cannot reach OpenBao"):
        build_provider(_settings(tmp_path, backend="openbao"))


def test_aws_backend_and_kms_wrapper(tmp_path: Path, aws_env: dict[str, str]) -> None:
    settings = _settings(tmp_path, backend="aws", aws_kms_key_id="alias/keyguard")
    assert isinstance(build_provider(settings), SecretsManagerProvider)
    assert isinstance(build_wrapper(settings, check=False), KmsKeyWrapper)


def test_kms_wrapper_needs_a_key_id(tmp_path: Path, aws_env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="KEYGUARD_AWS_KMS_KEY_ID"):
        build_wrapper(_settings(tmp_path, backend="aws"))
