"""SARIF checks for tests: the full OASIS 2.1.0 schema, and GitHub code scanning's rules.

The schema is the official one, vendored unchanged (see data/SOURCES.md). GitHub accepts
less than the schema allows; `github_problems` lists what its ingestion rejects or
mis-reads, from GitHub's "SARIF support for code scanning" documentation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

import jsonschema

SCHEMA: Final = json.loads(
    (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)
MAX_RUNS: Final = 20
MAX_RESULTS: Final = 25_000
MAX_RULES: Final = 25_000
MAX_TAGS: Final = 20
MAX_LOCATIONS: Final = 1_000
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_URI_CHARS: Final = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$")


def validate_schema(document: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError when the document breaks SARIF 2.1.0."""
    validator = jsonschema.Draft4Validator(SCHEMA)
    jsonschema.validators.validator_for(SCHEMA).check_schema(SCHEMA)
    validator.validate(document)


def _uri_problems(uri: str, where: str) -> list[str]:
    problems = []
    if _SCHEME.match(uri) or uri.startswith("/"):
        problems.append(f"{where}: uri {uri!r} is not relative to %SRCROOT%")
    if not _URI_CHARS.match(uri) or re.search(r"%(?![0-9A-F]{2})", uri):
        problems.append(f"{where}: uri {uri!r} is not percent-encoded")
    return problems


def _rule_problems(rule: dict[str, Any]) -> list[str]:
    where = f"rule {rule.get('id')}"
    problems = []
    properties = rule.get("properties", {})
    if len(properties.get("tags", [])) > MAX_TAGS:
        problems.append(f"{where}: more than {MAX_TAGS} tags")
    severity = properties.get("security-severity")
    if not isinstance(severity, str) or not 0.0 <= float(severity) <= 10.0:
        problems.append(f"{where}: security-severity must be a string from 0.0 to 10.0")
    if "helpUri" in rule and not rule["helpUri"].startswith("https://"):
        problems.append(f"{where}: a helpUri that is not https")
    if not rule.get("help", {}).get("text") or not rule.get("help", {}).get("markdown"):
        problems.append(f"{where}: no help text and markdown")
    return problems


def _result_problems(result: dict[str, Any], rule_ids: list[str], i: int) -> list[str]:
    where = f"result {i}"
    problems = []
    if not result.get("message", {}).get("text"):
        problems.append(f"{where}: no message text")
    if rule_ids[result.get("ruleIndex", -1)] != result.get("ruleId"):
        problems.append(f"{where}: ruleIndex does not point at ruleId")
    if not result.get("partialFingerprints"):
        problems.append(f"{where}: no partialFingerprints (alerts would not be tracked)")
    locations = result.get("locations", [])
    if not 1 <= len(locations) <= MAX_LOCATIONS:
        problems.append(f"{where}: needs 1 to {MAX_LOCATIONS} locations")
    for location in locations:
        physical = location.get("physicalLocation", {})
        artifact = physical.get("artifactLocation", {})
        problems += _uri_problems(artifact.get("uri", ""), where)
        if artifact.get("uriBaseId") != "%SRCROOT%":
            problems.append(f"{where}: uriBaseId is not %SRCROOT%")
        if physical.get("region", {}).get("startLine", 0) < 1:
            problems.append(f"{where}: region without a startLine")
    return problems


def github_problems(document: dict[str, Any]) -> list[str]:
    """What GitHub's SARIF ingestion would reject or mis-read; empty when all is well."""
    runs = document.get("runs", [])
    problems = [] if 1 <= len(runs) <= MAX_RUNS else [f"needs 1 to {MAX_RUNS} runs"]
    for run in runs:
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            problems.append("driver needs a name")
        if "informationUri" in driver and not driver["informationUri"].startswith("https://"):
            problems.append("the driver's informationUri is not https")
        rules = driver.get("rules", [])
        if len(rules) > MAX_RULES or len(run.get("results", [])) > MAX_RESULTS:
            problems.append("too many rules or results")
        for rule in rules:
            problems += _rule_problems(rule)
        ids = [rule["id"] for rule in rules]
        for i, result in enumerate(run.get("results", [])):
            problems += _result_problems(result, ids, i)
    return problems
