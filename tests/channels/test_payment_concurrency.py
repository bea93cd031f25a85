"""Daily limits hold when one customer's payments are authorised at the same moment from many
threads (several devices, or a fraudster racing the customer)."""

from __future__ import annotations

import base64
import threading
import uuid

from fastapi.testclient import TestClient
from tests.channels.banking import online_customer, open_online_customer
from tests.conftest import StaffLogins

from ebank.auth import tools
from ebank.auth.challenges import Proof
from ebank.auth.service import CustomerSession
from ebank.auth.strength import Factor
from ebank.channels import payments
from ebank.common.actor import Actor
from ebank.common.errors import DomainError
from ebank.ledger.service import get_account
from ebank.runtime import Runtime
from ebank.sim.usbkey import SoftUsbKey

THREADS = 12
AMOUNT = 30_000  # 300.00: above the low-value exemption; one factor allows 1,000.00 a day


def test_concurrent_authorisations_never_exceed_the_daily_limit(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 81, balance=10_000_000)
    payee = open_online_customer(rt, client, staff, 82, balance=0)
    key = SoftUsbKey()
    teller = Actor("staff", "1", "teller")
    tools.enrol_usbkey(rt, teller, payer.customer_id, public_key_pem=key.public_key_pem().decode())
    caller = CustomerSession(payer.customer_id, 1, "online", None, frozenset())
    drafts = [
        payments.create_payment(
            rt,
            caller,
            payments.PaymentInput(
                request_id=f"race-{uuid.uuid4().hex}",
                from_account_id=payer.account_id,
                amount=AMOUNT,
                payee_account=payee.card_number,
                payee_name=payee.name,
            ),
            method=Factor.USBKEY,
        )
        for _ in range(THREADS)
    ]
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def authorise(draft: payments.PaymentView) -> None:
        assert draft.challenge is not None
        assert draft.challenge.sign_payload is not None
        signature = base64.b64encode(key.sign(draft.challenge.sign_payload.encode())).decode()
        start.wait()
        try:
            view = payments.authorise_payment(
                rt,
                caller,
                draft.id,
                payments.Authorisation(draft.challenge.id, Proof(signature=signature)),
            )
            outcome = view.status
        except DomainError as exc:
            outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=authorise, args=(d,)) for d in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(outcomes)) == ["executed", "limit_exceeded"]
    assert outcomes.count("executed") == 3  # 3 × 300.00 ≤ 1,000.00 < 4 × 300.00
    assert get_account(rt, payee.account_id).balance == 3 * AMOUNT
    assert get_account(rt, payer.account_id).balance == 10_000_000 - 3 * AMOUNT
