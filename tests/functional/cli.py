"""Run the real `keyguard` command in a subprocess against a given database."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TEST_PEPPER


@dataclass
class Cli:
    data_dir: Path
    database_url: str
    transcript: list[str]

    def run(
        self, *args: str, stdin: str | None = None, check: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "KEYGUARD_DATA_DIR": str(self.data_dir),
            "KEYGUARD_DATABASE_URL": self.database_url,
            "KEYGUARD_PEPPER": TEST_PEPPER,
            "COLUMNS": "200",
        }
        result = subprocess.run(
            [sys.executable, "-m", "keyguard", *args],
            input=stdin or "",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        self.transcript += [result.stdout, result.stderr]
        if check is not None:
            assert result.returncode == check, (args, result.returncode, result.stderr)
        return result
