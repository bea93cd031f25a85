"""Group commit for a use case: many concurrent callers, one database transaction per batch.

Callers :meth:`Batcher.submit` an item and wait on its future (``call`` from a thread, ``await
acall`` from the event loop). A worker thread takes everything waiting — up to ``max_size`` — and
hands it to the use case's *batch handler*, which reads what the whole batch needs in a few
set-wide statements, decides item by item, writes in a few statements and commits once. Under
load batches grow and the cost of each statement and of each commit is shared; with no load a
lone item is handled at once (or after ``wait_s``, if a window is set). ``busy_wait_s`` is a
window kept only while the batcher is busy (its last batch had company): under load, waiting a
moment for the requests already on their way makes batches larger, and each item cheaper. A busy
window closes as soon as as many items have joined as joined the batch before (with whatever
else is already queued): the requests of a steady load are in, and waiting longer would only add
latency.

The handler returns one entry per item, in order: the item's result, or the exception to raise to
its caller (a refusal whose side effects — a counted failure, say — commit with the batch). If the
handler itself raises, a transient database error (deadlock, serialization failure, busy SQLite
file) retries the batch; anything else retries each item alone, so one caller's problem cannot
fail another's, and a lone item that still fails gets a 503 (the cause is logged by its type only:
a traceback's parameters could carry customers' data).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError

from ebank.common.errors import DomainError
from ebank.db import Database, is_transient

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")
Handler = Callable[[list[In]], Sequence[Out | BaseException]]

TRANSIENT_RETRIES = 5


class ServiceUnavailable(DomainError):
    status = 503


def stopping_error() -> ServiceUnavailable:
    return ServiceUnavailable("service_stopping", "The service is shutting down; try again.")


@dataclass
class _Waiting(Generic[In, Out]):
    item: In
    future: Future[Out] = field(default_factory=Future)


class Batcher(Generic[In, Out]):
    def __init__(
        self,
        name: str,
        handle: Handler[In, Out],
        *,
        workers: int = 1,
        max_size: int = 64,
        wait_s: float = 0.0,
        busy_wait_s: float = 0.0,
        size_of: Callable[[In], int] = lambda _item: 1,
        unavailable: Callable[[], DomainError] | None = None,
        hold: Database | None = None,
    ) -> None:
        self.name = name
        self._handle = handle
        self._workers = workers
        self._max_size = max_size
        self._wait_s = wait_s
        self._busy_wait_s = busy_wait_s
        self._last_size = 0
        self._size_of = size_of
        self._unavailable = unavailable or (
            lambda: ServiceUnavailable(
                "service_unavailable", "The bank could not handle this request; try again later."
            )
        )
        self._queue: queue.SimpleQueue[_Waiting[In, Out] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._hold = hold
        self.batches = 0
        self.items = 0

    def start(self) -> Batcher[In, Out]:
        for index in range(self._workers):
            thread = threading.Thread(target=self._run, name=f"{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop; whatever arrives later is refused."""
        self._stopping.set()
        self._queue.put(None)  # each worker passes the stop mark on to the next
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                return
            if left is not None:
                _settle(left, stopping_error())

    def submit(self, item: In) -> Future[Out]:
        waiting: _Waiting[In, Out] = _Waiting(item)
        if self._stopping.is_set():
            _settle(waiting, stopping_error())
        else:
            self._queue.put(waiting)
        return waiting.future

    def call(self, item: In, timeout: float = 60.0) -> Out:
        """Submit ``item`` and wait for its result (or its error) — from a thread."""
        try:
            return self.submit(item).result(timeout)
        except FutureTimeout as exc:
            # The batch may still commit: requests are idempotent, so the caller may repeat.
            raise ServiceUnavailable(
                "busy", "The bank is taking longer than usual; send the same request again."
            ) from exc

    async def acall(self, item: In) -> Out:
        """Submit ``item`` and await its result — from the event loop, without a thread."""
        return await asyncio.wrap_future(self.submit(item))

    def _run(self) -> None:
        if self._hold is None:
            self._serve()
            return
        with self._hold.holding():  # the worker keeps its connections between batches
            self._serve()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.put(None)  # for the next worker
                return
            batch = [first]
            size = self._size_of(first.item)
            busy = self._last_size > 1  # under load more are on their way: let them join
            deadline = time.monotonic() + max(self._wait_s, self._busy_wait_s if busy else 0.0)
            expected = self._last_size if busy and not self._wait_s else self._max_size
            while size < self._max_size:
                try:
                    # once as many have joined as last time, take only those already here
                    remaining = deadline - time.monotonic() if len(batch) < expected else 0
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
                size += self._size_of(nxt.item)
            self._last_size = len(batch)
            self._process(batch)

    def _process(self, batch: list[_Waiting[In, Out]]) -> None:
        try:
            outcomes = self._with_retries([waiting.item for waiting in batch])
        except Exception as exc:
            if len(batch) > 1:  # isolate the item that breaks the batch
                for waiting in batch:
                    self._process([waiting])
                return
            if isinstance(exc, DomainError):
                _settle(batch[0], exc)
                return
            log.error("%s: a request failed: %s", self.name, type(exc).__name__)
            _settle(batch[0], self._unavailable())
            return
        self.batches += 1
        self.items += len(batch)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            _settle(waiting, outcome)

    def _with_retries(self, items: list[In]) -> Sequence[Out | BaseException]:
        for attempt in range(TRANSIENT_RETRIES):
            try:
                outcomes = self._handle(items)
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == TRANSIENT_RETRIES - 1:
                    raise
                time.sleep(0.005 * (attempt + 1))
                continue
            if len(outcomes) != len(items):
                raise AssertionError(f"{self.name}: one outcome per item expected")
            return outcomes
        raise AssertionError("unreachable")


def _settle(waiting: _Waiting[In, Out], outcome: Out | BaseException) -> None:
    future = waiting.future
    if not future.set_running_or_notify_cancel():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
