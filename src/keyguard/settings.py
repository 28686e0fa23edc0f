"""Settings from KEYGUARD_* variables (and an optional TOML file), built once at startup."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    # HTTP API (docs/http-api.md).
    # Proxies whose X-Forwarded-For we believe: "10.0.0.0/8,::1/128". Empty: the socket peer
    # is the client, and X-Forwarded-For is ignored.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # When Redis (shared rate limits) is unreachable: refuse with 503 (default) or let through.
    redis_fail_open: bool = False
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # Usage events are written in batches: at most this long in memory before a flush.
    usage_flush_seconds: float = Field(default=1.0, gt=0)
    usage_queue_limit: int = Field(default=100_000, gt=0)

    # Email (docs/mail.md). The relay is `smtp_relay`; its credentials are secrets.
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_relay_ca_file: Path | None = None  # CA bundle for the relay's certificate
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # The SMTP submission server (`keyguard smtp`) and its certificate for STARTTLS.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=0, le=65535)
    smtp_tls_cert_file: Path | None = None
    smtp_tls_key_file: Path | None = None
    smtp_in_serve: bool = False
    # The delivery worker: inside `keyguard serve` unless turned off, or `keyguard worker`.
    mail_worker_in_serve: bool = True
    mail_worker_connections: int = Field(default=4, ge=1, le=64)
    mail_worker_batch: int = Field(default=100, ge=1, le=1000)
    mail_poll_seconds: float = Field(default=1.0, gt=0)
    mail_lease_seconds: float = Field(default=300.0, gt=0)
    mail_retry_base_seconds: float = Field(default=30.0, gt=0)
    mail_max_attempts: int = Field(default=8, ge=1)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _cidrs(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        networks = []
        for item in (str(i).strip() for i in items):
            if item:
                try:
                    networks.append(str(ipaddress.ip_network(item, strict=False)))
                except ValueError:
                    raise ValueError(f"invalid CIDR {item!r} in trusted_proxies") from None
        return tuple(networks)

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
