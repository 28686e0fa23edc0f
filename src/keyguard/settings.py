"""Settings from KEYGUARD_* variables (and an optional TOML file), built once at startup."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keyguard.errors import ConfigurationError

Mode = Literal["dev", "live"]


class Settings(BaseSettings):
    """Everything a deployment configures. Secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_prefix="KEYGUARD_", extra="ignore", frozen=True)

    mode: Mode = "dev"
    data_dir: Path = Path(".keyguard")
    database_url: str | None = None
    redis_url: str | None = None
    secrets_backend: Literal["env", "file", "openbao", "aws"] = "env"
    pepper: SecretStr | None = None
    pepper_version: str = "v1"
    # Older pepper versions that still verify keys hashed under them: "v0:<hex>,v-1:<hex>".
    pepper_previous: SecretStr | None = None
    smtp_relay: str | None = None
    cache_ttl_seconds: float = Field(default=30.0, gt=0)
    last_used_flush_seconds: float = Field(default=5.0, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'keyguard.db'}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, a TOML file and explicit overrides (in that order)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            values.update(tomllib.loads(config_file.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read config file {config_file}: {exc}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValueError as exc:
        raise ConfigurationError(_first_line(exc)) from exc


def _first_line(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = [f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in errors()]
        return "invalid settings: " + "; ".join(parts)
    return str(exc)
