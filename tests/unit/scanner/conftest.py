"""Fixtures: one scanner per engine for the whole session (Hyperscan compiles once)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keyguard.scanner.detect import Located
from keyguard.scanner.engine import Scanner, build_engine, hyperscan_available
from keyguard.scanner.findings import Finding
from keyguard.scanner.providers import default_rules
from tests.services import services_required

ScanText = Callable[[str, str], list[Finding]]


@pytest.fixture(scope="session")
def python_scanner() -> Scanner:
    rules = default_rules()
    return Scanner(rules, build_engine(rules, "python"))


@pytest.fixture(scope="session")
def hyperscan_scanner() -> Scanner:
    if not hyperscan_available():
        if services_required():  # CI has hyperscan: a missing engine there is a broken build
            pytest.fail("hyperscan is not importable, and KEYGUARD_REQUIRE_SERVICES is set")
        pytest.skip("hyperscan is not importable here; the pure-Python engine is tested alone")
    rules = default_rules()
    return Scanner(rules, build_engine(rules, "hyperscan"))


@pytest.fixture(scope="session")
def scan_text(python_scanner: Scanner) -> ScanText:
    def scan(text: str, path: str = "app/settings.py") -> list[Finding]:
        return python_scanner.scan(text.encode(), Located(path)).findings

    return scan
