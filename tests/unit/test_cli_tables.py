"""Identifiers in the CLI's tables stay whole when the terminal is narrow."""

import io

from rich.console import Console
from rich.table import Table

from keyguard.cli.output import id_column

KEY_ID = "key_" + "0123456789abcdef"
WIDE = "mail:send, contacts:read, contacts:write, lists:read, lists:write, templates:write"


def _render(first_column: object) -> str:
    console = Console(file=io.StringIO(), width=48, color_system=None)
    table = Table(first_column, "state", "name", "scopes")
    table.add_row(KEY_ID, "active", "a rather long key name", WIDE)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]  # the StringIO given above


def test_a_plain_column_is_cut_in_a_narrow_terminal() -> None:
    # The failure the id column prevents: shown here so the test below can fail.
    assert KEY_ID not in _render("id")


def test_an_id_column_keeps_the_whole_id_and_the_other_columns_give_way() -> None:
    assert KEY_ID in _render(id_column("id", [KEY_ID]))
