"""Settings of the secrets layer, read from KEYGUARD_* and the standard OpenBao/Vault variables.

Kept apart from keyguard.settings.Settings until the foundation merges these fields into it;
field names are the ones to merge (docs/secrets.md lists them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
