"""`keyguard init`: data directory, schema, default tenant and a first admin key in a 0600 file.

On a vault backend (KEYGUARD_SECRETS_BACKEND=openbao, aws, file) it first bootstraps the
secrets: in dev mode it creates the first pepper version and the Transit or KMS key where the
credentials allow; in live mode it only checks, and for each missing thing prints one line
with the exact command that creates it, then exits 2 before touching the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from keyguard.cli.context import state
from keyguard.cli.output import EXIT_USAGE, errors_as_exit, print_json, stderr, stdout
from keyguard.cli.secretfile import write_secret_file
from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR, KeySpec, ensure_tenant
from keyguard.policy import ALL_SCOPES
from keyguard.settings import Settings
from keyguard.storage import migrate

if TYPE_CHECKING:
    from keyguard.secrets import Need

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
        needs = _bootstrap_secrets(settings)
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
        elif not if_needed and not json_output:
            stdout.print(f"already initialised; the first admin key is in {key_path}")
    result = {
        "data_dir": str(settings.data_dir),
        "database": runtime.engine.url.render_as_string(hide_password=True),
        "admin_key_file": str(key_path),
        "admin_key_id": created.view.id if created else None,
        "secrets": [_need_json(need) for need in needs],
    }
    if json_output:
        print_json(result)
        return
    for need in needs:
        if need.status == "created":
            stdout.print(f"Created {need.name}: {need.detail}", markup=False)
    if created is not None:
        stdout.print(f"Initialised Keyguard in {settings.data_dir}")
        stdout.print(f"First admin key {created.view.id} written to {key_path} (mode 0600)")
        stdout.print("Dashboard owner: keyguard users add YOU@EXAMPLE.COM --role owner")


def _bootstrap_secrets(settings: Settings) -> list[Need]:
    """Create (dev) or check (live) what the vault backend must hold; exit 2 if anything is
    missing, one line each, before the database is touched (so init can simply be re-run)."""
    if settings.secrets.backend == "env" and settings.secrets.resolved_wrapper == "local":
        return []  # nothing lives outside this machine: no hvac or boto3 to load
    from keyguard.secrets import bootstrap_backend

    needs = bootstrap_backend(settings.secrets, create=settings.mode == "dev")
    lacking = [need for need in needs if need.status == "missing"]
    if lacking:
        for need in lacking:
            stderr.print(f"error: {need.line}", markup=False)
        where = (
            "live mode creates nothing in the vault"
            if settings.mode == "live"
            else ("the credentials did not allow creating it")
        )
        stderr.print(
            f"error: {len(lacking)} thing(s) missing in the {settings.secrets.backend} secrets "
            f"backend ({where}); create them, then run `keyguard init` again",
            markup=False,
        )
        raise typer.Exit(EXIT_USAGE)
    return needs


def _need_json(need: Need) -> dict[str, Any]:
    return {"name": need.name, "status": need.status, "detail": need.detail}
