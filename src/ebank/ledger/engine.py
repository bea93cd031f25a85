"""The ledger's posting engine: group commit of transfers (:mod:`ebank.batching`).

Callers (API requests, the counter, the simulator) submit their transfers and wait. A worker takes
everything waiting — up to ``ledger_batch_max`` transfers — posts it in one transaction and wakes
each caller with its own results once the commit is durable. Under load the batches grow and the
cost of each commit (its fsync) is shared; with no load a lone request waits at most
``ledger_batch_wait_ms`` for company. A submission whose requests break the batch (an unexpected
database error) is retried on its own, so it cannot fail anyone else's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from ebank.audit.service import AuditEntry
from ebank.batching import Batcher
from ebank.common.actor import Actor
from ebank.common.errors import DomainError
from ebank.ledger.posting import TransferRequest, TransferResult
from ebank.ledger.writer import post_batch

if TYPE_CHECKING:
    from ebank.runtime import Runtime

# Called inside the batch's transaction with the submission's results, for rows that must commit
# together with the postings (the clearing queue, a payment's outcome); returns audit entries of
# its own, chained with the batch's.
AfterPost = Callable[[Connection, list[TransferResult]], Sequence[AuditEntry] | None]


@dataclass
class _Submission:
    requests: list[TransferRequest]
    actor: Actor | None
    audit: Sequence[AuditEntry]
    after_post: AfterPost | None


class EngineStopped(DomainError):
    status = 503


class PostingEngine:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        settings = rt.settings
        self._batcher: Batcher[_Submission, list[TransferResult]] = Batcher(
            "ledger-posting",
            self._commit,
            workers=self.workers,
            max_size=settings.ledger_batch_max,
            wait_s=settings.ledger_batch_wait_ms / 1000,
            size_of=lambda submission: len(submission.requests),
            unavailable=_unavailable,
            hold=rt.db,
        )

    @property
    def workers(self) -> int:
        """Batches in flight at once. PostgreSQL overlaps one batch's commit with the next
        batch's work (row locks keep them apart); SQLite has one writer, so one worker."""
        configured = self._rt.settings.ledger_workers
        if configured:
            return configured
        return 1 if self._rt.db.is_sqlite else 2

    @property
    def batches(self) -> int:
        return self._batcher.batches

    def start(self) -> None:
        self._batcher.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._batcher.stop(timeout)

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
        return self._batcher.submit(_Submission(list(requests), actor, audit, after_post))

    def _commit(self, batch: list[_Submission]) -> list[list[TransferResult]]:
        with self._rt.db.write_connection() as conn:
            return self._post_in(conn, batch)

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


def _unavailable() -> DomainError:
    return EngineStopped(
        "ledger_unavailable", "The ledger could not record this request; try again later."
    )
