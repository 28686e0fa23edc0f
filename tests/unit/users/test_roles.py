"""The roles table: one in code, and docs/dashboard.md shows the same one."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from keyguard.errors import InvalidInput
from keyguard.policy import SCOPES, covers
from keyguard.users import ROLE_NAMES, ROLES, role

DOC = Path(__file__).resolve().parents[3] / "docs" / "dashboard.md"


def _documented() -> dict[str, tuple[set[str], set[str]]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip().replace("\\*", "*") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in ROLE_NAMES:
            manages = set() if cells[2] == "—" else {m.strip() for m in cells[2].split(",")}
            rows[cells[0]] = ({s.strip() for s in cells[1].split(",")}, manages)
    return rows


def test_the_documented_table_is_the_code() -> None:
    assert _documented() == {n: (set(r.scopes), set(r.manages)) for n, r in ROLES.items()}


def test_roles_are_ordered_by_power() -> None:
    for stronger, weaker in itertools.pairwise(ROLE_NAMES):
        assert covers(ROLES[stronger].scopes, ROLES[weaker].scopes), (stronger, weaker)


def test_only_owners_and_admins_manage_people_and_nobody_above_themselves() -> None:
    assert [n for n in ROLE_NAMES if ROLES[n].manages] == ["owner", "admin"]
    assert "owner" not in ROLES["admin"].manages


def test_a_viewer_changes_nothing() -> None:
    writes = {s for s in SCOPES if not s.endswith(":read")}
    assert not any(covers(ROLES["viewer"].scopes, frozenset({s})) for s in writes)


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidInput):
        role("root")
