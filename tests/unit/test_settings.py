"""One Settings object: the TOML file, KEYGUARD_* and other tools' variables, nested [secrets]."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyguard.errors import ConfigurationError
from keyguard.settings import load_settings


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("BAO_ADDR", "VAULT_ADDR", "BAO_TOKEN", "VAULT_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("KEYGUARD_SECRETS_BACKEND", "KEYGUARD_MODE", "KEYGUARD_SECRETS_DIR"):
        monkeypatch.delenv(variable, raising=False)


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keyguard.toml"
    path.write_text(text)
    return path


def test_the_secrets_block_of_the_toml_file_is_honoured(tmp_path: Path) -> None:
    config = toml(
        tmp_path,
        '[secrets]\nbackend = "openbao"\nopenbao_addr = "https://bao.internal:8200"\n',
    )
    secrets = load_settings(config).secrets
    assert (secrets.backend, secrets.openbao_addr) == ("openbao", "https://bao.internal:8200")


def test_an_unknown_key_in_the_toml_file_is_an_error_that_names_it(tmp_path: Path) -> None:
    config = toml(tmp_path, 'mdoe = "live"\n[secrets]\nopenbao_adr = "x"\n')
    with pytest.raises(ConfigurationError) as raised:
        load_settings(config)
    assert "'mdoe'" in raised.value.message
    assert "'secrets.openbao_adr'" in raised.value.message


def test_other_tools_variables_still_configure_the_secrets_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYGUARD_SECRETS_BACKEND", "openbao")
    monkeypatch.setenv("VAULT_ADDR", "https://vault.internal:8200")
    monkeypatch.setenv("BAO_TOKEN", "not-a-real-token")
    secrets = load_settings().secrets
    assert (secrets.backend, secrets.openbao_addr) == ("openbao", "https://vault.internal:8200")
    assert secrets.openbao_token is not None
    assert "not-a-real-token" not in repr(secrets)


def test_the_file_and_the_environment_merge_and_the_file_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYGUARD_SECRETS_BACKEND", "file")
    monkeypatch.setenv("BAO_ADDR", "https://from-the-environment:8200")
    config = toml(tmp_path, '[secrets]\nopenbao_addr = "https://from-the-file:8200"\n')
    secrets = load_settings(config).secrets
    assert (secrets.backend, secrets.openbao_addr) == ("file", "https://from-the-file:8200")


def test_the_secrets_block_inherits_mode_and_data_directory(tmp_path: Path) -> None:
    config = toml(tmp_path, 'mode = "live"\npepper = "' + "ab" * 32 + '"\n')
    settings = load_settings(config, data_dir=tmp_path / "data")
    assert (settings.secrets.mode, settings.secrets.data_dir) == ("live", tmp_path / "data")
    assert settings.secrets.resolved_secrets_dir == tmp_path / "data" / "secrets"


def test_mode_cannot_be_set_twice_inside_the_secrets_block(tmp_path: Path) -> None:
    config = toml(tmp_path, '[secrets]\nmode = "live"\n')
    with pytest.raises(ConfigurationError, match="set mode at the top"):
        load_settings(config)


def test_an_unreadable_toml_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read config file"):
        load_settings(toml(tmp_path, "[secrets\n"))
    with pytest.raises(ConfigurationError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml")


def test_trusted_proxies_are_normalised_once_and_a_bad_one_is_named() -> None:
    settings = load_settings(trusted_proxies="10.1.2.3/8, ::1/128,10.0.0.0/8")
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1/128")
    with pytest.raises(ConfigurationError, match="invalid CIDR 'ten-dot' in trusted_proxies"):
        load_settings(trusted_proxies="10.0.0.0/8,ten-dot")
