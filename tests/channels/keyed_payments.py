"""Customers who pay through the service functions (not the HTTP API) with a USB key and the
transaction password: certificate + another factor, so only the contract limits apply and no SMS
code (with its hourly cap) is needed. Each ``KeyHolder`` has its own key, enrolled by a teller."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from fastapi.testclient import TestClient
from tests.channels.banking import TRANSACTION_PASSWORD, OnlineCustomer, open_online_customer
from tests.conftest import TELLER, StaffLogins

from ebank.auth import tools
from ebank.auth.challenges import Proof
from ebank.auth.service import CustomerSession
from ebank.auth.strength import Factor
from ebank.channels import payments
from ebank.runtime import Runtime
from ebank.sim.usbkey import SoftUsbKey


@dataclass(frozen=True)
class KeyHolder:
    customer: OnlineCustomer
    key: SoftUsbKey
    session: CustomerSession

    @property
    def customer_id(self) -> int:
        return self.customer.customer_id

    @property
    def account_id(self) -> int:
        return self.customer.account_id


def key_holder(
    rt: Runtime, client: TestClient, staff: StaffLogins, n: int, *, balance: int = 10_000_000
) -> KeyHolder:
    """Customer ``n`` with a funded account, online banking and an enrolled USB key."""
    customer = open_online_customer(rt, client, staff, n, balance=balance)
    key = SoftUsbKey()
    tools.enrol_usbkey(
        rt, TELLER, customer.customer_id, public_key_pem=key.public_key_pem().decode()
    )
    session = CustomerSession(customer.customer_id, 1, "online", None, frozenset())
    return KeyHolder(customer, key, session)


def payment_input(payer: KeyHolder, payee: KeyHolder, amount: int) -> payments.PaymentInput:
    return payments.PaymentInput(
        request_id=f"req-{uuid.uuid4().hex}",
        from_account_id=payer.account_id,
        amount=amount,
        payee_account=payee.customer.card_number,
        payee_name=payee.customer.name,
    )


def draft(
    rt: Runtime, payer: KeyHolder, payee: KeyHolder, amount: int, *, method: Factor = Factor.USBKEY
) -> payments.PaymentView:
    return payments.create_payment(
        rt, payer.session, payment_input(payer, payee, amount), method=method
    )


def signed(payer: KeyHolder, drafted: payments.PaymentView) -> payments.Authorisation:
    """The USB key's signature over the challenge, with the transaction password."""
    assert drafted.challenge is not None, drafted
    assert drafted.challenge.sign_payload is not None, drafted.challenge
    signature = base64.b64encode(payer.key.sign(drafted.challenge.sign_payload.encode())).decode()
    return payments.Authorisation(
        drafted.challenge.id, Proof(signature=signature), transaction_password=TRANSACTION_PASSWORD
    )


def authorise(rt: Runtime, payer: KeyHolder, drafted: payments.PaymentView) -> payments.PaymentView:
    return payments.authorise_payment(rt, payer.session, drafted.id, signed(payer, drafted))


def pay(rt: Runtime, payer: KeyHolder, payee: KeyHolder, amount: int) -> payments.PaymentView:
    """Draft and authorise; the payment must have needed no confirmation and have executed."""
    drafted = draft(rt, payer, payee, amount)
    assert drafted.warnings == [], drafted.warnings
    executed = authorise(rt, payer, drafted)
    assert executed.status == "executed", executed
    return executed
