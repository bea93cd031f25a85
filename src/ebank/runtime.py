"""Everything a use case needs from the process: settings, storage, clock, policy and keys."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ebank.common.clock import Clock, SystemClock
from ebank.common.crypto import FieldCipher, cipher_from_env, load_or_create_keys_file
from ebank.config import Settings, get_settings
from ebank.db import Database
from ebank.policy import Policy, load_policy
from ebank.risk.assessment import PermissiveAssessor, RiskAssessor

if TYPE_CHECKING:
    from ebank.ledger.engine import PostingEngine
    from ebank.notify.courier import Courier


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    policy: Policy
    cipher: FieldCipher
    risk: RiskAssessor = field(default_factory=PermissiveAssessor)
    _posting: PostingEngine | None = field(default=None, repr=False)
    _courier: Courier | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def posting(self) -> PostingEngine:
        """The process's group-commit posting engine, started on first use."""
        with self._lock:
            if self._posting is None:
                from ebank.ledger.engine import PostingEngine

                self._posting = PostingEngine(self)
                self._posting.start()
            return self._posting

    @property
    def courier(self) -> Courier:
        """The process's notification courier, started on first use."""
        with self._lock:
            if self._courier is None:
                from ebank.notify.courier import Courier

                self._courier = Courier(self)
            return self._courier

    def close(self) -> None:
        with self._lock:
            if self._posting is not None:
                self._posting.stop()
                self._posting = None
            if self._courier is not None:
                self._courier.stop()
                self._courier = None
        self.db.dispose()


def load_cipher(settings: Settings) -> FieldCipher:
    if settings.data_keys and settings.lookup_key:
        return cipher_from_env(settings.data_keys, settings.lookup_key)
    return load_or_create_keys_file(settings.resolved_keys_file)


def build_runtime(settings: Settings | None = None, clock: Clock | None = None) -> Runtime:
    settings = settings or get_settings()
    from ebank.auth import passwords

    passwords.configure(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)
    return Runtime(
        settings=settings,
        db=Database(settings.database_url),
        clock=clock or SystemClock(),
        policy=load_policy(settings.policy_dir, settings.policy_profile),
        cipher=load_cipher(settings),
    )
