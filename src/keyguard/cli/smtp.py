"""`keyguard smtp`: the SMTP submission server (AUTH username `apikey`, password a key)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, stdout


def smtp(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option(help="Port (default KEYGUARD_SMTP_PORT, 2525; 0 = any free).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address (default KEYGUARD_SMTP_HOST).")] = None,
) -> None:
    """Accept mail from clients that authenticate with a key; runs until SIGINT or SIGTERM."""
    from keyguard.logging import configure_logging
    from keyguard.runtime import freeze_start_up_heap, housekeeping
    from keyguard.smtp import MailTasks

    # Every log line a JSON object, as with serve (aiosmtpd's stdlib logs and warnings too).
    configure_logging()
    logging.captureWarnings(True)

    runtime = state(ctx).runtime
    tasks = MailTasks(runtime, deliver=False, submit=True, smtp_host=host, smtp_port=port)

    def ready() -> None:
        # Tests and scripts read this line to learn the port when --port 0 was given.
        stdout.print(f"smtp submission listening on port {tasks.smtp_port}", markup=False)

    async def run() -> None:
        async with housekeeping(runtime):  # follows revocations made by other processes
            await tasks.run_until_signalled(ready)

    freeze_start_up_heap()
    with errors_as_exit():
        asyncio.run(run())
