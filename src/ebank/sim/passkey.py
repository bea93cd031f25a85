"""A software passkey: a platform authenticator with user verification, for tests, the demo, the
benchmark and browser tests.

It plays both the authenticator and the browser: from the options the server sends it builds the
``PublicKeyCredential`` JSON that ``navigator.credentials.create()`` / ``.get()`` would return —
real client data, CBOR attestation object ("none" format), authenticator data and ECDSA P-256
signatures — so the server verifies it exactly as it would a real device's. Flags let it misbehave
on purpose (no user verification, a cloned key) so the server's refusals can be tested.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

ES256 = -7
CREDENTIAL_ID_BYTES = 32
ZERO_AAGUID = bytes(16)

FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_BE = 0x08  # backup eligible
FLAG_BS = 0x10  # backed up
FLAG_AT = 0x40  # attested credential data included


class AuthenticatorRefused(Exception):
    """The authenticator cannot answer these options (as a browser would reject the call)."""


class SoftPasskey:
    """One discoverable credential. ``user_verified=False`` models an authenticator that only
    checks presence; ``backed_up=True`` a synced passkey."""

    def __init__(self, *, user_verified: bool = True, backed_up: bool = False) -> None:
        self.user_verified = user_verified
        self.backed_up = backed_up
        self.credential_id = secrets.token_bytes(CREDENTIAL_ID_BYTES)
        self.sign_count = 0
        self.rp_id: str | None = None
        self.user_handle: bytes | None = None
        self._key = ec.generate_private_key(ec.SECP256R1())

    def clone(self) -> SoftPasskey:
        """A copy sharing the private key and the counter's current value, as an extracted key
        would be; the two counters then diverge."""
        return copy.copy(self)

    def register(self, options: Mapping[str, Any], *, origin: str) -> dict[str, Any]:
        """The registration response to ``navigator.credentials.create(options)``."""
        self._check_creatable(options)
        rp_id = str(options["rp"]["id"])
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        auth_data = self._authenticator_data(rp_id, FLAG_AT) + self._attested_credential_data()
        self.rp_id = rp_id
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._credential(
            {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            }
        )

    def authenticate(self, options: Mapping[str, Any], *, origin: str) -> dict[str, Any]:
        """The assertion response to ``navigator.credentials.get(options)``."""
        rp_id, user_handle = self._usable_for(options)
        self.sign_count += 1
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._authenticator_data(rp_id, 0)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self._key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._credential(
            {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(user_handle),
            }
        )

    def _check_creatable(self, options: Mapping[str, Any]) -> None:
        algorithms = {param["alg"] for param in options["pubKeyCredParams"]}
        if ES256 not in algorithms:
            raise AuthenticatorRefused("ES256 is not among the accepted algorithms")
        excluded = {item["id"] for item in options.get("excludeCredentials", [])}
        if bytes_to_base64url(self.credential_id) in excluded:
            raise AuthenticatorRefused("this passkey is already registered")

    def _usable_for(self, options: Mapping[str, Any]) -> tuple[str, bytes]:
        """The relying party and user handle this passkey was registered for, if it may answer."""
        if self.rp_id is None or self.user_handle is None:
            raise AuthenticatorRefused("this passkey was never registered")
        if options.get("rpId", self.rp_id) != self.rp_id:
            raise AuthenticatorRefused("this passkey belongs to another relying party")
        allowed = {item["id"] for item in options.get("allowCredentials", [])}
        if allowed and bytes_to_base64url(self.credential_id) not in allowed:
            raise AuthenticatorRefused("this passkey is not among the allowed credentials")
        return self.rp_id, self.user_handle

    def _authenticator_data(self, rp_id: str, extra_flags: int) -> bytes:
        flags = FLAG_UP | extra_flags
        if self.user_verified:
            flags |= FLAG_UV
        if self.backed_up:
            flags |= FLAG_BE | FLAG_BS
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_id_hash + bytes([flags]) + self.sign_count.to_bytes(4, "big")

    def _attested_credential_data(self) -> bytes:
        length = len(self.credential_id).to_bytes(2, "big")
        return ZERO_AAGUID + length + self.credential_id + self._cose_public_key()

    def _cose_public_key(self) -> bytes:
        numbers = self._key.public_key().public_numbers()
        # COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
        return cbor2.dumps(
            {
                1: 2,
                3: ES256,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _credential(self, response: dict[str, Any]) -> dict[str, Any]:
        encoded_id = bytes_to_base64url(self.credential_id)
        return {
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }


def _client_data(ceremony: str, challenge: str, origin: str) -> bytes:
    # As a browser does: the challenge is decoded from the options and re-encoded without padding.
    encoded = bytes_to_base64url(base64url_to_bytes(challenge))
    data = {"type": ceremony, "challenge": encoded, "origin": origin, "crossOrigin": False}
    return json.dumps(data, separators=(",", ":")).encode()
