"""WebAuthn ceremonies through the `webauthn` library: options out, responses verified.

Passkeys are phishing-resistant because the browser binds each signature to the origin it
was made on: a look-alike site receives a signature for its own origin, which fails here.
Sign-in asks for a discoverable credential with no allow-list, so the options never reveal
whether an address has an account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from keyguard.errors import AuthenticationFailed

MAX_RESPONSE = 16_384


@dataclass(frozen=True, slots=True)
class Relying:
    """Who the passkeys are for: the site's host name and exact origin."""

    rp_id: str
    origin: str


@dataclass(frozen=True, slots=True)
class NewPasskey:
    credential_id: str
    public_key: bytes
    sign_count: int


def registration_options(
    relying: Relying, *, handle: str, email: str, existing: list[str]
) -> tuple[str, bytes]:
    options = generate_registration_options(
        rp_id=relying.rp_id,
        rp_name="Keyguard",
        user_name=email,
        user_id=handle.encode(),
        user_display_name=email,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            # A passkey is the whole sign-in, not a second factor: the authenticator must
            # verify the person (PIN, biometrics), not merely notice a touch.
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing
        ],
    )
    return options_to_json(options), options.challenge


def verify_registration(relying: Relying, response: str, challenge: bytes) -> NewPasskey:
    try:
        verified = verify_registration_response(
            credential=_parsed(response),
            expected_challenge=challenge,
            expected_rp_id=relying.rp_id,
            expected_origin=relying.origin,
            require_user_verification=True,
        )
    except Exception as exc:  # the library raises several unrelated types; all mean "no"
        raise AuthenticationFailed(
            f"the passkey was not accepted: {type(exc).__name__}", code="passkey_refused"
        ) from None
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )


def authentication_options(relying: Relying) -> tuple[str, bytes]:
    options = generate_authentication_options(
        rp_id=relying.rp_id, user_verification=UserVerificationRequirement.REQUIRED
    )
    return options_to_json(options), options.challenge


def credential_id_of(response: str) -> str:
    raw = _parsed(response).get("rawId") or _parsed(response).get("id")
    if not isinstance(raw, str) or len(raw) > 400:
        raise AuthenticationFailed("not a passkey response", code="passkey_refused")
    return raw


def verify_authentication(
    relying: Relying, response: str, challenge: bytes, *, public_key: bytes, sign_count: int
) -> int:
    """The authenticator's new signature counter, or AuthenticationFailed."""
    try:
        verified = verify_authentication_response(
            credential=_parsed(response),
            expected_challenge=challenge,
            expected_rp_id=relying.rp_id,
            expected_origin=relying.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except Exception:  # the library raises several unrelated types; all mean "no"
        raise AuthenticationFailed("the passkey was not accepted", code="passkey_refused") from None
    return int(verified.new_sign_count)


def _parsed(response: str) -> dict[str, Any]:
    if len(response) > MAX_RESPONSE:
        raise AuthenticationFailed("not a passkey response", code="passkey_refused")
    try:
        value = json.loads(response)
    except ValueError:
        raise AuthenticationFailed("not a passkey response", code="passkey_refused") from None
    if not isinstance(value, dict):
        raise AuthenticationFailed("not a passkey response", code="passkey_refused")
    return value
