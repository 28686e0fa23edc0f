"""Baselines: accepted findings, by fingerprint, so that they stop blocking.

A baseline is a JSON file written by `keyguard scan --write-baseline FILE`. A finding is
accepted when its fingerprint (SHA-256 of the secret) is listed, wherever the secret
moves; path and rule are kept only to help a reviewer read the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from keyguard.errors import InvalidInput
from keyguard.scanner.findings import Finding

BASELINE_VERSION: Final = 1


def load_baseline(path: Path) -> frozenset[str]:
    """The accepted fingerprints; a missing or malformed file is an input error."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"baseline not found: {path}", code="invalid_baseline") from None
    except (OSError, ValueError) as error:
        raise InvalidInput(
            f"baseline unreadable: {path}: {error}", code="invalid_baseline"
        ) from None
    return _fingerprints(document, path)


def _fingerprints(document: Any, path: Path) -> frozenset[str]:
    entries = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InvalidInput(f"baseline has no findings list: {path}", code="invalid_baseline")
    prints = [e.get("fingerprint") for e in entries if isinstance(e, dict)]
    if len(prints) != len(entries) or not all(isinstance(p, str) for p in prints):
        raise InvalidInput(f"baseline entry without fingerprint: {path}", code="invalid_baseline")
    return frozenset(prints)  # type: ignore[arg-type]  # all str: checked just above


def baseline_document(findings: Iterable[Finding]) -> dict[str, Any]:
    entries = {
        f.fingerprint: {
            "fingerprint": f.fingerprint,
            "rule": f.rule,
            "path": f.path,
            "redacted": f.redacted,
        }
        for f in findings
    }
    return {
        "version": BASELINE_VERSION,
        "tool": "keyguard",
        "findings": sorted(entries.values(), key=lambda e: (e["path"], e["fingerprint"])),
    }


def write_baseline(path: Path, findings: Iterable[Finding]) -> None:
    try:
        path.write_text(json.dumps(baseline_document(findings), indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise InvalidInput(
            f"cannot write baseline {path}: {error}", code="invalid_baseline"
        ) from None


def apply_baseline(
    findings: Sequence[Finding], accepted: frozenset[str]
) -> tuple[list[Finding], int]:
    """Findings not in the baseline, and how many were."""
    kept = [f for f in findings if f.fingerprint not in accepted]
    return kept, len(findings) - len(kept)
