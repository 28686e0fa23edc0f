"""Keyed hashing under versioned peppers."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from keyguard.keys import Pepper, PepperRing, digest_key, generate_key

OLD = Pepper("v1", b"o" * 16 + b"ld-pepper-material-32-bytes!")
NEW = Pepper("v2", b"n" * 16 + b"ew-pepper-material-32-bytes!")


def test_digest_is_hmac_sha256_of_the_key_under_the_pepper() -> None:
    raw = generate_key("live")
    expected = hmac.new(NEW.material, raw.reveal().encode(), hashlib.sha256).hexdigest()
    assert digest_key(NEW, raw) == expected


def test_digest_differs_per_pepper_version() -> None:
    raw = generate_key("live")
    assert digest_key(OLD, raw) != digest_key(NEW, raw)


def test_ring_yields_current_first_and_keeps_older_versions() -> None:
    ring = PepperRing(NEW, [OLD])
    assert [p.version for p in ring] == ["v2", "v1"]
    assert ring.get("v1") is OLD


def test_short_pepper_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        Pepper("v1", b"too-short")


def test_pepper_material_never_shows_in_repr() -> None:
    assert "pepper-material" not in repr(NEW)


@pytest.mark.parametrize("length", [32, 63, 64, 65, 200])
def test_precomputed_pads_match_the_standard_hmac_for_every_key_length(length: int) -> None:
    pepper = Pepper("v1", bytes(range(256))[:length] if length <= 256 else b"x" * length)
    raw = generate_key("test")
    expected = hmac.new(pepper.material, raw.reveal().encode(), hashlib.sha256).hexdigest()
    assert digest_key(pepper, raw) == expected
