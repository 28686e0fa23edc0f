"""The CLI root: builds settings once, registers the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keyguard.cli.context import CliState
from keyguard.cli.output import errors_as_exit
from keyguard.settings import load_settings

app = typer.Typer(
    name="keyguard",
    help="API key security for email-sending platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file with settings.", dir_okay=False)
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")] = None,
) -> None:
    """Settings are read once here; commands build services from them."""
    with errors_as_exit():
        settings = load_settings(config, data_dir=data_dir, database_url=database_url)
    ctx.obj = CliState(settings)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from keyguard.cli import audit, init, keys, scan

    app.command("init")(init.init)
    app.add_typer(keys.app, name="keys")
    app.add_typer(audit.app, name="audit")
    app.command("scan")(scan.scan)


def run() -> None:
    """Console-script entry point."""
    _register()
    app()
