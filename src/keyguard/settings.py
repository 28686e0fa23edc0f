"""Settings from KEYGUARD_* variables (and an optional TOML file), built once at startup.

One object for the whole process, the secrets layer's block nested in it as `[secrets]`. The
sources, strongest first: explicit overrides (CLI options), the TOML file, KEYGUARD_*
variables, the secrets block's own variables (BAO_ADDR …). An unknown key is an error that
names it, so a typo in the TOML file never silently falls back to a default.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from keyguard.errors import ConfigurationError, InvalidInput
from keyguard.policy import parse_cidr_list
from keyguard.secrets import INHERITED, SecretsSettings, environment_values

Mode = Literal["dev", "live"]


class Settings(BaseSettings):
    """Everything a deployment configures. Secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_prefix="KEYGUARD_", extra="forbid", frozen=True)

    mode: Mode = "dev"
    data_dir: Path = Path(".keyguard")
    database_url: str | None = None
    redis_url: str | None = None
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
    # The Redis pub/sub channel of the revocation fan-out (keyguard.fanout), when redis_url
    # is set; deployments sharing one Redis keep their own.
    fanout_channel: str = Field(default="keyguard:changes", min_length=1, max_length=200)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # Usage events are written in batches: at most this long in memory before a flush.
    usage_flush_seconds: float = Field(default=1.0, gt=0)
    usage_queue_limit: int = Field(default=100_000, gt=0)
    # Usage history (docs/usage.md): MaxMind-format files (GeoLite2, DB-IP Lite) that add
    # `geo` and `asn` to usage events; how long raw events and their hourly rollups are kept;
    # how often the worker rolls up and purges.
    geoip_db: Path | None = None
    asn_db: Path | None = None
    usage_retention_days: int = Field(default=90, ge=1, le=36_500)
    usage_rollup_retention_days: int = Field(default=400, ge=1, le=36_500)
    usage_maintenance_seconds: float = Field(default=300.0, gt=0)
    # Online detection (docs/monitoring.md): how long the leading detector's lease lasts
    # without renewal, i.e. how soon another node takes over from one that died.
    detector_lease_seconds: float = Field(default=15.0, gt=0, le=3600)
    # Access review (docs/review.md): a key or scope unused this long is reported (within the
    # raw events' retention); the rotation policy's age; how soon an expiry is reported; the
    # ASNs of the deployment's CI runners ("8075,16509"), which the review cannot guess.
    review_unused_days: int = Field(default=30, ge=1, le=36_500)
    review_rotation_days: int = Field(default=90, ge=1, le=36_500)
    review_expiring_days: int = Field(default=14, ge=0, le=36_500)
    review_ci_asns: Annotated[tuple[int, ...], NoDecode] = ()
    # How often the worker looks whether a tenant's weekly review digest is due.
    review_digest_check_seconds: float = Field(default=3600.0, gt=0)

    # Webhooks (keyguard.webhooks): delivery rounds of the worker, retries, key.expiring.
    webhook_delivery_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    webhook_max_age_hours: int = Field(default=72, ge=1, le=24 * 30)
    webhook_expiring_days: int = Field(default=7, ge=1, le=365)
    # The sender of the plain-text event mail to tenants' security contacts.
    security_mail_from: str = "Keyguard <security@keyguard.invalid>"

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

    # Leak intake (docs/incidents.md). GitHub's secret scanning public keys, from a URL
    # (GitHub's: keyguard.incidents.GITHUB_KEYS_URL) or a file; neither: POST /v1/leaks/github
    # is off. The public revocation endpoint's requests per minute from one client address.
    github_keys_url: str | None = None
    github_keys_file: Path | None = None
    public_revoke_per_minute: int = Field(default=10, ge=1, le=10_000)

    # The dashboard's address as people's browsers see it (docs/dashboard.md), e.g.
    # https://keys.example.com: the passkeys' relying party id (its host name) and origin, the
    # origin forms must come from, and the base of set-up and invitation links. Unset: taken
    # from each request (loopback, `make run`). https only in live mode.
    public_url: str | None = Field(default=None, max_length=300)

    # Where Keyguard's own secrets live (docs/secrets.md): the `[secrets]` block.
    secrets: SecretsSettings = SecretsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings]
        config_file = _CONFIG_FILE.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return (*sources, env_settings, _SecretsEnvironment(settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _inherit(cls, data: Any) -> Any:
        """The secrets block sees the process's own mode and data directory, set once above."""
        if not isinstance(data, dict):
            return data
        block = data.get("secrets", {})
        if isinstance(block, SecretsSettings):
            block = block.model_dump(exclude_unset=True)
        if not isinstance(block, dict):
            return data
        clash = [name for name in INHERITED if name in block]
        if clash:
            raise ValueError(f"secrets.{clash[0]} is not a setting: set {clash[0]} at the top")
        inherited = {name: data[name] for name in INHERITED if name in data}
        return {**data, "secrets": {**block, **inherited}}

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _rollups_outlive_events(self) -> Settings:
        if self.usage_rollup_retention_days < self.usage_retention_days:
            raise ValueError(
                "usage_rollup_retention_days must be at least usage_retention_days: the hourly "
                "rollups are what remains of purged events"
            )
        return self

    @model_validator(mode="after")
    def _review_within_retention(self) -> Settings:
        if self.review_unused_days > self.usage_retention_days:
            raise ValueError(
                "review_unused_days must be at most usage_retention_days: a review reads raw "
                "usage events, and a use older than their retention would look like none"
            )
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("public_url must be an absolute URL such as https://keys.example.com")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("public_url must hold no credentials, query or fragment")
        if parts.path not in ("", "/"):
            raise ValueError("public_url must be an origin (the dashboard is always at /ui/)")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @model_validator(mode="after")
    def _public_url_https_when_live(self) -> Settings:
        # A passkey, a session cookie and a signing secret over plain http are readable and
        # replayable by anyone on the path: live mode refuses to start with such an address.
        if self.mode == "live" and self.public_url and self.public_url.startswith("http://"):
            raise ValueError(
                f"public_url {self.public_url} is plain http: live mode needs https "
                "(end TLS at the proxy and give its https address)"
            )
        return self

    @field_validator("review_ci_asns", mode="before")
    @classmethod
    def _asns(cls, value: Any) -> tuple[int, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        try:
            return tuple(int(str(i).strip().removeprefix("AS")) for i in items if str(i).strip())
        except ValueError:
            raise ValueError("review_ci_asns must be numbers: 8075,16509") from None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _cidrs(cls, value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else [str(i) for i in value or ()]
        try:
            return parse_cidr_list(items, "trusted_proxies")
        except InvalidInput as exc:
            raise ValueError(f"{exc.message} in trusted_proxies") from None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'keyguard.db'}"


# The TOML file of the `load_settings` call under way: pydantic-settings takes a source's file
# from the class, and the file is a per-call choice (`--config`).
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("keyguard_config_file", default=None)


class _SecretsEnvironment(PydanticBaseSettingsSource):
    """The `[secrets]` block from its documented variables (keyguard.secrets.settings)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole block at once

    def __call__(self) -> dict[str, Any]:
        values = environment_values(os.environ)
        return {"secrets": values} if values else {}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, a TOML file and explicit overrides (weakest first)."""
    if config_file is not None:
        try:
            tomllib.loads(config_file.read_text())  # read errors named here, not as a traceback
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read config file {config_file}: {exc}") from exc
    token = _CONFIG_FILE.set(config_file)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigurationError(describe(exc)) from None
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from None
    finally:
        _CONFIG_FILE.reset(token)


def describe(exc: ValidationError) -> str:
    """One line naming every bad or unknown setting."""
    parts = []
    for error in exc.errors():
        where = ".".join(map(str, error["loc"])) or "settings"
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown setting {where!r}")
        else:
            parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(parts)
