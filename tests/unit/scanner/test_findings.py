"""A finding never holds the secret: a short redacted head and a SHA-256 fingerprint."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from keyguard.scanner.findings import ELLIPSIS, fingerprint, redact
from tests.unit.scanner.conftest import ScanText
from tests.unit.scanner.vectors import Maker


@given(st.text(min_size=8, max_size=200), st.integers(min_value=0, max_value=12))
def test_redaction_shows_at_most_a_third(secret: str, prefix: int) -> None:
    shown = redact(secret, prefix)
    assert shown.endswith(ELLIPSIS)
    assert len(shown) - 1 <= len(secret) // 3


def test_fingerprint_is_sha256_of_the_secret() -> None:
    assert fingerprint("abc") == hashlib.sha256(b"abc").hexdigest()


def test_a_finding_does_not_contain_the_secret(scan_text: ScanText) -> None:
    key = Maker(9).sendgrid()
    (finding,) = scan_text(f'K = "{key}"')
    assert key not in repr(finding.to_dict())
    assert finding.redacted == key[:7] + ELLIPSIS
    assert finding.fingerprint == fingerprint(key)
