"""The switch that turns a missing CI service into a failure instead of a skip."""

from __future__ import annotations

import pytest

from tests.services import services_required


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", " True "])
def test_ci_spellings_require_the_services(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KEYGUARD_REQUIRE_SERVICES", value)
    assert services_required()


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_other_values_let_services_skip(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KEYGUARD_REQUIRE_SERVICES", value)
    assert not services_required()


def test_an_unset_switch_lets_missing_services_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYGUARD_REQUIRE_SERVICES", raising=False)
    assert not services_required()
