"""`keyguard scan --report-to URL`: send each of our keys found to a Keyguard service.

The key goes from the worker that found it straight to `POST /v1/leaks/report` (like
`--check`, it never leaves that process any other way), with the finding's location — path,
line, column and commit, never more of the file — authenticated with the `leaks:report` key
in `KEYGUARD_API_KEY`. The service revokes it at once and opens an incident. Only HTTPS is
accepted, except to a loopback address (a service on the same machine).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import httpx

from keyguard.errors import InvalidInput, KeyguardError
from keyguard.scanner.findings import Finding, fingerprint

TIMEOUT_SECONDS: Final = 10.0


def require_tls(url: str) -> None:
    """HTTPS, or plain HTTP to this machine only: the body carries live keys."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and _loopback(host):
        return
    raise InvalidInput(
        f"--report-to sends keys: it needs an https:// URL (http:// only to loopback), got {url!r}",
        code="invalid_url",
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class KeyReporter:
    """Reports each of our keys once per process; `check` is the --check hook, if any."""

    url: str
    report_key: str | None = field(repr=False)
    check: Callable[[str, Finding], str | None] | None = None
    transport: httpx.BaseTransport | None = None
    _sent: set[str] = field(default_factory=set, repr=False)

    def __call__(self, key: str, finding: Finding) -> str | None:
        digest = fingerprint(key)
        if digest not in self._sent:
            self._send(key, finding)
            self._sent.add(digest)
        return self.check(key, finding) if self.check is not None else None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.report_key}"} if self.report_key else {}

    def _send(self, key: str, finding: Finding) -> None:
        if not self.report_key:
            raise InvalidInput(
                "--report-to found one of our keys: reporting it needs a key with "
                "leaks:report in KEYGUARD_API_KEY",
                code="report_key_missing",
            )
        report = {
            "token": key,
            "path": finding.path,
            "line": finding.line,
            "column": finding.column,
            "commit": finding.commit,
        }
        try:
            with httpx.Client(timeout=TIMEOUT_SECONDS, transport=self.transport) as client:
                response = client.post(self.url, json={"reports": [report]}, headers=self.headers)
        except httpx.HTTPError as error:
            raise KeyguardError(
                f"--report-to {self.url} failed: {error}", code="report_failed"
            ) from None
        if not response.is_success:
            message = f"--report-to {self.url} answered HTTP {response.status_code}"
            raise KeyguardError(message, code="report_failed")


def reporter_from_env(
    url: str, environ: dict[str, str], check: Callable[[str, Finding], str | None] | None
) -> KeyReporter:
    """The reporter for `url`; the key is needed only once one of our keys is found."""
    require_tls(url)
    return KeyReporter(url, environ.get("KEYGUARD_API_KEY", "").strip() or None, check)
