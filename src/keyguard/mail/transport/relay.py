"""Where delivered mail goes: KEYGUARD_SMTP_RELAY, its TLS rules and its credentials.

`smtp://host:port` means STARTTLS, `smtps://host:port` TLS from the first byte. In `live`
mode TLS is mandatory and always verified: a relay that does not offer STARTTLS gets no
mail and no password. In `dev` mode STARTTLS is used when offered. Credentials never sit in
the URL (it is logged and shown); they come from KEYGUARD_SMTP_USERNAME and
KEYGUARD_SMTP_PASSWORD or, for the password, from the secret provider as `smtp/password`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr


@dataclass(frozen=True, slots=True)
class RelayConfig:
    host: str
    port: int
    implicit_tls: bool
    require_tls: bool
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: Path | None = None
    timeout: float = 30.0

    @property
    def display(self) -> str:
        """For logs: the address, never the credentials."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verification, always; an extra CA when configured."""
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context
