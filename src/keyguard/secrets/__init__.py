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
