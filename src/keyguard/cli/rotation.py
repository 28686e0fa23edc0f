"""The delivery side of `keyguard keys create|rotate`: --deliver, --due, --reconcile.

Nothing here prints a key: a delivered key goes into its vault and only its metadata is shown.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer

from keyguard.cli.output import EXIT_DENIED, print_json, stderr, stdout
from keyguard.lifecycle import OPERATOR, KeySpec
from keyguard.rotation import Delivered, Reconciled, ScheduleReport
from keyguard.runtime import Runtime


def create(
    runtime: Runtime, spec: KeySpec, target: str, rotate_every: timedelta | None
) -> Delivered:
    service = runtime.rotation
    _report_reconciled(service.reconcile())
    return service.create_delivered(OPERATOR, spec, target, rotate_every=rotate_every)


def rotate(
    runtime: Runtime,
    key_id: str,
    target: str | None,
    *,
    grace: timedelta | None,
    rotate_every: timedelta | None,
) -> Delivered:
    service = runtime.rotation
    _report_reconciled(service.reconcile())
    return service.rotate_delivered(
        OPERATOR, key_id, target, grace=grace, rotate_every=rotate_every
    )


def is_delivered(runtime: Runtime, key_id: str) -> bool:
    """True when the key lives in a vault: rotating it must put the successor there too."""
    return runtime.rotation.delivery_of(key_id) is not None


def reconcile(runtime: Runtime, *, take_over: bool, json_output: bool) -> None:
    results = runtime.rotation.reconcile(take_over=take_over)
    if json_output:
        print_json({"reconciled": [_reconciled_json(r) for r in results]})
    elif not results:
        stdout.print("no interrupted delivery to reconcile")
    else:
        _report_reconciled(results, to_stdout=True)
    if any(r.outcome == "failed" for r in results):
        raise typer.Exit(EXIT_DENIED)


def run_due(runtime: Runtime, *, json_output: bool) -> None:
    report = runtime.scheduler.run_once()
    if json_output:
        print_json(_schedule_json(report))
    else:
        _report_reconciled(report.reconciled, to_stdout=True)
        for item in report.rotated:
            show(item, json_output=False)
        for key_id, error in report.failed:
            stderr.print(f"{key_id}: not rotated: {error}", markup=False)
        if not (report.rotated or report.failed):
            stdout.print("no key is due for rotation")
    if report.failed:
        raise typer.Exit(EXIT_DENIED)


def show(delivered: Delivered, *, json_output: bool) -> None:
    """Metadata only: the key itself went into the vault and is never printed."""
    if json_output:
        print_json(delivered_json(delivered))
        return
    view = delivered.key
    if delivered.replaced is None:
        stdout.print(
            f"Created {view.id} ({view.env}, expires {view.expires_at:%Y-%m-%d}) and delivered "
            f"it to {delivered.target}; it was not shown.",
            markup=False,
        )
        return
    old = delivered.replaced
    until = f"until {old.grace_until:%Y-%m-%d %H:%M}Z" if old.state == "rotating" else "no longer"
    stdout.print(
        f"Rotated {old.id} to {view.id}, delivered to {delivered.target}; {old.id} works {until}.",
        markup=False,
    )


def delivered_json(delivered: Delivered) -> dict[str, Any]:
    data = delivered.key.to_json()
    data["delivered_to"] = delivered.target
    if delivered.replaced is not None:
        data["replaced"] = {
            "id": delivered.replaced.id,
            "state": delivered.replaced.state,
            "grace_until": delivered.replaced.to_json()["grace_until"],
        }
    return data


def _schedule_json(report: ScheduleReport) -> dict[str, Any]:
    return {
        "reconciled": [_reconciled_json(r) for r in report.reconciled],
        "rotated": [delivered_json(d) for d in report.rotated],
        "failed": [{"id": key_id, "error": error} for key_id, error in report.failed],
    }


def _reconciled_json(result: Reconciled) -> dict[str, Any]:
    return {
        "intent": result.intent_id,
        "target": result.target,
        "new_key": result.new_key_id,
        "old_key": result.old_key_id,
        "outcome": result.outcome,
        "detail": result.detail,
    }


def _report_reconciled(results: list[Reconciled], *, to_stdout: bool = False) -> None:
    console = stdout if to_stdout else stderr
    for r in results:
        console.print(
            f"reconciled an interrupted delivery into {r.target} "
            f"(key {r.new_key_id}): {r.outcome.replace('_', ' ')}; {r.detail}",
            markup=False,
        )
