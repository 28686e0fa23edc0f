"""The command line fits people's tools: --version, shell completion, --json everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import typer.main

from keyguard.cli.main import _register, app
from keyguard.keys import generate_key

# Long-running processes: they log JSON lines, and print no data to ask a format for.
SERVERS = {"serve", "worker", "smtp"}


def keyguard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyguard", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def commands(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for name, sub in (getattr(command, "commands", None) or {}).items():
        if getattr(sub, "commands", None):
            yield from commands(sub, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), sub


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    # Eager: no settings are read, so it works anywhere, even with a broken configuration.
    done = keyguard("--version", env={"KEYGUARD_DATABASE_URL": "nonsense://"})
    assert (done.returncode, done.stdout) == (0, f"keyguard {version('keyguard')}\n")


def test_install_completion_writes_a_bash_completion_script(tmp_path: Path) -> None:
    # `; true` keeps bash as the parent process, where Typer looks for the shell.
    done = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m keyguard --install-completion; true"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    script = tmp_path / ".bash_completions" / "keyguard.sh"
    assert script.is_file(), done.stdout + done.stderr
    assert "_KEYGUARD_COMPLETE" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


def test_every_command_that_prints_data_accepts_json() -> None:
    _register()
    root = typer.main.get_command(app)
    missing = [
        name
        for name, command in commands(root)
        if name not in SERVERS
        and "--json" not in {opt for param in command.params for opt in getattr(param, "opts", [])}
    ]
    assert missing == []


def test_scan_json_is_the_json_format(tmp_path: Path) -> None:
    leaked = tmp_path / "settings.py"
    leaked.write_text(f'KEY = "{generate_key("test").reveal()}"\n')
    as_json = keyguard("scan", "--json", str(leaked))
    as_format = keyguard("scan", "--format", "json", str(leaked))
    assert as_json.returncode == as_format.returncode == 1  # findings
    findings = json.loads(as_json.stdout)["findings"]
    assert findings == json.loads(as_format.stdout)["findings"] and len(findings) == 1


def test_scan_json_with_another_format_is_a_usage_error(tmp_path: Path) -> None:
    done = keyguard("scan", "--json", "--format", "sarif", str(tmp_path))
    assert done.returncode == 2 and "--json means --format json" in done.stderr
