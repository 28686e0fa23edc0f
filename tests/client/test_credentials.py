"""keyguard_client.load_key: read once, cache, re-read when the server says key_rotated."""

from __future__ import annotations

import json
import pickle
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from keyguard_client import KeySourceError, load_key

from keyguard.clock import ManualClock
from keyguard.keys import generate_key
from keyguard.secrets.aws import make_session
from tests.unit.secrets.conftest import Bao

ROTATED = json.dumps({"type": "about:blank", "status": 401, "code": "key_rotated"})


class Source:
    """A source whose key the test changes, counting reads."""

    def __init__(self) -> None:
        self.key = generate_key("test").reveal()
        self.reads = 0

    def __call__(self) -> str:
        self.reads += 1
        return self.key

    def rotate(self) -> None:
        self.key = generate_key("test").reveal()


@pytest.fixture
def source() -> Source:
    return Source()


def test_reads_once_at_load_and_then_serves_the_cache(source: Source, clock: ManualClock) -> None:
    key = load_key("custom:x", reader=source, clock=clock)
    assert key.reveal() == source.key
    key.reveal()
    assert source.reads == 1


def test_a_key_rotated_problem_re_reads_and_asks_for_a_retry(
    source: Source, clock: ManualClock
) -> None:
    key = load_key("custom:x", reader=source, clock=clock)
    source.rotate()
    assert key.refresh_if_rotated(401, ROTATED) is True
    assert key.reveal() == source.key


def test_other_responses_do_not_re_read(source: Source, clock: ManualClock) -> None:
    key = load_key("custom:x", reader=source, clock=clock)
    source.rotate()
    assert key.refresh_if_rotated(401, {"code": "invalid_key"}) is False
    assert key.refresh_if_rotated(403, ROTATED) is False
    assert key.refresh_if_rotated(401, b"not json") is False
    assert key.refresh_if_rotated(401, None) is False
    assert source.reads == 1


def test_key_rotated_without_a_new_key_yet_does_not_ask_for_a_retry(
    source: Source, clock: ManualClock
) -> None:
    key = load_key("custom:x", reader=source, clock=clock)
    assert key.refresh_if_rotated(401, ROTATED.encode()) is False


def test_re_reads_once_the_grace_deadline_passes(source: Source, clock: ManualClock) -> None:
    key = load_key("custom:x", reader=source, clock=clock, max_age=None)
    key.refresh_by(clock() + timedelta(hours=1))
    source.rotate()
    clock.advance(timedelta(minutes=59))
    assert key.reveal() != source.key
    clock.advance(timedelta(minutes=1))
    assert key.reveal() == source.key


def test_re_reads_after_max_age(source: Source, clock: ManualClock) -> None:
    key = load_key("custom:x", reader=source, clock=clock, max_age=timedelta(minutes=5))
    source.rotate()
    clock.advance(timedelta(minutes=5))
    assert key.reveal() == source.key
    assert source.reads == 2


def test_repr_and_str_name_the_source_only(source: Source, clock: ManualClock) -> None:
    key = load_key("custom:x", reader=source, clock=clock)
    assert source.key not in repr(key) + str(key)
    assert "custom:x" in repr(key)


def test_env_source(monkeypatch: pytest.MonkeyPatch, source: Source) -> None:
    monkeypatch.setenv("MAILER_KEYGUARD_KEY", source.key)
    assert load_key("env:MAILER_KEYGUARD_KEY").reveal() == source.key


def test_env_source_that_is_unset_fails_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILER_KEYGUARD_KEY", raising=False)
    with pytest.raises(KeySourceError, match="MAILER_KEYGUARD_KEY") as caught:
        load_key("env:MAILER_KEYGUARD_KEY")
    assert caught.value.code == "key_not_found"


def test_file_source_reads_a_private_file(tmp_path: Path, source: Source) -> None:
    path = tmp_path / "key"
    path.write_text(source.key + "\n")
    path.chmod(0o600)
    assert load_key(f"file:{path}").reveal() == source.key


def test_file_source_refuses_a_world_readable_file(tmp_path: Path, source: Source) -> None:
    path = tmp_path / "key"
    path.write_text(source.key)
    path.chmod(0o644)
    with pytest.raises(KeySourceError, match="readable by everyone") as caught:
        load_key(f"file:{path}")
    assert caught.value.code == "key_source_unsafe"


@pytest.mark.parametrize("bad", ["nocolon", "env:", "ftp:somewhere", "openbao:onlymount"])
def test_malformed_sources_are_refused(bad: str) -> None:
    with pytest.raises(KeySourceError) as caught:
        load_key(bad)
    assert caught.value.code == "key_source_invalid"


def test_openbao_source_reads_the_key_field_and_sees_a_new_version(
    bao: Bao, monkeypatch: pytest.MonkeyPatch, source: Source
) -> None:
    monkeypatch.setenv("BAO_ADDR", bao.server.address)
    monkeypatch.setenv("BAO_TOKEN", bao.server.root_token)
    path = f"apps/{secrets.token_hex(4)}/mailer"
    admin = bao.admin()
    admin.secrets.kv.v2.create_or_update_secret(path=path, secret={"key": source.key})
    key = load_key(f"openbao:secret/{path}")
    assert key.reveal() == source.key
    source.rotate()
    admin.secrets.kv.v2.create_or_update_secret(path=path, secret={"key": source.key})
    assert key.refresh_if_rotated(401, ROTATED) is True
    assert key.reveal() == source.key


def test_aws_source_reads_a_json_field(aws_env: dict[str, str], source: Source) -> None:
    name = f"apps/{secrets.token_hex(4)}/mailer"
    client = make_session().client("secretsmanager")
    client.create_secret(Name=name, SecretString=json.dumps({"api_key": source.key}))
    assert load_key(f"aws:{name}#api_key").reveal() == source.key
    with pytest.raises(KeySourceError, match="no JSON field"):
        load_key(f"aws:{name}#absent")


def test_aws_source_reads_the_whole_secret_string(aws_env: dict[str, str], source: Source) -> None:
    name = f"apps/{secrets.token_hex(4)}/mailer"
    make_session().client("secretsmanager").create_secret(Name=name, SecretString=source.key)
    assert load_key(f"aws:{name}").reveal() == source.key


def test_openbao_over_plain_http_off_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAO_ADDR", "http://vault.example:8200")
    monkeypatch.setenv("BAO_TOKEN", "t")
    with pytest.raises(KeySourceError, match="must use https") as caught:
        load_key("openbao:secret/apps/mailer")
    assert caught.value.code == "key_source_invalid"


def test_openbao_with_tls_verification_switched_off_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BAO_ADDR", "https://vault.example:8200")
    monkeypatch.setenv("BAO_TOKEN", "t")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    with pytest.raises(KeySourceError, match="never turned off"):
        load_key("openbao:secret/apps/mailer")


def test_a_missing_openbao_field_is_key_not_found(
    bao: Bao, monkeypatch: pytest.MonkeyPatch, source: Source
) -> None:
    monkeypatch.setenv("BAO_ADDR", bao.server.address)
    monkeypatch.setenv("BAO_TOKEN", bao.server.root_token)
    path = f"apps/{secrets.token_hex(4)}/mailer"
    bao.admin().secrets.kv.v2.create_or_update_secret(path=path, secret={"other": source.key})
    with pytest.raises(KeySourceError) as caught:
        load_key(f"openbao:secret/{path}")
    assert caught.value.code == "key_not_found"


def test_a_loaded_key_cannot_be_pickled(source: Source, clock: ManualClock) -> None:
    key = load_key("custom:x", reader=source, clock=clock)
    with pytest.raises(TypeError):
        pickle.dumps(key)
