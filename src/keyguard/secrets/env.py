"""Read-only secrets from KEYGUARD_* environment variables.

A secret `name` lives in KEYGUARD_<NAME> (upper case, "/", "." and "-" become "_"). Its current
version is labelled by KEYGUARD_<NAME>_VERSION (default "v1"); older versions that must stay
readable are listed in KEYGUARD_<NAME>_PREVIOUS as "label:value,label:value" — the form
KEYGUARD_PEPPER / KEYGUARD_PEPPER_VERSION / KEYGUARD_PEPPER_PREVIOUS already take.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from keyguard.errors import ConfigurationError, NotFound
from keyguard.secrets.interfaces import SecretValue, SecretVersion, validate_name

DEFAULT_VERSION = "v1"


class EnvSecretProvider:
    """Secrets from the process environment (or a mapping given in tests); never written."""

    kind = "env"

    def __init__(self, environ: Mapping[str, str] | None = None, prefix: str = "KEYGUARD_") -> None:
        self._environ = os.environ if environ is None else environ
        self._prefix = prefix

    def variable(self, name: str) -> str:
        """The environment variable that holds `name`."""
        validate_name(name)
        return self._prefix + name.upper().replace("/", "_").replace(".", "_").replace("-", "_")

    def get(self, name: str, version: str | None = None) -> SecretValue:
        current_label, current = self._current(name)
        if version is None or version == current_label:
            return SecretValue(current, version=current_label)
        previous = self._previous(name)
        if version not in previous:
            raise NotFound(f"secret {name!r} has no version {version!r} in the environment")
        return SecretValue(previous[version], version=version)

    def put(self, name: str, value: SecretValue) -> str:
        raise ConfigurationError(
            f"cannot store secret {name!r}: the env secrets backend is read-only; "
            "set KEYGUARD_SECRETS_BACKEND to file, openbao or aws to let Keyguard write secrets"
        )

    def versions(self, name: str) -> list[SecretVersion]:
        current_label, _ = self._current(name)
        older = [SecretVersion(label, current=False) for label in self._previous(name)]
        return [*older, SecretVersion(current_label, current=True)]

    def retire(self, name: str, version: str) -> None:
        raise ConfigurationError(
            f"cannot retire version {version!r} of secret {name!r}: the env secrets backend is "
            f"read-only; remove {version}:… from {self.variable(name)}_PREVIOUS and restart"
        )

    def health(self) -> None:
        """The environment is always reachable; missing variables show up on `get`."""

    def _current(self, name: str) -> tuple[str, str]:
        variable = self.variable(name)
        value = self._environ.get(variable)
        if not value:
            raise NotFound(f"secret {name!r} is not set: {variable} is missing or empty")
        return self._environ.get(f"{variable}_VERSION") or DEFAULT_VERSION, value

    def _previous(self, name: str) -> dict[str, str]:
        variable = f"{self.variable(name)}_PREVIOUS"
        versions: dict[str, str] = {}
        for item in filter(
            None, (part.strip() for part in self._environ.get(variable, "").split(","))
        ):
            label, sep, value = item.partition(":")
            if not sep or not label or not value:
                # Say where, never what: the item holds secret material.
                raise ConfigurationError(f"{variable}: every item must read 'label:value'")
            versions[label] = value
        return versions

    def __repr__(self) -> str:
        return f"EnvSecretProvider(prefix={self._prefix!r})"
