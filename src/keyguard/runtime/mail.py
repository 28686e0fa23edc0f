"""The email service's settings turned into configs: the relay, the worker, SMTP's TLS.

The one place mail settings are read; the mail packages below take the configs.
"""

from __future__ import annotations

import ssl
from datetime import timedelta
from urllib.parse import urlsplit

import structlog
from pydantic import SecretStr

from keyguard.errors import ConfigurationError, NotFound
from keyguard.mail import RelayConfig, RetryPolicy, WorkerConfig
from keyguard.settings import Settings

log = structlog.get_logger("keyguard.runtime.mail")
RELAY_PASSWORD_SECRET = "smtp/password"
_DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


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
    from keyguard.secrets import build_provider  # noqa: PLC0415 - optional backends

    provider = build_provider(settings.secrets)
    try:
        return SecretStr(provider.get(RELAY_PASSWORD_SECRET).reveal())
    except NotFound:
        return None


def worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        batch=settings.mail_worker_batch,
        connections=settings.mail_worker_connections,
        poll_interval=settings.mail_poll_seconds,
        lease=timedelta(seconds=settings.mail_lease_seconds),
        retry=RetryPolicy(
            base=timedelta(seconds=settings.mail_retry_base_seconds),
            max_attempts=settings.mail_max_attempts,
        ),
    )


def submission_tls(settings: Settings) -> ssl.SSLContext | None:
    """The server certificate for STARTTLS; required in live mode."""
    cert, key = settings.smtp_tls_cert_file, settings.smtp_tls_key_file
    if cert is None or key is None:
        if settings.mode == "live":
            raise ConfigurationError(
                "live mode needs KEYGUARD_SMTP_TLS_CERT_FILE and KEYGUARD_SMTP_TLS_KEY_FILE: "
                "keys must never cross the network in clear"
            )
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"cannot load the SMTP certificate: {exc}") from None
    return context
