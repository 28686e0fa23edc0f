"""`keyguard worker`: the delivery worker alone (serve runs one too, unless told not to)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated

import typer

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, stdout
from keyguard.errors import ConfigurationError

if TYPE_CHECKING:
    from keyguard.mail import DeliveryWorker
    from keyguard.runtime import Runtime


def worker(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
) -> None:
    """Deliver queued mail to KEYGUARD_SMTP_RELAY until SIGINT or SIGTERM."""
    from keyguard.mail import DeliveryWorker
    from keyguard.runtime import freeze_start_up_heap, relay_from_settings, worker_config
    from keyguard.smtp import MailTasks

    runtime = state(ctx).runtime
    with errors_as_exit():
        relay = relay_from_settings(runtime.settings)
        if relay is None:
            raise ConfigurationError("set KEYGUARD_SMTP_RELAY (smtp://host:port or smtps://…)")
        if once:
            config = worker_config(runtime.settings)
            delivery = DeliveryWorker(runtime.sessions, runtime.clock, relay, config=config)
            handled = asyncio.run(_drain(delivery))
            stdout.print(f"handled {handled} messages", markup=False)
            return
        tasks = MailTasks(runtime, deliver=True, submit=False)
        freeze_start_up_heap()
        asyncio.run(
            _with_rotation(
                runtime,
                tasks.run_until_signalled(
                    lambda: stdout.print(f"mail worker delivering to {relay.display}", markup=False)
                ),
            )
        )


async def _with_rotation(runtime: Runtime, work: Awaitable[None]) -> None:
    """Scheduled key rotation into vaults (docs/rotation.md) runs beside the mail worker."""
    from keyguard.rotation import scheduled_rotation
    from keyguard.runtime import housekeeping

    async with housekeeping(runtime, maintenance=True), scheduled_rotation(runtime.scheduler):
        await work


async def _drain(delivery: DeliveryWorker) -> int:
    total = 0
    try:
        while handled := await delivery.run_once():
            total += handled
    finally:
        await delivery.close()
    return total
