"""`keyguard alerts`: the online detector's alerts, as the local operator (every partition),
and a person's answers: `ack`, `resolve`, `false-positive`, `undo` ID.

The same service as `GET /v1/alerts` and its POST routes; the operator also sees key-less
alerts (guessing and sprays from one address).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, id_column, print_json, stdout

app = typer.Typer(
    help="Alerts raised by the online detector.",
    invoke_without_command=True,
)
AlertId = Annotated[int, typer.Argument(help="The alert's id.", min=1)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.callback()
def alerts(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Option(help="Only this key's alerts.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule's.")] = None,
    severity: Annotated[str | None, typer.Option(help="info, low, medium, high, critical.")] = None,
    alert_state: Annotated[
        str | None,
        typer.Option("--state", help="open, acknowledged, resolved or false_positive."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_output: Json = False,
) -> None:
    """List alerts, newest first (without a command)."""
    if ctx.invoked_subcommand is not None:
        return
    from keyguard.lifecycle import OPERATOR
    from keyguard.monitoring import AlertFilter

    runtime = state(ctx).runtime
    where = AlertFilter(key_id=key, rule=rule, severity=severity, state=alert_state)
    with errors_as_exit():
        found = runtime.alerts.list(OPERATOR, where, limit=limit)
    if json_output:
        print_json({"alerts": found})
        return
    if not found:
        stdout.print("no alerts", markup=False)
        return
    stdout.print(_table(found))


def _table(found: list[dict[str, Any]]) -> Table:
    # Ids, keys and rule names are what a person types next (`keyguard alerts ack 12`,
    # `--rule new_network`): kept whole; the summary wraps instead.
    table = Table(
        id_column("id", (str(a["id"]) for a in found)), "ts",
        id_column("key", (a["key_id"] or "-" for a in found)),
        id_column("rule", (a["rule"] for a in found)), "severity", "state", "action", "summary",
    )  # fmt: skip
    for a in found:
        action = a["action"]
        if a["action_state"] != "done":
            action += f" ({a['action_state']})"
        table.add_row(
            str(a["id"]), a["ts"], a["key_id"] or "-", a["rule"], a["severity"], a["state"],
            action, str(a["evidence"].get("summary", "")),
        )  # fmt: skip
    return table


def _answer(ctx: typer.Context, alert_id: int, state_name: str | None, json_output: bool) -> None:
    from keyguard.lifecycle import OPERATOR

    runtime = state(ctx).runtime
    with errors_as_exit():
        if state_name is None:
            alert = runtime.alerts.undo(OPERATOR, alert_id)
        else:
            alert = runtime.alerts.move(OPERATOR, alert_id, state_name)
    if json_output:
        print_json(alert)
        return
    stdout.print(
        f"alert {alert['id']}: {alert['state']}, action {alert['action']} {alert['action_state']}",
        markup=False,
    )


@app.command("ack")
def ack(ctx: typer.Context, alert_id: AlertId, json_output: Json = False) -> None:
    """Acknowledge an open alert."""
    _answer(ctx, alert_id, "acknowledged", json_output)


@app.command("resolve")
def resolve(ctx: typer.Context, alert_id: AlertId, json_output: Json = False) -> None:
    """Resolve an alert."""
    _answer(ctx, alert_id, "resolved", json_output)


@app.command("false-positive")
def false_positive(ctx: typer.Context, alert_id: AlertId, json_output: Json = False) -> None:
    """Mark an alert a false positive; the detector learns its event into the baseline."""
    _answer(ctx, alert_id, "false_positive", json_output)


@app.command("undo")
def undo(ctx: typer.Context, alert_id: AlertId, json_output: Json = False) -> None:
    """Undo the alert's throttle or quarantine (a revocation cannot be undone)."""
    _answer(ctx, alert_id, None, json_output)
