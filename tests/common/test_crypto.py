"""Personal data encryption (AES-256-GCM) and keyed lookup hashes."""

from __future__ import annotations

import base64
import secrets
import threading
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from ebank.common.crypto import (
    FieldCipher,
    KeyMaterialError,
    cipher_from_env,
    load_or_create_keys_file,
)


def key() -> bytes:
    return secrets.token_bytes(32)


def test_round_trip_and_fresh_nonce_every_time() -> None:
    cipher = FieldCipher({"k1": key()}, "k1", key())
    first = cipher.encrypt("13400000001", purpose="customer.mobile")
    second = cipher.encrypt("13400000001", purpose="customer.mobile")
    assert first != second
    assert b"13400000001" not in first
    assert cipher.decrypt(first, purpose="customer.mobile") == "13400000001"


def test_a_ciphertext_only_decrypts_for_its_own_purpose() -> None:
    cipher = FieldCipher({"k1": key()}, "k1", key())
    sealed = cipher.encrypt("110105199003071239", purpose="document.number")
    with pytest.raises(InvalidTag):
        cipher.decrypt(sealed, purpose="customer.mobile")


def test_tampering_is_detected() -> None:
    cipher = FieldCipher({"k1": key()}, "k1", key())
    sealed = bytearray(cipher.encrypt("张三", purpose="customer.name"))
    sealed[-1] ^= 1
    with pytest.raises(InvalidTag):
        cipher.decrypt(bytes(sealed), purpose="customer.name")


def test_rotation_old_keys_still_decrypt_new_key_encrypts() -> None:
    old, new, lookup = key(), key(), key()
    before = FieldCipher({"k1": old}, "k1", lookup)
    sealed = before.encrypt("secret", purpose="p")
    after = FieldCipher({"k2": new, "k1": old}, "k2", lookup)
    assert after.decrypt(sealed, purpose="p") == "secret"
    assert after.encrypt("secret", purpose="p")[2:4] == b"k2"
    with pytest.raises(KeyMaterialError, match="unknown key"):
        FieldCipher({"k2": new}, "k2", lookup).decrypt(sealed, purpose="p")


def test_lookup_hash_is_keyed_deterministic_and_purpose_bound() -> None:
    lookup = key()
    cipher = FieldCipher({"k1": key()}, "k1", lookup)
    same = FieldCipher({"k9": key()}, "k9", lookup)
    other = FieldCipher({"k1": key()}, "k1", key())
    value = "13400000001"
    assert cipher.lookup_hash(value, purpose="m") == same.lookup_hash(value, purpose="m")
    assert cipher.lookup_hash(value, purpose="m") != other.lookup_hash(value, purpose="m")
    assert cipher.lookup_hash(value, purpose="m") != cipher.lookup_hash(value, purpose="n")


@pytest.mark.parametrize(
    ("keys", "active", "lookup", "message"),
    [
        ({"k1": b"short"}, "k1", b"x" * 32, "32 bytes"),
        ({"k1": b"k" * 32}, "k2", b"x" * 32, "not among"),
        ({"k1": b"k" * 32}, "k1", b"short", "lookup key"),
    ],
)
def test_bad_key_material_is_refused(
    keys: dict[str, bytes], active: str, lookup: bytes, message: str
) -> None:
    with pytest.raises(KeyMaterialError, match=message):
        FieldCipher(keys, active, lookup)


def test_keys_from_the_environment_first_key_encrypts() -> None:
    first, second = (base64.b64encode(key()).decode() for _ in range(2))
    cipher = cipher_from_env(f"new:{first},old:{second}", base64.b64encode(key()).decode())
    assert cipher.active_key_id == "new"
    assert set(cipher.keys) == {"new", "old"}
    with pytest.raises(KeyMaterialError):
        cipher_from_env("no-colon", base64.b64encode(key()).decode())


def test_processes_starting_together_agree_on_one_keys_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keys.json"
    ciphers: list[FieldCipher] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            ciphers.append(load_or_create_keys_file(path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({c.lookup_key for c in ciphers}) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]
