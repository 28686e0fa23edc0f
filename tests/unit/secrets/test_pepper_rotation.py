"""Pepper rotation: new current versions, key counts per version, retirement per provider."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from keyguard.clock import ManualClock
from keyguard.errors import ConfigurationError, InvalidInput
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.secrets import pepper_rotation as rotation
from keyguard.secrets.aws import SecretsManagerProvider, make_session
from keyguard.secrets.env import EnvSecretProvider
from keyguard.secrets.file import FileSecretProvider
from keyguard.secrets.interfaces import SecretProvider
from keyguard.secrets.pepper import load_pepper_ring
from tests.conftest import create_key
from tests.unit.secrets.conftest import Bao


def test_labels_count_up_from_the_highest_vn() -> None:
    assert rotation.next_label([]) == "v1"
    assert rotation.next_label(["v1", "v7", "v3"]) == "v8"
    assert rotation.next_label(["2026-q1", "v2"]) == "v3"


def _labels(provider: SecretProvider) -> list[str]:
    return [p.version for p in load_pepper_ring(provider)]


def _rotate_three_times_and_retire_the_first(provider: SecretProvider) -> None:
    for _ in range(3):
        rotation.rotate_pepper(provider, "pepper")
    assert _labels(provider) == ["v3", "v1", "v2"]  # current first, every older one readable
    versions = rotation.pepper_versions(provider, "pepper")
    usages = rotation.usage(versions, {"v2": (1, 0), "v3": (4, 0), "v1": (0, 9)})
    assert rotation.retire_unused(provider, "pepper", versions, usages) == ["v1"]
    assert _labels(provider) == ["v3", "v2"]


def test_file_provider_rotates_and_retires(tmp_path: Path) -> None:
    _rotate_three_times_and_retire_the_first(FileSecretProvider(tmp_path))


@pytest.mark.openbao
def test_openbao_rotates_and_retires_by_soft_delete(bao: Bao) -> None:
    _rotate_three_times_and_retire_the_first(bao.provider)


def test_aws_keeps_older_pepper_versions_readable_until_they_are_retired(
    aws_env: dict[str, str],
) -> None:
    # AWS labels only AWSCURRENT and AWSPREVIOUS: without Keyguard's own label, v1 would
    # become unreadable as soon as v3 is written.
    provider = SecretsManagerProvider.from_session(
        make_session(), prefix=f"keyguard-tests/{secrets.token_hex(4)}/"
    )
    _rotate_three_times_and_retire_the_first(provider)


def test_the_current_version_is_never_retired(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    current = rotation.rotate_pepper(provider, "pepper")
    with pytest.raises(InvalidInput):
        provider.retire("pepper", current.version_id)


def test_the_env_backend_cannot_write_or_retire_and_says_what_to_do() -> None:
    provider = EnvSecretProvider({"KEYGUARD_PEPPER": secrets.token_hex(32)})
    with pytest.raises(ConfigurationError, match="read-only"):
        rotation.rotate_pepper(provider, "pepper")
    with pytest.raises(ConfigurationError, match="KEYGUARD_PEPPER_PREVIOUS"):
        provider.retire("pepper", "v0")


def test_a_taken_label_is_refused(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    rotation.rotate_pepper(provider, "pepper", label="2026")
    with pytest.raises(ConfigurationError, match="taken"):
        rotation.rotate_pepper(provider, "pepper", label="2026")


def test_keys_are_counted_live_or_dead_per_version(runtime: Runtime, clock: ManualClock) -> None:
    active = create_key(runtime)
    create_key(runtime)
    runtime.keys.suspend(OPERATOR, create_key(runtime).view.id)  # still live: can resume
    runtime.keys.revoke(OPERATOR, create_key(runtime).view.id)
    runtime.keys.rotate(OPERATOR, active.view.id, timedelta(hours=1))  # +1 live successor
    create_key(runtime, expires_in=timedelta(days=1))
    clock.advance(timedelta(days=2))  # the rotated key's grace and the short key are over
    with runtime.sessions() as session:
        counts = rotation.key_counts(session, clock())
    assert counts == {"v1": (3, 3)}
    ring_versions = rotation.ring_versions(runtime.peppers)
    [usage] = rotation.usage(ring_versions, counts)
    assert (usage.label, usage.current, usage.retirable) == ("v1", True, False)


def test_versions_only_the_database_names_are_shown_as_unknown() -> None:
    versions = [rotation.PepperVersion("v2", "2", current=True)]
    usages = rotation.usage(versions, {"v2": (3, 0), "v1": (0, 2)})
    assert [(u.label, u.in_provider, u.retirable) for u in usages] == [
        ("v2", True, False),
        ("v1", False, False),
    ]
