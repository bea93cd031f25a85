"""Passkeys (WebAuthn, relying-party side): the inherence factor of strong customer authentication.

A thin, typed wrapper over py_webauthn. The library does the ceremony checks (client data,
RP ID hash, CBOR/COSE decoding, signatures, counters); this module fixes the bank's policy —
user verification required, ES256/RS256 only, no attestation — and turns every library failure
into a ``PasskeyProblem`` with a stable code and no library detail. The input is untrusted and the
library may raise anything on it, so every exception while parsing or verifying is a refusal.

``linked_challenge`` gives dynamic linking for payments: the challenge is a hash of a stored
nonce and the payment payload, so it is recomputed from the current payment at verification and
an assertion made for another amount or payee no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
MIN_CHALLENGE_BYTES = 16
MAX_USER_HANDLE_BYTES = 64
TIMEOUT_MS = 120_000

_MESSAGES = {
    "malformed_credential": "The passkey response is malformed.",
    "verification_failed": "The passkey response could not be verified.",
    "user_not_verified": "The authenticator did not verify the user.",
    "cloned_authenticator": "The authenticator's signature counter did not increase.",
    "wrong_credential": "The passkey is not the one expected.",
}


class PasskeyProblem(Exception):
    """A passkey ceremony the bank refuses. ``code`` is stable; the message is fixed per code and
    never carries the library's explanation (which may echo attacker-supplied input)."""

    def __init__(self, code: str) -> None:
        super().__init__(_MESSAGES[code])
        self.code = code


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str


@dataclass(frozen=True)
class RegisteredPasskey:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backed_up: bool


def linked_challenge(payload: bytes, nonce: bytes) -> bytes:
    """The challenge that binds an authentication to ``payload`` (e.g. amount and payee)."""
    if len(nonce) < MIN_CHALLENGE_BYTES:
        raise ValueError(f"nonce must be at least {MIN_CHALLENGE_BYTES} bytes")
    return hashlib.sha256(nonce + payload).digest()


def registration_options(
    rp: RelyingParty,
    *,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    challenge: bytes,
    exclude_credential_ids: Sequence[bytes],
) -> dict[str, Any]:
    """Options for ``navigator.credentials.create()``, as a JSON-ready dict."""
    _check_challenge(challenge)
    if not 0 < len(user_handle) <= MAX_USER_HANDLE_BYTES:
        raise ValueError(f"user_handle must be 1 to {MAX_USER_HANDLE_BYTES} bytes")
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(exclude_credential_ids),
        supported_pub_key_algs=ALGORITHMS,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def authentication_options(
    rp: RelyingParty, *, challenge: bytes, allow_credential_ids: Sequence[bytes]
) -> dict[str, Any]:
    """Options for ``navigator.credentials.get()``, as a JSON-ready dict."""
    _check_challenge(challenge)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(allow_credential_ids),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def verify_registration(
    rp: RelyingParty, *, credential: Mapping[str, Any] | str, expected_challenge: bytes
) -> RegisteredPasskey:
    """Check a ``navigator.credentials.create()`` response; the passkey to store on success."""
    parsed = _parse_registration(credential)
    try:
        verified = _verify_registration(rp, parsed, expected_challenge, require_uv=True)
    except Exception:
        raise _explain_registration_failure(rp, parsed, expected_challenge) from None
    return RegisteredPasskey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
    )


def credential_id_of(credential: Mapping[str, Any] | str) -> bytes:
    """The credential id an assertion claims, so the caller can look up its stored passkey."""
    return _parse_authentication(credential).raw_id


def verify_authentication(
    rp: RelyingParty,
    *,
    credential: Mapping[str, Any] | str,
    expected_challenge: bytes,
    public_key: bytes,
    sign_count: int,
    credential_id: bytes | None = None,
) -> int:
    """Check a ``navigator.credentials.get()`` response against the stored passkey (``public_key``
    and ``sign_count``; ``credential_id`` when given must match the assertion's). Returns the new
    sign count to store."""
    parsed = _parse_authentication(credential)
    if credential_id is not None and parsed.raw_id != credential_id:
        raise PasskeyProblem("wrong_credential")
    try:
        verified = _verify_authentication(
            rp, parsed, expected_challenge, public_key, stored_count=sign_count, require_uv=True
        )
    except Exception:
        raise _explain_authentication_failure(
            rp, parsed, expected_challenge, public_key, sign_count
        ) from None
    return verified.new_sign_count


def _check_challenge(challenge: bytes) -> None:
    # The library silently substitutes a random challenge for an empty one.
    if len(challenge) < MIN_CHALLENGE_BYTES:
        raise ValueError(f"challenge must be at least {MIN_CHALLENGE_BYTES} bytes")


def _descriptors(credential_ids: Sequence[bytes]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=credential_id) for credential_id in credential_ids]


def _as_json(credential: Mapping[str, Any] | str) -> dict[str, Any] | str:
    return credential if isinstance(credential, str) else dict(credential)


def _parse_registration(credential: Mapping[str, Any] | str) -> RegistrationCredential:
    """Parse the whole structure up front, so that bad structure reads ``malformed_credential``
    rather than a failed verification."""
    try:
        parsed = parse_registration_credential_json(_as_json(credential))
        parse_client_data_json(parsed.response.client_data_json)
        parse_attestation_object(parsed.response.attestation_object)
    except Exception:
        raise PasskeyProblem("malformed_credential") from None
    return parsed


def _parse_authentication(credential: Mapping[str, Any] | str) -> AuthenticationCredential:
    try:
        parsed = parse_authentication_credential_json(_as_json(credential))
        parse_client_data_json(parsed.response.client_data_json)
        parse_authenticator_data(parsed.response.authenticator_data)
    except Exception:
        raise PasskeyProblem("malformed_credential") from None
    return parsed


def _verify_registration(
    rp: RelyingParty,
    credential: RegistrationCredential,
    expected_challenge: bytes,
    *,
    require_uv: bool,
) -> VerifiedRegistration:
    return verify_registration_response(
        credential=credential,
        expected_challenge=expected_challenge,
        expected_rp_id=rp.id,
        expected_origin=rp.origin,
        require_user_verification=require_uv,
        supported_pub_key_algs=ALGORITHMS,
    )


def _verify_authentication(
    rp: RelyingParty,
    credential: AuthenticationCredential,
    expected_challenge: bytes,
    public_key: bytes,
    *,
    stored_count: int,
    require_uv: bool,
) -> VerifiedAuthentication:
    return verify_authentication_response(
        credential=credential,
        expected_challenge=expected_challenge,
        expected_rp_id=rp.id,
        expected_origin=rp.origin,
        credential_public_key=public_key,
        credential_current_sign_count=stored_count,
        require_user_verification=require_uv,
    )


def _explain_registration_failure(
    rp: RelyingParty, credential: RegistrationCredential, expected_challenge: bytes
) -> PasskeyProblem:
    """Name why the strict check failed without reading the library's messages: if the response
    passes every other check, the missing user verification was the reason."""
    try:
        _verify_registration(rp, credential, expected_challenge, require_uv=False)
    except Exception:
        return PasskeyProblem("verification_failed")
    return PasskeyProblem("user_not_verified")


def _explain_authentication_failure(
    rp: RelyingParty,
    credential: AuthenticationCredential,
    expected_challenge: bytes,
    public_key: bytes,
    stored_count: int,
) -> PasskeyProblem:
    """As for registration: a stored count of 0 disables the library's counter check, so a response
    that then passes was refused for user verification or for its counter alone. The signature has
    been checked by then, so its flags and counter are the authenticator's."""
    try:
        relaxed = _verify_authentication(
            rp, credential, expected_challenge, public_key, stored_count=0, require_uv=False
        )
    except Exception:
        return PasskeyProblem("verification_failed")
    if not relaxed.user_verified:
        return PasskeyProblem("user_not_verified")
    if _counter_went_back(relaxed.new_sign_count, stored_count):
        return PasskeyProblem("cloned_authenticator")
    return PasskeyProblem("verification_failed")


def _counter_went_back(new_count: int, stored_count: int) -> bool:
    # WebAuthn §6.1.1: a counter that is in use (either value non-zero) must strictly increase.
    return (new_count > 0 or stored_count > 0) and new_count <= stored_count
