"""The outcome of one request as usage events record it (PRODUCT.md): one vocabulary for the
verifier that decides it, the edges that answer it and the detection rules that read it."""

from typing import Literal

Outcome = Literal[
    "ok",
    "invalid_key",
    "revoked",
    "expired",
    "suspended",
    "denied_scope",
    "denied_ip",
    "denied_sender",
    "denied_recipient",
    "denied_env",
    "rate_limited",
    "quota_exceeded",
]
