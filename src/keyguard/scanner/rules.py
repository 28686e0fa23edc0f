"""The rule type and the small building blocks rules are written with.

A rule is matched in two steps. A *core* pattern, written in the common subset of Python
`re` and Hyperscan syntax, finds candidate regions in one pass over a buffer; the full
Python pattern (the core plus boundaries and a named `secret` group) then extracts the
secret, and the rule's checks decide whether it is reported. Because the Hyperscan
pattern is the core alone, it matches wherever the Python pattern matches (a superset),
so both engines report exactly the same findings.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Confidence = Literal["high", "medium", "low"]
Severity = Literal["high", "medium", "low"]

HEX: Final = "0-9a-f"
BASE62: Final = "0-9A-Za-z"
BASE64URL: Final = "0-9A-Za-z_-"
UUID: Final = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Left/right boundaries: a secret never starts or ends inside a longer token.
LEFT: Final = "(?<![0-9A-Za-z_-])"
RIGHT: Final = "(?![0-9A-Za-z_-])"
# What may sit between a name and its value: `=`, `:`, `=>`, `:=`, quotes, spaces.
ASSIGN: Final = r"""[\w.\-]{0,25}["'\]]{0,2}[ \t]*(?:=|:|:=|=>|,|\()[ \t]*[`'"]?[ \t]*"""
# Provider context within the same line, before the value.
NEAR: Final = r"[^\n]{0,60}?"

Check = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret.

    `core` is the Hyperscan-compatible pattern (no look-arounds, no named groups);
    `pattern` is the Python pattern with a `secret` group. `keywords` are lowercase
    literals one of which must appear in a buffer for the rule to possibly match; the
    pure-Python engine uses them as a prefilter. `checks` run on the extracted secret.
    `pair` is a pattern that must match within `pair_window` lines of the finding.
    `checksum`, when set, decides `checksum_valid`; a failed checksum lowers severity.
    `context_gated` rules only match next to a provider name. `prefixed` rules have a
    distinctive literal prefix; the noise filters for minified assets and lock files
    apply only to rules that are not prefixed. `window` > 0 lets a match run over that many
    lines after a keyword's line (an INI section, a nested YAML mapping, a call whose
    arguments are on the next lines); such patterns must still start at the keyword. `deny`
    is a pattern that, found on the finding's line, says the value is something else (a
    hash, an id, a cache key). `probe`, the value's shape alone, is searched in a region
    before the full pattern runs there: Hyperscan fires context rules on the provider's
    name alone, and a file that names a provider but holds no value of that shape (a mail
    library, a bundle) then costs one linear search instead of the full pattern at every
    mention.
    """

    id: str
    provider: str
    description: str
    core: str
    pattern: str
    keywords: tuple[str, ...]
    confidence: Confidence = "high"
    min_entropy: float = 0.0
    checks: tuple[Check, ...] = ()
    pair: str | None = None
    pair_window: int = 5
    visible_prefix: int = 0
    context_gated: bool = False
    prefixed: bool = False
    checksum: Check | None = None
    window: int = 0
    deny: str | None = None
    probe: str | None = None
    notes: str = ""
    compiled: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    compiled_pair: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)
    compiled_deny: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)
    compiled_probe: re.Pattern[bytes] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern.encode("ascii")))
        pair = re.compile(self.pair.encode("ascii")) if self.pair else None
        object.__setattr__(self, "compiled_pair", pair)
        deny = re.compile(self.deny.encode("ascii")) if self.deny else None
        object.__setattr__(self, "compiled_deny", deny)
        probe = re.compile(self.probe.encode("ascii")) if self.probe else None
        object.__setattr__(self, "compiled_probe", probe)

    @property
    def hyperscan_pattern(self) -> bytes:
        return self.core.encode("ascii")

    @property
    def severity(self) -> Severity:
        return self.confidence


def rule(
    id: str,
    provider: str,
    description: str,
    core: str,
    *,
    keywords: tuple[str, ...],
    secret: str | None = None,
    left: str = LEFT,
    right: str = RIGHT,
    pattern: str | None = None,
    **options: Any,
) -> Rule:
    """Build a rule from its core; `secret` names the sub-pattern holding the secret.

    When `secret` is None the whole core is the secret. Otherwise `secret` must occur
    verbatim in `core` once, and it becomes the `secret` group of the Python pattern,
    fenced by `left`/`right` so that it is never part of a longer token. An explicit
    Python `pattern` replaces the derived one; it must match only where `core` does.
    """
    secret = core if secret is None else secret
    if pattern is None and core.count(secret) != 1:
        raise ValueError(f"rule {id}: secret sub-pattern must occur once in the core")
    # Boundaries go around the secret only, so `MY_POSTMARK_TOKEN=…` still has context.
    derived = core.replace(secret, f"{left}(?P<secret>{secret}){right}")
    return Rule(
        id=id,
        provider=provider,
        description=description,
        core=core,
        pattern=pattern or derived,
        keywords=keywords,
        **options,
    )


def shannon_entropy(text: str) -> float:
    """Bits per character of `text` (0 for the empty string)."""
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def has_digit_and_letter(text: str) -> bool:
    """Random tokens of 16+ characters almost always mix both; words and names do not."""
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def not_uuid(text: str) -> bool:
    """UUIDs outside a provider's context are identifiers, not secrets."""
    return re.fullmatch(UUID, text.lower()) is None


_DOTTED_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
MIN_HEX_SECRET: Final = 32


def not_code_reference(text: str) -> bool:
    """`x25519.X25519PrivateKey`, `self._decode`: a dotted name is code, not a secret."""
    return _DOTTED_NAME.fullmatch(text) is None


def mixed_classes(text: str) -> bool:
    """At least two of lower case, upper case and digits, each at least twice.

    Random tokens mix classes; words with a digit tacked on (`generatedpassword2`) do not.
    Pure hex must be 32 characters or more: shorter hex values are ids and short hashes.
    """
    if _HEX.fullmatch(text):
        return len(text) >= MIN_HEX_SECRET and has_digit_and_letter(text)
    counts = (
        sum(c.islower() for c in text),
        sum(c.isupper() for c in text),
        sum(c.isdigit() for c in text),
    )
    return sum(1 for n in counts if n >= 2) >= 2
