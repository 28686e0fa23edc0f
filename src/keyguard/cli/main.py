"""The CLI root: builds settings once, registers the command groups."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from keyguard.cli.output import EXIT_USAGE, errors_as_exit, exit_code_for, stderr
from keyguard.errors import KeyguardError

app = typer.Typer(
    name="keyguard",
    help="API key security for email-sending platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, pwsh
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"keyguard {version('keyguard')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file with settings.", dir_okay=False)
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")] = None,
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Settings are read once here; commands build services from them."""
    if ctx.invoked_subcommand == "scan":
        return  # the scanner reads no settings; pre-commit runs it on every commit
    # Imported here, not at the top: `keyguard scan` never pays for pydantic-settings.
    from keyguard.cli.context import CliState
    from keyguard.settings import load_settings

    with errors_as_exit():
        settings = load_settings(config, data_dir=data_dir, database_url=database_url)
    ctx.obj = CliState(settings)
    ctx.call_on_close(ctx.obj.close)


def _register_scan_only() -> None:
    """`keyguard scan` runs in pre-commit hooks on every commit: skip importing the service
    (SQLAlchemy, FastAPI, the mail and secrets stacks), which costs over a second."""
    from keyguard.cli import scan

    app.command("scan")(scan.scan)


def _register() -> None:
    if app.registered_commands:
        return  # registered already (tests call this before every invocation)
    from keyguard.cli import audit, init, keys, scan, serve

    app.command("init")(init.init)
    app.command("serve")(serve.serve)
    app.add_typer(keys.app, name="keys")
    app.add_typer(audit.app, name="audit")
    app.command("scan")(scan.scan)
    from keyguard.cli import domains, smtp, worker  # the email service (docs/mail.md)

    app.add_typer(domains.app, name="domains")
    app.command("worker")(worker.worker)
    app.command("smtp")(smtp.smtp)
    from keyguard.cli import secrets  # providers, peppers, rewrap (docs/secrets.md)

    app.add_typer(secrets.app, name="secrets")
    from keyguard.cli import usage  # usage history (docs/usage.md)

    app.command("usage")(usage.usage)
    from keyguard.cli import monitor  # detection rules over usage events (docs/monitoring.md)

    app.add_typer(monitor.app, name="monitor")
    from keyguard.cli import incident  # compromise response (docs/incidents.md)

    app.add_typer(incident.app, name="incident")
    from keyguard.cli import webhooks  # webhook endpoints, security contacts

    app.add_typer(webhooks.app, name="webhooks")
    from keyguard.cli import alerts  # the online detector's alerts (docs/monitoring.md)

    app.add_typer(alerts.app, name="alerts")
    from keyguard.cli import review  # access review (docs/review.md)

    app.add_typer(review.app, name="review")
    from keyguard.cli import users  # the people of the dashboard (docs/dashboard.md)

    app.add_typer(users.app, name="users")


_KEY_LIKE = re.compile(r"kg_(live|test|dev)_")


def run() -> None:
    """Console-script entry point.

    A key on the command line is visible to `ps` and lands in shell history; it is refused
    before parsing, so that no usage message can echo it back.
    """
    if any(_KEY_LIKE.search(arg) for arg in sys.argv[1:]):
        stderr.print(
            "error: a key was passed as an argument; keys are read from stdin "
            "(e.g. `keyguard keys verify < key.txt`). Treat that key as exposed."
        )
        sys.exit(EXIT_USAGE)
    if sys.argv[1:2] == ["scan"]:
        _register_scan_only()
    else:
        _register()
    try:
        # One name however it was started (`python -m keyguard` too): usage lines, completion.
        app(prog_name="keyguard")
    except KeyguardError as error:
        # One place for every command: an error of ours raised where no command caught it
        # (a weak pepper found while building the runtime, say) is one line, not a traceback.
        stderr.print(f"error: {error.message} [{error.code}]", markup=False)
        sys.exit(exit_code_for(error))
    except Exception as exc:
        # A missing schema or an unreachable database is a usage problem, not a traceback.
        # The driver's message is not shown: it can carry the URL or statement parameters.
        if not _is_database_error(exc):
            raise
        stderr.print(
            f"error: database error ({type(exc).__name__}): is the database reachable and "
            "initialised? Run `keyguard init` first."
        )
        sys.exit(EXIT_USAGE)


def _is_database_error(exc: Exception) -> bool:
    # A command that never loaded SQLAlchemy (`keyguard scan`) cannot have raised its errors;
    # looking the module up, rather than importing it, keeps that command's start-up fast.
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)
