"""Password hashing with argon2id (argon2-cffi). Defaults are RFC 9106's low-memory profile; the
cost is configurable (``EBANK_ARGON2_*``) because a hash's own parameters travel with it, so a
stronger setting applies to new and re-hashed passwords without breaking existing ones."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_state: dict[str, PasswordHasher | str] = {}


def configure(*, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _state["hasher"] = hasher
    _state["dummy"] = hasher.hash("not-a-real-password-used-to-even-out-timing")


def _hasher() -> PasswordHasher:
    if "hasher" not in _state:
        configure()
    hasher = _state["hasher"]
    assert isinstance(hasher, PasswordHasher)
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash, still spends the same time (no user oracle)."""
    hasher = _hasher()
    try:
        return hasher.verify(password_hash or str(_state["dummy"]), password) and bool(
            password_hash
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
