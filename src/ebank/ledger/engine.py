"""Group commit: many concurrent callers, one database transaction per batch.

Callers (API requests, the counter, the simulator) submit their transfers and wait. A single
worker thread per process takes everything waiting — up to ``ledger_batch_max`` requests — posts it
in one transaction and wakes each caller with its own results once the commit is durable. Under load
the batches grow and the cost of each commit (its fsync) is shared; with no load a lone request is
posted at once. A submission whose requests break the batch (an unexpected database error) is
retried on its own, so it cannot fail anyone else's.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from ebank.audit.service import AuditEntry
from ebank.common.actor import Actor
from ebank.common.errors import DomainError
from ebank.ledger.posting import TransferRequest, TransferResult
from ebank.ledger.writer import post_batch

if TYPE_CHECKING:
    from ebank.runtime import Runtime

log = logging.getLogger(__name__)

# Called inside the batch's transaction with the submission's results, for rows that must commit
# together with the postings (the clearing queue, a payment's outcome); returns audit entries of
# its own, chained with the batch's.
AfterPost = Callable[[Connection, list[TransferResult]], Sequence[AuditEntry] | None]

TRANSIENT_RETRIES = 5


@dataclass
class _Submission:
    requests: list[TransferRequest]
    actor: Actor | None
    audit: Sequence[AuditEntry]
    after_post: AfterPost | None
    future: Future[list[TransferResult]] = field(default_factory=Future)


class EngineStopped(DomainError):
    status = 503


class PostingEngine:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._queue: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.batches = 0
        self.requests = 0

    @property
    def workers(self) -> int:
        """Batches in flight at once. PostgreSQL overlaps one batch's commit with the next
        batch's work (row locks keep them apart); SQLite has one writer, so one worker."""
        configured = self._rt.settings.ledger_workers
        if configured:
            return configured
        return 1 if self._rt.db.is_sqlite else 2

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"ledger-posting-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._queue.put(None)  # each worker passes the stop mark on to the next
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        while True:  # whatever slipped in behind the stop mark is refused, not left waiting
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                return
            if left is not None:
                _fail(left, _stopping())

    def submit(
        self,
        requests: Sequence[TransferRequest],
        *,
        actor: Actor | None = None,
        audit: Sequence[AuditEntry] = (),
        after_post: AfterPost | None = None,
        timeout: float = 60.0,
    ) -> list[TransferResult]:
        """Post ``requests`` and return once durably committed. Each transfer posted or refused
        is audited in ``actor``'s name; ``audit`` adds entries of the caller's own."""
        future = self.submit_async(requests, actor=actor, audit=audit, after_post=after_post)
        try:
            return future.result(timeout)
        except FutureTimeout as exc:
            # The batch may still commit: the same ids, sent again, return its outcome.
            raise EngineStopped(
                "ledger_busy",
                "The ledger is taking longer than usual; send the same request again.",
            ) from exc

    def submit_async(
        self,
        requests: Sequence[TransferRequest],
        *,
        actor: Actor | None = None,
        audit: Sequence[AuditEntry] = (),
        after_post: AfterPost | None = None,
    ) -> Future[list[TransferResult]]:
        submission = _Submission(list(requests), actor, audit, after_post)
        if self._stopping.is_set():
            _fail(submission, _stopping())
            return submission.future
        self._queue.put(submission)
        return submission.future

    def _run(self) -> None:
        max_batch = self._rt.settings.ledger_batch_max
        wait = self._rt.settings.ledger_batch_wait_ms / 1000
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.put(None)  # for the next worker
                return

            batch = [first]
            size = len(first.requests)
            deadline = time.monotonic() + wait
            while size < max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    nxt = (
                        self._queue.get_nowait()
                        if remaining <= 0
                        else self._queue.get(timeout=remaining)
                    )
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
                size += len(nxt.requests)
            self._post(batch)

    def _post(self, batch: list[_Submission]) -> None:
        try:
            results = self._commit(batch)
        except Exception as exc:
            if len(batch) == 1:
                # The type only: a traceback's SQL parameters could carry customers' data.
                log.error("ledger batch failed: %s", type(exc).__name__)
                _fail(batch[0], _unavailable())
                return
            for submission in batch:  # isolate the submission that breaks the batch
                self._post([submission])
            return
        self.batches += 1
        for submission, own in zip(batch, results, strict=True):
            self.requests += len(own)
            if submission.future.set_running_or_notify_cancel():
                submission.future.set_result(own)

    def _commit(self, batch: list[_Submission]) -> list[list[TransferResult]]:
        for attempt in range(TRANSIENT_RETRIES):
            try:
                with self._rt.db.write_connection() as conn:
                    return self._post_in(conn, batch)
            except (OperationalError, DBAPIError) as exc:
                if not _is_transient(exc) or attempt == TRANSIENT_RETRIES - 1:
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    def _post_in(self, conn: Connection, batch: list[_Submission]) -> list[list[TransferResult]]:
        split: list[list[TransferResult]] = []

        def after_posts(results: list[TransferResult]) -> list[AuditEntry]:
            split.extend(_split(results, batch))
            entries: list[AuditEntry] = []
            for submission, own in zip(batch, split, strict=True):
                if submission.after_post is not None:
                    entries.extend(submission.after_post(conn, own) or ())
            return entries

        post_batch(
            conn,
            [submission.requests for submission in batch],
            now=self._rt.clock.now(),
            policy=self._rt.policy,
            actors=[submission.actor for submission in batch],
            audit_entries=[e for submission in batch for e in submission.audit],
            after_posting=after_posts,
        )
        return split


def _split(results: list[TransferResult], batch: list[_Submission]) -> list[list[TransferResult]]:
    split: list[list[TransferResult]] = []
    at = 0
    for submission in batch:
        split.append(results[at : at + len(submission.requests)])
        at += len(submission.requests)
    return split


def _is_transient(exc: DBAPIError) -> bool:
    """Deadlocks, serialization failures and a busy SQLite file: try again."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if code in ("40001", "40P01", "55P03"):
        return True
    message = str(exc.orig).lower() if exc.orig is not None else ""
    return "database is locked" in message or "database is busy" in message


def _fail(submission: _Submission, error: Exception) -> None:
    if submission.future.set_running_or_notify_cancel():
        submission.future.set_exception(error)


def _stopping() -> DomainError:
    return EngineStopped("service_stopping", "The service is shutting down; try again.")


def _unavailable() -> DomainError:
    return EngineStopped(
        "ledger_unavailable", "The ledger could not record this request; try again later."
    )
