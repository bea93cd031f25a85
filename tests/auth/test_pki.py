"""The bank CA: issuing USB-key certificates and verifying payment signatures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ebank.auth import pki
from ebank.sim.usbkey import SoftUsbKey

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PAYMENT: dict[str, str | int] = {
    "amount_minor": 123_45,
    "currency": "CNY",
    "payee": "6222020200112233445",
    "ref": "P-1",
}


def _never_revoked(_serial: int) -> bool:
    return False


def _issued(
    ca: pki.BankCA, *, serial: int = 1001, days: int = 365
) -> tuple[SoftUsbKey, x509.Certificate]:
    device = SoftUsbKey()
    cert = pki.issue_certificate(
        ca,
        device.public_key_pem(),
        subject_name="张三 customer 42",
        serial=serial,
        now=NOW,
        days=days,
    )
    device.certificate_pem = pki.certificate_pem(cert)
    return device, cert


def _problem_code(
    ca: pki.BankCA,
    cert: x509.Certificate,
    payload: bytes,
    signature: bytes,
    *,
    now: datetime = NOW,
    revoked: Callable[[int], bool] = _never_revoked,
) -> str | None:
    try:
        pki.verify_signed_payload(
            ca.certificate, cert, payload, signature, now=now, revoked=revoked
        )
    except pki.CertificateProblem as problem:
        return problem.code
    return None


@pytest.fixture(scope="module")
def ca() -> pki.BankCA:
    return pki.create_ca("ebank Customer CA", NOW - timedelta(days=1))


def test_ca_certificate_is_a_self_signed_p256_ca(ca: pki.BankCA) -> None:
    cert = ca.certificate
    cert.verify_directly_issued_by(cert)
    assert cert.subject == cert.issuer
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert not usage.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= timedelta(days=3650)


def test_full_round_trip(ca: pki.BankCA) -> None:
    device, cert = _issued(ca)
    assert device.certificate_pem is not None
    loaded = pki.load_certificate(device.certificate_pem)
    payload = pki.canonical_payload(PAYMENT)
    signature = device.sign(payload)
    pki.verify_signed_payload(
        ca.certificate,
        loaded,
        payload,
        signature,
        now=NOW + timedelta(days=30),
        revoked=_never_revoked,
    )
    assert pki.fingerprint(loaded) == pki.fingerprint(cert)
    assert len(pki.fingerprint(cert)) == 64


def test_issued_certificate_extensions(ca: pki.BankCA) -> None:
    device, cert = _issued(ca, serial=4242, days=730)
    assert cert.serial_number == 4242
    assert cert.issuer == ca.certificate.subject
    assert cert.not_valid_before_utc == NOW
    assert cert.not_valid_after_utc == NOW + timedelta(days=730)
    assert (
        cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == device.public_key_pem()
    )
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.content_commitment
    assert not usage.key_cert_sign
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize(
    "change", [{"amount_minor": 123_46}, {"payee": "6222020200112233446"}, {"extra": "x"}]
)
def test_changed_payload_fails_with_bad_signature(
    ca: pki.BankCA, change: dict[str, str | int]
) -> None:
    device, cert = _issued(ca)
    signature = device.sign(pki.canonical_payload(PAYMENT))
    tampered = pki.canonical_payload({**PAYMENT, **change})
    assert _problem_code(ca, cert, tampered, signature) == "bad_signature"


def test_signature_by_another_key_fails(ca: pki.BankCA) -> None:
    _, cert = _issued(ca)
    payload = pki.canonical_payload(PAYMENT)
    assert _problem_code(ca, cert, payload, SoftUsbKey().sign(payload)) == "bad_signature"


def test_certificate_from_another_ca_is_not_issued_by_bank(ca: pki.BankCA) -> None:
    # Same name, different key: only the signature tells them apart.
    impostor = pki.create_ca("ebank Customer CA", NOW - timedelta(days=1))
    device, cert = _issued(impostor)
    payload = pki.canonical_payload(PAYMENT)
    assert _problem_code(ca, cert, payload, device.sign(payload)) == "not_issued_by_bank"


def test_ca_certificate_itself_cannot_sign_payloads(ca: pki.BankCA) -> None:
    payload = pki.canonical_payload(PAYMENT)
    signature = ca.key.sign(payload, ec.ECDSA(hashes.SHA256()))
    assert _problem_code(ca, ca.certificate, payload, signature) == "not_issued_by_bank"


def test_expired_and_not_yet_valid(ca: pki.BankCA) -> None:
    device, cert = _issued(ca, days=30)
    payload = pki.canonical_payload(PAYMENT)
    signature = device.sign(payload)
    after = NOW + timedelta(days=30, seconds=1)
    before = NOW - timedelta(seconds=1)
    assert _problem_code(ca, cert, payload, signature, now=after) == "expired"
    assert _problem_code(ca, cert, payload, signature, now=before) == "not_yet_valid"
    assert _problem_code(ca, cert, payload, signature, now=NOW + timedelta(days=30)) is None


def test_revoked_certificate_is_refused(ca: pki.BankCA) -> None:
    device, cert = _issued(ca, serial=777)
    payload = pki.canonical_payload(PAYMENT)
    asked: list[int] = []

    def revoked(serial: int) -> bool:
        asked.append(serial)
        return serial == 777

    assert _problem_code(ca, cert, payload, device.sign(payload), revoked=revoked) == "revoked"
    assert asked == [777]


def _pem(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(),
        lambda: ec.generate_private_key(ec.SECP384R1()).public_key(),
    ],
    ids=["rsa", "p384"],
)
def test_rsa_and_p384_keys_are_refused(
    ca: pki.BankCA, make_key: Callable[[], ec.EllipticCurvePublicKey | rsa.RSAPublicKey]
) -> None:
    with pytest.raises(pki.CertificateProblem) as caught:
        pki.issue_certificate(ca, _pem(make_key()), subject_name="x", serial=5, now=NOW, days=1)
    assert caught.value.code == "unsupported_key"


@pytest.mark.parametrize(
    "pem", [b"", b"garbage", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]
)
def test_garbage_public_key_is_malformed(ca: pki.BankCA, pem: bytes) -> None:
    with pytest.raises(pki.CertificateProblem) as caught:
        pki.issue_certificate(ca, pem, subject_name="x", serial=5, now=NOW, days=1)
    assert caught.value.code == "malformed_key"


def test_garbage_certificate_is_malformed(ca: pki.BankCA) -> None:
    with pytest.raises(pki.CertificateProblem) as caught:
        pki.load_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert caught.value.code == "malformed_certificate"
    with pytest.raises(pki.CertificateProblem):
        pki.load_certificate(pki.ca_private_key_pem(ca))


def test_garbage_signatures_are_malformed(ca: pki.BankCA) -> None:
    device, cert = _issued(ca)
    payload = pki.canonical_payload(PAYMENT)
    good = device.sign(payload)
    assert _problem_code(ca, cert, payload, b"") == "malformed_signature"
    assert _problem_code(ca, cert, payload, b"\x30\x02\x01") == "malformed_signature"
    assert _problem_code(ca, cert, payload, good + b"\x00") == "malformed_signature"
    assert _problem_code(ca, cert, payload, good[:-1]) == "malformed_signature"
    r, s = decode_dss_signature(good)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert _problem_code(ca, cert, payload, raw) == "malformed_signature"


def test_load_ca_round_trip(ca: pki.BankCA) -> None:
    loaded = pki.load_ca(pki.ca_private_key_pem(ca), pki.ca_certificate_pem(ca))
    assert loaded.certificate == ca.certificate
    assert loaded.key.private_numbers() == ca.key.private_numbers()
    assert b"BEGIN PRIVATE KEY" in pki.ca_private_key_pem(ca)
    # A certificate issued by the reloaded CA verifies against the original one.
    device, cert = _issued(loaded)
    payload = pki.canonical_payload(PAYMENT)
    assert _problem_code(ca, cert, payload, device.sign(payload)) is None


def test_load_ca_refuses_mismatched_or_garbage_material(ca: pki.BankCA) -> None:
    other = pki.create_ca("other", NOW)
    with pytest.raises(pki.CertificateProblem) as caught:
        pki.load_ca(pki.ca_private_key_pem(other), pki.ca_certificate_pem(ca))
    assert caught.value.code == "malformed_key"
    with pytest.raises(pki.CertificateProblem) as caught:
        pki.load_ca(b"garbage", pki.ca_certificate_pem(ca))
    assert caught.value.code == "malformed_key"
    with pytest.raises(pki.CertificateProblem) as caught:
        pki.load_ca(pki.ca_private_key_pem(ca), b"garbage")
    assert caught.value.code == "malformed_certificate"


def test_canonical_payload_is_sorted_compact_utf8() -> None:
    payload = pki.canonical_payload({"payee": "李四", "amount_minor": 100, "currency": "CNY"})
    assert payload == '{"amount_minor":100,"currency":"CNY","payee":"李四"}'.encode()
    assert pki.canonical_payload({"b": 1, "a": "x"}) == pki.canonical_payload({"a": "x", "b": 1})


def test_canonical_payload_refuses_floats_and_booleans() -> None:
    with pytest.raises(TypeError):
        pki.canonical_payload({"amount": 1.5})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        pki.canonical_payload({"flag": True})


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.create_ca("x", datetime(2026, 1, 1))
