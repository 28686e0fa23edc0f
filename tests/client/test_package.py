"""The client as a distribution: generated half current, versioned with the server, strictly
typed for its users, and light to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import keyguard_client
import pytest

from tests.client.conftest import Served

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
# What `pip install ./clients/python` brings besides the client: httpx and its five, pydantic
# and its four. Eleven, so twelve distributions with the client (the server brings 62); a new
# one here is a decision, not an accident.
EXPECTED_DEPENDENCIES = {
    "annotated-types", "anyio", "certifi", "h11", "httpcore", "httpx", "idna", "pydantic",
    "pydantic-core", "typing-extensions", "typing-inspection",
}  # fmt: skip


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def test_the_sync_client_is_generated_from_the_async_one() -> None:
    done = subprocess.run(
        [sys.executable, str(CLIENT / "scripts" / "unasync.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_client_is_versioned_with_the_server() -> None:
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert keyguard_client.__version__ == server["version"]
    assert f"keyguard-client=={server['version']}" in server["dependencies"]


def test_the_client_depends_on_httpx_and_pydantic_only() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("<")[0].split("=")[0] for dep in project["dependencies"]}
    assert names == {"httpx", "pydantic"}
    assert set(project["optional-dependencies"]) == {"vault", "aws"}


@pytest.mark.slow
def test_mypy_strict_accepts_a_program_using_the_client_and_refuses_a_wrong_one(
    tmp_path: Path,
) -> None:
    """Without the pydantic mypy plugin: applications do not all have it."""
    wrong = tmp_path / "wrong_usage.py"
    wrong.write_text(
        "from keyguard_client import Keyguard\n"
        "def f(client: Keyguard) -> int:\n"
        "    return client.mail.send(42)\n"
    )
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(config),
         "--no-incremental", str(CLIENT / "src" / "keyguard_client"),
         str(Path(__file__).with_name("typed_usage.py")), str(wrong)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "MYPYPATH": str(CLIENT / "src")},
    )  # fmt: skip
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert errors, done.stdout
    assert all(line.startswith(str(wrong)) for line in errors), done.stdout
    assert any("wrong_usage.py:3" in line for line in errors)


@pytest.mark.slow
def test_a_fresh_venv_gets_a_working_client_with_httpx_and_pydantic_and_nothing_else(
    tmp_path: Path, served: Served
) -> None:
    """`pip install ./clients/python` in an empty venv (no pip or setuptools of its own)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         str(CLIENT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    listing = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, json;"
         "print(json.dumps(sorted(d.metadata['Name'] for d in m.distributions())))"],
        check=True, capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    installed = {_normal(name) for name in json.loads(listing.stdout)}
    dependencies = installed - {"keyguard-client"}
    assert "keyguard-client" in installed
    assert dependencies == EXPECTED_DEPENDENCIES
    works = subprocess.run(
        [str(python), "-c", "import sys, keyguard_client as k;"
         "print(k.Keyguard('not-a-key', base_url=sys.argv[1]).health().status)", served.url],
        check=True, capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert works.stdout.strip() == "ok"
