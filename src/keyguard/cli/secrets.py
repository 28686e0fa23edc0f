"""`keyguard secrets check|rewrap|rotate-pepper|peppers`: test the secrets configuration,
rewrap stored secrets, rotate the pepper and see which versions keys still use."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from keyguard.cli import peppers
from keyguard.cli.context import CliState
from keyguard.cli.output import errors_as_exit, fail, print_json, stderr, stdout
from keyguard.clock import system_clock
from keyguard.secrets import (
    DEFAULT_BATCH_SIZE,
    Check,
    RewrapReport,
    SecretsSettings,
    build_wrapper,
    exit_code,
    rewrap_all,
    run_checks,
)
from keyguard.settings import Settings, load_settings
from keyguard.storage import make_engine

app = typer.Typer(
    name="secrets",
    help="Check the secrets backend, rewrap stored secrets, rotate the pepper.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="KEYGUARD_DATABASE_URL",
        help="SQLAlchemy URL (default: keyguard.db in KEYGUARD_DATA_DIR).",
    ),
]
BatchOption = Annotated[int, typer.Option(min=1, help="Rows per transaction.")]
_STYLE = {"ok": "green", "skipped": "yellow", "failed": "red", "misconfigured": "red"}


@app.command("check")
def check(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Test the provider, the pepper and the wrapper: exit 0 ok, 1 failing, 2 misconfigured."""
    settings = secrets_settings(ctx)
    checks = run_checks(settings)
    if json_output:
        print_json(
            {
                "ok": exit_code(checks) == 0,
                "backend": settings.backend,
                "wrapper": settings.resolved_wrapper,
                "checks": [
                    {"name": c.name, "status": c.status, "detail": c.detail} for c in checks
                ],
            }
        )
    else:
        _print_checks(settings, checks)
    raise typer.Exit(exit_code(checks))


@app.command("rewrap")
def rewrap(
    ctx: typer.Context,
    database_url: DatabaseOption = None,
    batch_size: BatchOption = DEFAULT_BATCH_SIZE,
    json_output: JsonOption = False,
) -> None:
    """Re-encrypt every stored data key under the current wrapping key, while serving."""
    settings = secrets_settings(ctx)
    with errors_as_exit():
        wrapper = build_wrapper(settings)
    with errors_as_exit():
        engine = make_engine(database_url or _settings(ctx).resolved_database_url)
    try:
        with errors_as_exit():
            report = rewrap_all(
                sessionmaker(engine), wrapper, clock=system_clock, batch_size=batch_size
            )
    except SQLAlchemyError as exc:
        fail(f"database error ({type(exc).__name__}): {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    _print_report(report, json_output)
    if report.other_wrapper:
        stderr.print(
            f"{report.other_wrapper} stored secret(s) are wrapped by another kind of wrapper "
            "and were left as they are",
            markup=False,
        )
        raise typer.Exit(1)


@app.command("rotate-pepper")
def rotate_pepper(
    ctx: typer.Context,
    label: Annotated[
        str | None, typer.Option(help="Label of the new version (default: the next vN).")
    ] = None,
    rehash: Annotated[
        bool,
        typer.Option(
            "--rehash",
            help="Write no new version: re-hash delivered keys from their vaults, report what "
            "still uses old versions, retire the versions no live key uses.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Make a new pepper version current; keys move to it as they are used (docs/secrets.md)."""
    settings = secrets_settings(ctx)
    with errors_as_exit():
        if rehash:
            peppers.finish_rotation(ctx, settings, json_output=json_output)
        else:
            peppers.rotate(settings, label, json_output=json_output)


@app.command("peppers")
def list_peppers(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Pepper versions, the current one, and how many keys each still hashes."""
    settings = secrets_settings(ctx)
    with errors_as_exit():
        peppers.show(ctx, settings, json_output=json_output)


def secrets_settings(ctx: typer.Context) -> SecretsSettings:
    """The `[secrets]` block of the settings the CLI root read (read here if run on its own)."""
    return _settings(ctx).secrets


def _settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root().obj
    if isinstance(root, CliState):
        return root.settings
    with errors_as_exit():
        return load_settings()


def _print_checks(settings: SecretsSettings, checks: list[Check]) -> None:
    table = Table(
        title=f"secrets backend {settings.backend}, wrapper "
        f"{settings.resolved_wrapper}, mode {settings.mode}"
    )
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for item in checks:
        table.add_row(item.name, Text(item.status, style=_STYLE[item.status]), Text(item.detail))
    stdout.print(table)


def _print_report(report: RewrapReport, json_output: bool) -> None:
    if json_output:
        print_json(
            {
                "key_id": report.key_id,
                "rewrapped": report.rewrapped,
                "batches": report.batches,
                "other_wrapper": report.other_wrapper,
            }
        )
        return
    stdout.print(
        f"rewrapped {report.rewrapped} stored secret(s) under {report.key_id} "
        f"in {report.batches} batch(es)",
        markup=False,
    )
