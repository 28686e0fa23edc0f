"""Load the pepper versions from the secret provider into a PepperRing.

Every readable version of the pepper secret is a pepper version; the provider's current one
hashes new keys. A value is either the JSON object {"label": "v2", "pepper": "<text>"} (what
`format_pepper` writes) or the bare pepper text, labelled by the provider's version id (with
the env backend: KEYGUARD_PEPPER_VERSION, default "v1"). The label is what
api_keys.pepper_version stores, so it must survive a move between backends: that is why new
versions carry it inside the value.

The material is the UTF-8 text of the pepper, exactly as keyguard.runtime.peppers reads
KEYGUARD_PEPPER, so a pepper moved from the environment into a vault hashes the same.
"""

from __future__ import annotations

import json
import re

from keyguard.errors import ConfigurationError
from keyguard.keys import MIN_PEPPER_BYTES, Pepper, PepperRing
from keyguard.secrets.interfaces import SecretProvider, SecretValue

DEFAULT_NAME = "pepper"
_LABEL = re.compile(r"[A-Za-z0-9._-]{1,32}")


def load_pepper_ring(provider: SecretProvider, name: str = DEFAULT_NAME) -> PepperRing:
    """Every readable pepper version, the provider's current one first."""
    current: Pepper | None = None
    older: list[Pepper] = []
    seen: set[str] = set()
    for version in provider.versions(name):
        pepper = parse_pepper(provider.get(name, version.id), default_label=version.id)
        if pepper.version in seen:
            raise ConfigurationError(
                f"two versions of secret {name!r} are labelled {pepper.version!r}"
            )
        seen.add(pepper.version)
        if version.current:
            current = pepper
        else:
            older.append(pepper)
    if current is None:
        raise ConfigurationError(f"secret {name!r} has no current version")
    return PepperRing(current, older)


def parse_pepper(value: SecretValue, *, default_label: str) -> Pepper:
    """A Pepper from a labelled JSON value or bare text; errors never include the material."""
    label, text = default_label, value.reveal().strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
            label, text = str(document["label"]), str(document["pepper"])
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(
                f"pepper version {default_label!r} is not a {{label, pepper}} JSON object"
            ) from None
    elif not _LABEL.fullmatch(label):
        # AWS version ids are 36-character UUIDs: too long for api_keys.pepper_version.
        raise ConfigurationError(
            f"pepper version {label!r} carries no label and its version id cannot be one; "
            'store it as {"label": "v1", "pepper": "…"} (keyguard.secrets.format_pepper)'
        )
    return Pepper(_checked_label(label), _checked_material(label, text))


def format_pepper(label: str, text: str) -> SecretValue:
    """The value to `put` for a new pepper version; generate `text` with secrets.token_hex(32)."""
    _checked_material(_checked_label(label), text)
    return SecretValue(json.dumps({"label": label, "pepper": text}))


def _checked_label(label: str) -> str:
    if not _LABEL.fullmatch(label):
        raise ConfigurationError(f"pepper label {label!r} must be 1-32 of A-Z a-z 0-9 . _ -")
    return label


def _checked_material(label: str, text: str) -> bytes:
    material = text.encode("utf-8")
    # The same floor as keyguard.runtime.peppers: long enough and not a repeated character.
    if len(material) < MIN_PEPPER_BYTES or len(set(material)) < 8:
        raise ConfigurationError(
            f"pepper {label!r} is weak: use at least {MIN_PEPPER_BYTES} random bytes "
            "(for example secrets.token_hex(32))"
        )
    return material
