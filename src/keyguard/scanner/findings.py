"""A finding: where a secret is, which rule found it, and a safe view of the secret.

The secret itself never leaves the worker that found it: a finding carries only a
redacted form (the first few characters and "…") and a SHA-256 fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from keyguard.scanner.rules import Rule, Severity

ELLIPSIS = "…"
UNPREFIXED_VISIBLE = 4


def fingerprint(secret: str) -> str:
    """SHA-256 hex of the secret: stable across files and commits, useless to an attacker."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def redact(secret: str, visible_prefix: int) -> str:
    """The rule's fixed prefix plus four characters, never more than a third of the secret."""
    shown = min(visible_prefix + UNPREFIXED_VISIBLE, len(secret) // 3)
    return secret[:shown] + ELLIPSIS


@dataclass(frozen=True, slots=True)
class Finding:
    """One secret at one place. `line` and `column` are 1-based."""

    path: str
    line: int
    column: int
    rule: str
    provider: str
    commit: str | None
    fingerprint: str
    redacted: str
    checksum_valid: bool | None
    severity: Severity
    confidence: str
    author_date: str | None = None
    encoding: str | None = None
    at_head: bool | None = None  # git history: is the same secret still in HEAD's file?
    check: str | None = None  # --check: live, revoked or unknown (our keys only)

    def to_dict(self) -> dict[str, Any]:
        """The PRODUCT.md finding schema, plus severity, confidence, author date, encoding…"""
        return asdict(self)

    def sort_key(self) -> tuple[str, str, int, int, str]:
        return (self.commit or "", self.path, self.line, self.column, self.rule)


def severity_of(rule: Rule, checksum_ok: bool | None) -> Severity:
    """A failed checksum means a look-alike or a mistyped key: reported, but low."""
    if checksum_ok is False:
        return "low"
    return rule.severity
