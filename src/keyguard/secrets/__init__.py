"""Secret providers (env, file, OpenBao, AWS), key wrappers and envelope encryption.

Public surface::

    settings.secrets: SecretsSettings          # the [secrets] block of keyguard.settings
    build_provider(settings) -> SecretProvider # get / put / versions / health
    build_wrapper(settings) -> KeyWrapper      # Transit, KMS or the local master key (dev)
    load_pepper_ring(provider) -> PepperRing
    seal / unseal / rewrap                     # envelope encryption (keyguard.secrets.envelope)
    store_secret / read_secret / rewrap_all    # stored secrets (keyguard.secrets.service)

Backends import hvac and boto3 only when they are built.
"""

import importlib
from typing import TYPE_CHECKING, Any

# The face is resolved on first use (PEP 562): `keyguard.settings` imports the settings module
# of this package at every start-up, and must not pay for cryptography, hvac or boto3.
_FACE = {
    "Binding": "envelope",
    "Envelope": "envelope",
    "rewrap": "envelope",
    "seal": "envelope",
    "unseal": "envelope",
    "build_provider": "factory",
    "build_wrapper": "factory",
    "KeyWrapper": "interfaces",
    "SecretProvider": "interfaces",
    "SecretValue": "interfaces",
    "SecretVersion": "interfaces",
    "WrappedKey": "interfaces",
    "validate_name": "interfaces",
    "format_pepper": "pepper",
    "load_pepper_ring": "pepper",
    "parse_pepper": "pepper",
    "SecretsSettings": "settings",
}

if TYPE_CHECKING:
    from keyguard.secrets.envelope import Binding, Envelope, rewrap, seal, unseal
    from keyguard.secrets.factory import build_provider, build_wrapper
    from keyguard.secrets.interfaces import (
        KeyWrapper,
        SecretProvider,
        SecretValue,
        SecretVersion,
        WrappedKey,
        validate_name,
    )
    from keyguard.secrets.pepper import format_pepper, load_pepper_ring, parse_pepper
    from keyguard.secrets.settings import SecretsSettings


def __getattr__(name: str) -> Any:
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module 'keyguard.secrets' has no attribute {name!r}")
    return getattr(importlib.import_module(f"keyguard.secrets.{module}"), name)


__all__ = [
    "Binding",
    "Envelope",
    "KeyWrapper",
    "SecretProvider",
    "SecretValue",
    "SecretVersion",
    "SecretsSettings",
    "WrappedKey",
    "build_provider",
    "build_wrapper",
    "format_pepper",
    "load_pepper_ring",
    "parse_pepper",
    "rewrap",
    "seal",
    "unseal",
    "validate_name",
]
