"""The group-commit batcher: many callers, one handler call per batch, each caller its own answer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy.exc import OperationalError

from ebank.batching import Batcher, ServiceUnavailable
from ebank.common.errors import DomainError, NotFound


def _locked() -> OperationalError:
    return OperationalError("UPDATE …", {}, sqlite3.OperationalError("database is locked"))


class Recorder:
    """A handler that doubles numbers, remembers each batch, and can be told to misbehave."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.entered = threading.Event()
        self.transient_failures = 0
        self.crash_on: int | None = None

    def __call__(self, items: list[int]) -> Sequence[int | BaseException]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.batches.append(list(items))
        if self.transient_failures:
            self.transient_failures -= 1
            raise _locked()
        if self.crash_on in items:
            raise RuntimeError("a bug that only this item triggers")
        return [NotFound("missing", "No such item.") if item < 0 else item * 2 for item in items]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def batcher(recorder: Recorder) -> Iterator[Batcher[int, int]]:
    started: Batcher[int, int] = Batcher("test", recorder, max_size=8).start()
    yield started
    started.stop()


def _submit_while_blocked(recorder: Recorder, items: list[int], **options: object) -> list[object]:
    """Submit ``items`` while the worker is held in a first batch, so they queue up together."""
    gate = threading.Event()
    recorder.gate = gate
    batcher: Batcher[int, int] = Batcher("test", recorder, **options).start()  # type: ignore[arg-type]
    try:
        first = batcher.submit(0)
        assert recorder.entered.wait(5)  # the worker is inside the first batch
        futures = [batcher.submit(item) for item in items]
        gate.set()
        first.result(5)
        return [_outcome(future) for future in futures]
    finally:
        batcher.stop()


def _outcome(future: object) -> object:
    try:
        return future.result(5)  # type: ignore[attr-defined]
    except Exception as exc:  # the caller's own error is its outcome
        return exc


def test_a_lone_call_gets_its_own_result(batcher: Batcher[int, int], recorder: Recorder) -> None:
    assert batcher.call(21) == 42
    assert recorder.batches == [[21]]


def test_callers_waiting_together_share_one_handler_call_and_each_gets_its_answer(
    recorder: Recorder,
) -> None:
    outcomes = _submit_while_blocked(recorder, [1, 2, 3, 4], max_size=8)

    assert outcomes == [2, 4, 6, 8]
    assert recorder.batches[-1] == [1, 2, 3, 4]


def test_a_batch_never_exceeds_its_maximum_size(recorder: Recorder) -> None:
    outcomes = _submit_while_blocked(recorder, list(range(1, 8)), max_size=3)

    assert outcomes == [2 * n for n in range(1, 8)]
    assert all(len(batch) <= 3 for batch in recorder.batches)


def test_a_refusal_reaches_only_its_own_caller(recorder: Recorder) -> None:
    outcomes = _submit_while_blocked(recorder, [1, -1, 3], max_size=8)

    assert outcomes[0] == 2
    assert outcomes[2] == 6
    assert isinstance(outcomes[1], NotFound)


def test_an_item_that_breaks_the_batch_is_isolated_and_the_others_still_succeed(
    recorder: Recorder,
) -> None:
    recorder.crash_on = 2
    outcomes = _submit_while_blocked(recorder, [1, 2, 3], max_size=8)

    assert outcomes[0] == 2
    assert outcomes[2] == 6
    assert isinstance(outcomes[1], ServiceUnavailable)
    assert outcomes[1].status == 503
    assert [2] in recorder.batches  # tried alone before being refused


def test_a_transient_database_error_retries_the_batch(
    batcher: Batcher[int, int], recorder: Recorder
) -> None:
    recorder.transient_failures = 2

    assert batcher.call(5) == 10
    assert recorder.batches == [[5], [5], [5]]


def test_a_persistently_locked_database_ends_in_service_unavailable(
    batcher: Batcher[int, int], recorder: Recorder
) -> None:
    recorder.transient_failures = 100

    with pytest.raises(ServiceUnavailable):
        batcher.call(5)


def test_a_domain_error_raised_by_the_handler_for_a_lone_item_reaches_its_caller() -> None:
    def refuse(_items: list[int]) -> Sequence[int | BaseException]:
        raise DomainError("limit_exceeded", "Over the limit.", status=422)

    batcher: Batcher[int, int] = Batcher("refusing", refuse).start()
    try:
        with pytest.raises(DomainError) as caught:
            batcher.call(1)
        assert caught.value.code == "limit_exceeded"
    finally:
        batcher.stop()


def test_a_handler_that_loses_an_outcome_is_an_error_not_a_silent_answer() -> None:
    batcher: Batcher[int, int] = Batcher("lossy", lambda items: []).start()
    try:
        with pytest.raises(ServiceUnavailable):
            batcher.call(1)
    finally:
        batcher.stop()


def test_stop_finishes_what_is_queued_and_refuses_what_comes_later(recorder: Recorder) -> None:
    batcher: Batcher[int, int] = Batcher("stopping", recorder).start()
    queued = [batcher.submit(n) for n in range(5)]
    batcher.stop()

    assert [_outcome(future) for future in queued] == [0, 2, 4, 6, 8]
    with pytest.raises(ServiceUnavailable) as caught:
        batcher.call(1)
    assert caught.value.code == "service_stopping"


def test_an_unstarted_batcher_stopped_with_callers_waiting_answers_them() -> None:
    batcher: Batcher[int, int] = Batcher("never started", Recorder())
    waiting = batcher.submit(1)
    batcher.stop()

    assert isinstance(_outcome(waiting), ServiceUnavailable)


def test_acall_answers_in_the_event_loop(batcher: Batcher[int, int]) -> None:
    async def pay_many() -> list[int]:
        return list(await asyncio.gather(*(batcher.acall(n) for n in range(20))))

    answers: list[list[int]] = []
    # A loop of its own, on a thread of its own: the browser tests leave one running on this one.
    loop_thread = threading.Thread(target=lambda: answers.append(asyncio.run(pay_many())))
    loop_thread.start()
    loop_thread.join(10)

    assert answers == [[2 * n for n in range(20)]]


def test_a_waiting_window_gathers_callers_that_arrive_one_after_another(recorder: Recorder) -> None:
    batcher: Batcher[int, int] = Batcher("windowed", recorder, wait_s=0.5).start()
    try:
        futures = [batcher.submit(n) for n in range(3)]
        assert [_outcome(future) for future in futures] == [0, 2, 4]
    finally:
        batcher.stop()

    assert recorder.batches == [[0, 1, 2]]


def test_many_threads_each_get_their_own_answer(batcher: Batcher[int, int]) -> None:
    answers: dict[int, int] = {}

    def call(n: int) -> None:
        answers[n] = batcher.call(n)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == {n: 2 * n for n in range(64)}
    assert batcher.items == 64


def test_under_load_the_busy_window_gathers_callers_that_arrive_one_after_another(
    recorder: Recorder,
) -> None:
    gate = threading.Event()
    recorder.gate = gate
    batcher: Batcher[int, int] = Batcher("busy", recorder, max_size=8, busy_wait_s=2.0).start()
    try:
        first = batcher.submit(0)
        assert recorder.entered.wait(5)
        shared = [batcher.submit(n) for n in (1, 2, 3)]  # queue up: the next batch is shared
        gate.set()
        assert [_outcome(f) for f in [first, *shared]] == [0, 2, 4, 6]
        recorder.batches.clear()

        early = batcher.submit(10)
        time.sleep(0.1)  # well inside the window a busy batcher keeps open
        late = batcher.submit(20)
        assert [_outcome(early), _outcome(late)] == [20, 40]
    finally:
        batcher.stop()

    assert recorder.batches == [[10, 20]]


def test_a_busy_batch_closes_once_as_many_callers_as_last_time_have_joined(
    recorder: Recorder,
) -> None:
    gate = threading.Event()
    recorder.gate = gate
    batcher: Batcher[int, int] = Batcher("busy", recorder, max_size=8, busy_wait_s=30.0).start()
    try:
        first = batcher.submit(0)
        assert recorder.entered.wait(5)
        shared = [batcher.submit(n) for n in (1, 2)]  # the last batch before ours had two
        gate.set()
        assert [_outcome(f) for f in [first, *shared]] == [0, 2, 4]
        recorder.batches.clear()

        pair = [batcher.submit(n) for n in (10, 11)]
        # far sooner than the 30-second window: the batch did not wait for a third caller
        assert [future.result(5) for future in pair] == [20, 22]
    finally:
        batcher.stop()

    assert recorder.batches == [[10, 11]]
