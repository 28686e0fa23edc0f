"""`keyguard audit verify|export`: check the hash chain and dump it."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from keyguard import audit as audit_log
from keyguard.cli.context import state
from keyguard.cli.output import EXIT_DENIED, print_json, stderr, stdout

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command()
def verify(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the whole chain; exit 0 when intact, 1 naming the first bad record."""
    runtime = state(ctx).runtime
    with runtime.sessions() as session:
        report = audit_log.verify_chain(session)
    if json_output:
        print_json(
            {
                "intact": report.intact,
                "records": report.records,
                "first_bad_seq": report.first_bad_seq,
                "problem": report.problem,
            }
        )
    elif report.intact:
        stdout.print(f"audit chain intact: {report.records} records")
    else:
        stderr.print(f"audit chain broken at record {report.first_bad_seq}: {report.problem}")
    if not report.intact:
        raise typer.Exit(EXIT_DENIED)


@app.command()
def export(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = True,
) -> None:
    """Export every record in order, one JSON object per line."""
    runtime = state(ctx).runtime
    with runtime.sessions() as session:
        for record in audit_log.export(session):
            sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
