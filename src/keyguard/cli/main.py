"""The CLI root: builds settings once, registers the command groups."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="keyguard",
    help="API key security for email-sending platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from keyguard.cli import scan

    app.command("scan")(scan.scan)


def run() -> None:
    """Console-script entry point."""
    _register()
    app()
