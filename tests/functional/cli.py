"""Drive the real `keyguard` command against a given database.

`run` invokes the Typer app in-process (the same code path as the console script after argv
checks, much faster); `run_process` starts a real subprocess for what only a process can show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from keyguard.cli.main import _register, app
from tests.conftest import TEST_PEPPER


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    data_dir: Path
    database_url: str
    transcript: list[str]

    def _env(self) -> dict[str, str]:
        return {
            "KEYGUARD_DATA_DIR": str(self.data_dir),
            "KEYGUARD_DATABASE_URL": self.database_url,
            "KEYGUARD_PEPPER": TEST_PEPPER,
            "COLUMNS": "200",
        }

    def run(self, *args: str, stdin: str | None = None, check: int | None = 0) -> Outcome:
        _register()
        result = CliRunner().invoke(app, list(args), input=stdin or "", env=self._env())
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback would have reached the user: fail loudly
        return self._record(args, Outcome(result.exit_code, result.stdout, result.stderr), check)

    def run_process(self, *args: str, stdin: str | None = None, check: int | None = 0) -> Outcome:
        completed = subprocess.run(
            [sys.executable, "-m", "keyguard", *args],
            input=stdin or "",
            capture_output=True,
            text=True,
            env={**os.environ, **self._env()},
            timeout=120,
            check=False,
        )
        outcome = Outcome(completed.returncode, completed.stdout, completed.stderr)
        return self._record(args, outcome, check)

    def _record(self, args: tuple[str, ...], outcome: Outcome, check: int | None) -> Outcome:
        self.transcript += [outcome.stdout, outcome.stderr]
        if check is not None:
            assert outcome.returncode == check, (args, outcome.returncode, outcome.stderr)
        return outcome
