"""`--report-to URL`: send findings to a leak-report endpoint (an extension point).

The body is JSON: `{"tool": "keyguard", "version": …, "findings": [finding, …]}` where
each finding is the JSON-report form — redacted secret and SHA-256 fingerprint only,
never the secret. A later issue adds the receiving endpoint; any HTTP(S) URL works now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import httpx

from keyguard import __version__
from keyguard.errors import InvalidInput, KeyguardError
from keyguard.scanner.findings import Finding

TIMEOUT_SECONDS: Final = 10.0


def report_payload(findings: Sequence[Finding]) -> dict[str, object]:
    return {
        "tool": "keyguard",
        "version": __version__,
        "findings": [finding.to_dict() for finding in findings],
    }


def post_findings(
    url: str,
    findings: Sequence[Finding],
    *,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """POST the findings; a refused, failed or non-2xx delivery is an error. `headers`
    authenticate to a Keyguard service (`--report-to`, keyguard.scanner.report_keys)."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"--report-to needs an http(s) URL, got {url!r}", code="invalid_url")
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
            response = client.post(url, json=report_payload(findings), headers=headers)
    except httpx.HTTPError as error:
        raise KeyguardError(f"report to {url} failed: {error}", code="report_failed") from None
    if not response.is_success:
        message = f"report to {url} failed: HTTP {response.status_code}"
        raise KeyguardError(message, code="report_failed")
