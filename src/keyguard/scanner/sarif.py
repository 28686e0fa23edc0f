"""SARIF 2.1.0 output, as GitHub code scanning accepts it.

Each rule becomes a `reportingDescriptor`; each finding a `result` whose message holds
only the redacted secret, with the fingerprint in `partialFingerprints` so that GitHub
tracks an alert across commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from keyguard import __version__
from keyguard.scanner.findings import Finding
from keyguard.scanner.rules import Rule

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION: Final = "2.1.0"
LEVELS: Final = {"high": "error", "medium": "warning", "low": "note"}
# GitHub ranks alerts by this property (0-10); a leaked credential is critical.
SECURITY_SEVERITY: Final = {"high": "9.0", "medium": "6.5", "low": "3.0"}


def _descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.title() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.description},
        "fullDescription": {"text": f"{rule.description}. {rule.notes}".strip()},
        "help": {"text": "Revoke the key at the provider, then remove it from the code."},
        "defaultConfiguration": {"level": LEVELS[rule.confidence]},
        "properties": {
            "provider": rule.provider,
            "confidence": rule.confidence,
            "tags": ["security", "secret", rule.provider],
            "security-severity": SECURITY_SEVERITY[rule.confidence],
        },
    }


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    text = f"{finding.provider} secret {finding.redacted} found by rule {finding.rule}"
    if finding.commit:
        text += f" in commit {finding.commit}"
    return {
        "ruleId": finding.rule,
        "ruleIndex": index[finding.rule],
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": finding.line, "startColumn": finding.column},
                }
            }
        ],
        "partialFingerprints": {"keyguardSecret/v1": finding.fingerprint},
        "properties": {
            "provider": finding.provider,
            "redacted": finding.redacted,
            "commit": finding.commit,
            "authorDate": finding.author_date,
            "checksumValid": finding.checksum_valid,
            "encoding": finding.encoding,
        },
    }


def to_sarif(findings: Sequence[Finding], rules: Sequence[Rule]) -> dict[str, Any]:
    """A SARIF log with one run; every rule is described, used or not."""
    index = {rule.id: i for i, rule in enumerate(rules)}
    driver = {
        "name": "keyguard",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_descriptor(rule) for rule in rules],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "results": [_result(finding, index) for finding in findings],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
