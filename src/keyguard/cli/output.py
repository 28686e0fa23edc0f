"""How the CLI prints results and errors; the one table of exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Column

from keyguard.errors import (
    AuthenticationFailed,
    ConfigurationError,
    IllegalTransition,
    InvalidInput,
    KeyguardError,
    NotFound,
    PermissionDenied,
    RateLimited,
)

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_USAGE = 2

# The one place where errors become exit codes: 2 for usage errors, 1 for denials.
EXIT_CODES: dict[type[KeyguardError], int] = {
    InvalidInput: EXIT_USAGE,
    NotFound: EXIT_USAGE,
    IllegalTransition: EXIT_USAGE,
    ConfigurationError: EXIT_USAGE,
    PermissionDenied: EXIT_DENIED,
    AuthenticationFailed: EXIT_DENIED,
    RateLimited: EXIT_DENIED,
}

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


def exit_code_for(error: KeyguardError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_DENIED


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    stderr.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn a KeyguardError into one line on stderr and its exit code; never a traceback."""
    try:
        yield
    except KeyguardError as error:
        fail(f"{error.message} [{error.code}]", exit_code_for(error))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def id_column(header: str, ids: Iterable[str]) -> Column:
    """A table column of identifiers, never cut or wrapped: people copy them into the next
    command (`keyguard keys revoke key_…`), so the other columns give way instead."""
    return Column(header, no_wrap=True, min_width=max((len(i) for i in ids), default=len(header)))
