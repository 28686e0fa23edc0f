"""Write keyguard_client/_sync_client.py from _async_client.py (the way httpcore keeps its two
halves): `python scripts/unasync.py` writes it, `--check` exits 1 if it is not up to date."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "keyguard_client"
SOURCE = PACKAGE / "_async_client.py"
TARGET = PACKAGE / "_sync_client.py"

HEADER = '''"""Keyguard, the synchronous client, and its resources.

Written by scripts/unasync.py from `_async_client.py`: do not edit; edit that file and run
the script (a test fails when the two differ).
"""
'''

# (pattern, replacement), applied in order.
RULES = [
    (r"\basync def\b", "def"),
    (r"\bawait ", ""),
    (r"\basync (for|with)\b", r"\1"),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\basync_(\w+)", r"sync_\1"),
    (r"Async(?=[A-Z])", ""),
]


def unasync(text: str) -> str:
    _, _, body = text.partition('"""\n')  # drop the module docstring: the header replaces it
    for pattern, replacement in RULES:
        body = re.sub(pattern, replacement, body)
    return _formatted(HEADER + body)


def _formatted(text: str) -> str:
    """The text as `ruff format` lays it out (shorter names fit on fewer lines)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main(argv: list[str]) -> int:
    generated = unasync(SOURCE.read_text())
    if "--check" in argv:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != generated:
            sys.stderr.write(f"{TARGET.name} is out of date: run python scripts/unasync.py\n")
            return 1
        return 0
    TARGET.write_text(generated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
