"""`keyguard webhooks`: a tenant's webhook endpoints and security contacts, as the operator.

The same service as /v1/webhooks. A signing secret is printed once, by `add` and
`rotate-secret`; nothing else shows it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, print_json, stdout
from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR
from keyguard.webhooks import EVENT_TYPES, CreatedEndpoint, DeliveryView, EndpointView

app = typer.Typer(help="Webhook endpoints, their delivery logs, and security contacts.")
contacts = typer.Typer(help="The tenant's security contacts (they receive events by e-mail).")
app.add_typer(contacts, name="contacts")

Tenant = Annotated[str, typer.Option(help="The tenant.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
WebhookId = Annotated[str, typer.Argument(help="The endpoint's id (whk_…).")]


@app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="https URL (http only to loopback).")],
    event: Annotated[
        list[str],
        typer.Option("--event", "-e", help=f"Event type (repeat): {', '.join(EVENT_TYPES)}."),
    ],
    description: Annotated[str | None, typer.Option(help="A note for people.")] = None,
    tenant: Tenant = DEFAULT_TENANT,
    json_output: Json = False,
) -> None:
    """Add an endpoint and print its signing secret (shown only this once)."""
    with errors_as_exit():
        created = state(ctx).runtime.webhooks.create(
            OPERATOR, tenant, url, event, description=description
        )
    _print_secret(created, json_output)


@app.command("list")
def list_(ctx: typer.Context, tenant: Tenant = DEFAULT_TENANT, json_output: Json = False) -> None:
    """List the tenant's endpoints."""
    with errors_as_exit():
        views = state(ctx).runtime.webhooks.endpoints(OPERATOR, tenant)
    if json_output:
        print_json([_endpoint_json(v) for v in views])
        return
    table = Table("id", "url", "events", "enabled")
    for view in views:
        table.add_row(
            view.id, view.url, ", ".join(view.event_types), "yes" if view.enabled else "no"
        )
    stdout.print(table)


@app.command("remove")
def remove(
    ctx: typer.Context,
    webhook_id: WebhookId,
    tenant: Tenant = DEFAULT_TENANT,
    json_output: Json = False,
) -> None:
    """Remove an endpoint with its queued messages, delivery log and secret."""
    with errors_as_exit():
        state(ctx).runtime.webhooks.remove(OPERATOR, tenant, webhook_id)
    if json_output:
        print_json({"removed": webhook_id})
        return
    stdout.print(f"removed {webhook_id}", markup=False)


@app.command("rotate-secret")
def rotate_secret(
    ctx: typer.Context,
    webhook_id: WebhookId,
    tenant: Tenant = DEFAULT_TENANT,
    json_output: Json = False,
) -> None:
    """Replace the endpoint's signing secret and print the new one (shown only this once)."""
    with errors_as_exit():
        rotated = state(ctx).runtime.webhooks.rotate_secret(OPERATOR, tenant, webhook_id)
    _print_secret(rotated, json_output)


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    webhook_id: WebhookId,
    tenant: Tenant = DEFAULT_TENANT,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    json_output: Json = False,
) -> None:
    """The endpoint's latest messages and every attempt to deliver them."""
    with errors_as_exit():
        views = state(ctx).runtime.webhooks.deliveries(OPERATOR, tenant, webhook_id, limit=limit)
    if json_output:
        print_json([_delivery_json(v) for v in views])
        return
    table = Table("message", "event", "state", "attempt", "at", "status", "ms", "error")
    for view in views:
        for attempt in view.log or ():
            table.add_row(
                view.id, view.event_type, view.state, str(attempt.attempt), attempt.at.isoformat(),
                str(attempt.status_code or "-"), str(attempt.latency_ms), attempt.error or "",
            )  # fmt: skip
        if not view.log:
            table.add_row(view.id, view.event_type, view.state, "0", "", "", "", "")
    stdout.print(table)


@contacts.command("add")
def contacts_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address.")],
    tenant: Tenant = DEFAULT_TENANT,
    json_output: Json = False,
) -> None:
    """Add a security contact."""
    with errors_as_exit():
        contact = state(ctx).runtime.webhooks.add_contact(OPERATOR, tenant, email)
    if json_output:
        print_json({"id": contact.id, "email": contact.email})
        return
    stdout.print(f"{contact.id} {contact.email}", markup=False)


@contacts.command("list")
def contacts_list(
    ctx: typer.Context, tenant: Tenant = DEFAULT_TENANT, json_output: Json = False
) -> None:
    """List the tenant's security contacts."""
    with errors_as_exit():
        found = state(ctx).runtime.webhooks.contacts(OPERATOR, tenant)
    if json_output:
        print_json(
            [{"id": c.id, "email": c.email, "created_at": c.created_at.isoformat()} for c in found]
        )
        return
    for contact in found:
        stdout.print(f"{contact.id} {contact.email}", markup=False)


@contacts.command("remove")
def contacts_remove(
    ctx: typer.Context,
    contact: Annotated[str, typer.Argument(help="The contact's id or address.")],
    tenant: Tenant = DEFAULT_TENANT,
    json_output: Json = False,
) -> None:
    """Remove a security contact."""
    with errors_as_exit():
        state(ctx).runtime.webhooks.remove_contact(OPERATOR, tenant, contact.strip().lower())
    if json_output:
        print_json({"removed": contact})
        return
    stdout.print(f"removed {contact}", markup=False)


def _print_secret(created: CreatedEndpoint, json_output: bool) -> None:
    secret = created.secret.reveal()
    if json_output:
        print_json({"webhook": _endpoint_json(created.view), "secret": secret})
        return
    stdout.print(f"{created.view.id} {created.view.url}", markup=False)
    stdout.print(f"signing secret (shown once): {secret}", markup=False)


def _endpoint_json(view: EndpointView) -> dict[str, object]:
    return {
        "id": view.id,
        "url": view.url,
        "event_types": list(view.event_types),
        "description": view.description,
        "enabled": view.enabled,
        "created_at": view.created_at.isoformat(),
        "secret_rotated_at": view.secret_rotated_at.isoformat(),
    }


def _delivery_json(view: DeliveryView) -> dict[str, object]:
    return {
        "id": view.id,
        "event_type": view.event_type,
        "state": view.state,
        "attempts": view.attempts,
        "created_at": view.created_at.isoformat(),
        "next_attempt_at": view.next_attempt_at.isoformat() if view.next_attempt_at else None,
        "log": [
            {
                "attempt": a.attempt,
                "at": a.at.isoformat(),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in view.log
        ],
    }
