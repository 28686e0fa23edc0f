"""Settings of the secrets layer, read from KEYGUARD_* and the standard OpenBao/Vault variables.

Built once at startup by `SecretsSettings.from_settings(settings)`: mode, data directory,
database URL and backend come from the main `keyguard.settings.Settings` (so `--data-dir`,
`--config` and the environment agree), the rest from the same environment. They stay a
separate object because most of them are read under the standard names of other tools
(BAO_ADDR, VAULT_TOKEN …), which the KEYGUARD_-prefixed main settings do not take.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keyguard.errors import ConfigurationError

if TYPE_CHECKING:
    from keyguard.settings import Settings

Backend = Literal["env", "file", "openbao", "aws"]
WrapperKind = Literal["local", "openbao", "aws"]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class SecretsSettings(BaseSettings):
    """Which provider holds the service's secrets and which key wraps stored data keys."""

    model_config = SettingsConfigDict(
        env_prefix="KEYGUARD_", extra="ignore", frozen=True, populate_by_name=True
    )

    mode: Literal["dev", "live"] = "dev"
    data_dir: Path = Path(".keyguard")
    database_url: str | None = None
    secrets_backend: Backend = "env"
    # Default: Transit for openbao, KMS for aws, the local master key (dev mode only) otherwise.
    secrets_wrapper: WrapperKind | None = None
    secrets_dir: Path | None = None
    master_key_file: Path | None = None
    pepper_secret: str = "pepper"

    openbao_addr: str | None = Field(default=None, validation_alias=_env("BAO_ADDR", "VAULT_ADDR"))
    openbao_token: SecretStr | None = Field(
        default=None, validation_alias=_env("BAO_TOKEN", "VAULT_TOKEN")
    )
    openbao_ca_bundle: Path | None = Field(
        default=None,
        validation_alias=_env("KEYGUARD_OPENBAO_CA_BUNDLE", "BAO_CACERT", "VAULT_CACERT"),
    )
    # Read only to refuse it: Keyguard never turns TLS verification off.
    openbao_skip_verify: str | None = Field(
        default=None, validation_alias=_env("BAO_SKIP_VERIFY", "VAULT_SKIP_VERIFY")
    )
    openbao_namespace: str | None = Field(
        default=None, validation_alias=_env("BAO_NAMESPACE", "VAULT_NAMESPACE")
    )
    openbao_role_id: str | None = None
    openbao_secret_id: SecretStr | None = None
    openbao_approle_mount: str = "approle"
    openbao_kv_mount: str = "secret"
    openbao_kv_prefix: str = "keyguard"
    openbao_transit_mount: str = "transit"
    openbao_transit_key: str = "keyguard"
    openbao_timeout_seconds: int = Field(default=5, gt=0)

    aws_secret_prefix: str = "keyguard/"
    aws_kms_key_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SecretsSettings:
        """The secrets settings of a process whose main settings are `settings`."""
        values: dict[str, Any] = {
            "mode": settings.mode,
            "data_dir": settings.data_dir,
            "database_url": settings.database_url,
            "secrets_backend": settings.secrets_backend,
            **overrides,
        }
        try:
            return cls(**values)
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            detail = (
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
                if callable(errors)
                else str(exc)
            )
            raise ConfigurationError(f"invalid secrets settings: {detail}") from None

    @field_validator("data_dir", "secrets_dir", "master_key_file", "openbao_ca_bundle")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def resolved_secrets_dir(self) -> Path:
        return self.secrets_dir or self.data_dir / "secrets"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def resolved_wrapper(self) -> WrapperKind:
        if self.secrets_wrapper is not None:
            return self.secrets_wrapper
        if self.secrets_backend == "openbao":
            return "openbao"
        if self.secrets_backend == "aws":
            return "aws"
        return "local"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'keyguard.db'}"
