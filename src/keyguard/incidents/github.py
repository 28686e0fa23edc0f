"""GitHub secret scanning partner program: is this batch of alerts really from GitHub?

GitHub signs the raw request body with ECDSA on P-256 over SHA-256, names the signing key in
`Github-Public-Key-Identifier` and sends the base64 DER signature in
`Github-Public-Key-Signature`. Its public keys are a JSON document
(`{"public_keys": [{"key_identifier": …, "key": "<PEM>", "is_current": …}]}`, published at
https://api.github.com/meta/public_keys/secret_scanning), read here from a URL or a file.

The keys are cached for `ttl`. A key id not in the cache triggers one refresh (GitHub rotates
its keys), but at most once per `min_refresh`: otherwise anyone could make us fetch the
document on every request by inventing key ids. A key id still unknown after that is refused,
as is any key that is not P-256.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from keyguard.clock import Clock
from keyguard.errors import ConfigurationError
from keyguard.incidents.errors import BadSignature

GITHUB_KEYS_URL: Final = "https://api.github.com/meta/public_keys/secret_scanning"
GITHUB_KEY_ID_HEADER: Final = "github-public-key-identifier"
GITHUB_SIGNATURE_HEADER: Final = "github-public-key-signature"
TIMEOUT_SECONDS: Final = 10.0

Fetch = Callable[[], bytes]


def from_url(url: str, transport: httpx.BaseTransport | None = None) -> Fetch:
    """Read the keys document over HTTP(S)."""

    def fetch() -> bytes:
        try:
            with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
                response = client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise ConfigurationError(f"GitHub public keys: {url} failed: {error}") from None
        if response.status_code != 200:
            raise ConfigurationError(f"GitHub public keys: {url} answered {response.status_code}")
        return response.content

    return fetch


def from_file(path: Path) -> Fetch:
    """Read the keys document from a file (air-gapped deployments, tests)."""

    def fetch() -> bytes:
        try:
            return path.read_bytes()
        except OSError as error:
            raise ConfigurationError(f"GitHub public keys: cannot read {path}: {error}") from None

    return fetch


@dataclass(slots=True)
class _Cache:
    keys: dict[str, ec.EllipticCurvePublicKey]
    fetched_at: datetime


class GitHubKeys:
    """GitHub's signing keys, cached, refreshed on an unknown key id; verifies signatures."""

    def __init__(
        self,
        fetch: Fetch,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(hours=1),
        min_refresh: timedelta = timedelta(seconds=30),
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._cache: _Cache | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def verify(self, body: bytes, key_id: str | None, signature: str | None) -> None:
        """Return if `signature` is a valid signature of `body` by GitHub's key `key_id`;
        raise BadSignature otherwise (the reason is in the message, for the server log)."""
        if not key_id or not signature:
            raise BadSignature("the GitHub signature headers are missing")
        key = self._key(key_id)
        if key is None:
            raise BadSignature(f"unknown GitHub key id {key_id[:80]!r}")
        try:
            key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(SHA256()))
        except (InvalidSignature, binascii.Error, ValueError):
            raise BadSignature("the GitHub signature does not match the body") from None

    def _key(self, key_id: str) -> ec.EllipticCurvePublicKey | None:
        with self._lock:
            now = self._clock()
            cache = self._cache
            if cache is None or now - cache.fetched_at >= self._ttl:
                cache = self._refresh(now)
            elif key_id not in cache.keys and now - cache.fetched_at >= self._min_refresh:
                cache = self._refresh(now)  # GitHub may have rotated: look once more
            return cache.keys.get(key_id)

    def _refresh(self, now: datetime) -> _Cache:
        self.fetches += 1
        self._cache = _Cache(parse_keys(self._fetch()), now)
        return self._cache


def parse_keys(document: bytes) -> dict[str, ec.EllipticCurvePublicKey]:
    """The P-256 keys of a public-keys document, by id; anything else in it is skipped."""
    try:
        entries = json.loads(document)["public_keys"]
    except (ValueError, KeyError, TypeError):
        raise ConfigurationError("GitHub public keys: not a public_keys document") from None
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        key_id, pem = entry.get("key_identifier"), entry.get("key")
        if not isinstance(key_id, str) or not isinstance(pem, str):
            continue
        try:
            key = load_pem_public_key(pem.encode())
        except ValueError:
            continue
        # Only what GitHub uses: a key of another type or curve is never trusted.
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            keys[key_id] = key
    return keys
