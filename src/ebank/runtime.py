"""Everything a use case needs from the process: settings, storage, clock, policy and keys."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ebank.common.clock import Clock, SystemClock
from ebank.common.crypto import FieldCipher, cipher_from_env, load_or_create_keys_file
from ebank.config import Settings, get_settings
from ebank.db import Database
from ebank.policy import Policy, load_policy
from ebank.risk.assessment import PermissiveAssessor, RiskAssessor

if TYPE_CHECKING:
    from ebank.channels.identity import IdentityCheck
    from ebank.ledger.engine import PostingEngine
    from ebank.notify.courier import Courier


class Worker(Protocol):
    """A process-wide background worker: built from the runtime, started on first use, stopped
    when the runtime closes."""

    def __init__(self, rt: Runtime) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


W = TypeVar("W", bound=Worker)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    policy: Policy
    cipher: FieldCipher
    risk: RiskAssessor = field(default_factory=PermissiveAssessor)  # build_runtime: the engine
    identity: IdentityCheck | None = None  # build_runtime: settings.identity_check
    _workers: dict[type[Any], Worker] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def worker(self, kind: type[W]) -> W:
        """The process's worker of this kind, started on first use."""
        with self._lock:
            found = self._workers.get(kind)
            if found is None:
                found = kind(self)
                found.start()
                self._workers[kind] = found
            assert isinstance(found, kind)
            return found

    @property
    def posting(self) -> PostingEngine:
        """The process's group-commit posting engine."""
        from ebank.ledger.engine import PostingEngine

        return self.worker(PostingEngine)

    @property
    def courier(self) -> Courier:
        """The process's notification courier."""
        from ebank.notify.courier import Courier

        return self.worker(Courier)

    def local_today(self) -> date:
        """Today in the bank's time zone (the policy's): the day a deadline or a scan counts."""
        return self.clock.now().astimezone(self.policy.zone).date()

    def close(self) -> None:
        """Stop the workers, the last started first (the courier, which others wake, last), and
        release the database."""
        from ebank.notify.courier import Courier

        with self._lock:
            newest_first = list(self._workers.values())[::-1]
            workers = sorted(newest_first, key=lambda w: isinstance(w, Courier))
            self._workers = {}
        for worker in workers:
            worker.stop()
        self.db.dispose()


def load_cipher(settings: Settings) -> FieldCipher:
    if settings.data_keys and settings.lookup_key:
        return cipher_from_env(settings.data_keys, settings.lookup_key)
    return load_or_create_keys_file(settings.resolved_keys_file)


def build_runtime(settings: Settings | None = None, clock: Clock | None = None) -> Runtime:
    settings = settings or get_settings()
    from ebank.auth import passwords

    passwords.configure(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)
    from ebank.risk.live import LiveRiskEngine

    runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url),
        clock=clock or SystemClock(),
        policy=load_policy(settings.policy_dir, settings.policy_profile),
        cipher=load_cipher(settings),
    )
    runtime.risk = LiveRiskEngine(runtime)
    from ebank.channels.identity import identity_check_for

    runtime.identity = identity_check_for(settings.identity_check)
    return runtime
