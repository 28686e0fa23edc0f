"""Baselines accept findings by fingerprint; SARIF output validates against SARIF 2.1.0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keyguard.errors import InvalidInput
from keyguard.scanner.baseline import apply_baseline, load_baseline, write_baseline
from keyguard.scanner.providers import default_rules
from keyguard.scanner.remediation import REMEDIATIONS
from keyguard.scanner.sarif import to_sarif
from tests.unit.scanner.conftest import ScanText
from tests.unit.scanner.sarif_checks import github_problems, validate_schema
from tests.unit.scanner.vectors import Maker, positives


def test_baseline_round_trip_accepts_known_findings(tmp_path: Path, scan_text: ScanText) -> None:
    old = scan_text(f'K = "{Maker(71).sendgrid()}"')
    write_baseline(tmp_path / "b.json", old)
    new_key = scan_text(f'K2 = "{Maker(72).sendgrid()}"')
    kept, accepted = apply_baseline(old + new_key, load_baseline(tmp_path / "b.json"))
    assert (kept, accepted) == (new_key, 1)


def test_baseline_file_holds_no_secret(tmp_path: Path, scan_text: ScanText) -> None:
    key = Maker(73).sendgrid()
    write_baseline(tmp_path / "b.json", scan_text(f'K = "{key}"'))
    assert key not in (tmp_path / "b.json").read_text()


@pytest.mark.parametrize("content", ["not json", "[]", '{"findings": [{"rule": "x"}]}'])
def test_malformed_baseline_is_an_input_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "b.json").write_text(content)
    with pytest.raises(InvalidInput):
        load_baseline(tmp_path / "b.json")


def test_sarif_validates_against_the_full_schema_and_githubs_rules(scan_text: ScanText) -> None:
    findings = [f for v in positives(Maker(74)) for f in scan_text(v.text, v.path)]
    document = to_sarif(findings, default_rules())
    validate_schema(document)
    assert github_problems(document) == []
    assert len(document["runs"][0]["results"]) == len(findings) > 40


def test_every_rule_says_how_to_rotate_its_providers_key() -> None:
    rules = to_sarif([], default_rules())["runs"][0]["tool"]["driver"]["rules"]
    by_id = {rule["id"]: rule for rule in rules}
    sendgrid, postmark = by_id["sendgrid-api-key"], by_id["postmark-server-token"]
    assert sendgrid["helpUri"] != postmark["helpUri"]
    assert "SendGrid" in sendgrid["help"]["text"] and "Postmark" in postmark["help"]["text"]
    assert all(rule["help"]["text"] != "" for rule in rules)


def _driver(monkeypatch: pytest.MonkeyPatch, docs: str | None) -> dict[str, Any]:
    if docs is None:
        monkeypatch.delenv("KEYGUARD_DOCS_URL", raising=False)
    else:
        monkeypatch.setenv("KEYGUARD_DOCS_URL", docs)
    driver: dict[str, Any] = to_sarif([], default_rules())["runs"][0]["tool"]["driver"]
    return driver


def test_without_a_docs_site_our_rules_link_nowhere_rather_than_to_a_made_up_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver = _driver(monkeypatch, None)
    by_id = {rule["id"]: rule for rule in driver["rules"]}
    assert "informationUri" not in driver
    assert "helpUri" not in by_id["keyguard-api-key"]
    assert "keyguard keys rotate" in by_id["keyguard-api-key"]["help"]["text"]
    assert by_id["sendgrid-api-key"]["helpUri"].startswith("https://")  # the provider's own page


def test_a_deployments_docs_site_is_where_our_rules_and_the_tool_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver = _driver(monkeypatch, "https://docs.example.com/keyguard/")
    by_id = {rule["id"]: rule for rule in driver["rules"]}
    assert driver["informationUri"] == "https://docs.example.com/keyguard/scanner/"
    assert by_id["keyguard-api-key"]["helpUri"] == (
        "https://docs.example.com/keyguard/scanner/#our-own-keys-and-failed-checksums"
    )


def test_a_docs_address_that_is_not_https_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "informationUri" not in _driver(monkeypatch, "http://docs.example.com")


def test_sarif_uris_are_relative_to_the_root_and_percent_encoded(
    scan_text: ScanText, tmp_path: Path
) -> None:
    path = str(tmp_path / "src" / "my file \u00fc#1.py")
    findings = scan_text(f'K = "{Maker(77).sendgrid()}"', path)
    run = to_sarif(findings, default_rules(), root=str(tmp_path))["runs"][0]
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "src/my%20file%20%C3%BC%231.py", "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"


def test_the_schema_rejects_what_sarif_forbids(scan_text: ScanText) -> None:
    document = to_sarif(scan_text(f'K = "{Maker(75).sendgrid()}"'), default_rules())
    document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        validate_schema(document)


def test_sarif_results_point_at_their_rules(scan_text: ScanText) -> None:
    document = to_sarif(scan_text(f'K = "{Maker(76).sendgrid()}"'), default_rules())
    run = document["runs"][0]
    (result,) = run["results"]
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert result["partialFingerprints"]


def test_every_provider_has_its_own_rotation_help() -> None:
    providers = {rule.provider for rule in default_rules()} - {"generic"}
    assert providers <= set(REMEDIATIONS)
