"""`keyguard keys …`: the key lifecycle from the command line, as the local operator."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keyguard.cli import rotation, tenant_response
from keyguard.cli.context import state
from keyguard.cli.output import EXIT_DENIED, errors_as_exit, fail, id_column, print_json, stdout
from keyguard.cli.secretfile import write_secret_file
from keyguard.keys import MAX_KEY_LENGTH
from keyguard.lifecycle import DEFAULT_GRACE, DEFAULT_TENANT, OPERATOR, CreatedKey, KeySpec, KeyView
from keyguard.policy import build_restrictions, parse_duration
from keyguard.rotation import rotate_handed_out
from keyguard.verification import Denied

app = typer.Typer(help="Create, inspect, rotate and revoke API keys.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KeyId = Annotated[str, typer.Argument(help="The key's public id (key_…).")]
Deliver = Annotated[
    str | None,
    typer.Option(
        metavar="TARGET",
        help="Write the key into a vault secret as a new version, never showing it: "
        "openbao:<mount>/<path>\\[#field] or aws:<secret-id>\\[#field] (docs/rotation.md).",
    ),
]
RotateEvery = Annotated[
    str | None,
    typer.Option(help="With --deliver: rotate the key in its vault once it is this old (30d)."),
]


def _split(values: list[str] | None) -> list[str]:
    """Accept both `--scope a --scope b` and `--scope a,b`."""
    return [part for value in values or [] for part in value.split(",") if part.strip()]


@app.command()
def create(
    ctx: typer.Context,
    env: Annotated[str, typer.Option(help="live, test or dev.")],
    scope: Annotated[list[str], typer.Option(help="Scope to grant (repeatable).")],
    tenant: Annotated[str, typer.Option(help="Owner tenant.")] = DEFAULT_TENANT,
    allow_ip: Annotated[list[str] | None, typer.Option(help="Allowed CIDR (repeatable).")] = None,
    sender_domain: Annotated[list[str] | None, typer.Option(help="Allowed sender domain.")] = None,
    recipient: Annotated[
        list[str] | None, typer.Option(help="Allowed recipient or @domain.")
    ] = None,
    daily_quota: Annotated[int | None, typer.Option(help="Recipients per day.")] = None,
    rate_limit: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    expires_in: Annotated[str | None, typer.Option(help="Lifetime, e.g. 90d.")] = None,
    name: Annotated[str | None, typer.Option(help="A label for people.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the key to this new 0600 file.")] = None,
    deliver: Deliver = None,
    rotate_every: RotateEvery = None,
    json_output: JsonFlag = False,
) -> None:
    """Create a key. The key is shown once (or written to --out or --deliver) and never again."""
    if deliver is not None and out is not None:
        fail("--deliver and --out exclude each other")
    if rotate_every is not None and deliver is None:
        fail("--rotate-every needs --deliver: only a delivered key can be rotated on a schedule")
    runtime = state(ctx).runtime
    with errors_as_exit():
        spec = KeySpec(
            tenant_id=tenant,
            env=env,
            scopes=_split(scope),
            restrictions=build_restrictions(
                allowed_cidrs=_split(allow_ip),
                sender_domains=_split(sender_domain),
                recipients=_split(recipient),
                daily_quota=daily_quota,
                rate_limit_per_minute=rate_limit,
            ),
            expires_in=parse_duration(expires_in, field="expires_in") if expires_in else None,
            name=name,
        )
        if deliver is not None:
            every = parse_duration(rotate_every, field="rotate_every") if rotate_every else None
            delivered = rotation.create(runtime, spec, deliver, every)
            rotation.show(delivered, json_output=json_output)
            return
        if out is not None:
            with write_secret_file(out) as handle:
                created = runtime.keys.create(OPERATOR, spec)
                handle.write(created.key.reveal() + "\n")
        else:
            created = runtime.keys.create(OPERATOR, spec)
    _show_created(created, out, json_output)


def _show_created(created: CreatedKey, out: Path | None, json_output: bool) -> None:
    if json_output:
        data = created.view.to_json()
        if out is None:
            data["key"] = created.key.reveal()  # the one-time display
        else:
            data["key_file"] = str(out)
        print_json(data)
        return
    stdout.print(
        f"Created {created.view.id} ({created.view.env}, "
        f"expires {created.view.expires_at:%Y-%m-%d})"
    )
    if out is None:
        stdout.print("Copy the key now; it will not be shown again:")
        stdout.print(created.key.reveal(), markup=False)
    else:
        stdout.print(f"The key was written to {out} (mode 0600).")


@app.command("list")
def list_keys(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    after: Annotated[
        str | None, typer.Option(help="Cursor: the last id of the previous page.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """List keys (metadata only)."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        views = runtime.keys.list(OPERATOR, tenant, limit=limit, after=after)
    if json_output:
        print_json(
            {
                "keys": [v.to_json() for v in views],
                "next": views[-1].id if len(views) == limit else None,
            }
        )
        return
    table = Table(id_column("id", (v.id for v in views)), "prefix", "env", "state", "scopes",
                  "expires", "last used")  # fmt: skip
    for v in views:
        table.add_row(
            v.id,
            v.display_prefix + "…",
            v.env,
            v.state,
            ", ".join(v.scopes),
            f"{v.expires_at:%Y-%m-%d}",
            f"{v.last_used_at:%Y-%m-%d %H:%M}" if v.last_used_at else "never",
        )
    stdout.print(table)


@app.command()
def show(ctx: typer.Context, key_id: KeyId, json_output: JsonFlag = False) -> None:
    """Show one key's metadata."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.keys.show(OPERATOR, key_id)
    _print_view(view, json_output)


def _print_view(view: KeyView, json_output: bool) -> None:
    if json_output:
        print_json(view.to_json())
        return
    for field, value in view.to_json().items():
        stdout.print(f"{field:>14}  {value}", markup=False)


@app.command()
def rotate(
    ctx: typer.Context,
    key_id: Annotated[
        str | None, typer.Argument(help="The key's public id (key_…); not with --due.")
    ] = None,
    grace: Annotated[
        str | None,
        typer.Option(help="How long the old key keeps working (default 24h, or its delivery's)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the new key to this new 0600 file.")
    ] = None,
    deliver: Deliver = None,
    rotate_every: RotateEvery = None,
    due: Annotated[
        bool, typer.Option("--due", help="Rotate every delivered key its policy says is due.")
    ] = False,
    reconcile: Annotated[
        bool, typer.Option("--reconcile", help="Finish or undo interrupted deliveries only.")
    ] = False,
    take_over: Annotated[
        bool,
        typer.Option("--take-over", help="With --reconcile: do not wait for leases to run out."),
    ] = False,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant-wide: rotate the active keys the filters choose.")
    ] = None,
    all_keys: tenant_response.AllFlag = False,
    env: tenant_response.EnvFilter = None,
    created_before: tenant_response.CreatedBefore = None,
    scope: tenant_response.ScopeFilter = None,
    dry_run: tenant_response.DryRun = False,
    yes: tenant_response.Yes = False,
    json_output: JsonFlag = False,
) -> None:
    """Issue a successor key; the old one works until the grace window ends.

    A key delivered into a vault is rotated there, staged, and the new key is not shown.
    With --tenant, every active key the filters choose, each as it was issued (listed first).
    """
    if tenant is not None:
        if key_id is not None or due or reconcile:
            fail("--tenant excludes a key id, --due and --reconcile")
        runtime = state(ctx).runtime
        with errors_as_exit():
            chosen = tenant_response.selector(
                runtime, tenant, every=all_keys, env=env, created_before=created_before, scope=scope
            )
            bulk_grace = parse_duration(grace, field="grace") if grace else DEFAULT_GRACE
            tenant_response.rotate(
                runtime, chosen, grace=bulk_grace, dry_run=dry_run, yes=yes, json=json_output
            )
        return
    if (key_id is None) != (due or reconcile):
        fail("give a key id, or --due, or --reconcile")
    if deliver is not None and out is not None:
        fail("--deliver and --out exclude each other")
    runtime = state(ctx).runtime
    with errors_as_exit():
        if due or reconcile:
            if due:
                rotation.run_due(runtime, json_output=json_output)
            else:
                rotation.reconcile(runtime, take_over=take_over, json_output=json_output)
            return
        assert key_id is not None  # noqa: S101 - checked above
        window = parse_duration(grace, field="grace") if grace else None
        if deliver is not None or (out is None and rotation.is_delivered(runtime, key_id)):
            every = parse_duration(rotate_every, field="rotate_every") if rotate_every else None
            delivered = rotation.rotate(runtime, key_id, deliver, grace=window, rotate_every=every)
            rotation.show(delivered, json_output=json_output)
            return
        window = window if window is not None else DEFAULT_GRACE
        if out is not None:
            with write_secret_file(out) as handle:
                created = rotate_handed_out(
                    runtime.keys, runtime.sessions, OPERATOR, key_id, window
                )
                handle.write(created.key.reveal() + "\n")
        else:
            created = rotate_handed_out(runtime.keys, runtime.sessions, OPERATOR, key_id, window)
    _show_created(created, out, json_output)


@app.command()
def revoke(
    ctx: typer.Context,
    key_id: Annotated[
        str | None, typer.Argument(help="The key's public id (key_…); not with --tenant.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant-wide: revoke the keys the filters choose.")
    ] = None,
    all_keys: tenant_response.AllFlag = False,
    env: tenant_response.EnvFilter = None,
    created_before: tenant_response.CreatedBefore = None,
    scope: tenant_response.ScopeFilter = None,
    dry_run: tenant_response.DryRun = False,
    yes: tenant_response.Yes = False,
    json_output: JsonFlag = False,
) -> None:
    """Revoke a key at once; with --tenant, every key the filters choose (listed first)."""
    if (key_id is None) == (tenant is None):
        fail("give a key id, or --tenant with --all, --env, --created-before or --scope")
    runtime = state(ctx).runtime
    with errors_as_exit():
        if tenant is not None:
            chosen = tenant_response.selector(
                runtime, tenant, every=all_keys, env=env, created_before=created_before, scope=scope
            )
            tenant_response.revoke(
                runtime, chosen, reason=reason, dry_run=dry_run, yes=yes, json=json_output
            )
            return
        assert key_id is not None  # noqa: S101 - checked above
        view = runtime.keys.revoke(OPERATOR, key_id, reason)
    _print_view(view, json_output)


@app.command()
def suspend(
    ctx: typer.Context,
    key_id: KeyId,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Suspend a key until it is resumed."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.keys.suspend(OPERATOR, key_id, reason)
    _print_view(view, json_output)


@app.command()
def resume(ctx: typer.Context, key_id: KeyId, json_output: JsonFlag = False) -> None:
    """Resume a suspended key."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        view = runtime.keys.resume(OPERATOR, key_id)
    _print_view(view, json_output)


@app.command()
def verify(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option(help="Scope the key must hold.")] = None,
    ip: Annotated[
        str | None, typer.Option(help="Client IP to check against the allowlist.")
    ] = None,
    env: Annotated[str | None, typer.Option(help="Environment the key must belong to.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Verify a key read from stdin (never from the command line, where `ps` would show it)."""
    presented = sys.stdin.read(MAX_KEY_LENGTH * 4).strip()
    if not presented:
        fail("no key on stdin: pipe it in, e.g. `keyguard keys verify < key.txt`")
    runtime = state(ctx).runtime
    with errors_as_exit():
        # The same gate as HTTP and SMTP: a key over its request rate is refused here too.
        decision = runtime.gate.admit_blocking(presented, scope=scope, ip=ip, env=env)
    result: dict[str, object] = {"valid": decision.allowed, "outcome": decision.outcome}
    if isinstance(decision, Denied) and decision.problem_code != decision.outcome:
        result["code"] = decision.problem_code
    if decision.key is not None and decision.outcome != "invalid_key":
        result["key"] = decision.key.public()
    if json_output:
        print_json(result)
    else:
        stdout.print(f"{decision.outcome}" + (f" ({decision.key.id})" if decision.key else ""))
    if not decision.allowed:
        raise typer.Exit(EXIT_DENIED)
