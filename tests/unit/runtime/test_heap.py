"""A serving process freezes its start-up heap; the test runs it in a child process, since a
frozen heap would outlive every runtime this test session builds."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import gc
from keyguard.runtime import freeze_start_up_heap
before = gc.get_freeze_count()
freeze_start_up_heap()
print(before, gc.get_freeze_count())
"""


def test_the_start_up_heap_is_moved_out_of_the_collectors_reach() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = map(int, done.stdout.split())
    assert before == 0
    assert after > 10_000  # the modules, the ORM and the settings classes at least
