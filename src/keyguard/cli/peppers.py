"""The pepper side of `keyguard secrets`: rotate-pepper, rotate-pepper --rehash, peppers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.table import Table

from keyguard.cli.output import EXIT_USAGE, print_json, stderr, stdout
from keyguard.runtime import Runtime
from keyguard.secrets import SecretsSettings, build_provider
from keyguard.secrets import pepper_rotation as rotation
from keyguard.settings import load_settings


def rotate(settings: SecretsSettings, label: str | None, *, json_output: bool) -> None:
    """Write a new current version, or (env backend) say how to, since env is read-only."""
    if settings.backend == "env":
        _env_instructions(json_output)
        raise typer.Exit(EXIT_USAGE)
    provider = build_provider(settings)
    new = rotation.rotate_pepper(provider, settings.pepper_secret, label=label)
    if json_output:
        print_json({"rotated": True, "label": new.label, "version_id": new.version_id})
        return
    stdout.print(
        f"Pepper {new.label} (version {new.version_id} of secret {settings.pepper_secret!r}) "
        "is current. Restart every Keyguard process so that all of them know it; keys move "
        "to it as they are used. Then `keyguard secrets rotate-pepper --rehash` reports what "
        "still uses older versions and retires the ones no live key uses.",
        markup=False,
    )


def _env_instructions(json_output: bool) -> None:
    steps = [
        "generate a pepper: python -c 'import secrets; print(secrets.token_hex(32))'",
        "add the current one to KEYGUARD_PEPPER_PREVIOUS as '<its version>:<its value>' "
        "(comma-separated with any already there)",
        "set KEYGUARD_PEPPER to the new pepper and KEYGUARD_PEPPER_VERSION to a new label "
        "(v2 after v1 …)",
        "restart every Keyguard process; keys move to the new version as they are used",
        "`keyguard secrets peppers` shows what each version still hashes; remove a version "
        "from KEYGUARD_PEPPER_PREVIOUS once no live key uses it",
    ]
    if json_output:
        print_json({"rotated": False, "backend": "env", "instructions": steps})
        return
    stderr.print(
        "The env secrets backend is read-only: Keyguard cannot write a new pepper version. "
        "To rotate by hand:",
        markup=False,
    )
    for number, step in enumerate(steps, start=1):
        stderr.print(f"  {number}. {step}", markup=False)


def finish_rotation(ctx: typer.Context, settings: SecretsSettings, *, json_output: bool) -> None:
    """Re-hash delivered keys from their vaults, report, retire versions no live key uses."""
    with _runtime(ctx) as runtime:
        rehashed = runtime.rotation.rehash_delivered()
        versions, usages = _usage(runtime, settings)
        if settings.backend == "env":
            retired: list[str] = []
            retirable = [u.label for u in usages if u.retirable]
        else:
            provider = build_provider(settings)
            retired = rotation.retire_unused(provider, settings.pepper_secret, versions, usages)
            retirable = []
    remaining = sum(u.live_keys for u in usages if not u.current)
    if json_output:
        print_json(
            {
                "rehashed": rehashed,
                "remaining": remaining,
                "retired": retired,
                "retirable": retirable,
                "versions": [_usage_json(u, u.label in retired) for u in usages],
            }
        )
        return
    stdout.print(f"re-hashed {rehashed} delivered key(s) read back from their vaults")
    _table(usages, retired)
    if retired:
        stdout.print(f"retired: {', '.join(retired)}", markup=False)
    if retirable:
        stdout.print(
            f"no live key uses {', '.join(retirable)}: remove it from KEYGUARD_PEPPER_PREVIOUS",
            markup=False,
        )
    stdout.print(
        f"{remaining} live key(s) are still on older versions: they move when next used",
        markup=False,
    )


def show(ctx: typer.Context, settings: SecretsSettings, *, json_output: bool) -> None:
    with _runtime(ctx) as runtime:
        _, usages = _usage(runtime, settings)
    if json_output:
        print_json({"versions": [_usage_json(u, False) for u in usages]})
        return
    _table(usages, [])


def _usage(
    runtime: Runtime, settings: SecretsSettings
) -> tuple[list[rotation.PepperVersion], list[rotation.PepperUsage]]:
    if settings.backend == "env":
        versions = rotation.ring_versions(runtime.peppers)
    else:
        versions = rotation.pepper_versions(build_provider(settings), settings.pepper_secret)
    with runtime.sessions() as session:
        counts = rotation.key_counts(session, runtime.clock())
    return versions, rotation.usage(versions, counts)


def _usage_json(item: rotation.PepperUsage, retired: bool) -> dict[str, Any]:
    return {
        "label": item.label,
        "current": item.current,
        "in_provider": item.in_provider and not retired,
        "live_keys": item.live_keys,
        "dead_keys": item.dead_keys,
        "retired": retired,
    }


def _table(usages: list[rotation.PepperUsage], retired: list[str]) -> None:
    table = Table("version", "status", "live keys", "dead keys")
    for item in usages:
        if item.label in retired:
            status = "retired"
        elif item.current:
            status = "current"
        elif not item.in_provider:
            status = "unknown (not in the provider: its keys cannot verify)"
        else:
            status = "older"
        table.add_row(item.label, status, str(item.live_keys), str(item.dead_keys))
    stdout.print(table)


@contextmanager
def _runtime(ctx: typer.Context) -> Iterator[Runtime]:
    """The CLI's runtime, or (sub-app run on its own) one built here and closed after."""
    root = ctx.find_root().obj
    shared = getattr(root, "runtime", None)
    if isinstance(shared, Runtime):
        yield shared
        return
    runtime = Runtime.build(load_settings())
    try:
        yield runtime
    finally:
        runtime.close()
