"""Every rule finds its positive vectors and none of its negative look-alikes."""

from __future__ import annotations

import pytest

from keyguard.scanner.providers import default_rules
from tests.unit.scanner.conftest import ScanText
from tests.unit.scanner.vectors import Maker, Vector, negatives, positives

POSITIVES = positives(Maker(seed=11))
NEGATIVES = negatives(Maker(seed=12))
ISSUE_PROVIDERS = {
    "keyguard", "sendgrid", "mailgun", "mailchimp", "mandrill", "postmark", "brevo", "mailjet",
    "sparkpost", "aws", "elasticemail", "sendpulse", "klaviyo", "hubspot", "kit", "getresponse",
    "constantcontact", "mailerlite", "mailersend", "resend", "loops", "customerio", "twilio",
    "generic",
}  # fmt: skip


def _ids(vectors: list[Vector]) -> list[str]:
    return [v.label for v in vectors]


@pytest.mark.parametrize("vector", POSITIVES, ids=_ids(POSITIVES))
def test_positive_vector_is_reported_by_its_rule(vector: Vector, scan_text: ScanText) -> None:
    rules = [f.rule for f in scan_text(vector.text, vector.path)]
    assert vector.rule in rules


@pytest.mark.parametrize("vector", NEGATIVES, ids=_ids(NEGATIVES))
def test_negative_vector_is_not_reported_by_its_rule(vector: Vector, scan_text: ScanText) -> None:
    rules = [f.rule for f in scan_text(vector.text, vector.path)]
    assert vector.rule not in rules


def test_every_rule_has_a_positive_vector() -> None:
    covered = {v.rule for v in POSITIVES}
    assert {r.id for r in default_rules()} <= covered


def test_every_provider_of_the_issue_has_a_rule() -> None:
    assert {r.provider for r in default_rules()} == ISSUE_PROVIDERS


def test_rule_ids_are_unique() -> None:
    ids = [r.id for r in default_rules()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("vector", POSITIVES, ids=_ids(POSITIVES))
def test_a_keyword_of_the_rule_occurs_in_every_positive(vector: Vector) -> None:
    # Both engines rely on keywords being necessary: the fallback prefilters on them and
    # extraction only runs on keyword lines.
    rule = next(r for r in default_rules() if r.id == vector.rule)
    assert not rule.keywords or any(k in vector.text.lower() for k in rule.keywords)


def test_mailchimp_one_digit_data_centres_are_all_found(scan_text: ScanText) -> None:
    vectors = [v for v in POSITIVES if v.label in {f"mailchimp -us{n}" for n in range(1, 10)}]
    assert len(vectors) == 9
    assert all("mailchimp-api-key" in [f.rule for f in scan_text(v.text)] for v in vectors)


def test_our_key_with_a_valid_checksum_is_high_and_valid(scan_text: ScanText) -> None:
    vector = POSITIVES[0]
    (finding,) = [f for f in scan_text(vector.text) if f.rule == "keyguard-api-key"]
    assert (finding.checksum_valid, finding.severity) == (True, "high")


def test_our_key_with_a_failed_checksum_is_low_and_invalid(scan_text: ScanText) -> None:
    key = POSITIVES[0].text.split('"')[1]
    broken = key[:-1] + ("A" if key[-1] != "A" else "B")
    (finding,) = scan_text(f'KEY = "{broken}"')
    assert (finding.checksum_valid, finding.severity) == (False, "low")


def test_provider_findings_have_no_checksum(scan_text: ScanText) -> None:
    (finding,) = scan_text(next(v.text for v in POSITIVES if v.rule == "sendgrid-api-key"))
    assert finding.checksum_valid is None


def test_a_specific_rule_wins_over_the_generic_one(scan_text: ScanText) -> None:
    text = next(v.text for v in POSITIVES if v.rule == "sendgrid-api-key")
    assert [f.rule for f in scan_text(text)] == ["sendgrid-api-key"]


def test_prefixed_key_in_a_lock_file_is_still_reported(scan_text: ScanText) -> None:
    text = next(v.text for v in POSITIVES if v.rule == "sendgrid-api-key")
    found = scan_text(f'"integrity": "sha512-x", {text}', "package-lock.json")
    assert [f.rule for f in found] == ["sendgrid-api-key"]


def test_findings_report_line_and_column(scan_text: ScanText) -> None:
    text = next(v.text for v in POSITIVES if v.rule == "sendgrid-api-key")
    (finding,) = scan_text(f"# config\n\n{text}\n")
    assert (finding.line, finding.column) == (3, text.index("SG.") + 1)
