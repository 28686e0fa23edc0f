"""The release files agree: the changelog's newest release is the package's version or older,
and every release heading is well formed (docs/releasing.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)
VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def _version() -> tuple[int, ...]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return tuple(int(part) for part in project["version"].split("."))


def _headings() -> list[re.Match[str]]:
    return list(HEADING.finditer((ROOT / "CHANGELOG.md").read_text()))


def test_the_changelog_starts_with_unreleased_and_dates_every_release() -> None:
    headings = _headings()
    assert headings[0]["name"] == "Unreleased"
    for heading in headings[1:]:
        assert VERSION.match(heading["name"]), heading[0]
        assert heading["date"], f"{heading[0]} has no date"


def test_no_release_in_the_changelog_is_ahead_of_the_package() -> None:
    released = [tuple(int(p) for p in h["name"].split(".")) for h in _headings()[1:]]
    assert all(version <= _version() for version in released)
    assert released == sorted(released, reverse=True), "newest release first"
