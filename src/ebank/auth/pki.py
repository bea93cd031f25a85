"""The bank's own certificate authority for customers' USB keys (ECDSA P-256, SHA-256).

A USB key generates its key pair on the device; the bank only ever sees the public key, certifies
it with an end-entity certificate, and later checks payment signatures against that certificate.
A client signs ``canonical_payload`` of the payment's fields, so the signature is bound to the
exact amount and payee it was made for: changing either invalidates it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CURVE_NAME = ec.SECP256R1.name


class CertificateProblem(Exception):
    """A key, certificate or signature is not acceptable; ``code`` is stable for callers."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class BankCA:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("certificate times must be timezone-aware")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _is_p256(key: object) -> bool:
    return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == _CURVE_NAME


def create_ca(common_name: str, now: datetime, *, years: int = 10) -> BankCA:
    """A new self-signed CA that may sign end-entity certificates only (path length 0)."""
    _require_aware(now)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return BankCA(key=key, certificate=certificate)


def ca_private_key_pem(ca: BankCA) -> bytes:
    """The CA key as unencrypted PKCS#8 PEM: the caller encrypts it before storing it."""
    return ca.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ca_certificate_pem(ca: BankCA) -> bytes:
    return certificate_pem(ca.certificate)


def load_ca(key_pem: bytes, cert_pem: bytes) -> BankCA:
    """Load a CA saved with ``ca_private_key_pem`` / ``ca_certificate_pem``; the key must be the
    certificate's."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CertificateProblem("malformed_key", "the CA key is not a PKCS#8 PEM key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not _is_p256(key.public_key()):
        raise CertificateProblem("unsupported_key", "the CA key must be an EC P-256 key")
    certificate = load_certificate(cert_pem)
    if certificate.public_key() != key.public_key():
        raise CertificateProblem("malformed_key", "the CA key does not match the CA certificate")
    return BankCA(key=key, certificate=certificate)


def _load_public_key(public_key_pem: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateProblem("malformed_key", "not a PEM public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not _is_p256(key):
        raise CertificateProblem("unsupported_key", "only EC P-256 public keys are accepted")
    return key


def _authority_key_identifier(ca: BankCA) -> x509.AuthorityKeyIdentifier:
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def issue_certificate(
    ca: BankCA,
    public_key_pem: bytes,
    *,
    subject_name: str,
    serial: int,
    now: datetime,
    days: int,
) -> x509.Certificate:
    """Certify a public key generated on a customer's USB key, valid for ``days`` from ``now``."""
    _require_aware(now)
    key = _load_public_key(public_key_pem)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject_name))
        .issuer_name(ca.certificate.subject)
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(_authority_key_identifier(ca), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@lru_cache(maxsize=4096)  # certificates are immutable: parse each one once per process
def load_certificate(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateProblem("malformed_certificate", "not a PEM X.509 certificate") from exc


def fingerprint(cert: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint, lowercase hex."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _check_issuer(ca_cert: x509.Certificate, cert: x509.Certificate) -> None:
    _issued_by(ca_cert, cert)  # raises unless issued by the CA; a success is remembered


@lru_cache(maxsize=4096)  # whether a CA issued a certificate never changes: verify that once
def _issued_by(ca_cert: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateProblem("not_issued_by_bank", "not signed by the bank's CA") from exc
    # The CA certificate is "directly issued by" itself; it must never pass for a customer's.
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise CertificateProblem("not_issued_by_bank", "no basic constraints") from exc
    if constraints.ca:
        raise CertificateProblem("not_issued_by_bank", "a CA certificate cannot sign payloads")
    return True


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    _require_aware(now)
    if now < cert.not_valid_before_utc:
        raise CertificateProblem("not_yet_valid", f"valid from {cert.not_valid_before_utc}")
    if now > cert.not_valid_after_utc:
        raise CertificateProblem("expired", f"expired at {cert.not_valid_after_utc}")


def _check_signature(cert: x509.Certificate, payload: bytes, signature: bytes) -> None:
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise CertificateProblem("malformed_signature", "not a DER ECDSA signature") from exc
    # Only the canonical DER encoding is accepted, so one signature has exactly one byte form.
    if encode_dss_signature(r, s) != signature:
        raise CertificateProblem("malformed_signature", "not canonical DER")
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateProblem("unsupported_key", "the certificate's key is not an EC key")
    try:
        key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise CertificateProblem("bad_signature", "the signature does not match") from exc


def verify_signed_payload(
    ca_cert: x509.Certificate,
    cert: x509.Certificate,
    payload: bytes,
    signature: bytes,
    *,
    now: datetime,
    revoked: Callable[[int], bool],
) -> None:
    """Return quietly when ``signature`` is the holder's signature over ``payload`` with a
    bank-issued, currently valid, unrevoked certificate; raise ``CertificateProblem`` otherwise."""
    _check_issuer(ca_cert, cert)
    _check_validity(cert, now)
    if revoked(cert.serial_number):
        raise CertificateProblem("revoked", f"certificate {cert.serial_number} is revoked")
    _check_signature(cert, payload, signature)


def canonical_payload(fields: Mapping[str, str | int]) -> bytes:
    """The exact bytes a client signs: compact JSON with sorted keys, UTF-8.

    Only strings and integers are allowed (amounts in minor units), because floats and booleans
    have more than one plausible textual form across client implementations.
    """
    # Typed as ``object``: the checks guard against callers that bypass the type checker.
    items: list[tuple[object, object]] = list(fields.items())
    for name, value in items:
        if not isinstance(name, str):
            raise TypeError(f"payload field names must be strings, not {type(name).__name__}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"payload field {name!r} must be a string or an integer")
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")
