"""Where the pepper comes from: KEYGUARD_PEPPER, or in dev mode only a generated 0600 file;
with another secrets backend, the pepper secret in the provider (keyguard.secrets.pepper)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from keyguard.errors import ConfigurationError, NotFound
from keyguard.keys import MIN_PEPPER_BYTES, Pepper, PepperRing
from keyguard.settings import Settings

DEV_PEPPER_FILE = "pepper"


def load_peppers(settings: Settings) -> PepperRing:
    """The current pepper plus any older versions still verifying their keys."""
    if settings.pepper is not None:
        current = _pepper(settings.pepper_version, settings.pepper.get_secret_value())
    elif settings.mode == "dev":
        current = _pepper(settings.pepper_version, _dev_pepper(settings.data_dir))
    else:
        raise ConfigurationError("live mode refuses to start without KEYGUARD_PEPPER")
    return PepperRing(current, _previous(settings))


def _pepper(version: str, value: str) -> Pepper:
    material = value.encode()
    if len(material) < MIN_PEPPER_BYTES or len(set(material)) < 8:
        raise ConfigurationError(
            f"pepper {version!r} is weak: use at least {MIN_PEPPER_BYTES} random bytes "
            "(for example `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return Pepper(version, material)


def _previous(settings: Settings) -> list[Pepper]:
    if settings.pepper_previous is None:
        return []
    peppers = []
    for item in settings.pepper_previous.get_secret_value().split(","):
        version, sep, value = item.strip().partition(":")
        if not sep:
            raise ConfigurationError("KEYGUARD_PEPPER_PREVIOUS must be 'version:value,…'")
        peppers.append(_pepper(version, value))
    return peppers


def _dev_pepper(data_dir: Path) -> str:
    """Dev mode only: a pepper generated once and kept in a private file."""
    path = data_dir / DEV_PEPPER_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    if path.stat().st_mode & 0o077:
        raise ConfigurationError(f"{path} is readable by others; chmod 600 it")
    return path.read_text().strip()


def load_runtime_peppers(settings: Settings) -> PepperRing:
    """The pepper ring of KEYGUARD_SECRETS_BACKEND: env keeps KEYGUARD_PEPPER (or the dev file);
    file, openbao and aws read every version of the pepper secret from the provider."""
    secrets = settings.secrets
    if secrets.backend == "env":
        return load_peppers(settings)
    from keyguard.secrets import (  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them
        build_provider,
        load_pepper_ring,
    )

    provider = build_provider(secrets)  # ConfigurationError when unreachable or refused
    try:
        return load_pepper_ring(provider, secrets.pepper_secret)
    except NotFound as exc:
        raise ConfigurationError(
            f"no pepper in the {secrets.backend} secrets backend ({exc.message}); "
            "create its first version with `keyguard secrets rotate-pepper`"
        ) from None
