"""WebAuthn (security key) registration and authentication ceremonies, via the ``webauthn`` library.

The options go to ``static/auth/webauthn.js`` as JSON; the challenge stays in the server-side
session; the browser's answer comes back as JSON and is verified here.
"""

from __future__ import annotations

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
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidCBORData,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

TIMEOUT_MS = 60_000


class CeremonyError(ValueError):
    """The browser's answer did not verify (wrong key, wrong origin, replayed challenge, bad JSON)."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the hub is to the security key: its host name, display name and expected origin."""

    rp_id: str
    name: str
    origin: str


def registration_options(rp: RelyingParty, *, user_id: bytes, username: str, display_name: str,
                         existing: list[bytes]) -> tuple[str, str]:
    """Return (options JSON for the browser, challenge as base64url to keep in the session)."""
    options = generate_registration_options(
        rp_id=rp.rp_id, rp_name=rp.name, user_id=user_id, user_name=username,
        user_display_name=display_name, timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in existing],
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


@dataclass(frozen=True)
class NewKey:
    """A verified registration."""

    credential_id: bytes
    public_key: bytes
    sign_count: int


def verify_registration(rp: RelyingParty, credential: Any, challenge_b64: str) -> NewKey:
    """Verify a registration answer against the challenge we issued."""
    try:
        result = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(challenge_b64),
            expected_rp_id=rp.rp_id, expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, InvalidJSONStructure, InvalidCBORData, ValueError,
            TypeError, KeyError) as exc:
        raise CeremonyError(str(exc) or "registration did not verify") from exc
    return NewKey(result.credential_id, result.credential_public_key, result.sign_count)


def authentication_options(rp: RelyingParty, allowed: list[bytes]) -> tuple[str, str]:
    """Return (options JSON, challenge base64url) for signing in with one of ``allowed`` keys."""
    options = generate_authentication_options(
        rp_id=rp.rp_id, timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in allowed],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def credential_raw_id(credential: Any) -> bytes:
    """The credential id an authentication answer names (to find its stored public key)."""
    try:
        return base64url_to_bytes(credential["rawId"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CeremonyError("the answer names no credential") from exc


def verify_authentication(rp: RelyingParty, credential: Any, challenge_b64: str, *,
                          public_key: bytes, sign_count: int) -> int:
    """Verify an authentication answer; returns the key's new signature counter."""
    try:
        result = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(challenge_b64),
            expected_rp_id=rp.rp_id, expected_origin=rp.origin,
            credential_public_key=public_key, credential_current_sign_count=sign_count,
        )
    except (InvalidAuthenticationResponse, InvalidJSONStructure, InvalidCBORData, ValueError,
            TypeError, KeyError) as exc:
        raise CeremonyError(str(exc) or "authentication did not verify") from exc
    return result.new_sign_count
