"""Build the configured secret provider and key wrapper; fail at startup, clearly, if unusable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyguard.errors import ConfigurationError
from keyguard.secrets.env import EnvSecretProvider
from keyguard.secrets.file import FileSecretProvider
from keyguard.secrets.interfaces import KeyWrapper, SecretProvider, SecretValue
from keyguard.secrets.local import LocalKeyWrapper
from keyguard.secrets.settings import SecretsSettings

if TYPE_CHECKING:
    from keyguard.secrets.openbao import OpenBaoConnection

_TRUTHY = {"1", "t", "true", "yes", "y", "on"}


def build_provider(settings: SecretsSettings, *, check: bool = True) -> SecretProvider:
    """The provider KEYGUARD_SECRETS_BACKEND names; with `check`, prove it is reachable."""
    provider = _provider(settings)
    if check:
        provider.health()
    return provider


def build_wrapper(
    settings: SecretsSettings, *, check: bool = True, create: bool = True
) -> KeyWrapper:
    """The key wrapper for envelope encryption (KEYGUARD_SECRETS_WRAPPER, or the backend's).

    With `create` (dev mode), a missing local master key file is created.
    """
    wrapper = _wrapper(settings, create=create)
    if check:
        wrapper.health()
    return wrapper


def openbao_connection(settings: SecretsSettings) -> OpenBaoConnection:
    """An OpenBao connection from BAO_ADDR/VAULT_ADDR and a token or AppRole credentials."""
    # hvac and boto3 are imported only by the deployments that use them.
    from keyguard.secrets.openbao import AppRoleAuth, OpenBaoConnection, TokenAuth  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them

    if not settings.openbao_addr:
        raise ConfigurationError("the openbao secrets backend needs BAO_ADDR (or VAULT_ADDR)")
    if (settings.openbao_skip_verify or "").strip().lower() in _TRUTHY:
        raise ConfigurationError(
            "BAO_SKIP_VERIFY/VAULT_SKIP_VERIFY is set: Keyguard never turns TLS verification "
            "off; unset it and give the CA in KEYGUARD_OPENBAO_CA_BUNDLE (or BAO_CACERT)"
        )
    auth: TokenAuth | AppRoleAuth
    if settings.openbao_role_id:
        if settings.openbao_secret_id is None:
            raise ConfigurationError(
                "KEYGUARD_OPENBAO_ROLE_ID is set but KEYGUARD_OPENBAO_SECRET_ID is not"
            )
        secret_id = SecretValue(settings.openbao_secret_id.get_secret_value())
        auth = AppRoleAuth(settings.openbao_role_id, secret_id, settings.openbao_approle_mount)
    elif settings.openbao_token is not None:
        auth = TokenAuth(SecretValue(settings.openbao_token.get_secret_value()))
    else:
        raise ConfigurationError(
            "the openbao secrets backend needs BAO_TOKEN (or VAULT_TOKEN), or AppRole "
            "credentials in KEYGUARD_OPENBAO_ROLE_ID and KEYGUARD_OPENBAO_SECRET_ID"
        )
    return OpenBaoConnection(
        settings.openbao_addr,
        auth,
        ca_bundle=settings.openbao_ca_bundle,
        namespace=settings.openbao_namespace,
        timeout=settings.openbao_timeout_seconds,
    )


def _provider(settings: SecretsSettings) -> SecretProvider:
    backend = settings.backend
    if backend == "env":
        return EnvSecretProvider()
    if backend == "file":
        return FileSecretProvider(settings.resolved_secrets_dir)
    if backend == "openbao":
        from keyguard.secrets.openbao import OpenBaoSecretProvider  # noqa: PLC0415 - lazy hvac

        return OpenBaoSecretProvider(
            openbao_connection(settings),
            mount=settings.openbao_kv_mount,
            prefix=settings.openbao_kv_prefix,
        )
    from keyguard.secrets.aws import SecretsManagerProvider, make_session  # noqa: PLC0415 - lazy boto3

    return SecretsManagerProvider.from_session(make_session(), prefix=settings.aws_secret_prefix)


def _wrapper(settings: SecretsSettings, *, create: bool) -> KeyWrapper:
    kind = settings.resolved_wrapper
    if kind == "local":
        if settings.mode != "dev":
            raise ConfigurationError(
                "the local master key wraps data keys in dev mode only; in live mode set "
                "KEYGUARD_SECRETS_WRAPPER to openbao (Transit) or aws (KMS)"
            )
        return LocalKeyWrapper.open(settings.resolved_master_key_file, create=create)
    if kind == "openbao":
        from keyguard.secrets.openbao import TransitKeyWrapper  # noqa: PLC0415 - lazy hvac

        return TransitKeyWrapper(
            openbao_connection(settings),
            mount=settings.openbao_transit_mount,
            key=settings.openbao_transit_key,
        )
    if not settings.aws_kms_key_id:
        raise ConfigurationError(
            "the aws key wrapper needs KEYGUARD_AWS_KMS_KEY_ID (a key id, ARN or alias/…)"
        )
    from keyguard.secrets.aws import KmsKeyWrapper, make_session  # noqa: PLC0415 - lazy boto3

    return KmsKeyWrapper.from_session(make_session(), key=settings.aws_kms_key_id)
