"""The Hyperscan engine and the pure-Python engine report exactly the same findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyguard.scanner.detect import Located
from keyguard.scanner.engine import HyperscanEngine, Scanner
from keyguard.scanner.providers import default_rules
from tests.unit.scanner.vectors import Maker, Vector, negatives, positives

POSITIVES = positives(Maker(seed=21))
VECTORS = POSITIVES + negatives(Maker(seed=22))
FRAGMENTS = [v.text for v in positives(Maker(seed=23))] + [
    "api_key = ",
    "postmark ",
    "SG.",
    "-us",
    "Basic ",
    "%2B",
    "data:\n  token: ",
    "\n",
    " ",
    '"',
]


def _both(hyperscan: Scanner, python: Scanner, vector: Vector) -> tuple[list[object], list[object]]:
    where = Located(vector.path)
    data = vector.text.encode()
    return hyperscan.scan(data, where).findings, python.scan(data, where).findings


def test_engines_agree_on_every_vector(hyperscan_scanner: Scanner, python_scanner: Scanner) -> None:
    for vector in VECTORS:
        fast, slow = _both(hyperscan_scanner, python_scanner, vector)
        assert fast == slow, vector.label


def test_engines_agree_on_every_vector_in_a_config_file(
    hyperscan_scanner: Scanner, python_scanner: Scanner
) -> None:
    # Config files get every `key: base64` value decoded, source files only `Basic` headers.
    for vector in VECTORS:
        fast, slow = _both(hyperscan_scanner, python_scanner, Vector("", "", vector.text, "v.yaml"))
        assert fast == slow, vector.label


def test_engines_agree_on_all_vectors_in_one_buffer(
    hyperscan_scanner: Scanner, python_scanner: Scanner
) -> None:
    joined = Vector("all", "", "\n".join(v.text for v in VECTORS))
    fast, slow = _both(hyperscan_scanner, python_scanner, joined)
    assert {f.rule for f in fast} >= {v.rule for v in POSITIVES}  # not vacuous
    assert fast == slow


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), max_size=12))
def test_engines_agree_on_random_mixtures(
    hyperscan_scanner: Scanner, python_scanner: Scanner, parts: list[str]
) -> None:
    vector = Vector("random", "", "".join(parts))
    fast, slow = _both(hyperscan_scanner, python_scanner, vector)
    assert fast == slow


def test_a_cached_hyperscan_database_finds_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hyperscan_scanner: Scanner
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rules = default_rules()
    HyperscanEngine(rules)  # compiles and stores
    assert len(list((tmp_path / "keyguard").glob("hyperscan-*.db"))) == 2
    loaded = Scanner(rules, HyperscanEngine(rules))  # loads
    joined = "\n".join(v.text for v in VECTORS).encode()
    where = Located("x.py")
    assert loaded.scan(joined, where).findings == hyperscan_scanner.scan(joined, where).findings
