"""Software stand-ins for customers' authentication devices, for tests, the demo and the bench.

``SoftUsbKey`` behaves like a USB key: its P-256 key pair is generated inside it and only the
public key and signatures leave it. ``SoftToken`` is an e-token showing TOTP or HOTP codes, with an
optional clock drift to exercise resynchronisation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ebank.auth import otp


class SoftUsbKey:
    """A USB key whose private key never leaves the object."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.certificate_pem: bytes | None = None

    def public_key_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )

    def sign(self, payload: bytes) -> bytes:
        """A DER-encoded ECDSA-SHA256 signature over ``payload``."""
        return self._key.sign(payload, ec.ECDSA(hashes.SHA256()))


class SoftToken:
    """An e-token sharing ``secret`` with the bank. ``drift_steps`` shifts its TOTP clock, as a
    real token's quartz drifts over the years."""

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        counter: int = 0,
        step_s: int = 30,
        digits: int = 6,
        algorithm: str = "sha1",
        drift_steps: int = 0,
    ) -> None:
        self.secret = otp.new_secret() if secret is None else secret
        self.counter = counter
        self.step_s = step_s
        self.digits = digits
        self.algorithm = algorithm
        self.drift_steps = drift_steps

    def code(self, at: datetime) -> str:
        """The TOTP code the token displays at ``at`` (by the bank's clock)."""
        token_time = at + timedelta(seconds=self.drift_steps * self.step_s)
        return otp.totp_code(
            self.secret,
            token_time,
            step_s=self.step_s,
            digits=self.digits,
            algorithm=self.algorithm,
        )

    def next_code(self) -> str:
        """The next HOTP code; like pressing the token's button, it advances the counter."""
        code = otp.hotp_code(
            self.secret, self.counter, digits=self.digits, algorithm=self.algorithm
        )
        self.counter += 1
        return code
