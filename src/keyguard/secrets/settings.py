"""The `[secrets]` block of the settings: which provider holds Keyguard's secrets, which key wraps.

It is nested in `keyguard.settings.Settings` (one object, one TOML file, one validation). Its
variables keep the names users already set, including the standard ones of other tools
(BAO_ADDR, VAULT_TOKEN …): `ENVIRONMENT` lists them, and `environment_values` reads them for
the settings source. `mode` and `data_dir` are not set here: the parent copies its own in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Backend = Literal["env", "file", "openbao", "aws"]
WrapperKind = Literal["local", "openbao", "aws"]

# Field → the variables that set it, first found wins. Names of other tools come last so that
# a KEYGUARD_ variable, where there is one, is the more specific choice.
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "backend": ("KEYGUARD_SECRETS_BACKEND",),
    "wrapper": ("KEYGUARD_SECRETS_WRAPPER",),
    "dir": ("KEYGUARD_SECRETS_DIR",),
    "master_key_file": ("KEYGUARD_MASTER_KEY_FILE",),
    "pepper_secret": ("KEYGUARD_PEPPER_SECRET",),
    "openbao_addr": ("BAO_ADDR", "VAULT_ADDR"),
    "openbao_token": ("BAO_TOKEN", "VAULT_TOKEN"),
    "openbao_ca_bundle": ("KEYGUARD_OPENBAO_CA_BUNDLE", "BAO_CACERT", "VAULT_CACERT"),
    "openbao_skip_verify": ("BAO_SKIP_VERIFY", "VAULT_SKIP_VERIFY"),
    "openbao_namespace": ("BAO_NAMESPACE", "VAULT_NAMESPACE"),
    "openbao_role_id": ("KEYGUARD_OPENBAO_ROLE_ID",),
    "openbao_secret_id": ("KEYGUARD_OPENBAO_SECRET_ID",),
    "openbao_approle_mount": ("KEYGUARD_OPENBAO_APPROLE_MOUNT",),
    "openbao_kv_mount": ("KEYGUARD_OPENBAO_KV_MOUNT",),
    "openbao_kv_prefix": ("KEYGUARD_OPENBAO_KV_PREFIX",),
    "openbao_transit_mount": ("KEYGUARD_OPENBAO_TRANSIT_MOUNT",),
    "openbao_transit_key": ("KEYGUARD_OPENBAO_TRANSIT_KEY",),
    "openbao_timeout_seconds": ("KEYGUARD_OPENBAO_TIMEOUT_SECONDS",),
    "aws_secret_prefix": ("KEYGUARD_AWS_SECRET_PREFIX",),
    "aws_kms_key_id": ("KEYGUARD_AWS_KMS_KEY_ID",),
}
# Set by the parent settings from its own values, never in the [secrets] block itself.
INHERITED = ("mode", "data_dir")


class SecretsSettings(BaseModel):
    """Which provider holds the service's secrets and which key wraps stored data keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["dev", "live"] = "dev"
    data_dir: Path = Path(".keyguard")
    backend: Backend = "env"
    # Default: Transit for openbao, KMS for aws, the local master key (dev mode only) otherwise.
    wrapper: WrapperKind | None = None
    dir: Path | None = None
    master_key_file: Path | None = None
    pepper_secret: str = "pepper"

    openbao_addr: str | None = None
    openbao_token: SecretStr | None = None
    openbao_ca_bundle: Path | None = None
    # Read only to refuse it: Keyguard never turns TLS verification off.
    openbao_skip_verify: str | None = None
    openbao_namespace: str | None = None
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
    def from_environment(cls) -> SecretsSettings:
        """For code outside a Keyguard process (the client's key sources): variables only."""
        return cls.model_validate(environment_values(os.environ))

    @field_validator("data_dir", "dir", "master_key_file", "openbao_ca_bundle")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def resolved_secrets_dir(self) -> Path:
        return self.dir or self.data_dir / "secrets"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def resolved_wrapper(self) -> WrapperKind:
        if self.wrapper is not None:
            return self.wrapper
        if self.backend == "openbao":
            return "openbao"
        if self.backend == "aws":
            return "aws"
        return "local"


def environment_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The secrets settings that `environ` sets, by field name (see ENVIRONMENT)."""
    values = {}
    for name, variables in ENVIRONMENT.items():
        found = next((environ[v] for v in variables if v in environ), None)
        if found is not None:
            values[name] = found
    return values
