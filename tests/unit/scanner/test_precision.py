"""Placeholders, noise and inline allows are recognised."""

from __future__ import annotations

import pytest

from keyguard.scanner import precision
from keyguard.scanner.providers import default_rules
from tests.unit.scanner.conftest import ScanText
from tests.unit.scanner.vectors import Maker

RULES = {r.id: r for r in default_rules()}


@pytest.mark.parametrize(
    "value",
    ["xxxxxxxxxxxxxxxx", "your_api_key_here", "<api-key>", "${API_KEY}", "{{ api_key }}",
     "AKIAIOSFODNN7EXAMPLE", "aaaaaaaaaaaaaaaa1", "abcdef1234567890", "dummy-key-123456"],
)  # fmt: skip
def test_placeholders_are_recognised(value: str) -> None:
    assert precision.placeholder_reason(value) == "placeholder"


def test_a_random_value_is_not_a_placeholder() -> None:
    assert precision.placeholder_reason(Maker(1).body(40)) is None


def test_integrity_lines_hide_unprefixed_rules_only() -> None:
    line = b'"integrity": "sha512-abc"'
    assert precision.noise_reason(RULES["generic-high-entropy-secret"], "a.json", line)
    assert precision.noise_reason(RULES["sendgrid-api-key"], "a.json", line) is None


@pytest.mark.parametrize("path", ["yarn.lock", "sub/poetry.lock", "go.sum", "Cargo.lock"])
def test_lock_files_hide_context_rules(path: str) -> None:
    rule = RULES["postmark-server-token"]
    assert precision.noise_reason(rule, path, b"postmark x") == "lock-file"


def test_long_lines_count_as_minified() -> None:
    rule = RULES["generic-high-entropy-secret"]
    assert precision.noise_reason(rule, "bundle.js", b"x" * 2000) == "minified"


def test_allow_comment_suppresses_a_real_finding(scan_text: ScanText) -> None:
    key = Maker(3).sendgrid()
    assert scan_text(f'K = "{key}"')
    assert scan_text(f'K = "{key}"  # keyguard:allow') == []


def test_uuid_is_reported_only_in_provider_context(scan_text: ScanText) -> None:
    uuid = Maker(4).uuid()
    assert scan_text(f'trace_id = "{uuid}"') == []
    assert [f.rule for f in scan_text(f'postmark_token = "{uuid}"')] == ["postmark-server-token"]
