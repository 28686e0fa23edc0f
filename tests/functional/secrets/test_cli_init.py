"""`keyguard init` on a vault backend, as a new user runs it: against a real OpenBao dev server
and moto's AWS server. Dev mode creates the first pepper version and the Transit/KMS key where
the credentials allow; live mode creates nothing, prints one line per missing thing with the
command that creates it, exits 2, and succeeds once those commands have run."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from keyguard.cli.main import _register, app
from keyguard.keys import KEY_PATTERN
from tests.unit.secrets.conftest import Bao
from tests.unit.secrets.servers import MotoServer, bao_binary

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

_AMBIENT = ("KEYGUARD_", "BAO_", "VAULT_", "AWS_")


@dataclass
class Init:
    """`keyguard` with only the variables a test gives it (no ambient vault configuration)."""

    data_dir: Path
    database_url: str
    env: dict[str, str]
    transcript: list[str] = field(default_factory=list)

    def variables(self) -> dict[str, str]:
        return {
            "KEYGUARD_DATA_DIR": str(self.data_dir),
            "KEYGUARD_DATABASE_URL": self.database_url,
            "COLUMNS": "250",
            **self.env,
        }

    def run(self, *args: str, check: int = 0) -> tuple[str, str]:
        _register()
        blanked: dict[str, str | None] = {k: None for k in os.environ if k.startswith(_AMBIENT)}
        result = CliRunner().invoke(app, list(args), env={**blanked, **self.variables()})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        self.transcript += [result.stdout, result.stderr]
        assert result.exit_code == check, (args, result.exit_code, result.stderr)
        return result.stdout, result.stderr

    def run_process(self, *args: str, check: int = 0) -> tuple[str, str]:
        ambient = {k: v for k, v in os.environ.items() if not k.startswith(_AMBIENT)}
        done = subprocess.run(
            [sys.executable, "-m", "keyguard", *args],
            capture_output=True,
            text=True,
            env={**ambient, **self.variables()},
            timeout=120,
            check=False,
        )
        self.transcript += [done.stdout, done.stderr]
        assert done.returncode == check, (args, done.returncode, done.stderr)
        return done.stdout, done.stderr

    def init_json(self) -> dict[str, Any]:
        return json.loads(self.run("init", "--json")[0])  # type: ignore[no-any-return]

    def secrets_printed(self) -> list[str]:
        return [m.group(0) for text in self.transcript for m in KEY_PATTERN.finditer(text)]


def _bao_env(bao: Bao, token: str | None = None) -> dict[str, str]:
    unique = secrets.token_hex(4)
    return {
        "KEYGUARD_SECRETS_BACKEND": "openbao",
        "BAO_ADDR": bao.server.address,
        "BAO_TOKEN": token or bao.server.root_token,
        "KEYGUARD_OPENBAO_KV_PREFIX": f"keyguard-init/{unique}",
        # A mount of its own, so that init has the engine to enable as on a fresh server.
        "KEYGUARD_OPENBAO_TRANSIT_MOUNT": f"transit-{unique}",
    }


def _commands(stderr: str) -> list[str]:
    return re.findall(r"create it with: (.+)$", stderr, flags=re.MULTILINE)


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {need["name"]: need["status"] for need in report["secrets"]}


def test_dev_init_on_openbao_creates_the_pepper_and_the_transit_key(
    bao: Bao, tmp_path: Path, database_url: str
) -> None:
    env = _bao_env(bao)
    cli = Init(tmp_path / "data", database_url, env)
    out, _ = cli.run_process("init")  # a real process, as a new user starts it
    assert "Created pepper" in out and "Created transit key" in out
    assert (cli.data_dir / "admin.key").exists()

    admin = bao.admin()
    stored = admin.secrets.kv.v2.read_secret_version(
        path=f"{env['KEYGUARD_OPENBAO_KV_PREFIX']}/pepper",
        mount_point="secret",
        raise_on_deleted_version=True,
    )["data"]["data"]["value"]
    assert json.loads(stored)["label"] == "v1"
    mount = env["KEYGUARD_OPENBAO_TRANSIT_MOUNT"]
    assert admin.secrets.transit.read_key(name="keyguard", mount_point=mount)["data"]["name"]

    again = cli.init_json()
    assert _statuses(again) == {"pepper": "present", "transit key": "present"}
    key = (cli.data_dir / "admin.key").read_text()
    cli.run("keys", "list")  # the runtime loads the pepper from OpenBao
    assert key.strip() not in "".join(cli.transcript)
    assert json.loads(stored)["pepper"] not in "".join(cli.transcript)


def test_live_init_on_openbao_prints_each_missing_thing_and_its_command(
    bao: Bao, tmp_path: Path, database_url: str
) -> None:
    env = {**_bao_env(bao), "KEYGUARD_MODE": "live"}
    cli = Init(tmp_path / "data", database_url, env)
    _, err = cli.run("init", check=2)
    assert "missing pepper" in err and "missing transit engine" in err
    assert "missing transit key" in err
    assert not (cli.data_dir / "admin.key").exists()  # nothing else was done
    mount = env["KEYGUARD_OPENBAO_TRANSIT_MOUNT"]
    with pytest.raises(Exception, match="route"):  # live mode created nothing
        bao.admin().secrets.transit.read_key(name="keyguard", mount_point=mount)

    commands = _commands(err)
    assert [c.split()[:3] for c in commands] == [
        ["bao", "kv", "put"],
        ["bao", "secrets", "enable"],
        ["bao", "write", "-f"],
    ]
    shell = {
        **os.environ,
        "PATH": f"{Path(bao_binary()).parent}{os.pathsep}{os.environ['PATH']}",
        "VAULT_ADDR": bao.server.address,
        "VAULT_TOKEN": bao.server.root_token,
    }
    for command in commands:  # what the operator pastes, with an admin token
        subprocess.run(["bash", "-c", command], env=shell, check=True, capture_output=True)

    assert _statuses(cli.init_json()) == {"pepper": "present", "transit key": "present"}
    assert (cli.data_dir / "admin.key").exists()


def test_dev_init_says_what_a_token_without_transit_rights_could_not_create(
    bao: Bao, tmp_path: Path, database_url: str
) -> None:
    env = _bao_env(bao)
    prefix = env["KEYGUARD_OPENBAO_KV_PREFIX"]
    admin = bao.admin()
    policy = (
        f'path "secret/data/{prefix}/*" {{ capabilities = ["create", "read", "update"] }}\n'
        f'path "secret/metadata/{prefix}/*" {{ capabilities = ["read"] }}\n'
    )
    name = "kv-only-" + secrets.token_hex(4)
    admin.sys.create_or_update_policy(name=name, policy=policy)
    token = admin.auth.token.create(policies=[name], ttl="10m")["auth"]["client_token"]
    cli = Init(tmp_path / "data", database_url, {**env, "BAO_TOKEN": token})

    _, err = cli.run("init", check=2)
    lines = [line for line in err.splitlines() if line.startswith("error: missing")]
    assert [line.split(":")[1].strip() for line in lines] == ["missing transit key"]
    assert "denied" in lines[0] and "bao write -f" in lines[0]
    assert not (cli.data_dir / "admin.key").exists()
    # The pepper, which the token may write, was created: a re-run with rights finishes.
    assert admin.secrets.kv.v2.read_secret_metadata(path=f"{prefix}/pepper", mount_point="secret")
    cli.env["BAO_TOKEN"] = bao.server.root_token
    assert _statuses(cli.init_json()) == {
        "pepper": "present",
        "transit engine": "created",
        "transit key": "created",
    }


def _aws_env(moto: MotoServer, **extra: str) -> dict[str, str]:
    return {
        **moto.env(),
        "KEYGUARD_SECRETS_BACKEND": "aws",
        "KEYGUARD_AWS_SECRET_PREFIX": f"keyguard-init-{secrets.token_hex(4)}/",
        **extra,
    }


def test_dev_init_on_aws_creates_the_pepper_and_the_kms_alias(
    moto_server: MotoServer, tmp_path: Path, database_url: str
) -> None:
    alias = f"alias/keyguard-{secrets.token_hex(4)}"
    env = _aws_env(moto_server, KEYGUARD_AWS_KMS_KEY_ID=alias)
    cli = Init(tmp_path / "data", database_url, env)
    out, _ = cli.run_process("init")
    assert "Created pepper" in out and "Created kms key" in out

    kms = boto3.client(
        "kms",
        endpoint_url=moto_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyState"] == "Enabled"
    assert _statuses(cli.init_json()) == {"pepper": "present", "kms key": "present"}
    assert cli.secrets_printed() == []


def test_live_init_on_aws_prints_the_commands_and_passes_once_they_ran(
    moto_server: MotoServer, tmp_path: Path, database_url: str
) -> None:
    env = {**_aws_env(moto_server), "KEYGUARD_MODE": "live"}
    cli = Init(tmp_path / "data", database_url, env)
    _, err = cli.run("init", check=2)
    assert "missing pepper" in err and "missing kms key" in err
    assert "KEYGUARD_AWS_KMS_KEY_ID is not set" in err
    commands = _commands(err)
    assert [c.split()[:3] for c in commands] == [
        ["aws", "secretsmanager", "create-secret"],
        ["aws", "kms", "create-alias"],
    ]
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the aws command line (pip package awscli) is not installed")
    shell = {**os.environ, **moto_server.env()}
    for command in commands:
        subprocess.run(["bash", "-c", command], env=shell, check=True, capture_output=True)
    cli.env["KEYGUARD_AWS_KMS_KEY_ID"] = "alias/keyguard"
    assert _statuses(cli.init_json()) == {"pepper": "present", "kms key": "present"}
