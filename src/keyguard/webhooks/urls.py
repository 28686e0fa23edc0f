"""Which URLs an endpoint may have: https, or http to a loopback address (local receivers)."""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

from keyguard.errors import InvalidInput

MAX_URL_CHARS: Final = 2000


def check_url(url: str) -> str:
    """`url` if it is an absolute https URL (or http to loopback); InvalidInput otherwise.

    Plain http would expose signed payloads and let anyone on the path replay them, so it is
    refused except to the machine itself. Credentials in the URL would be stored in clear.
    """
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise _bad("the URL is too long")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a port out of range
    except ValueError:
        raise _bad("the URL is not valid") from None
    del port
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _bad("the URL must be an absolute https URL")
    if parts.username is not None or parts.password is not None:
        raise _bad("the URL must not hold credentials")
    if parts.fragment:
        raise _bad("the URL must not have a fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise _bad("the URL must use https (http only to a loopback address)")
    return url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_webhook_url", field="url")
