"""`keyguard review [--tenant T] [--format text|json|md]` and `keyguard review apply ID`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, fail, print_json, stdout
from keyguard.cli.secretfile import write_secret_file
from keyguard.lifecycle import DEFAULT_GRACE, OPERATOR
from keyguard.policy import parse_duration
from keyguard.review import FORMATS, Applied, Format, render

app = typer.Typer(
    help="Access review: stale, over-privileged, unrestricted and old keys.",
    invoke_without_command=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (as --format json).")]


@app.callback()
def review(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: all).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, json or md (Markdown).", metavar="FORMAT")
    ] = "text",
    json_output: JsonFlag = False,
) -> None:
    """Review the active keys and print the findings, each with its id for `review apply`."""
    if ctx.invoked_subcommand is not None:
        return
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r} (use text, json or md)")
    chosen: Format = "json" if json_output else fmt  # type: ignore[assignment]  # checked above
    runtime = state(ctx).runtime
    with errors_as_exit():
        result = runtime.review.review(OPERATOR, tenant)
    sys.stdout.write(render(result, chosen))


@app.command()
def apply(
    ctx: typer.Context,
    finding_id: Annotated[str, typer.Argument(help="The finding's id (rv_…).")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm a revocation.")] = False,
    grace: Annotated[
        str | None, typer.Option(help="How long the old key keeps working (default 24h).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write a handed-out successor to this new 0600 file.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Apply one finding: a rotation with grace whose successor carries the proposal (into
    the key's vault, or shown once), or with --yes a revocation."""
    runtime = state(ctx).runtime
    window = parse_duration(grace, field="grace") if grace else DEFAULT_GRACE
    with errors_as_exit():
        if out is not None:
            with write_secret_file(out) as handle:
                applied = runtime.review.apply(OPERATOR, finding_id, confirm=yes, grace=window)
                if applied.raw is not None:
                    handle.write(applied.raw.reveal() + "\n")
            if applied.raw is None:
                out.unlink()  # a revocation or a vault delivery: no key to write
                out = None
        else:
            applied = runtime.review.apply(OPERATOR, finding_id, confirm=yes, grace=window)
    _show(applied, out, json_output)


def _show(applied: Applied, out: Path | None, json_output: bool) -> None:
    successor, raw = applied.successor, applied.raw
    if json_output:
        data = applied.to_json()
        if data["successor"] is not None and raw is not None:
            if out is None:
                data["successor"]["key"] = raw.reveal()  # the one-time display
            else:
                data["successor"]["key_file"] = str(out)
        print_json(data)
        return
    finding = applied.finding
    if successor is None:
        stdout.print(f"Applied {finding.id}: {applied.key.id} is {applied.key.state}.")
        return
    grace = applied.key.grace_until
    until = f" until {grace:%Y-%m-%d %H:%M} UTC" if grace else ""
    stdout.print(
        f"Applied {finding.id}: {successor.id} succeeds {applied.key.id} "
        f"(scopes {', '.join(successor.scopes)}); the old key keeps working{until}."
    )
    if applied.delivered_to is not None:
        stdout.print(f"The successor was delivered to {applied.delivered_to}.")
    elif out is not None:
        stdout.print(f"The key was written to {out} (mode 0600).")
    elif raw is not None:
        stdout.print("Copy the key now; it will not be shown again:")
        stdout.print(raw.reveal(), markup=False)
