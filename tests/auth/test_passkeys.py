"""Passkey ceremonies against the software authenticator: what is accepted and why the rest is
refused."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from webauthn.helpers import bytes_to_base64url

from ebank.auth.passkeys import (
    PasskeyProblem,
    RegisteredPasskey,
    RelyingParty,
    authentication_options,
    credential_id_of,
    linked_challenge,
    registration_options,
    verify_authentication,
    verify_registration,
)
from ebank.sim.passkey import AuthenticatorRefused, SoftPasskey

RP = RelyingParty(id="localhost", name="ebank", origin="http://localhost:8000")
USER_HANDLE = b"customer-0001"


def _challenge() -> bytes:
    return secrets.token_bytes(32)


def _registration_options(challenge: bytes, exclude: list[bytes] | None = None) -> dict[str, Any]:
    return registration_options(
        RP,
        user_handle=USER_HANDLE,
        user_name="li.wei",
        display_name="Li Wei",
        challenge=challenge,
        exclude_credential_ids=exclude or [],
    )


def _register(passkey: SoftPasskey) -> RegisteredPasskey:
    challenge = _challenge()
    response = passkey.register(_registration_options(challenge), origin=RP.origin)
    return verify_registration(RP, credential=response, expected_challenge=challenge)


def _assertion(passkey: SoftPasskey, challenge: bytes, origin: str = RP.origin) -> dict[str, Any]:
    options = authentication_options(
        RP, challenge=challenge, allow_credential_ids=[passkey.credential_id]
    )
    return passkey.authenticate(options, origin=origin)


def _authenticate(
    passkey: SoftPasskey, stored: RegisteredPasskey, *, sign_count: int | None = None
) -> int:
    challenge = _challenge()
    return verify_authentication(
        RP,
        credential=_assertion(passkey, challenge),
        expected_challenge=challenge,
        public_key=stored.public_key,
        sign_count=stored.sign_count if sign_count is None else sign_count,
    )


def _payment(amount: str) -> bytes:
    return json.dumps({"amount": amount, "currency": "CNY", "payee": "6222020200112233"}).encode()


def test_registration_options_require_user_verification_and_no_attestation() -> None:
    challenge = _challenge()
    excluded = secrets.token_bytes(32)

    options = _registration_options(challenge, exclude=[excluded])

    assert options["rp"] == {"id": "localhost", "name": "ebank"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert [param["alg"] for param in options["pubKeyCredParams"]] == [-7, -257]
    assert options["attestation"] == "none"
    assert [item["id"] for item in options["excludeCredentials"]] == [bytes_to_base64url(excluded)]
    assert options["challenge"] == bytes_to_base64url(challenge)


def test_authentication_options_require_user_verification() -> None:
    credential_id = secrets.token_bytes(32)

    options = authentication_options(
        RP, challenge=_challenge(), allow_credential_ids=[credential_id]
    )

    assert options["userVerification"] == "required"
    assert options["rpId"] == "localhost"
    assert [item["id"] for item in options["allowCredentials"]] == [
        bytes_to_base64url(credential_id)
    ]


def test_registration_then_authentication_round_trip() -> None:
    passkey = SoftPasskey()

    stored = _register(passkey)

    assert stored.credential_id == passkey.credential_id
    assert stored.sign_count == 0
    assert stored.aaguid == "00000000-0000-0000-0000-000000000000"
    assert stored.backed_up is False
    first = _authenticate(passkey, stored)
    second = _authenticate(passkey, stored, sign_count=first)
    assert (first, second) == (1, 2)


def test_a_synced_passkey_reports_that_it_is_backed_up() -> None:
    assert _register(SoftPasskey(backed_up=True)).backed_up is True


def test_registration_without_user_verification_is_refused() -> None:
    with pytest.raises(PasskeyProblem) as problem:
        _register(SoftPasskey(user_verified=False))

    assert problem.value.code == "user_not_verified"


def test_authentication_without_user_verification_is_refused() -> None:
    passkey = SoftPasskey()
    stored = _register(passkey)
    passkey.user_verified = False

    with pytest.raises(PasskeyProblem) as problem:
        _authenticate(passkey, stored)

    assert problem.value.code == "user_not_verified"


def test_registration_for_another_challenge_is_refused() -> None:
    response = SoftPasskey().register(_registration_options(_challenge()), origin=RP.origin)

    with pytest.raises(PasskeyProblem) as problem:
        verify_registration(RP, credential=response, expected_challenge=_challenge())

    assert problem.value.code == "verification_failed"


def test_assertion_for_another_challenge_is_refused() -> None:
    passkey = SoftPasskey()
    stored = _register(passkey)

    with pytest.raises(PasskeyProblem) as problem:
        verify_authentication(
            RP,
            credential=_assertion(passkey, _challenge()),
            expected_challenge=_challenge(),
            public_key=stored.public_key,
            sign_count=stored.sign_count,
        )

    assert problem.value.code == "verification_failed"


def test_registration_from_another_origin_is_refused() -> None:
    challenge = _challenge()
    response = SoftPasskey().register(
        _registration_options(challenge), origin="https://ebank.example.phish"
    )

    with pytest.raises(PasskeyProblem) as problem:
        verify_registration(RP, credential=response, expected_challenge=challenge)

    assert problem.value.code == "verification_failed"


def test_assertion_from_another_origin_is_refused() -> None:
    passkey = SoftPasskey()
    stored = _register(passkey)
    challenge = _challenge()

    with pytest.raises(PasskeyProblem) as problem:
        verify_authentication(
            RP,
            credential=_assertion(passkey, challenge, origin="https://ebank.example.phish"),
            expected_challenge=challenge,
            public_key=stored.public_key,
            sign_count=stored.sign_count,
        )

    assert problem.value.code == "verification_failed"


def test_assertion_signed_by_another_key_is_refused() -> None:
    victim = SoftPasskey()
    stored = _register(victim)
    attacker = SoftPasskey()
    _register(attacker)
    # The attacker's assertion is made to look like the victim's credential.
    attacker.credential_id = victim.credential_id

    with pytest.raises(PasskeyProblem) as problem:
        _authenticate(attacker, stored)

    assert problem.value.code == "verification_failed"


def test_assertion_from_an_unexpected_credential_is_refused() -> None:
    stored = _register(SoftPasskey())
    other = SoftPasskey()
    _register(other)
    challenge = _challenge()
    assertion = _assertion(other, challenge)

    with pytest.raises(PasskeyProblem) as problem:
        verify_authentication(
            RP,
            credential=assertion,
            expected_challenge=challenge,
            public_key=stored.public_key,
            sign_count=stored.sign_count,
            credential_id=stored.credential_id,
        )

    assert problem.value.code == "wrong_credential"
    assert credential_id_of(assertion) == other.credential_id


def test_a_cloned_authenticator_is_refused_when_its_counter_lags() -> None:
    passkey = SoftPasskey()
    stored = _register(passkey)
    clone = passkey.clone()
    count = _authenticate(passkey, stored)
    count = _authenticate(passkey, stored, sign_count=count)

    with pytest.raises(PasskeyProblem) as problem:
        _authenticate(clone, stored, sign_count=count)

    assert problem.value.code == "cloned_authenticator"


def test_an_assertion_whose_counter_did_not_increase_is_refused() -> None:
    passkey = SoftPasskey()
    stored = _register(passkey)
    count = _authenticate(passkey, stored)
    passkey.sign_count -= 1  # the next assertion repeats the counter value already seen

    with pytest.raises(PasskeyProblem) as problem:
        _authenticate(passkey, stored, sign_count=count)

    assert problem.value.code == "cloned_authenticator"


@pytest.mark.parametrize(
    "credential",
    [
        "not json",
        "[1, 2]",
        {"id": "abc", "rawId": "abc", "type": "public-key"},
        {
            "id": "abc",
            "rawId": "abc",
            "type": "public-key",
            "response": {"clientDataJSON": "e30", "attestationObject": "AAAA"},
        },
    ],
)
def test_malformed_registration_is_refused(credential: Any) -> None:
    with pytest.raises(PasskeyProblem) as problem:
        verify_registration(RP, credential=credential, expected_challenge=_challenge())

    assert problem.value.code == "malformed_credential"
    assert problem.value.__cause__ is None
    assert str(problem.value) == "The passkey response is malformed."


def test_malformed_assertion_is_refused() -> None:
    passkey = SoftPasskey()
    stored = _register(passkey)
    assertion = _assertion(passkey, _challenge())
    assertion["response"]["authenticatorData"] = "AAAA"

    with pytest.raises(PasskeyProblem) as problem:
        verify_authentication(
            RP,
            credential=json.dumps(assertion),
            expected_challenge=_challenge(),
            public_key=stored.public_key,
            sign_count=stored.sign_count,
        )

    assert problem.value.code == "malformed_credential"


def test_the_authenticator_will_not_register_an_excluded_credential_twice() -> None:
    passkey = SoftPasskey()
    _register(passkey)

    with pytest.raises(AuthenticatorRefused):
        passkey.register(
            _registration_options(_challenge(), exclude=[passkey.credential_id]), origin=RP.origin
        )


def test_linked_challenge_changes_with_the_amount() -> None:
    nonce = secrets.token_bytes(16)

    assert linked_challenge(_payment("100.00"), nonce) == linked_challenge(
        _payment("100.00"), nonce
    )
    assert linked_challenge(_payment("100.00"), nonce) != linked_challenge(
        _payment("900.00"), nonce
    )


def test_an_assertion_for_one_payment_does_not_authorise_a_changed_payment() -> None:
    passkey = SoftPasskey()
    stored = _register(passkey)
    nonce = secrets.token_bytes(16)
    assertion = _assertion(passkey, linked_challenge(_payment("100.00"), nonce))

    with pytest.raises(PasskeyProblem) as problem:
        verify_authentication(
            RP,
            credential=assertion,
            expected_challenge=linked_challenge(_payment("900.00"), nonce),
            public_key=stored.public_key,
            sign_count=stored.sign_count,
        )

    assert problem.value.code == "verification_failed"
    assert (
        verify_authentication(
            RP,
            credential=assertion,
            expected_challenge=linked_challenge(_payment("100.00"), nonce),
            public_key=stored.public_key,
            sign_count=stored.sign_count,
        )
        == 1
    )


def test_short_challenges_and_nonces_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="challenge"):
        authentication_options(RP, challenge=b"", allow_credential_ids=[])
    with pytest.raises(ValueError, match="nonce"):
        linked_challenge(_payment("1.00"), b"short")
