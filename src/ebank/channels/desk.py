"""The payment desk: the process's batches for drafting, confirming and authorising payments
(:mod:`ebank.batching`). Every request of the moment waits for the next batch of its kind, which
handles them all in one transaction: under load each statement and each commit serves many
payments; with no load a lone payment is handled at once."""

from __future__ import annotations

from functools import partial

from ebank.batching import Batcher
from ebank.channels.authorising import authorise_payments
from ebank.channels.drafting import confirm_payments, draft_payments
from ebank.channels.payments import (
    AuthoriseRequest,
    ConfirmRequest,
    DraftRequest,
    PaymentView,
)
from ebank.runtime import Runtime

BATCH_MAX = 64


class PaymentDesk:
    def __init__(self, rt: Runtime) -> None:
        wait = rt.settings.payment_batch_wait_ms / 1000
        self.drafts: Batcher[DraftRequest, PaymentView] = Batcher(
            "payment-drafts",
            partial(draft_payments, rt),
            max_size=BATCH_MAX,
            busy_wait_s=wait,
            hold=rt.db,
        )
        self.confirmations: Batcher[ConfirmRequest, PaymentView] = Batcher(
            "payment-confirmations",
            partial(confirm_payments, rt),
            max_size=BATCH_MAX,
            busy_wait_s=wait,
            hold=rt.db,
        )
        self.authorisations: Batcher[AuthoriseRequest, PaymentView] = Batcher(
            "payment-authorisations",
            partial(authorise_payments, rt),
            max_size=BATCH_MAX,
            busy_wait_s=wait,
            hold=rt.db,
        )

    def start(self) -> None:
        for batcher in (self.drafts, self.confirmations, self.authorisations):
            batcher.start()

    def stop(self) -> None:
        for batcher in (self.drafts, self.confirmations, self.authorisations):
            batcher.stop()
