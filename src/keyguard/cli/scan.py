"""`keyguard scan`: placeholder until the scanner lands."""

from __future__ import annotations

import typer


def scan() -> None:
    """Scan files and git history for leaked keys."""
    typer.echo("the scanner is not built yet", err=True)
    raise typer.Exit(2)
