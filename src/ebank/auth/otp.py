"""One-time passwords for e-tokens: HOTP (RFC 4226) and TOTP (RFC 6238).

The arithmetic (HMAC, dynamic truncation, constant-time comparison) is the ``cryptography``
library's; this module adds what a bank needs around it: verification windows, replay refusal,
resynchronisation of a drifting token and provisioning URIs. Everything is pure: the caller
supplies the secret, the time and the stored counter or last used step, and stores what comes back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.hotp import HOTP, HOTPHashTypes
from cryptography.hazmat.primitives.twofactor.totp import TOTP

SECRET_BYTES = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALGORITHMS: dict[str, type[HOTPHashTypes]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha512": hashes.SHA512,
}


def new_secret() -> bytes:
    """A fresh 160-bit shared secret (RFC 4226 recommends 160 bits)."""
    return secrets.token_bytes(SECRET_BYTES)


def _hash(algorithm: str) -> HOTPHashTypes:
    try:
        return _ALGORITHMS[algorithm.lower()]()
    except KeyError:
        raise ValueError(f"unsupported OTP algorithm: {algorithm!r}") from None


def _hotp(secret: bytes, *, digits: int, algorithm: str) -> HOTP:
    return HOTP(secret, digits, _hash(algorithm))


def _totp(secret: bytes, *, step_s: int, digits: int, algorithm: str) -> TOTP:
    return TOTP(secret, digits, _hash(algorithm), step_s)


def _well_formed(code: str, digits: int) -> bool:
    return len(code) == digits and code.isascii() and code.isdigit()


def hotp_code(secret: bytes, counter: int, *, digits: int = 6, algorithm: str = "sha1") -> str:
    return _hotp(secret, digits=digits, algorithm=algorithm).generate(counter).decode("ascii")


def time_step(at: datetime, *, step_s: int = 30) -> int:
    """The RFC 6238 time step ``floor((at - T0) / step)`` with T0 the Unix epoch."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("time_step needs a timezone-aware datetime")
    if step_s <= 0:
        raise ValueError("step_s must be positive")
    # timedelta floor division is exact integer arithmetic, unlike float timestamps.
    return (at - _EPOCH) // timedelta(seconds=step_s)


def totp_code(
    secret: bytes,
    at: datetime,
    *,
    step_s: int = 30,
    digits: int = 6,
    algorithm: str = "sha1",
) -> str:
    step = time_step(at, step_s=step_s)
    totp = _totp(secret, step_s=step_s, digits=digits, algorithm=algorithm)
    return totp.generate(step * step_s).decode("ascii")


def _first_match(hotp: HOTP, code: str, counters: Iterable[int]) -> int | None:
    """The first counter whose code equals ``code``. Every candidate is checked (no early exit)
    and each comparison is constant-time, so timing does not reveal which one matched."""
    token = code.encode("ascii")
    found: int | None = None
    for counter in counters:
        try:
            hotp.verify(token, counter)
        except InvalidToken:
            continue
        if found is None:
            found = counter
    return found


def match_totp(
    secret: bytes,
    code: str,
    at: datetime,
    *,
    step_s: int = 30,
    window: int = 1,
    drift_steps: int = 0,
    last_used_step: int | None = None,
    digits: int = 6,
    algorithm: str = "sha1",
) -> int | None:
    """The time step ``code`` belongs to, searched within ``window`` steps either side of the
    current step shifted by the token's known ``drift_steps``; None when nothing matches.

    Steps at or before ``last_used_step`` are never accepted, so a code (or an older one) cannot be
    replayed; the caller stores the returned step as the new ``last_used_step``.
    """
    if window < 0:
        raise ValueError("window must not be negative")
    centre = time_step(at, step_s=step_s) + drift_steps
    hotp = _hotp(secret, digits=digits, algorithm=algorithm)
    if not _well_formed(code, digits):
        return None
    lowest = centre - window
    if last_used_step is not None:
        lowest = max(lowest, last_used_step + 1)
    # A TOTP code is the HOTP code of its time step (RFC 6238 section 4).
    return _first_match(hotp, code, range(lowest, centre + window + 1))


def match_hotp(
    secret: bytes,
    code: str,
    counter: int,
    *,
    window: int = 10,
    digits: int = 6,
    algorithm: str = "sha1",
) -> int | None:
    """The next counter to store (matched counter + 1) when ``code`` is the code of one of
    ``counter`` .. ``counter + window - 1``; None otherwise."""
    if window < 1:
        raise ValueError("window must be at least 1")
    hotp = _hotp(secret, digits=digits, algorithm=algorithm)
    if not _well_formed(code, digits):
        return None
    matched = _first_match(hotp, code, range(counter, counter + window))
    return None if matched is None else matched + 1


def _consecutive(hotp: HOTP, first: str, second: str, candidates: Iterable[int]) -> int | None:
    """The first candidate ``c`` with ``first`` the code of ``c`` and ``second`` that of ``c+1``."""
    first_token, second_token = first.encode("ascii"), second.encode("ascii")
    for candidate in candidates:
        try:
            hotp.verify(first_token, candidate)
            hotp.verify(second_token, candidate + 1)
        except InvalidToken:
            continue
        return candidate
    return None


def resync_hotp(
    secret: bytes,
    first: str,
    second: str,
    counter: int,
    *,
    look_ahead: int = 1000,
    digits: int = 6,
    algorithm: str = "sha1",
) -> int | None:
    """Resynchronise a token pressed too often: two consecutive codes found among the next
    ``look_ahead`` counters give the next counter to store; None otherwise.

    Two codes are required because a single code within a large look-ahead is too easy to guess.
    """
    if look_ahead < 1:
        raise ValueError("look_ahead must be at least 1")
    hotp = _hotp(secret, digits=digits, algorithm=algorithm)
    if not (_well_formed(first, digits) and _well_formed(second, digits)):
        return None
    matched = _consecutive(hotp, first, second, range(counter, counter + look_ahead))
    return None if matched is None else matched + 2


def resync_totp(
    secret: bytes,
    first: str,
    second: str,
    at: datetime,
    *,
    step_s: int = 30,
    look_around: int = 40,
    digits: int = 6,
    algorithm: str = "sha1",
) -> int | None:
    """Measure a token's clock drift from two consecutive codes, ``second`` being the one the
    token shows at ``at``. Returns the drift in steps (token step - server step) to pass later as
    ``match_totp(..., drift_steps=drift)``; None when no pair lies within ``look_around`` steps.

    The step of ``second`` is ``time_step(at) + drift``: callers should store it as the last used
    step so the pair cannot be replayed.
    """
    if look_around < 0:
        raise ValueError("look_around must not be negative")
    current = time_step(at, step_s=step_s)
    hotp = _hotp(secret, digits=digits, algorithm=algorithm)
    if not (_well_formed(first, digits) and _well_formed(second, digits)):
        return None
    # Nearest offsets first, so the smallest plausible drift wins.
    offsets = sorted(range(-look_around, look_around + 1), key=abs)
    matched = _consecutive(hotp, first, second, (current + offset - 1 for offset in offsets))
    return None if matched is None else matched + 1 - current


def provisioning_uri(
    secret: bytes,
    *,
    account_name: str,
    issuer: str,
    kind: Literal["totp", "hotp"],
    counter: int = 0,
    step_s: int = 30,
    digits: int = 6,
    algorithm: str = "sha1",
) -> str:
    """The ``otpauth://`` URI (Key Uri Format) an authenticator app or token enrolment reads;
    the secret travels base32-encoded."""
    if kind == "totp":
        totp = _totp(secret, step_s=step_s, digits=digits, algorithm=algorithm)
        return totp.get_provisioning_uri(account_name, issuer)
    if kind == "hotp":
        hotp = _hotp(secret, digits=digits, algorithm=algorithm)
        return hotp.get_provisioning_uri(account_name, counter, issuer)
    raise ValueError(f"unknown OTP kind: {kind!r}")
