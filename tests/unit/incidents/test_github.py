"""GitHub's signature on leak alerts: valid, invalid, unknown key ids, caching, key types."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from keyguard.clock import ManualClock
from keyguard.errors import ConfigurationError
from keyguard.incidents import BadSignature, GitHubKeys, from_file, from_url
from tests.conftest import START
from tests.unit.incidents.github_keys import Signer, publish

BODY = b'[{"token":"x","type":"keyguard_api_key","url":"https://github.com/o/r/blob/m/a.py"}]'


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def signer() -> Signer:
    return Signer("ghkey-1")


@pytest.fixture
def document(tmp_path: Path, signer: Signer) -> Path:
    return publish(tmp_path / "keys.json", signer)


@pytest.fixture
def keys(document: Path, clock: ManualClock) -> GitHubKeys:
    return GitHubKeys(from_file(document), clock)


def test_a_valid_signature_is_accepted(keys: GitHubKeys, signer: Signer) -> None:
    keys.verify(BODY, signer.key_id, signer.sign(BODY))


def test_a_signature_by_another_key_is_refused(keys: GitHubKeys) -> None:
    impostor = Signer("ghkey-1")  # the right id, the wrong private key
    with pytest.raises(BadSignature):
        keys.verify(BODY, "ghkey-1", impostor.sign(BODY))


def test_a_replayed_body_with_a_wrong_signature_is_refused(
    keys: GitHubKeys, signer: Signer
) -> None:
    other = signer.sign(b"[]")  # a genuine signature, of another body
    with pytest.raises(BadSignature):
        keys.verify(BODY, signer.key_id, other)


def test_a_tampered_body_is_refused(keys: GitHubKeys, signer: Signer) -> None:
    with pytest.raises(BadSignature):
        keys.verify(BODY + b" ", signer.key_id, signer.sign(BODY))


@pytest.mark.parametrize("signature", ["", "not base64!", "AAAA"])
def test_missing_or_garbage_signatures_are_refused(
    keys: GitHubKeys, signer: Signer, signature: str
) -> None:
    with pytest.raises(BadSignature):
        keys.verify(BODY, signer.key_id, signature)


def test_an_unknown_key_id_refreshes_the_keys_once(
    keys: GitHubKeys, document: Path, signer: Signer, clock: ManualClock
) -> None:
    keys.verify(BODY, signer.key_id, signer.sign(BODY))
    rotated = Signer("ghkey-2")
    publish(document, signer, rotated)  # GitHub published a new key
    clock.advance(timedelta(minutes=1))
    keys.verify(BODY, rotated.key_id, rotated.sign(BODY))
    assert keys.fetches == 2


def test_invented_key_ids_cannot_force_a_fetch_per_request(
    keys: GitHubKeys, signer: Signer
) -> None:
    keys.verify(BODY, signer.key_id, signer.sign(BODY))
    for n in range(5):
        with pytest.raises(BadSignature):
            keys.verify(BODY, f"invented-{n}", signer.sign(BODY))
    assert keys.fetches == 1


def test_the_keys_are_cached_until_their_ttl(
    keys: GitHubKeys, signer: Signer, clock: ManualClock
) -> None:
    for _ in range(3):
        keys.verify(BODY, signer.key_id, signer.sign(BODY))
    assert keys.fetches == 1
    clock.advance(timedelta(hours=1))
    keys.verify(BODY, signer.key_id, signer.sign(BODY))
    assert keys.fetches == 2


def test_a_key_on_another_curve_is_never_trusted(tmp_path: Path, clock: ManualClock) -> None:
    p384 = Signer("ghkey-384", curve=ec.SECP384R1())
    keys = GitHubKeys(from_file(publish(tmp_path / "keys.json", p384)), clock)
    with pytest.raises(BadSignature):
        keys.verify(BODY, p384.key_id, p384.sign(BODY))


def test_an_unreadable_document_is_a_configuration_error(
    tmp_path: Path, clock: ManualClock
) -> None:
    (tmp_path / "keys.json").write_text("not json")
    with pytest.raises(ConfigurationError):
        GitHubKeys(from_file(tmp_path / "keys.json"), clock).verify(BODY, "k", "AAAA")


@pytest.fixture
def served(document: Path) -> Iterator[str]:
    """The keys document on a loopback HTTP server, read afresh on every request."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = document.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/meta/public_keys/secret_scanning"
    server.shutdown()
    server.server_close()


def test_keys_are_read_from_a_url(served: str, signer: Signer, clock: ManualClock) -> None:
    keys = GitHubKeys(from_url(served), clock)
    keys.verify(BODY, signer.key_id, signer.sign(BODY))
    with pytest.raises(BadSignature):
        keys.verify(BODY, signer.key_id, signer.sign(b"other"))


def test_an_unreachable_url_is_a_configuration_error(clock: ManualClock) -> None:
    keys = GitHubKeys(from_url("http://127.0.0.1:9/keys"), clock)
    with pytest.raises(ConfigurationError):
        keys.verify(BODY, "k", "AAAA")
