"""`keyguard users add|list|remove|reset`: the people who sign in to the dashboard at /ui/.

No password ever goes through argv: `add` and `reset` print a one-time set-up link (valid 72
hours) that the person opens to register a passkey or a password and authenticator app, or
with `--invite` send it by e-mail through Keyguard's mail outbox and print nothing secret.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, print_json, stdout

app = typer.Typer(help="People who sign in to the dashboard (/ui/).", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Email = Annotated[str, typer.Argument(help="The person's e-mail address (or user id).")]
Invite = Annotated[
    bool, typer.Option("--invite", help="E-mail the set-up link instead of printing it.")
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The dashboard's address, for the link (default: KEYGUARD_PUBLIC_URL, else "
        "http://localhost:8080).",
        envvar="KEYGUARD_DASHBOARD_URL",
    ),
]
DEFAULT_URL = "http://localhost:8080"


@app.command("add")
def add(
    ctx: typer.Context,
    email: Email,
    tenant: Annotated[str, typer.Option(help="The tenant the person joins.")] = "default",
    role: Annotated[str, typer.Option(help="owner, admin, developer or viewer.")] = "viewer",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    invite: Invite = False,
    url: BaseUrl = None,
    json_output: Json = False,
) -> None:
    """Give a person a role in a tenant; a new person gets a one-time set-up link."""
    from keyguard.lifecycle import OPERATOR

    runtime = state(ctx).runtime
    url = _base(runtime, url)
    link = _link(url, "{token}")
    with errors_as_exit():
        invitation = runtime.users.add(
            OPERATOR.id, email=email, tenant_id=tenant, role_name=role, name=name,
            invite_link=link if invite else None,
        )  # fmt: skip
    _show(invitation, url, invite, json_output)


@app.command("list")
def list_users(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's members.")] = None,
    json_output: Json = False,
) -> None:
    """The people, with their roles and sign-in factors."""
    with errors_as_exit():
        users = state(ctx).runtime.users.list(tenant)
    if json_output:
        print_json({"users": [u.to_json() for u in users]})
        return
    if not users:
        stdout.print("no users", markup=False)
        return
    from rich.table import Table

    table = Table("id", "email", "roles", "passkeys", "totp", "set up")
    for u in users:
        roles = ", ".join(f"{t}:{r}" for t, r in sorted(u.roles.items()))
        table.add_row(
            u.id, u.email, roles, str(u.passkeys), "yes" if u.totp else "no",
            "pending" if u.pending_setup else "yes",
        )  # fmt: skip
    stdout.print(table)


@app.command("remove")
def remove(
    ctx: typer.Context,
    email: Email,
    tenant: Annotated[
        str | None, typer.Option(help="Only from this tenant (default: every tenant).")
    ] = None,
    json_output: Json = False,
) -> None:
    """Take a person out of a tenant (or all); their sessions end at once."""
    from keyguard.lifecycle import OPERATOR

    with errors_as_exit():
        view = state(ctx).runtime.users.remove(OPERATOR.id, email, tenant_id=tenant)
    if json_output:
        print_json({"removed": view.to_json(), "tenant": tenant})
        return
    stdout.print(f"removed {view.email} from {tenant or 'every tenant'}", markup=False)


@app.command("reset")
def reset(
    ctx: typer.Context,
    email: Email,
    invite: Invite = False,
    url: BaseUrl = None,
    json_output: Json = False,
) -> None:
    """Forget a person's factors (lost device, suspected takeover); a new set-up link."""
    from keyguard.lifecycle import OPERATOR

    runtime = state(ctx).runtime
    url = _base(runtime, url)
    with errors_as_exit():
        invitation = runtime.users.reset(OPERATOR.id, email)
        if invite:
            runtime.users.send_setup(invitation, _link(url, invitation.token))
    _show(invitation, url, invite, json_output)


def announce_dashboard(runtime: Any, host: str, port: int, tls: bool) -> None:
    """The start-up lines of `keyguard serve`: where the dashboard is, and with no user yet,
    how to create the first owner. Loopback is shown as localhost: passkeys need a name."""
    import structlog

    log = structlog.get_logger("keyguard.serve")
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
    shown = f"[{shown}]" if ":" in shown else shown
    url = runtime.settings.public_url or f"{'https' if tls else 'http'}://{shown}:{port}"
    log.info(f"Dashboard: {url}/ui/", dashboard_url=f"{url}/ui/")
    if not runtime.users.list():
        log.info(
            "No dashboard user yet: create the first owner with "
            f"`keyguard users add YOU@EXAMPLE.COM --role owner --url {url}` and open its link",
            first_owner=f"keyguard users add YOU@EXAMPLE.COM --role owner --url {url}",
        )


def _base(runtime: Any, url: str | None) -> str:
    """--url, else the configured public URL, else `make run`'s address."""
    return url or runtime.settings.public_url or DEFAULT_URL


def _link(url: str, token: str) -> str:
    return f"{url.rstrip('/')}/ui/setup?token={token}"


def _show(invitation: Any, url: str, invite: bool, json_output: bool) -> None:
    user = invitation.user
    link = _link(url, invitation.token) if invitation.token and not invite else None
    if json_output:
        data = {"user": user.to_json(), "expires_at": invitation.expires_at.isoformat()}
        if link:
            data["setup_url"] = link  # shown once; only its digest is stored
        data["invited"] = bool(invite and invitation.token)
        print_json(data)
        return
    stdout.print(
        f"{user.email}: {', '.join(f'{t}:{r}' for t, r in user.roles.items())}", markup=False
    )
    if link:
        stdout.print(
            f"One-time set-up link (valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC; "
            f"shown once, give it to {user.email} only):\n{link}",
            markup=False,
        )
    elif invite and invitation.token:
        stdout.print(f"set-up link e-mailed to {user.email}", markup=False)
    else:
        stdout.print("already set up: signs in as before", markup=False)
