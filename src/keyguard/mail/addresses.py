"""Strict email address parsing: `a@b.example` or `Name <a@b.example>`, nothing exotic.

We accept less than RFC 5322 allows on purpose: no quoted local parts, no comments, no
source routes, no non-ASCII local parts. What we accept can be written into a header and an
SMTP envelope without escaping, which is what keeps header injection out.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from keyguard.errors import InvalidInput
from keyguard.mail.limits import MAX_DISPLAY_NAME_CHARS

# RFC 5322 atext, as a dot-atom: no leading, trailing or double dots.
_LOCAL: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NAMED: Final = re.compile(r"^\s*(.*?)\s*<([^<>]*)>\s*$", re.DOTALL)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
MAX_ADDRESS: Final = 254


@dataclass(frozen=True, slots=True)
class Address:
    """`local@domain`; the domain is lowercase ASCII (IDNA), the local part keeps its case."""

    local: str
    domain: str
    name: str | None = None

    @property
    def addr(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def key(self) -> str:
        """The form used for comparisons: suppressions, allowlists, contacts."""
        return self.addr.lower()


def reject_injection(value: str, field: str) -> None:
    """CR, LF and other control characters end a header line early: refuse them outright."""
    if _CONTROL.search(value.replace("\t", " ")):
        raise InvalidInput(
            f"{field} contains a line break or control character",
            code="header_injection",
            field=field,
        )


def parse_address(text: str, field: str = "address") -> Address:
    """Parse one address, with an optional display name; InvalidInput names the field."""
    reject_injection(text, field)
    name: str | None = None
    spec = text.strip()
    named = _NAMED.match(spec)
    if named:
        name = _display_name(named.group(1), field)
        spec = named.group(2).strip()
    local, at, domain = spec.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or len(local) > 64:
        raise _invalid(text, field)
    address = Address(local, normalize_domain(domain, field), name)
    if len(address.addr) > MAX_ADDRESS:
        raise _invalid(text, field)
    return address


def normalize_domain(text: str, field: str = "domain") -> str:
    """Lowercase, IDNA-encoded, at least two labels; a trailing dot is dropped."""
    raw = text.strip().rstrip(".")
    try:
        domain = raw.encode("idna").decode("ascii").lower() if not raw.isascii() else raw.lower()
    except UnicodeError:
        raise InvalidInput(f"invalid domain {text!r}", code="invalid_domain", field=field) from None
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        raise InvalidInput(f"invalid domain {text!r}", code="invalid_domain", field=field)
    if labels[-1].isdigit():
        raise InvalidInput(f"invalid domain {text!r}", code="invalid_domain", field=field)
    return domain


def normalize_recipient_rule(text: str, field: str = "address") -> str:
    """An allowlist or suppression entry: a full address or `@domain`, lowercase."""
    value = text.strip()
    if value.startswith("@"):
        reject_injection(value, field)
        return "@" + normalize_domain(value[1:], field)
    return parse_address(value, field).key


def matches_rule(address: Address, rules: Collection[str]) -> bool:
    """True when the address, or `@` + its domain, is one of the rules."""
    return address.key in rules or f"@{address.domain}" in rules


def _display_name(name: str, field: str) -> str | None:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        raise InvalidInput(f"{field}: display name is too long", field=field)
    return name or None


def _invalid(text: str, field: str) -> InvalidInput:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return InvalidInput(f"invalid email address {shown!r}", code="invalid_address", field=field)
