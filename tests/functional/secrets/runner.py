"""Drive `keyguard secrets …` in-process or as a real process, in a controlled environment.

The sub-app is mounted under a root of its own here, as cli/main.py will mount it, so these
tests do not depend on the registration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import typer
from typer.testing import CliRunner

from keyguard.cli import secrets as secrets_cli

root = typer.Typer()
root.add_typer(secrets_cli.app, name="secrets")

_AMBIENT = ("KEYGUARD_", "BAO_", "VAULT_", "AWS_")
_PROCESS_MAIN = "from keyguard.cli.secrets import app; app(prog_name='keyguard secrets')"


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def clean_env(env: dict[str, str]) -> dict[str, str | None]:
    """`env` on top of the process environment stripped of any secrets configuration."""
    blanked: dict[str, str | None] = {k: None for k in os.environ if k.startswith(_AMBIENT)}
    return {**blanked, "COLUMNS": "200", **env}


def run(*args: str, env: dict[str, str]) -> Outcome:
    result = CliRunner().invoke(root, ["secrets", *args], env=clean_env(env))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback would have reached the user
    return Outcome(result.exit_code, result.stdout, result.stderr)


def run_process(*args: str, env: dict[str, str]) -> Outcome:
    merged = {k: v for k, v in {**os.environ, **clean_env(env)}.items() if v is not None}
    completed = subprocess.run(
        [sys.executable, "-c", _PROCESS_MAIN, *args],
        capture_output=True,
        text=True,
        env=merged,
        timeout=120,
        check=False,
    )
    return Outcome(completed.returncode, completed.stdout, completed.stderr)
