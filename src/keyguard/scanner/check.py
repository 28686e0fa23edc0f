"""`keyguard scan --check`: ask the Keyguard service whether each of our keys found is live.

The check runs inside the worker that found the key, so that the key still never leaves
it: the worker sends it to `POST /v1/keys/verify` (the caller holds `keys:verify`) and
records only the answer. A key is

- `live`: it authenticates (or would, but for its scope, address, rate or suspension) —
  rotate it now;
- `revoked`: revoked, expired or rotated out — nothing to rotate, still remove it;
- `unknown`: not a key of the verify key's tenant on that service (or not ours at all).

Each key is checked once per process. Verifying is a use of the key: the service records
it (`via` the gateway key) like any other check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

import httpx

from keyguard.errors import InvalidInput, KeyguardError
from keyguard.scanner.findings import Finding, fingerprint

CheckStatus = Literal["live", "revoked", "unknown"]
CheckFn = Callable[[str], CheckStatus]
VERIFY_PATH: Final = "/v1/keys/verify"
TIMEOUT_SECONDS: Final = 10.0
DEFAULT_BASE_URL: Final = "http://127.0.0.1:8080"
_GONE: Final = frozenset({"revoked", "expired", "key_rotated"})


def status_of(answer: dict[str, object]) -> CheckStatus:
    """The verify answer, reduced to what a leak report needs."""
    if answer.get("valid") is True:
        return "live"
    outcome, code = answer.get("outcome"), answer.get("code")
    if outcome in _GONE or code in _GONE:
        return "revoked"
    if outcome == "invalid_key":
        return "unknown"
    return "live"  # suspended, denied_*, rate_limited: the key exists and can be used again


@dataclass
class KeyChecker:
    """Checks keys against one service with one `keys:verify` key (never shown)."""

    base_url: str
    verify_key: str = field(repr=False)
    transport: httpx.BaseTransport | None = None
    _seen: dict[str, CheckStatus] = field(default_factory=dict, repr=False)

    def __call__(self, key: str, finding: Finding | None = None) -> CheckStatus:
        digest = fingerprint(key)
        if digest not in self._seen:
            self._seen[digest] = self._ask(key)
        return self._seen[digest]

    def _ask(self, key: str) -> CheckStatus:
        url = self.base_url.rstrip("/") + VERIFY_PATH
        headers = {"Authorization": f"Bearer {self.verify_key}"}
        try:
            with httpx.Client(timeout=TIMEOUT_SECONDS, transport=self.transport) as client:
                response = client.post(url, json={"key": key}, headers=headers)
        except httpx.HTTPError as error:
            raise KeyguardError(f"--check: {url} failed: {error}", code="check_failed") from None
        if response.status_code in (401, 403):
            message = f"--check: {url} refused the verify key (HTTP {response.status_code})"
            raise KeyguardError(message, code="check_refused")
        if response.status_code != 200:
            message = f"--check: {url} answered HTTP {response.status_code}"
            raise KeyguardError(message, code="check_failed")
        return status_of(response.json())


def checker_from_env(environ: dict[str, str]) -> KeyChecker:
    """The service and the verify key, as the client library reads them."""
    key = environ.get("KEYGUARD_API_KEY", "").strip()
    if not key:
        raise InvalidInput(
            "--check needs a key with keys:verify in KEYGUARD_API_KEY", code="check_key_missing"
        )
    return KeyChecker(environ.get("KEYGUARD_BASE_URL") or DEFAULT_BASE_URL, key)
