"""Test helpers: a GitHub-like signer with its own P-256 key pair and public-keys document."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


@dataclass
class Signer:
    """Signs bodies as GitHub does; `document` is what GitHub publishes for its keys."""

    key_id: str
    curve: ec.EllipticCurve = field(default_factory=ec.SECP256R1)
    private: ec.EllipticCurvePrivateKey = field(init=False)

    def __post_init__(self) -> None:
        self.private = ec.generate_private_key(self.curve)

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(SHA256()))).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "Github-Public-Key-Identifier": self.key_id,
            "Github-Public-Key-Signature": self.sign(body),
        }

    def entry(self) -> dict[str, object]:
        pem = self.private.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )
        return {"key_identifier": self.key_id, "key": pem.decode(), "is_current": True}


def publish(path: Path, *signers: Signer) -> Path:
    path.write_text(json.dumps({"public_keys": [s.entry() for s in signers]}))
    return path
