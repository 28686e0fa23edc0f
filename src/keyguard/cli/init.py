"""`keyguard init`: data directory, schema, default tenant and a first admin key in a 0600 file."""

from __future__ import annotations

from typing import Annotated

import typer

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, print_json, stdout
from keyguard.cli.secretfile import write_secret_file
from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR, KeySpec, ensure_tenant
from keyguard.policy import ALL_SCOPES
from keyguard.storage import migrate

ADMIN_KEY_FILE = "admin.key"


def init(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant of the first admin key.")] = DEFAULT_TENANT,
    if_needed: Annotated[
        bool, typer.Option("--if-needed", help="Do nothing when already initialised.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create the data directory, the database, the default tenant and a first admin key."""
    cli = state(ctx)
    settings = cli.settings
    key_path = settings.data_dir / ADMIN_KEY_FILE
    with errors_as_exit():
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        runtime = cli.runtime
        migrate.upgrade(runtime.engine)
        with runtime.sessions.begin() as session:
            ensure_tenant(session, runtime.clock, tenant, OPERATOR.id)
        created = None
        if not key_path.exists():
            with write_secret_file(key_path) as handle:
                created = runtime.keys.create(
                    OPERATOR,
                    KeySpec(tenant_id=tenant, env="live", scopes=ALL_SCOPES, name="admin"),
                )
                handle.write(created.key.reveal() + "\n")
        elif not if_needed:
            stdout.print(f"already initialised; the first admin key is in {key_path}")
    result = {
        "data_dir": str(settings.data_dir),
        "database": runtime.engine.url.render_as_string(hide_password=True),
        "admin_key_file": str(key_path),
        "admin_key_id": created.view.id if created else None,
    }
    if json_output:
        print_json(result)
    elif created is not None:
        stdout.print(f"Initialised Keyguard in {settings.data_dir}")
        stdout.print(f"First admin key {created.view.id} written to {key_path} (mode 0600)")
        stdout.print("Dashboard owner: keyguard users add YOU@EXAMPLE.COM --role owner")
