"""`keyguard secrets check`: exit 0 usable, 1 failing, 2 misconfigured; a table or JSON."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import boto3

from keyguard.secrets.interfaces import SecretValue
from keyguard.secrets.pepper import format_pepper
from tests.functional.secrets.runner import run, run_process
from tests.unit.secrets.conftest import Bao

PEPPER = secrets.token_hex(32)


def _check(env: dict[str, str], expected: int) -> dict[str, Any]:
    outcome = run("check", "--json", env=env)
    assert outcome.returncode == expected, (outcome.stdout, outcome.stderr)
    document: dict[str, Any] = json.loads(outcome.stdout)
    return document


def _statuses(document: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in document["checks"]}


def test_dev_defaults_pass_and_create_nothing(tmp_path: Path) -> None:
    document = _check({"KEYGUARD_DATA_DIR": str(tmp_path / "data")}, 0)
    assert document["ok"] is True
    assert _statuses(document) == {"provider": "ok", "pepper": "skipped", "wrapper": "skipped"}
    assert not (tmp_path / "data").exists()


def test_env_pepper_is_read_and_its_version_shown(tmp_path: Path) -> None:
    env = {"KEYGUARD_DATA_DIR": str(tmp_path), "KEYGUARD_PEPPER": PEPPER}
    document = _check(env, 0)
    [pepper] = [c for c in document["checks"] if c["name"] == "pepper"]
    assert pepper["status"] == "ok"
    assert "current v1" in pepper["detail"]
    assert PEPPER not in json.dumps(document)


def test_live_mode_without_a_vault_wrapper_is_misconfigured(tmp_path: Path) -> None:
    env = {"KEYGUARD_DATA_DIR": str(tmp_path), "KEYGUARD_MODE": "live", "KEYGUARD_PEPPER": PEPPER}
    document = _check(env, 2)
    assert _statuses(document)["wrapper"] == "misconfigured"


def test_a_world_readable_pepper_file_fails_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    pepper = tmp_path / "secrets" / "pepper"
    pepper.write_text(PEPPER)
    pepper.chmod(0o644)
    env = {"KEYGUARD_DATA_DIR": str(tmp_path), "KEYGUARD_SECRETS_BACKEND": "file"}
    document = _check(env, 1)
    [check] = [c for c in document["checks"] if c["name"] == "pepper"]
    assert check["status"] == "failed"
    assert "readable by everyone" in check["detail"]


def test_invalid_settings_exit_2_with_a_message(tmp_path: Path) -> None:
    outcome = run("check", env={"KEYGUARD_SECRETS_BACKEND": "vaultish"})
    assert outcome.returncode == 2
    assert "secrets.backend" in outcome.stderr


def _bao_env(bao: Bao, tmp_path: Path) -> dict[str, str]:
    return {
        "KEYGUARD_DATA_DIR": str(tmp_path),
        "KEYGUARD_MODE": "live",
        "KEYGUARD_SECRETS_BACKEND": "openbao",
        "BAO_ADDR": bao.server.address,
        "BAO_TOKEN": bao.server.root_token,
        "KEYGUARD_OPENBAO_KV_PREFIX": bao.provider.prefix,
        "KEYGUARD_OPENBAO_TRANSIT_KEY": bao.wrapper.key,
    }


def test_openbao_configuration_passes_every_check(bao: Bao, tmp_path: Path) -> None:
    bao.provider.put("pepper", format_pepper("v7", PEPPER))
    document = _check(_bao_env(bao, tmp_path), 0)
    assert _statuses(document) == {"provider": "ok", "pepper": "ok", "wrapper": "ok"}
    assert "current v7" in json.dumps(document)


def test_openbao_table_output(bao: Bao, tmp_path: Path) -> None:
    bao.provider.put("pepper", SecretValue(PEPPER))
    outcome = run_process("check", env=_bao_env(bao, tmp_path))
    assert outcome.returncode == 0, outcome.stderr
    assert "backend openbao" in outcome.stdout
    assert f"transit/{bao.wrapper.key}:v1" in outcome.stdout
    assert PEPPER not in outcome.stdout + outcome.stderr


def test_openbao_with_a_wrong_token_fails(bao: Bao, tmp_path: Path) -> None:
    env = {**_bao_env(bao, tmp_path), "BAO_TOKEN": "wrong"}
    document = _check(env, 1)
    assert _statuses(document)["provider"] == "failed"
    assert "denied" in json.dumps(document)


def test_openbao_without_an_address_is_misconfigured(tmp_path: Path) -> None:
    env = {"KEYGUARD_DATA_DIR": str(tmp_path), "KEYGUARD_SECRETS_BACKEND": "openbao"}
    document = _check(env, 2)
    assert _statuses(document) == {"provider": "misconfigured", "wrapper": "misconfigured"}


def test_openbao_live_mode_without_the_pepper_fails(bao: Bao, tmp_path: Path) -> None:
    document = _check(_bao_env(bao, tmp_path), 1)
    assert _statuses(document)["pepper"] == "failed"


def test_aws_configuration_passes(aws_env: dict[str, str], tmp_path: Path) -> None:
    prefix = f"keyguard-{secrets.token_hex(4)}/"
    session = boto3.session.Session()
    pepper = format_pepper("v3", PEPPER).reveal()
    session.client("secretsmanager").create_secret(Name=f"{prefix}pepper", SecretString=pepper)
    key_id = session.client("kms").create_key()["KeyMetadata"]["KeyId"]
    env = {
        **aws_env,
        "KEYGUARD_DATA_DIR": str(tmp_path),
        "KEYGUARD_SECRETS_BACKEND": "aws",
        "KEYGUARD_AWS_SECRET_PREFIX": prefix,
        "KEYGUARD_AWS_KMS_KEY_ID": key_id,
    }
    document = _check(env, 0)
    assert _statuses(document) == {"provider": "ok", "pepper": "ok", "wrapper": "ok"}
