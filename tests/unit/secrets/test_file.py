"""The file provider reads owner-only files, refuses shared ones, and writes 0600 versions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keyguard.errors import ConfigurationError, NotFound
from keyguard.secrets.file import FileSecretProvider
from keyguard.secrets.interfaces import SecretValue


def _write(path: Path, text: str, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_reads_an_owner_only_plain_file_as_version_zero(tmp_path: Path) -> None:
    _write(tmp_path / "pepper", "value\n", 0o600)
    value = FileSecretProvider(tmp_path).get("pepper")
    assert value.reveal() == "value"
    assert value.version == "0"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (0o644, "readable by its group and readable by everyone"),
        (0o640, "readable by its group"),
        (0o604, "readable by everyone"),
        (0o620, "writable by its group"),
    ],
)
def test_refuses_a_file_others_can_read_or_write_and_says_why(
    tmp_path: Path, mode: int, reason: str
) -> None:
    _write(tmp_path / "pepper", "value", mode)
    with pytest.raises(ConfigurationError) as raised:
        FileSecretProvider(tmp_path).get("pepper")
    message = raised.value.message
    assert f"{mode:04o}" in message
    assert reason in message
    assert "chmod 600" in message
    assert "value" not in message.replace("a secret file", "")


def test_refuses_a_shared_file_reached_through_a_symlink(tmp_path: Path) -> None:
    target = _write(tmp_path / "real", "value", 0o644)
    (tmp_path / "pepper").symlink_to(target)
    with pytest.raises(ConfigurationError, match="readable by everyone"):
        FileSecretProvider(tmp_path).get("pepper")


def test_put_writes_numbered_versions_with_mode_0600(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path / "secrets")
    assert provider.put("smtp/relay", SecretValue("one")) == "1"
    assert provider.put("smtp/relay", SecretValue("two")) == "2"
    written = tmp_path / "secrets" / "smtp" / "relay@2"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert provider.get("smtp/relay").reveal() == "two"
    assert provider.get("smtp/relay", "1").reveal() == "one"
    assert [(v.id, v.current) for v in provider.versions("smtp/relay")] == [
        ("1", False),
        ("2", True),
    ]


def test_put_supersedes_a_plain_file(tmp_path: Path) -> None:
    _write(tmp_path / "pepper", "old", 0o600)
    provider = FileSecretProvider(tmp_path)
    assert provider.put("pepper", SecretValue("new")) == "1"
    assert provider.get("pepper").reveal() == "new"
    assert provider.get("pepper", "0").reveal() == "old"


def test_put_leaves_no_temporary_files(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    provider.put("pepper", SecretValue("one"))
    assert sorted(os.listdir(tmp_path)) == ["pepper@1"]


def test_put_never_overwrites_an_existing_version(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    provider.put("pepper", SecretValue("one"))
    # A concurrent writer claimed version 2 between our listing and our write.
    _write(tmp_path / "pepper@2", "theirs", 0o600)
    assert provider.put("pepper", SecretValue("mine")) == "3"
    assert provider.get("pepper", "2").reveal() == "theirs"


def test_binary_values_round_trip(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    provider.put("blob", SecretValue(b"\x00\xff\n"))
    # Only the one trailing newline a text editor adds is dropped on read.
    assert provider.get("blob").reveal_bytes() == b"\x00\xff"


def test_missing_secret_and_version_are_not_found(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    with pytest.raises(NotFound):
        provider.get("absent")
    with pytest.raises(NotFound):
        provider.versions("absent")
    provider.put("present", SecretValue("x"))
    with pytest.raises(NotFound):
        provider.get("present", "7")
    with pytest.raises(NotFound):
        provider.get("present", "../x")


def test_health_requires_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        FileSecretProvider(tmp_path / "missing").health()
    FileSecretProvider(tmp_path).health()
