"""The local master key wraps data keys in dev mode and rotates without losing old rows."""

from __future__ import annotations

import json
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from keyguard.errors import ConfigurationError, InvalidInput
from keyguard.secrets.interfaces import WrappedKey
from keyguard.secrets.local import LocalKeyWrapper

DATA_KEY = bytes(range(32))


def test_creates_a_private_master_key_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.key"
    LocalKeyWrapper.open(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_without_create_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no master key file"):
        LocalKeyWrapper.open(tmp_path / "master.key", create=False)


def test_wrap_and_unwrap_round_trip(local_wrapper: LocalKeyWrapper) -> None:
    wrapped = local_wrapper.wrap(DATA_KEY)
    assert wrapped.key_id == local_wrapper.key_id
    assert DATA_KEY not in wrapped.ciphertext
    assert local_wrapper.unwrap(wrapped.ciphertext, wrapped.key_id) == DATA_KEY


def test_tampered_wrapped_key_does_not_unwrap(local_wrapper: LocalKeyWrapper) -> None:
    wrapped = local_wrapper.wrap(DATA_KEY)
    tampered = wrapped.ciphertext[:-1] + bytes([wrapped.ciphertext[-1] ^ 1])
    with pytest.raises(InvalidInput) as raised:
        local_wrapper.unwrap(tampered, wrapped.key_id)
    assert raised.value.code == "envelope_tampered"


def test_rotation_keeps_old_versions_and_rewrap_moves_to_the_new_one(
    local_wrapper: LocalKeyWrapper,
) -> None:
    old = local_wrapper.wrap(DATA_KEY)
    new_id = local_wrapper.rotate()
    assert new_id != old.key_id
    assert local_wrapper.unwrap(old.ciphertext, old.key_id) == DATA_KEY
    [moved] = local_wrapper.rewrap([old])
    assert moved.key_id == new_id
    assert local_wrapper.unwrap(moved.ciphertext, moved.key_id) == DATA_KEY


def test_a_rotation_by_another_process_is_seen(tmp_path: Path) -> None:
    server = LocalKeyWrapper.open(tmp_path / "master.key", create=True)
    cli = LocalKeyWrapper.open(tmp_path / "master.key", create=False)
    old = server.wrap(DATA_KEY)
    new_id = cli.rotate()
    [moved] = cli.rewrap([old])
    assert server.key_id == new_id
    assert server.unwrap(moved.ciphertext, moved.key_id) == DATA_KEY


def test_unknown_key_id_is_a_configuration_error(local_wrapper: LocalKeyWrapper) -> None:
    wrapped = local_wrapper.wrap(DATA_KEY)
    with pytest.raises(ConfigurationError, match="has no key"):
        local_wrapper.unwrap(wrapped.ciphertext, "local:v9.deadbeef")
    with pytest.raises(ConfigurationError, match="not by a local master key"):
        local_wrapper.unwrap(wrapped.ciphertext, "transit/keyguard:v1")


def test_refuses_a_master_key_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    LocalKeyWrapper.open(path, create=True)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by everyone"):
        LocalKeyWrapper(path)


def test_corrupt_master_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(json.dumps({"format": "keyguard-master-key/1", "current": "x", "keys": {}}))
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="not a valid"):
        LocalKeyWrapper(path)


def test_health_round_trips(local_wrapper: LocalKeyWrapper) -> None:
    local_wrapper.health()


def test_concurrent_rotations_lose_no_key_version(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    LocalKeyWrapper.open(path, create=True)
    wrappers = [LocalKeyWrapper(path) for _ in range(4)]
    start = threading.Barrier(len(wrappers))

    def rotate_and_wrap(wrapper: LocalKeyWrapper) -> list[WrappedKey]:
        start.wait()
        wrapped = []
        for _ in range(10):
            wrapper.rotate()
            wrapped.append(wrapper.wrap(DATA_KEY))
        return wrapped

    with ThreadPoolExecutor(len(wrappers)) as pool:
        everything = [w for batch in pool.map(rotate_and_wrap, wrappers) for w in batch]
    survivor = LocalKeyWrapper(path)
    assert all(survivor.unwrap(w.ciphertext, w.key_id) == DATA_KEY for w in everything)
