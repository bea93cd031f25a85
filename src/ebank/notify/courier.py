"""Sending the outbox off the request path.

A use case queues its notifications in its own transaction and, after the commit, calls
:meth:`Courier.wake`: a thread of this process then delivers everything pending in one round for
all the requests that woke it meanwhile — at most one round per ``notify_gather_ms``, so under
load each round carries many messages. One-time codes, which the customer is waiting for, go
out at once with :meth:`Courier.send_now`. Deliveries of one process never overlap (a lock), so
:meth:`Courier.flush` returns only when what was pending has been handed to the gateway; other
processes are kept apart by the row locks ``deliver`` takes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ebank.runtime import Runtime

log = logging.getLogger(__name__)


class Courier:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._sending = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ebank-courier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something was queued and committed: deliver it soon."""
        self._wake.set()

    def send_now(self, ids: list[int]) -> int:
        """Deliver these notifications before returning (one-time codes)."""
        from ebank.notify.service import deliver

        with self._sending:
            return deliver(self._rt, ids)

    def flush(self) -> int:
        """Deliver everything pending before returning."""
        from ebank.notify.service import deliver

        with self._sending:
            return deliver(self._rt)

    def stop(self) -> None:
        """Stop after delivering what is pending."""
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def _run(self) -> None:
        from ebank.notify.service import deliver

        gather = self._rt.settings.notify_gather_ms / 1000
        last_round = 0.0
        while True:
            self._wake.wait()
            # At most one round per gathering interval: under load, what else is being committed
            # joins the round; with no load, a message goes out at once.
            self._stop.wait(last_round + gather - time.monotonic())
            last_round = time.monotonic()
            self._wake.clear()
            try:
                with self._sending:
                    deliver(self._rt)
            except Exception as exc:  # the background worker retries what is left pending
                log.error("notification delivery failed: %s", type(exc).__name__)
            if self._stop.is_set():  # after a last round for what was queued before stopping
                return
