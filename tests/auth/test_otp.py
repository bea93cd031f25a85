"""HOTP/TOTP against the RFC test vectors, plus windows, replay, look-ahead and resync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from ebank.auth import otp
from ebank.sim.usbkey import SoftToken

RFC4226_SECRET = b"12345678901234567890"
RFC4226_CODES = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]
RFC6238_SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238_VECTORS = [
    (59, "sha1", "94287082"),
    (59, "sha256", "46119246"),
    (59, "sha512", "90693936"),
    (1111111109, "sha1", "07081804"),
    (1111111109, "sha256", "68084774"),
    (1111111109, "sha512", "25091201"),
    (1111111111, "sha1", "14050471"),
    (1111111111, "sha256", "67062674"),
    (1111111111, "sha512", "99943326"),
    (1234567890, "sha1", "89005924"),
    (1234567890, "sha256", "91819424"),
    (1234567890, "sha512", "93441116"),
    (2000000000, "sha1", "69279037"),
    (2000000000, "sha256", "90698825"),
    (2000000000, "sha512", "38618901"),
    (20000000000, "sha1", "65353130"),
    (20000000000, "sha256", "77737706"),
    (20000000000, "sha512", "47863826"),
]
NOW = datetime(2026, 11, 23, 2, 0, 10, tzinfo=UTC)
SECRET = bytes(range(20))


def _at(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, tz=UTC)


def test_new_secret_is_20_random_bytes() -> None:
    first, second = otp.new_secret(), otp.new_secret()
    assert len(first) == 20
    assert first != second


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226_CODES)))
def test_hotp_matches_rfc4226_appendix_d(counter: int, expected: str) -> None:
    assert otp.hotp_code(RFC4226_SECRET, counter) == expected


@pytest.mark.parametrize(("unix_seconds", "algorithm", "expected"), RFC6238_VECTORS)
def test_totp_matches_rfc6238_appendix_b(unix_seconds: int, algorithm: str, expected: str) -> None:
    secret = RFC6238_SEEDS[algorithm]
    at = _at(unix_seconds)
    assert otp.totp_code(secret, at, digits=8, algorithm=algorithm) == expected
    step = otp.time_step(at)
    assert otp.match_totp(secret, expected, at, digits=8, algorithm=algorithm) == step


def test_time_step_uses_unix_epoch_and_any_timezone() -> None:
    assert otp.time_step(_at(59)) == 1
    assert otp.time_step(_at(60)) == 2
    assert otp.time_step(_at(1111111109)) == 0x23523EC
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    assert otp.time_step(shanghai) == otp.time_step(NOW)
    assert otp.time_step(_at(90), step_s=60) == 1


def test_time_step_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        otp.time_step(datetime(2026, 1, 1))


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported OTP algorithm"):
        otp.hotp_code(SECRET, 0, algorithm="md5")


def test_totp_window_accepts_one_step_either_side_and_refuses_two() -> None:
    step = otp.time_step(NOW)
    step_s = timedelta(seconds=30)
    for offset in (-1, 0, 1):
        code = otp.totp_code(SECRET, NOW + offset * step_s)
        assert otp.match_totp(SECRET, code, NOW) == step + offset
    for offset in (-2, 2):
        code = otp.totp_code(SECRET, NOW + offset * step_s)
        assert otp.match_totp(SECRET, code, NOW) is None


def test_totp_replay_of_last_used_step_is_refused() -> None:
    code = otp.totp_code(SECRET, NOW)
    used = otp.match_totp(SECRET, code, NOW)
    assert used is not None
    assert otp.match_totp(SECRET, code, NOW, last_used_step=used) is None
    # An older code still inside the window is refused too.
    previous = otp.totp_code(SECRET, NOW - timedelta(seconds=30))
    assert otp.match_totp(SECRET, previous, NOW, last_used_step=used) is None
    following = otp.totp_code(SECRET, NOW + timedelta(seconds=30))
    assert otp.match_totp(SECRET, following, NOW, last_used_step=used) == used + 1


def test_totp_drift_shifts_the_window() -> None:
    drifted = SoftToken(SECRET, drift_steps=5)
    code = drifted.code(NOW)
    assert otp.match_totp(SECRET, code, NOW) is None
    assert otp.match_totp(SECRET, code, NOW, drift_steps=5) == otp.time_step(NOW) + 5


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "12a456", " 12345", "１２３４５６", "-12345"]
)
def test_malformed_codes_do_not_match(code: str) -> None:
    assert otp.match_totp(SECRET, code, NOW) is None
    assert otp.match_hotp(SECRET, code, 0) is None
    assert otp.resync_hotp(SECRET, code, code, 0) is None
    assert otp.resync_totp(SECRET, code, code, NOW) is None


def test_wrong_code_does_not_match() -> None:
    code = otp.totp_code(SECRET, NOW)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert otp.match_totp(SECRET, wrong, NOW, window=0) is None
    assert otp.match_totp(otp.new_secret(), code, NOW, window=0) is None


def test_hotp_look_ahead_returns_next_counter() -> None:
    assert otp.match_hotp(RFC4226_SECRET, RFC4226_CODES[0], 0) == 1
    assert otp.match_hotp(RFC4226_SECRET, RFC4226_CODES[9], 0) == 10
    assert otp.match_hotp(RFC4226_SECRET, RFC4226_CODES[3], 0, window=3) is None
    assert otp.match_hotp(RFC4226_SECRET, RFC4226_CODES[3], 3, window=1) == 4


def test_hotp_codes_below_the_counter_are_refused() -> None:
    assert otp.match_hotp(RFC4226_SECRET, RFC4226_CODES[2], 3) is None


def test_hotp_resync_finds_two_consecutive_codes_far_ahead() -> None:
    token = SoftToken(SECRET, counter=500)
    first, second = token.next_code(), token.next_code()
    assert otp.match_hotp(SECRET, first, 0) is None
    assert otp.resync_hotp(SECRET, first, second, 0) == 502
    assert otp.match_hotp(SECRET, token.next_code(), 502) == 503


def test_hotp_resync_refuses_non_consecutive_or_out_of_range_codes() -> None:
    codes = [otp.hotp_code(SECRET, counter) for counter in range(500, 503)]
    assert otp.resync_hotp(SECRET, codes[0], codes[2], 0) is None
    assert otp.resync_hotp(SECRET, codes[1], codes[0], 0) is None
    assert otp.resync_hotp(SECRET, codes[0], codes[1], 0, look_ahead=500) is None
    assert otp.resync_hotp(SECRET, codes[0], codes[1], 0, look_ahead=501) == 502


@pytest.mark.parametrize("drift", [-30, -2, 0, 3, 40])
def test_totp_resync_measures_drift_usable_by_match(drift: int) -> None:
    token = SoftToken(SECRET, drift_steps=drift)
    first = token.code(NOW - timedelta(seconds=30))
    second = token.code(NOW)
    assert otp.resync_totp(SECRET, first, second, NOW) == drift
    later = NOW + timedelta(hours=2)
    used = otp.time_step(NOW) + drift
    matched = otp.match_totp(
        SECRET, token.code(later), later, drift_steps=drift, last_used_step=used
    )
    assert matched == otp.time_step(later) + drift


def test_totp_resync_refuses_drift_beyond_look_around_and_wrong_order() -> None:
    token = SoftToken(SECRET, drift_steps=41)
    first, second = token.code(NOW - timedelta(seconds=30)), token.code(NOW)
    assert otp.resync_totp(SECRET, first, second, NOW) is None
    assert otp.resync_totp(SECRET, first, second, NOW, look_around=41) == 41
    assert otp.resync_totp(SECRET, second, first, NOW, look_around=41) is None


def test_totp_provisioning_uri() -> None:
    uri = otp.provisioning_uri(
        RFC4226_SECRET, account_name="alice", issuer="易银行", kind="totp", digits=8
    )
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert query["secret"] == ["GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"]
    assert query["issuer"] == ["易银行"]
    assert query["digits"] == ["8"]
    assert query["period"] == ["30"]
    assert query["algorithm"] == ["SHA1"]


def test_hotp_provisioning_uri_carries_the_counter() -> None:
    uri = otp.provisioning_uri(
        SECRET, account_name="bob", issuer="ebank", kind="hotp", counter=7, algorithm="sha256"
    )
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.netloc == "hotp"
    assert query["counter"] == ["7"]
    assert query["algorithm"] == ["SHA256"]


def test_soft_token_hotp_advances_its_counter() -> None:
    token = SoftToken(RFC4226_SECRET)
    assert [token.next_code() for _ in range(3)] == RFC4226_CODES[:3]
    assert token.counter == 3
