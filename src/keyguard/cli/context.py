"""The CLI's shared state: settings parsed once in the root callback, the runtime built lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from keyguard.settings import Settings

if TYPE_CHECKING:  # the runtime pulls in the whole service stack; commands that need it
    from keyguard.runtime import Runtime  # import it on first use (see `runtime`)


@dataclass
class CliState:
    settings: Settings
    _runtime: Runtime | None = field(default=None)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from keyguard.runtime import Runtime

            self._runtime = Runtime.build(self.settings)
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    assert isinstance(root.obj, CliState)  # noqa: S101 - set by the root callback
    return root.obj
