"""One level of base64 and percent decoding finds keys hidden inside encodings."""

from __future__ import annotations

import base64
from urllib.parse import quote

from keyguard.scanner.decoding import decode_base64
from tests.unit.scanner.conftest import ScanText
from tests.unit.scanner.vectors import Maker


def test_key_in_a_basic_auth_header_is_found(scan_text: ScanText) -> None:
    key = Maker(1).sendgrid()
    header = base64.b64encode(f"apikey:{key}".encode()).decode()
    (finding,) = scan_text(f"Authorization: Basic {header}")
    assert (finding.rule, finding.encoding) == ("sendgrid-api-key", "base64")
    assert finding.column == len("Authorization: Basic ") + 1


def test_key_in_a_kubernetes_secret_is_found(scan_text: ScanText) -> None:
    key = f"xkeysib-{Maker(2).body(64, '0123456789abcdef')}-{Maker(3).body(16)}"
    value = base64.b64encode(key.encode()).decode()
    manifest = f"apiVersion: v1\nkind: Secret\ndata:\n  brevo: {value}\n"
    (finding,) = scan_text(manifest, "k8s/secret.yaml")
    assert (finding.rule, finding.line, finding.encoding) == ("brevo-api-key", 4, "base64")


def test_percent_encoded_key_is_found(scan_text: ScanText) -> None:
    maker = Maker(4)
    secret = maker.body(20) + "+/" + maker.body(18)
    key_id = "AKIA" + maker.body(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    url = f"https://x.test/?aws_secret_access_key={quote(secret, safe='')}"
    found = scan_text(f"aws_access_key_id = {key_id}\nurl = '{url}'")
    assert ("aws-secret-access-key", "percent") in {(f.rule, f.encoding) for f in found}


def test_a_key_seen_plainly_is_not_reported_again_decoded(scan_text: ScanText) -> None:
    key = Maker(5).sendgrid()
    found = scan_text(f"url = 'https://x.test/?k={key}&next=%2Fhome'")
    assert [(f.rule, f.encoding) for f in found] == [("sendgrid-api-key", None)]


def test_binary_base64_is_not_decoded() -> None:
    assert decode_base64(base64.b64encode(bytes(range(256)))) is None
