"""The payment desk handles the payments of the moment in batches (one transaction each): under
load every payment still executes exactly once, the ledger stays whole, the same authorisation
sent twice moves the money once, and a batch of drafts keeps each customer's hourly cap on SMS
codes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.channels.banking import CODE, sms_messages
from tests.channels.keyed_payments import (
    KeyHolder,
    authorise,
    draft,
    key_holder,
    payment_input,
    signed,
)
from tests.conftest import StaffLogins

from ebank.auth.models import AuthChallenge
from ebank.auth.strength import Factor
from ebank.channels import payments
from ebank.channels.authorising import authorise_payments
from ebank.channels.desk import PaymentDesk
from ebank.channels.drafting import draft_payments
from ebank.channels.models import Payment
from ebank.common.errors import DomainError
from ebank.ledger.models import Transfer
from ebank.ledger.service import get_account
from ebank.ledger.verify import verify_ledger
from ebank.runtime import Runtime

T = TypeVar("T")

BALANCE = 10_000_000  # 100,000.00 each
THREADS = 16
PAYMENTS_PER_THREAD = 2


def at_once(tasks: list[Callable[[], T]]) -> list[T | Exception]:
    """Run each task on a thread of its own, all released together; each one's result or
    error, in order."""
    results: list[T | Exception] = [RuntimeError("not run")] * len(tasks)
    start = threading.Barrier(len(tasks))

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = tasks[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tasks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@dataclass(frozen=True)
class Made:
    payer: int  # index into the customers
    payee: int
    amount: int
    view: payments.PaymentView


def test_many_customers_paying_each_other_at_once_each_payment_executes_once(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customers = [key_holder(rt, client, staff, 200 + n, balance=BALANCE) for n in range(4)]
    # Every ordered pair of the four customers (so A→B and B→A run together), A↔B twice more.
    routes = [(a, b) for a in range(4) for b in range(4) if a != b] + [(0, 1), (1, 0)] * 2
    assert len(routes) == THREADS

    def payer_thread(thread: int) -> Callable[[], list[Made]]:
        def run() -> list[Made]:
            payer, payee = routes[thread]
            made: list[Made] = []
            for n in range(PAYMENTS_PER_THREAD):
                # Distinct amounts above the low-value exemption and below the habit floor:
                # no payment needs a second confirmation, each needs the USB key.
                amount = 20_100 + 100 * (thread * PAYMENTS_PER_THREAD + n)
                drafted = draft(rt, customers[payer], customers[payee], amount)
                made.append(Made(payer, payee, amount, authorise(rt, customers[payer], drafted)))
            return made

        return run

    results = at_once([payer_thread(thread) for thread in range(THREADS)])

    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == []  # no deadlock, no 503, no refusal
    made = [m for r in results if not isinstance(r, Exception) for m in r]
    assert len(made) == THREADS * PAYMENTS_PER_THREAD
    assert {m.view.status for m in made} == {"executed"}
    ids = [m.view.id for m in made]
    assert len(set(ids)) == len(ids)
    with rt.db.read() as session:
        transfers = Counter(
            session.execute(select(Transfer.id).where(Transfer.id.in_(ids))).scalars()
        )
        stored = dict(
            session.execute(select(Payment.id, Payment.status).where(Payment.id.in_(ids))).all()
        )
        report = verify_ledger(session.connection())
    assert transfers == Counter(ids)  # one posting per payment, no more
    assert stored == dict.fromkeys(ids, "executed")
    assert report.ok, report.problems
    for index, customer in enumerate(customers):
        paid = sum(m.amount for m in made if m.payer == index)
        received = sum(m.amount for m in made if m.payee == index)
        assert get_account(rt, customer.account_id).balance == BALANCE - paid + received

    desk = rt.worker(PaymentDesk)
    for batcher in (desk.drafts, desk.authorisations):
        assert batcher.items == len(made)
        assert batcher.batches < batcher.items, batcher.name  # payments shared transactions


def _payer_and_payee(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> tuple[KeyHolder, KeyHolder]:
    return key_holder(rt, client, staff, 211), key_holder(rt, client, staff, 212, balance=0)


def test_the_same_authorisation_sent_twice_at_once_moves_the_money_once(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer, payee = _payer_and_payee(rt, client, staff)
    drafted = draft(rt, payer, payee, 30_000)
    authorisation = signed(payer, drafted)

    def send() -> payments.PaymentView:
        return payments.authorise_payment(rt, payer.session, drafted.id, authorisation)

    first, second = at_once([send, send])

    # Whichever comes second is a repeat: it gets the outcome, not a refusal.
    assert isinstance(first, payments.PaymentView), first
    assert isinstance(second, payments.PaymentView), second
    assert (first.status, second.status) == ("executed", "executed")
    assert first.transfer_id == second.transfer_id == drafted.id
    assert get_account(rt, payer.account_id).balance == BALANCE - 30_000
    assert get_account(rt, payee.account_id).balance == 30_000
    with rt.db.read() as session:
        postings = session.execute(
            select(func.count()).select_from(Transfer).where(Transfer.id == drafted.id)
        ).scalar_one()
    assert postings == 1


def test_one_batch_holding_the_same_authorisation_twice_executes_it_once(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer, payee = _payer_and_payee(rt, client, staff)
    drafted = draft(rt, payer, payee, 30_000)
    request = payments.AuthoriseRequest(
        payer.session, drafted.id, signed(payer, drafted), password_ok=True, locale="en"
    )

    outcomes = authorise_payments(rt, [request, request])  # the desk's handler: one batch

    assert all(isinstance(o, payments.PaymentView) for o in outcomes), outcomes
    assert [o.status for o in outcomes if isinstance(o, payments.PaymentView)] == [
        "executed",
        "executed",
    ]
    assert get_account(rt, payer.account_id).balance == BALANCE - 30_000
    assert get_account(rt, payee.account_id).balance == 30_000


# --- the hourly cap on SMS codes --------------------------------------------------------------


def _codes_sent(rt: Runtime, customer: KeyHolder) -> int:
    return sum(1 for m in sms_messages(rt, customer.customer.mobile) if CODE.search(m["text"]))


def _sms_challenges(rt: Runtime, customer: KeyHolder) -> int:
    with rt.db.read() as session:
        return session.execute(
            select(func.count())
            .select_from(AuthChallenge)
            .where(AuthChallenge.customer_id == customer.customer_id, AuthChallenge.method == "sms")
        ).scalar_one()


def _refusal_codes(outcomes: Sequence[payments.PaymentView | Exception]) -> list[str]:
    return [o.code if isinstance(o, DomainError) else repr(o) for o in outcomes if not _ok(o)]


def _ok(outcome: object) -> bool:
    return isinstance(outcome, payments.PaymentView) and outcome.challenge is not None


def test_one_batch_of_drafts_sends_no_more_codes_than_the_hourly_cap(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    cap = rt.policy.customer_auth.sms_max_per_hour
    payer = key_holder(rt, client, staff, 221)  # not logged in: no code sent yet
    neighbour = key_holder(rt, client, staff, 222)
    payee = key_holder(rt, client, staff, 223, balance=0)

    def sms_draft(customer: KeyHolder, amount: int) -> payments.DraftRequest:
        data = payment_input(customer, payee, amount)
        return payments.draft_request(rt, customer.session, data, Factor.SMS)

    mine = [sms_draft(payer, 30_000 + 100 * n) for n in range(cap + 3)]
    theirs = [sms_draft(neighbour, 30_000 + 100 * n) for n in range(2)]
    # The desk's handler, given the whole lot: one batch, one transaction.
    outcomes = draft_payments(rt, [*mine[:cap], theirs[0], *mine[cap:], theirs[1]])

    assert sum(_ok(o) for o in outcomes) == cap + 2
    assert _refusal_codes(outcomes) == ["sms_rate_limited"] * 3
    assert _codes_sent(rt, payer) == cap
    assert _sms_challenges(rt, payer) == cap
    assert _codes_sent(rt, neighbour) == 2  # the cap is the customer's own
    with rt.db.read() as session:
        drafts = session.execute(
            select(func.count()).where(Payment.customer_id == payer.customer_id)
        ).scalar_one()
    assert drafts == cap  # a refused draft writes nothing


def test_drafts_sent_at_once_send_no_more_codes_than_the_hourly_cap(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    cap = rt.policy.customer_auth.sms_max_per_hour
    payer = key_holder(rt, client, staff, 231)
    payee = key_holder(rt, client, staff, 232, balance=0)

    def sms_draft(amount: int) -> Callable[[], payments.PaymentView]:
        return lambda: draft(rt, payer, payee, amount, method=Factor.SMS)

    outcomes = at_once([sms_draft(30_000 + 100 * n) for n in range(cap + 4)])

    assert sum(_ok(o) for o in outcomes) == cap
    assert _refusal_codes(outcomes) == ["sms_rate_limited"] * 4
    assert _codes_sent(rt, payer) == cap
