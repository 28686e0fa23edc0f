"""SARIF 2.1.0 output, as GitHub code scanning accepts it.

Each rule becomes a `reportingDescriptor`; each finding a `result` whose message holds
only the redacted secret, with the fingerprint in `partialFingerprints` so that GitHub
tracks an alert across commits. URIs are relative to the scan root (`%SRCROOT%`, whose
absolute `file:` URI is given in `originalUriBaseIds`) and percent-encoded, as RFC 3986 and
GitHub require; each rule's help says how to rotate that provider's key.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from keyguard import __version__
from keyguard.scanner.findings import Finding
from keyguard.scanner.remediation import remediation, scanner_docs
from keyguard.scanner.rules import Rule

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION: Final = "2.1.0"
LEVELS: Final = {"high": "error", "medium": "warning", "low": "note"}
# GitHub ranks alerts by this property (0-10); a leaked credential is critical.
SECURITY_SEVERITY: Final = {"high": "9.0", "medium": "6.5", "low": "3.0"}


def _descriptor(rule: Rule) -> dict[str, Any]:
    help_ = remediation(rule.provider)
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(part.title() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.description},
        "fullDescription": {"text": f"{rule.description}. {rule.notes}".strip()},
        "help": {"text": help_.text(), "markdown": help_.markdown()},
        "defaultConfiguration": {"level": LEVELS[rule.confidence]},
        "properties": {
            "provider": rule.provider,
            "confidence": rule.confidence,
            "tags": ["security", "secret", rule.provider],
            "security-severity": SECURITY_SEVERITY[rule.confidence],
        },
    }
    if help_.uri is not None:
        descriptor["helpUri"] = help_.uri
    return descriptor


def artifact_uri(path: str, root: str | None) -> str:
    """`path` relative to `root`, `/`-separated and percent-encoded (`my%20file%231.py`)."""
    relative = path
    if root is not None and path != "-":
        relative = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
    relative = posixpath.normpath(relative).lstrip("/")
    return quote(relative, safe="/")


def files_root(paths: Sequence[str]) -> str:
    """The deepest directory holding every scanned path: what SARIF URIs are relative to."""
    directories = [
        os.path.abspath(p) if os.path.isdir(p) else os.path.dirname(os.path.abspath(p))
        for p in paths
    ]
    return os.path.commonpath(directories)


def _result(finding: Finding, index: dict[str, int], root: str | None) -> dict[str, Any]:
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
                    "artifactLocation": {
                        "uri": artifact_uri(finding.path, root),
                        "uriBaseId": "%SRCROOT%",
                    },
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
            "stillAtHead": finding.at_head,
            "check": finding.check,
        },
    }


def to_sarif(
    findings: Sequence[Finding], rules: Sequence[Rule], *, root: str | None = None
) -> dict[str, Any]:
    """A SARIF log with one run; every rule is described, used or not.

    `root` is the directory paths are relative to (the scan root); None when the findings'
    paths already are (git history and staged changes name paths from the repository top).
    """
    index = {rule.id: i for i, rule in enumerate(rules)}
    driver = {
        "name": "keyguard",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_descriptor(rule) for rule in rules],
    }
    docs = scanner_docs()
    if docs is not None:  # optional in SARIF; never a made-up address
        driver["informationUri"] = docs
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "results": [_result(finding, index, root) for finding in findings],
        "columnKind": "unicodeCodePoints",
    }
    if root is not None:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": Path(root).absolute().as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
