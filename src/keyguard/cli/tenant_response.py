"""`keyguard keys revoke|rotate --tenant T --all|--env|--created-before|--scope [--dry-run]`.

The list of keys is always printed first; without --dry-run the command then asks before
doing it (or goes on with --yes, for scripts).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from keyguard.cli.output import fail, id_column, print_json, stderr, stdout
from keyguard.errors import InvalidInput
from keyguard.incidents import BulkResult, Selector
from keyguard.lifecycle import OPERATOR
from keyguard.policy import parse_duration
from keyguard.runtime import Runtime

AllFlag = Annotated[bool, typer.Option("--all", help="With --tenant: every key of the tenant.")]
EnvFilter = Annotated[str | None, typer.Option("--env", help="With --tenant: only this env.")]
CreatedBefore = Annotated[
    str | None,
    typer.Option(
        "--created-before",
        metavar="DATE",
        help="With --tenant: keys created before DATE (2026-01-31, or an age such as 90d).",
    ),
]
ScopeFilter = Annotated[
    str | None, typer.Option("--scope", help="With --tenant: keys holding this scope.")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="List what would be done; do nothing.")]
Yes = Annotated[bool, typer.Option("--yes", help="Do not ask before acting on every key listed.")]


def selector(
    runtime: Runtime,
    tenant: str,
    *,
    every: bool,
    env: str | None,
    created_before: str | None,
    scope: str | None,
) -> Selector:
    return Selector(
        tenant_id=tenant,
        all=every,
        env=env,
        created_before=_instant(runtime, created_before) if created_before else None,
        scope=scope,
    )


def _instant(runtime: Runtime, text: str) -> datetime:
    """A date or a datetime (UTC unless it says otherwise), or an age counted back from now."""
    if text[-1:].isalpha():
        return runtime.clock() - parse_duration(text, field="created_before")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--created-before: {text!r} is neither a date nor an age", field="created_before"
        ) from None
    if len(text) == 10:
        value = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def revoke(
    runtime: Runtime, chosen: Selector, *, reason: str | None, dry_run: bool, yes: bool, json: bool
) -> None:
    service = runtime.tenant_response
    plan = service.revoke(OPERATOR, chosen, reason=reason, dry_run=True)
    if dry_run or not plan.keys:
        show(plan, json, verb="would revoke")
        return
    _confirm(plan, "revoke", yes=yes, json=json)
    show(service.revoke(OPERATOR, chosen, reason=reason, dry_run=False), json, verb="revoked")


def rotate(
    runtime: Runtime, chosen: Selector, *, grace: timedelta, dry_run: bool, yes: bool, json: bool
) -> None:
    service = runtime.tenant_response
    plan = service.rotate(OPERATOR, chosen, grace=grace, dry_run=True)
    if dry_run or not plan.keys:
        show(plan, json, verb="would rotate")
        return
    _confirm(plan, "rotate", yes=yes, json=json)
    done = service.rotate(OPERATOR, chosen, grace=grace, dry_run=False)
    show(done, json, verb="rotated")
    if any(p.error for p in done.keys):
        raise typer.Exit(1)


def _confirm(plan: BulkResult, verb: str, *, yes: bool, json: bool) -> None:
    if yes:
        return
    if json:
        fail(f"{len(plan.keys)} key(s) would {verb}: add --yes, or list them with --dry-run")
    show(plan, False, verb=f"would {verb}", to=stderr)
    if not typer.confirm(f"{verb.capitalize()} these {len(plan.keys)} key(s)?", err=True):
        fail("nothing done", 1)


def show(result: BulkResult, json: bool, *, verb: str, to: Console | None = None) -> None:
    if json:
        print_json(result.to_json())
        return
    console = to or stdout
    ids = id_column("id", (p.key.id for p in result.keys))
    table = Table(ids, "env", "state", "name", "scopes", "action", "detail")
    for p in result.keys:
        detail = p.error or p.target or (p.successor_id or "")
        table.add_row(
            p.key.id,
            p.key.env,
            p.key.state,
            p.key.name or "",
            ", ".join(p.key.scopes),
            p.action,
            detail,
        )
    console.print(f"{verb} {len(result.keys)} key(s) of tenant {result.selector.tenant_id}:")
    console.print(table)
    for p in result.keys:
        if p.successor_key is not None:  # the one-time display of handed-out successors
            stdout.print(f"{p.successor_id}: {p.successor_key}", markup=False)
