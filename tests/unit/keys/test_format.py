"""The key format: generation, parsing, checksum and the entropy of the body."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyguard.keys import (
    BODY_LENGTH,
    ENVIRONMENTS,
    KEY_PATTERN,
    InvalidKeyFormat,
    checksum_valid,
    generate_key,
    parse_key,
)
from keyguard.keys.format import ALPHABET, CHECKSUM_LENGTH, DISPLAY_BODY_CHARS, display_prefix

environments = st.sampled_from(ENVIRONMENTS)


@given(env=environments)
def test_every_generated_key_parses_with_its_environment(env: str) -> None:
    raw = generate_key(env)  # type: ignore[arg-type]
    parsed = parse_key(raw.reveal())
    assert parsed.env == env
    assert KEY_PATTERN.fullmatch(raw.reveal())


@given(env=environments, data=st.data())
def test_every_single_character_change_is_rejected(env: str, data: st.DataObject) -> None:
    text = generate_key(env).reveal()  # type: ignore[arg-type]
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != text[position]))
    mutated = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(InvalidKeyFormat):
        parse_key(mutated)


@given(env=environments, data=st.data())
def test_every_change_within_the_alphabet_fails_the_checksum(env: str, data: st.DataObject) -> None:
    text = generate_key(env).reveal()  # type: ignore[arg-type]
    start = len(f"kg_{env}_")
    position = data.draw(st.integers(min_value=start, max_value=len(text) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != text[position]))
    mutated = text[:position] + replacement + text[position + 1 :]
    assert not checksum_valid(mutated)


def test_body_carries_at_least_128_secret_bits_beyond_the_display_prefix() -> None:
    secret_chars = BODY_LENGTH - DISPLAY_BODY_CHARS
    assert secret_chars * math.log2(len(ALPHABET)) >= 128


def test_bodies_use_the_whole_alphabet_uniformly() -> None:
    # 2,000 keys x 26 characters: each of the 62 symbols is expected ~839 times. A biased or
    # truncated generator (e.g. hex, or modulo bias) falls far outside these bounds.
    counts = dict.fromkeys(ALPHABET, 0)
    for _ in range(2000):
        body = generate_key("test").reveal()[len("kg_test_") :][:BODY_LENGTH]
        for char in body:
            counts[char] += 1
    assert min(counts.values()) > 650
    assert max(counts.values()) < 1050


def test_two_keys_are_never_equal() -> None:
    keys = {generate_key("live").reveal() for _ in range(10_000)}
    assert len(keys) == 10_000


@pytest.mark.parametrize(
    "text",
    [
        "",
        "kg_",
        "kg_prod_" + "a" * (BODY_LENGTH + CHECKSUM_LENGTH),
        "kg_live_" + "a" * (BODY_LENGTH + CHECKSUM_LENGTH - 1),
        "kg_live_" + "a" * (BODY_LENGTH + CHECKSUM_LENGTH + 1),
        "sk_live_" + "a" * (BODY_LENGTH + CHECKSUM_LENGTH),
        "kg_live_" + "é" * (BODY_LENGTH + CHECKSUM_LENGTH),
        "x" * 10_000,
    ],
)
def test_malformed_strings_are_rejected(text: str) -> None:
    with pytest.raises(InvalidKeyFormat):
        parse_key(text)


def test_rejection_message_does_not_say_which_part_failed() -> None:
    good = generate_key("live").reveal()
    bad_checksum = good[:-1] + ("0" if good[-1] != "0" else "1")
    messages = set()
    for text in (bad_checksum, "kg_live_short", "nonsense"):
        with pytest.raises(InvalidKeyFormat) as info:
            parse_key(text)
        messages.add(str(info.value))
    assert messages == {"not a Keyguard key"}


def test_display_prefix_shows_environment_and_four_body_characters() -> None:
    text = generate_key("dev").reveal()
    assert display_prefix(text) == text[: len("kg_dev_") + DISPLAY_BODY_CHARS]


def test_raw_key_never_shows_in_repr_str_or_format() -> None:
    raw = generate_key("live")
    body = raw.reveal()[8:]
    for shown in (repr(raw), str(raw), f"{raw}", f"{raw!r}", repr([raw]), repr({"k": raw})):
        assert body not in shown


def test_raw_key_refuses_to_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(generate_key("live"))


def test_documented_regex_matches_the_code() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "key-format.md").read_text()
    assert KEY_PATTERN.pattern in doc
    assert re.compile(KEY_PATTERN.pattern).search("token=" + generate_key("test").reveal() + ";")
