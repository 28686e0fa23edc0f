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
from urllib.parse import urlsplit

from pydantic import SecretStr

from keyguard.errors import ConfigurationError, NotFound
from keyguard.settings import Settings

RELAY_PASSWORD_SECRET = "smtp/password"
_DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


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


def relay_from_settings(settings: Settings) -> RelayConfig | None:
    """The relay, or None when none is configured (mail then stays queued)."""
    if not settings.smtp_relay:
        return None
    parts = urlsplit(settings.smtp_relay)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigurationError(
            "KEYGUARD_SMTP_RELAY must look like smtp://host:port (STARTTLS) or smtps://host:port"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "put the relay's credentials in KEYGUARD_SMTP_USERNAME / KEYGUARD_SMTP_PASSWORD "
            "(or the secret provider), not in KEYGUARD_SMTP_RELAY"
        )
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigurationError("KEYGUARD_SMTP_RELAY has an invalid port") from None
    return RelayConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        require_tls=settings.mode == "live",
        username=settings.smtp_username,
        password=_password(settings),
        ca_file=settings.smtp_relay_ca_file,
        timeout=settings.smtp_timeout_seconds,
    )


def _password(settings: Settings) -> SecretStr | None:
    if settings.smtp_password is not None or settings.smtp_username is None:
        return settings.smtp_password
    if settings.secrets.backend == "env":
        return None  # the env provider would read KEYGUARD_SMTP_PASSWORD: already looked at
    from keyguard.secrets.factory import build_provider  # noqa: PLC0415 - optional backends

    provider = build_provider(settings.secrets)
    try:
        return SecretStr(provider.get(RELAY_PASSWORD_SECRET).reveal())
    except NotFound:
        return None
