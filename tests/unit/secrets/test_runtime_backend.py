"""Runtime.build reads the pepper ring from KEYGUARD_SECRETS_BACKEND, and stops clearly when
the backend is unreachable or holds no pepper."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyguard.errors import ConfigurationError
from keyguard.runtime import Runtime
from keyguard.secrets import pepper_rotation
from keyguard.secrets.file import FileSecretProvider
from keyguard.settings import Settings
from tests.unit.secrets.servers import free_port


def _settings(tmp_path: Path, backend: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'k.db'}",
        secrets={"backend": backend},  # type: ignore[arg-type]  # validated into SecretsSettings
    )


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("KEYGUARD_SECRETS_DIR", str(directory))
    return directory


def test_the_file_backend_supplies_every_pepper_version(tmp_path: Path, secrets_dir: Path) -> None:
    provider = FileSecretProvider(secrets_dir)
    pepper_rotation.rotate_pepper(provider, "pepper")
    pepper_rotation.rotate_pepper(provider, "pepper")
    runtime = Runtime.build(_settings(tmp_path, "file"))
    try:
        assert runtime.peppers.current.version == "v2"
        assert [p.version for p in runtime.peppers] == ["v2", "v1"]
        assert runtime.settings.secrets.backend == "file"
        assert runtime.settings.secrets.resolved_secrets_dir == secrets_dir  # from the variable
    finally:
        runtime.close()


def test_a_backend_without_a_pepper_says_how_to_create_one(
    tmp_path: Path, secrets_dir: Path
) -> None:
    with pytest.raises(ConfigurationError, match="rotate-pepper"):
        Runtime.build(_settings(tmp_path, "file"))


def test_an_unreachable_openbao_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAO_ADDR", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("BAO_TOKEN", "not-a-real-token")
    with pytest.raises(ConfigurationError, match="cannot reach OpenBao"):
        Runtime.build(_settings(tmp_path, "openbao"))


def test_the_env_backend_keeps_keyguard_pepper(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "env").model_copy(update={"pepper": None, "mode": "dev"})
    runtime = Runtime.build(settings)  # dev mode: the generated private pepper file
    try:
        assert runtime.peppers.current.version == "v1"
        assert (tmp_path / "data" / "pepper").exists()
    finally:
        runtime.close()
