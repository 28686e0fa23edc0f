"""Precision: the reasons a match that looks like a secret is not reported.

Each check returns the name of the reason (counted in the scan summary) or None. They run
only on matches, never on whole buffers, so they cost nothing on clean files.
"""

from __future__ import annotations

import posixpath
import re
from typing import Final

from keyguard.scanner.rules import Rule, shannon_entropy

ALLOW_MARKER: Final = b"keyguard:allow"
LOCK_FILES: Final = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lock",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "cargo.lock",
        "go.sum",
        "composer.lock",
        "gemfile.lock",
        "packages.lock.json",
    }
)
MINIFIED_SUFFIXES: Final = (".min.js", ".min.css", ".min.mjs", ".js.map", ".css.map", ".map")
# A line this long is generated (bundles, data blobs); only prefixed rules are trusted there.
MINIFIED_LINE: Final = 1000
# How far before a match a context-gated rule looks for integrity-hash words on a long line.
LOCAL_CONTEXT: Final = 80
_INTEGRITY: Final = re.compile(rb"(?i)integrity|\bsha(?:1|224|256|384|512)-|checksum|\bhash\b")
_PLACEHOLDER_WORDS: Final = re.compile(
    # `xxxx` and `XXXX` are typed; a mixed-case run (`xXxx`) turns up in random base64.
    r"(?i)(?-i:x{4}|X{4})|\*{4}|your[_-]?|example|sample|dummy|placeholder|changeme|redacted|insert"
    r"|replace|fake|<|>|\$\{|\{\{|\.\.\.|…"
)
_REPEAT: Final = re.compile(r"(.)\1{5}")
_SEQUENCES: Final = ("0123456789", "abcdefghijklmnopqrstuvwxyz")
_SEQUENCE_RUN: Final = 6


def _has_sequence(secret: str) -> bool:
    """`123456`, `abcdef`: typed by hand, not drawn from a CSPRNG."""
    lowered = secret.lower()
    for alphabet in _SEQUENCES:
        for start in range(len(alphabet) - _SEQUENCE_RUN + 1):
            if alphabet[start : start + _SEQUENCE_RUN] in lowered:
                return True
    return False


def placeholder_reason(secret: str) -> str | None:
    """Documentation values: `xxxx`, `your_api_key`, `<…>`, `${…}`, EXAMPLE, repeats."""
    if _PLACEHOLDER_WORDS.search(secret):
        return "placeholder"
    if _REPEAT.search(secret) or _has_sequence(secret):
        return "placeholder"
    return None


def is_lock_file(path: str) -> bool:
    return posixpath.basename(path).lower() in LOCK_FILES


def is_minified_path(path: str) -> bool:
    return path.lower().endswith(MINIFIED_SUFFIXES)


def noise_reason(rule: Rule, path: str, line: bytes, local: bytes | None = None) -> str | None:
    """Lock files, integrity hashes and minified assets produce shape-alikes by the thousand.

    `local` is the text just before the match on its line: a context-gated rule already
    has its provider's name next to the value, so in a minified bundle only what is next to
    it counts, not the thousands of characters of code around it.
    """
    # A prefixed key never looks like a hash, so a real one is reported whatever the line says.
    if rule.prefixed:
        return None
    if is_lock_file(path):
        return "lock-file"
    if rule.context_gated and local is not None:
        return "integrity-hash" if _INTEGRITY.search(local) else None
    if _INTEGRITY.search(line):
        return "integrity-hash"
    if is_minified_path(path) or len(line) > MINIFIED_LINE:
        return "minified"
    return None


def allowed_inline(line: bytes) -> bool:
    """An inline `keyguard:allow` comment accepts the findings on its line."""
    return ALLOW_MARKER in line


def quality_reason(rule: Rule, secret: str) -> str | None:
    """The rule's own structure and entropy checks, then the placeholder checks."""
    if rule.min_entropy and shannon_entropy(secret) < rule.min_entropy:
        return "low-entropy"
    if not all(check(secret) for check in rule.checks):
        return "structure"
    return placeholder_reason(secret)
