"""Secret providers (env, file, OpenBao, AWS), key wrappers and envelope encryption.

Public surface::

    settings.secrets: SecretsSettings          # the [secrets] block of keyguard.settings
    build_provider(settings) -> SecretProvider # get / put / versions / health
    build_wrapper(settings) -> KeyWrapper      # Transit, KMS or the local master key (dev)
    load_pepper_ring(provider) -> PepperRing
    bootstrap_backend(settings, create=) -> [Need]  # what `keyguard init` creates (dev) or checks
    seal / unseal / rewrap                     # envelope encryption (keyguard.secrets.envelope)
    store_secret / read_secret / rewrap_all    # stored secrets (keyguard.secrets.service)

Backends import hvac and boto3 only when they are built.
"""

import importlib
from typing import TYPE_CHECKING, Any

# The face is resolved on first use (PEP 562): `keyguard.settings` imports the settings module
# of this package at every start-up, and must not pay for cryptography, hvac or boto3.
_FACE = {
    "Need": "bootstrap",
    "bootstrap_backend": "bootstrap",
    "call": "aws",
    "client_config": "aws",
    "make_session": "aws",
    "Check": "checks",
    "exit_code": "checks",
    "run_checks": "checks",
    "Binding": "envelope",
    "Envelope": "envelope",
    "rewrap": "envelope",
    "seal": "envelope",
    "unseal": "envelope",
    "build_provider": "factory",
    "build_wrapper": "factory",
    "openbao_connection": "factory",
    "read_private_file": "file",
    "KeyWrapper": "interfaces",
    "SecretProvider": "interfaces",
    "SecretValue": "interfaces",
    "SecretVersion": "interfaces",
    "WrappedKey": "interfaces",
    "validate_name": "interfaces",
    "OpenBaoConnection": "openbao",
    "OpenBaoSecretProvider": "openbao",
    "format_pepper": "pepper",
    "load_pepper_ring": "pepper",
    "parse_pepper": "pepper",
    "DEFAULT_BATCH_SIZE": "service",
    "RewrapReport": "service",
    "rewrap_all": "service",
    "delete_secrets": "service",
    "read_secret": "service",
    "store_secret": "service",
    "INHERITED": "settings",
    "SecretsSettings": "settings",
    "environment_values": "settings",
}

if TYPE_CHECKING:
    from keyguard.secrets import pepper_rotation
    from keyguard.secrets.aws import call, client_config, make_session
    from keyguard.secrets.bootstrap import Need, bootstrap_backend
    from keyguard.secrets.checks import Check, exit_code, run_checks
    from keyguard.secrets.envelope import Binding, Envelope, rewrap, seal, unseal
    from keyguard.secrets.factory import build_provider, build_wrapper, openbao_connection
    from keyguard.secrets.file import read_private_file
    from keyguard.secrets.interfaces import (
        KeyWrapper,
        SecretProvider,
        SecretValue,
        SecretVersion,
        WrappedKey,
        validate_name,
    )
    from keyguard.secrets.openbao import OpenBaoConnection, OpenBaoSecretProvider
    from keyguard.secrets.pepper import format_pepper, load_pepper_ring, parse_pepper
    from keyguard.secrets.service import (
        DEFAULT_BATCH_SIZE,
        RewrapReport,
        delete_secrets,
        read_secret,
        rewrap_all,
        store_secret,
    )
    from keyguard.secrets.settings import INHERITED, SecretsSettings, environment_values


# Modules named as namespaces (`pepper_rotation.rotate_pepper(...)`).
_NAMESPACES = frozenset({"pepper_rotation"})


def __getattr__(name: str) -> Any:
    if name in _NAMESPACES:
        return importlib.import_module(f"keyguard.secrets.{name}")
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module 'keyguard.secrets' has no attribute {name!r}")
    return getattr(importlib.import_module(f"keyguard.secrets.{module}"), name)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "INHERITED",
    "Binding",
    "Check",
    "Envelope",
    "KeyWrapper",
    "Need",
    "OpenBaoConnection",
    "OpenBaoSecretProvider",
    "RewrapReport",
    "SecretProvider",
    "SecretValue",
    "SecretVersion",
    "SecretsSettings",
    "WrappedKey",
    "bootstrap_backend",
    "build_provider",
    "build_wrapper",
    "call",
    "client_config",
    "delete_secrets",
    "environment_values",
    "exit_code",
    "format_pepper",
    "load_pepper_ring",
    "make_session",
    "openbao_connection",
    "parse_pepper",
    "pepper_rotation",
    "read_private_file",
    "read_secret",
    "rewrap",
    "rewrap_all",
    "run_checks",
    "seal",
    "store_secret",
    "unseal",
    "validate_name",
]
