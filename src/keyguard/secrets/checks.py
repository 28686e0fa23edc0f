"""What `keyguard secrets check` verifies: provider, pepper and wrapper, each with a verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from keyguard.errors import ConfigurationError, KeyguardError, NotFound
from keyguard.secrets.factory import build_provider, build_wrapper
from keyguard.secrets.interfaces import KeyWrapper, SecretProvider
from keyguard.secrets.pepper import load_pepper_ring
from keyguard.secrets.settings import SecretsSettings

# misconfigured: the settings cannot work (nothing was contacted);
# failed: the settings are complete but the backend refused or could not be reached.
T = TypeVar("T")
Status = Literal["ok", "skipped", "failed", "misconfigured"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str


def run_checks(settings: SecretsSettings) -> list[Check]:
    """Check the provider, the pepper in it and the key wrapper; never raises KeyguardError."""
    checks: list[Check] = []
    provider = _build(checks, "provider", lambda: build_provider(settings, check=False))
    if provider is not None:
        checks.append(_provider_health(settings, provider))
        if checks[-1].status == "ok":
            checks.append(_pepper(settings, provider))
    if _master_key_not_created_yet(settings):
        path = settings.resolved_master_key_file
        checks.append(
            Check("wrapper", "skipped", f"local master key {path} is created on first use")
        )
        return checks
    wrapper = _build(checks, "wrapper", lambda: build_wrapper(settings, check=False, create=False))
    if wrapper is not None:
        checks.append(_wrapper_health(wrapper))
    return checks


def _master_key_not_created_yet(settings: SecretsSettings) -> bool:
    # Checking must not create state; in dev mode the first real use creates the key.
    return (
        settings.mode == "dev"
        and settings.resolved_wrapper == "local"
        and not settings.resolved_master_key_file.exists()
    )


def _build(checks: list[Check], name: str, build: Callable[[], T]) -> T | None:
    try:
        return build()
    except ConfigurationError as exc:
        checks.append(Check(name, "misconfigured", exc.message))
    except KeyguardError as exc:
        checks.append(Check(name, "failed", exc.message))
    return None


def _provider_health(settings: SecretsSettings, provider: SecretProvider) -> Check:
    try:
        provider.health()
    except KeyguardError as exc:
        return Check("provider", "failed", exc.message)
    if provider.kind in {"env", "file"}:
        return Check("provider", "ok", f"{provider.kind}: readable")
    return Check("provider", "ok", f"{provider.kind}: reachable, credentials accepted")


def _pepper(settings: SecretsSettings, provider: SecretProvider) -> Check:
    name = settings.pepper_secret
    try:
        ring = load_pepper_ring(provider, name)
    except NotFound as exc:
        if settings.mode == "dev":
            return Check("pepper", "skipped", f"not configured ({exc.message})")
        return Check("pepper", "failed", exc.message)
    except KeyguardError as exc:
        return Check("pepper", "failed", exc.message)
    versions = sum(1 for _ in ring)
    return Check(
        "pepper", "ok", f"secret {name!r}: current {ring.current.version}, {versions} version(s)"
    )


def _wrapper_health(wrapper: KeyWrapper) -> Check:
    try:
        wrapper.health()
        key_id = wrapper.key_id
    except KeyguardError as exc:
        return Check("wrapper", "failed", exc.message)
    return Check("wrapper", "ok", f"{wrapper.kind}: wraps and unwraps under {key_id}")


def exit_code(checks: list[Check]) -> int:
    """0 all usable, 1 something failed, 2 the configuration itself is wrong."""
    statuses = {check.status for check in checks}
    if "misconfigured" in statuses:
        return 2
    return 1 if "failed" in statuses else 0
