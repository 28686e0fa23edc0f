"""`keyguard serve`: the HTTP API under uvicorn, on 127.0.0.1:8080 by default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keyguard.cli.context import state
from keyguard.cli.init import ADMIN_KEY_FILE
from keyguard.cli.output import errors_as_exit, fail
from keyguard.errors import ConfigurationError, InvalidInput
from keyguard.policy import parse_cidr_list
from keyguard.settings import Settings


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    tls_cert: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="PEM certificate chain.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="PEM private key.")
    ] = None,
    behind_proxy: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CIDR",
            help="Trusted proxy network (repeatable); its X-Forwarded-For names the client.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes sharing the port (one per core); the first also runs the "
            "delivery worker and maintenance.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API. In live mode, plain HTTP needs --behind-proxy (TLS ends there)."""
    from keyguard.api import GracefulServer, create_app, serve_workers, uvicorn_config
    from keyguard.logging import configure_logging
    from keyguard.runtime import Runtime, freeze_start_up_heap
    from keyguard.storage import migrate

    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together")
    tls = tls_cert is not None
    with errors_as_exit():
        settings = _with_proxies(state(ctx).settings, behind_proxy or [])
        if settings.mode == "live" and not tls and not behind_proxy:
            raise ConfigurationError(
                "live mode refuses plain HTTP: give --tls-cert/--tls-key, or name the "
                "TLS-terminating proxies with --behind-proxy CIDR"
            )
        runtime = Runtime.build(settings)
        if not migrate.is_current(runtime.engine):
            runtime.close()
            raise ConfigurationError(
                "the database schema is not current: run `keyguard init --if-needed` first"
            )
    configure_logging()
    if workers > 1:
        runtime.close()  # each worker builds its own; the supervisor keeps none
        try:
            status = serve_workers(
                settings, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
                workers=workers,
                announce=lambda bound: _announce(settings, host, bound, tls, workers),
            )  # fmt: skip
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(status)
    app = create_app(runtime, hsts=tls)
    _announce(settings, host, port, tls)
    from keyguard.cli.users import announce_dashboard  # the dashboard's link (docs/dashboard.md)

    announce_dashboard(runtime, host, port, tls)
    server = GracefulServer(  # SIGTERM: stop accepting, drain, flush usage, close, exit 0
        uvicorn_config(app, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key)
    )
    freeze_start_up_heap()
    try:
        server.run()
    finally:
        runtime.close()
    if not server.started:
        raise typer.Exit(1)


def _with_proxies(settings: Settings, cidrs: list[str]) -> Settings:
    try:
        networks = parse_cidr_list([*settings.trusted_proxies, *cidrs], "behind_proxy")
    except InvalidInput as exc:
        raise ConfigurationError(f"{exc.message} for --behind-proxy") from None
    return settings.model_copy(update={"trusted_proxies": networks})


def _announce(settings: Settings, host: str, port: int, tls: bool, workers: int = 1) -> None:
    """The start-up banner, as JSON log lines like every other line the server writes."""
    import structlog

    log = structlog.get_logger("keyguard.serve")
    shown = f"[{host}]" if ":" in host else host
    url = f"{'https' if tls else 'http'}://{shown}:{port}"
    processes = f", {workers} workers" if workers > 1 else ""
    log.info(
        f"Keyguard ({settings.mode} mode{processes}) on {url}",
        mode=settings.mode, url=url, workers=workers,
    )  # fmt: skip
    if workers > 1 and settings.redis_url is None:
        # Request-rate counters live in each process's memory without Redis.
        log.warning(
            f"{workers} workers without KEYGUARD_REDIS_URL: each keeps its own request-rate "
            f"counters, so a key may make up to {workers}x its rate limit",
            workers=workers,
        )
    key_file = settings.data_dir / ADMIN_KEY_FILE
    if key_file.exists():
        log.info(
            f"First admin key: {key_file} (mode 0600; send it as `Authorization: Bearer`)",
            admin_key_file=str(key_file),
        )
    if settings.trusted_proxies:
        log.info(
            f"Trusting X-Forwarded-For from: {', '.join(settings.trusted_proxies)}",
            trusted_proxies=list(settings.trusted_proxies),
        )
