"""`keyguard incident …`: open, list, show, contain, resolve and annotate compromise cases."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, fail, id_column, print_json, stdout
from keyguard.incidents import IncidentView, Opened, OpenRequest
from keyguard.lifecycle import OPERATOR

app = typer.Typer(help="Compromise response: incidents on keys.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IncidentId = Annotated[str, typer.Argument(help="The incident's id (inc_…).")]
Note = Annotated[str | None, typer.Option(help="A note for the timeline.")]


@app.command("open")
def open_incident(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The compromised key's id (key_…).")],
    reason: Annotated[str, typer.Option(help="What happened (kept in the audit log).")],
    revoke: Annotated[
        bool,
        typer.Option("--revoke/--quarantine", help="Revoke the key (default) or suspend it."),
    ] = True,
    reissue: Annotated[
        bool, typer.Option("--reissue", help="Issue a successor with the same powers and name.")
    ] = False,
    deliver: Annotated[
        str | None,
        typer.Option(
            metavar="TARGET",
            help="With --reissue: write the successor into this vault secret (default: the "
            "one the old key was delivered to; otherwise it is shown once).",
        ),
    ] = None,
    cascade: Annotated[
        bool, typer.Option("--cascade", help="Also revoke every key this key made, down the chain.")
    ] = False,
    owner: Annotated[str | None, typer.Option(help="Who handles the incident.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Open an incident: the key is refused everywhere at once, its successor issued."""
    if deliver is not None and not reissue:
        fail("--deliver needs --reissue")
    runtime = state(ctx).runtime
    request = OpenRequest(
        key_id=key_id,
        reason=reason,
        quarantine=not revoke,
        reissue=reissue,
        deliver=deliver,
        cascade=cascade,
        owner=owner,
    )
    with errors_as_exit():
        opened = runtime.incidents.open(OPERATOR, request)
    _show_opened(opened, json_output)
    if opened.reissue_error is not None:
        fail(f"the key is stopped, but no successor was issued: {opened.reissue_error}")


def _show_opened(opened: Opened, json_output: bool) -> None:
    if json_output:
        print_json(opened.to_json())
        return
    incident = opened.incident
    verb = "suspended" if incident.response == "quarantine" else "revoked"
    stdout.print(f"Opened {incident.id} on {incident.key_id}; {verb}: {', '.join(opened.stopped)}")
    radius = incident.blast_radius
    if radius:
        stdout.print(f"Keys made by {incident.key_id} (blast radius): {', '.join(radius)}")
    successor = opened.successor
    if successor is None:
        return
    if successor.delivered_to is not None:
        stdout.print(f"Successor {successor.id} was delivered to {successor.delivered_to}.")
    elif successor.key is not None:
        stdout.print(f"Successor {successor.id}. Copy the key now; it will not be shown again:")
        stdout.print(successor.key.reveal(), markup=False)


@app.command("list")
def list_incidents(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    incident_state: Annotated[
        str | None, typer.Option("--state", help="open, contained or resolved.")
    ] = None,
    key: Annotated[str | None, typer.Option(help="Only incidents on this key.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    json_output: JsonFlag = False,
) -> None:
    """Incidents, newest first."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        views = runtime.incidents.list(
            OPERATOR, tenant_id=tenant, state=incident_state, key_id=key, limit=limit
        )
    if json_output:
        print_json({"incidents": [v.to_json(steps=False) for v in views]})
        return
    table = Table(
        id_column("id", (v.id for v in views)),
        id_column("key", (v.key_id for v in views)),
        "state", "response", "source", "owner", "opened",
    )  # fmt: skip
    for v in views:
        table.add_row(
            v.id,
            v.key_id,
            v.state,
            v.response,
            v.source,
            v.owner or "",
            f"{v.opened_at:%Y-%m-%d %H:%M}",
        )
    stdout.print(table)


@app.command()
def show(ctx: typer.Context, incident_id: IncidentId, json_output: JsonFlag = False) -> None:
    """One incident with its timeline."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.incidents.show(OPERATOR, incident_id)
    _print(view, json_output)


@app.command()
def contain(
    ctx: typer.Context,
    incident_id: IncidentId,
    note: Note = None,
    cascade: Annotated[
        bool, typer.Option("--cascade", help="Revoke every key the key made, as they are now.")
    ] = False,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Turn a quarantine into a revocation.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Mark the incident contained."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.incidents.contain(
            OPERATOR, incident_id, note=note, cascade=cascade, revoke=revoke
        )
    _print(view, json_output)


@app.command()
def resolve(
    ctx: typer.Context,
    incident_id: IncidentId,
    note: Note = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Give a quarantined key back (a false alarm).")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Close the incident."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.incidents.resolve(OPERATOR, incident_id, note=note, resume=resume)
    _print(view, json_output)


@app.command("note")
def add_note(
    ctx: typer.Context,
    incident_id: IncidentId,
    text: Annotated[
        str | None, typer.Argument(help="The note; read from stdin when left out.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Add a note to the timeline (stored with any pasted key masked)."""
    body = text if text is not None else sys.stdin.read(64_000)
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.incidents.note(OPERATOR, incident_id, body)
    _print(view, json_output)


@app.command()
def assign(
    ctx: typer.Context,
    incident_id: IncidentId,
    owner: Annotated[str, typer.Argument(help="A person or a team.")],
    json_output: JsonFlag = False,
) -> None:
    """Give the incident an owner."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.incidents.assign(OPERATOR, incident_id, owner)
    _print(view, json_output)


def _print(view: IncidentView, json_output: bool) -> None:
    if json_output:
        print_json(view.to_json())
        return
    for name, value in view.to_json(steps=False).items():
        stdout.print(f"{name:>13}  {value}", markup=False)
    if view.blast_radius:
        stdout.print(f"{'blast_radius':>13}  {', '.join(view.blast_radius)}", markup=False)
    for step in view.steps:
        line = f"  {step.ts:%Y-%m-%d %H:%M:%S}  {step.kind:<18} {step.key_id or ''}"
        stdout.print(line.rstrip() + (f"  {step.note}" if step.note else ""), markup=False)
