"""Personal data at rest: AES-256-GCM encryption and an HMAC-SHA256 keyed hash for lookups.

Every ciphertext names the key that made it, so keys can be rotated: the first key encrypts, any
listed key decrypts. The associated data binds a ciphertext to its purpose (``customer.mobile``…),
so a value copied into another column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
NONCE_BYTES = 12


class KeyMaterialError(Exception):
    """Keys are missing or malformed."""


@dataclass(frozen=True)
class FieldCipher:
    keys: dict[str, bytes]
    active_key_id: str
    lookup_key: bytes

    def __post_init__(self) -> None:
        if self.active_key_id not in self.keys:
            raise KeyMaterialError(f"active key {self.active_key_id!r} is not among the keys")
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise KeyMaterialError(f"key {key_id!r} must be 32 bytes (AES-256)")
            if not key_id.isascii() or not 0 < len(key_id) < 32:
                raise KeyMaterialError("key ids are 1-31 ASCII characters")
        if len(self.lookup_key) < 32:
            raise KeyMaterialError("the lookup key must be at least 32 bytes")

    def encrypt(self, plaintext: str, *, purpose: str) -> bytes:
        key_id = self.active_key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_key_id]).encrypt(
            nonce, plaintext.encode(), purpose.encode()
        )
        return bytes([FORMAT_VERSION, len(key_id)]) + key_id + nonce + sealed

    def decrypt(self, blob: bytes, *, purpose: str) -> str:
        if len(blob) < 2 or blob[0] != FORMAT_VERSION:
            raise KeyMaterialError("unknown ciphertext format")
        id_len = blob[1]
        key_id = blob[2 : 2 + id_len].decode()
        if key_id not in self.keys:
            raise KeyMaterialError(f"ciphertext made with unknown key {key_id!r}")
        nonce_at = 2 + id_len
        nonce = blob[nonce_at : nonce_at + NONCE_BYTES]
        sealed = blob[nonce_at + NONCE_BYTES :]
        return AESGCM(self.keys[key_id]).decrypt(nonce, sealed, purpose.encode()).decode()

    def lookup_hash(self, value: str, *, purpose: str) -> str:
        """Deterministic keyed hash (hex) of a normalized value: finds a record, decrypts nothing."""
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self.lookup_key, message, hashlib.sha256).hexdigest()


def generate_keys_document() -> dict[str, object]:
    return {
        "data_keys": {"k1": base64.b64encode(secrets.token_bytes(32)).decode()},
        "active_key_id": "k1",
        "lookup_key": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def cipher_from_document(document: dict[str, object]) -> FieldCipher:
    try:
        raw_keys = document["data_keys"]
        if not isinstance(raw_keys, dict):
            raise KeyMaterialError("data_keys must be a mapping")
        keys = {str(k): base64.b64decode(str(v), validate=True) for k, v in raw_keys.items()}
        return FieldCipher(
            keys=keys,
            active_key_id=str(document["active_key_id"]),
            lookup_key=base64.b64decode(str(document["lookup_key"]), validate=True),
        )
    except (KeyError, ValueError) as exc:
        raise KeyMaterialError(f"malformed keys: {exc}") from exc


def cipher_from_env(data_keys: str, lookup_key: str) -> FieldCipher:
    """``data_keys`` is ``id:base64,id:base64`` (the first one encrypts)."""
    pairs = [item.split(":", 1) for item in data_keys.split(",") if item.strip()]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise KeyMaterialError("EBANK_DATA_KEYS must be 'id:base64key[,id:base64key…]'")
    document: dict[str, object] = {
        "data_keys": {key_id.strip(): key.strip() for key_id, key in pairs},
        "active_key_id": pairs[0][0].strip(),
        "lookup_key": lookup_key,
    }
    return cipher_from_document(document)


def load_or_create_keys_file(path: Path) -> FieldCipher:
    """Read the keys file, creating it (mode 0600) with fresh keys on first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(generate_keys_document(), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        try:  # atomic: of several processes starting together, the first one's keys win
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise KeyMaterialError(f"{path} does not hold a JSON object")
    return cipher_from_document(document)
