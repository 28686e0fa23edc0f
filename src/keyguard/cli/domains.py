"""`keyguard domains …`: the sender domains a tenant may use, its internal recipients, and
whether queued mail of a revoked key is held."""

from __future__ import annotations

from typing import Annotated

import typer

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, fail, print_json, stdout
from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR

app = typer.Typer(help="Sender domains a tenant may send from.", no_args_is_help=True)
internal_app = typer.Typer(
    help="Addresses (or @domains) that test and dev mail really reaches.", no_args_is_help=True
)
app.add_typer(internal_app, name="internal")

Tenant = Annotated[str, typer.Option(help="The tenant.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def add(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="e.g. brand.example")],
    tenant: Tenant = DEFAULT_TENANT,
    json_output: JsonFlag = False,
) -> None:
    """Register a sender domain (a key's sender domains must also be registered)."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        added = runtime.mail.domains.add_domain(tenant, domain, OPERATOR.id)
    done = "registered" if added else "was already registered"
    _report(
        json_output,
        {"tenant": tenant, "domain": domain, "added": added},
        f"{domain} {done} for {tenant}",
    )


@app.command("list")
def list_(
    ctx: typer.Context, tenant: Tenant = DEFAULT_TENANT, json_output: JsonFlag = False
) -> None:
    """The tenant's sender domains."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        found = runtime.mail.domains.list_domains(tenant)
    _list(json_output, tenant, "domains", found)


@app.command()
def remove(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="A registered domain.")],
    tenant: Tenant = DEFAULT_TENANT,
    json_output: JsonFlag = False,
) -> None:
    """Stop accepting mail from this domain (queued mail is still delivered)."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        runtime.mail.domains.remove_domain(tenant, domain, OPERATOR.id)
    _report(
        json_output,
        {"tenant": tenant, "domain": domain, "removed": True},
        f"{domain} removed from {tenant}",
    )


@internal_app.command("add")
def internal_add(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="qa@brand.example or @brand.example")],
    tenant: Tenant = DEFAULT_TENANT,
    json_output: JsonFlag = False,
) -> None:
    """Let test and dev keys' mail to this address leave the sandbox."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        added = runtime.mail.domains.add_internal(tenant, address, OPERATOR.id)
    done = "added" if added else "was already"
    _report(
        json_output,
        {"tenant": tenant, "address": address, "added": added},
        f"{address} {done} on {tenant}'s internal list",
    )


@internal_app.command("list")
def internal_list(
    ctx: typer.Context, tenant: Tenant = DEFAULT_TENANT, json_output: JsonFlag = False
) -> None:
    """The tenant's internal recipients."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        found = runtime.mail.domains.list_internal(tenant)
    _list(json_output, tenant, "internal_recipients", found)


@internal_app.command("remove")
def internal_remove(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="An internal recipient.")],
    tenant: Tenant = DEFAULT_TENANT,
    json_output: JsonFlag = False,
) -> None:
    """Capture this address's test and dev mail in the sandbox again."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        runtime.mail.domains.remove_internal(tenant, address, OPERATOR.id)
    _report(
        json_output,
        {"tenant": tenant, "address": address, "removed": True},
        f"{address} removed from {tenant}'s internal list",
    )


@app.command("hold-revoked-mail")
def hold_revoked_mail(
    ctx: typer.Context,
    setting: Annotated[str | None, typer.Argument(help="on or off; omit it to show")] = None,
    tenant: Tenant = DEFAULT_TENANT,
    json_output: JsonFlag = False,
) -> None:
    """Hold (on, the default) or deliver (off) queued mail of keys revoked before delivery."""
    if setting not in (None, "on", "off"):
        fail("the setting is on or off")
    runtime = state(ctx).runtime
    with errors_as_exit():
        if setting is not None:
            runtime.mail.domains.set_hold_revoked_mail(tenant, setting == "on", OPERATOR.id)
        hold = runtime.mail.domains.holds_revoked_mail(tenant)
    _report(
        json_output,
        {"tenant": tenant, "hold_revoked_mail": hold},
        f"{tenant}: mail of revoked keys is {'held' if hold else 'delivered'}",
    )


def _report(json_output: bool, data: dict[str, object], text: str) -> None:
    if json_output:
        print_json(data)
    else:
        stdout.print(text, markup=False)


def _list(json_output: bool, tenant: str, name: str, values: list[str]) -> None:
    if json_output:
        print_json({"tenant": tenant, name: values})
    elif not values:
        stdout.print(f"no {name.replace('_', ' ')} for {tenant}", markup=False)
    else:
        for value in values:
            stdout.print(value, markup=False)
