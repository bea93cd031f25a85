"""A recall whose request fails after the hold was placed at the payee (the record could not be
written): asked again, it keeps that one hold — the payee's money is held once, and the recall
records it as held."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    authorise_with_sms,
    online_customer,
    open_online_customer,
    pay,
)
from tests.conftest import StaffLogins

from ebank.channels import payments
from ebank.ledger.service import get_account
from ebank.runtime import Runtime


@pytest.mark.usefixtures("permissive_risk")
def test_a_recall_asked_again_after_a_failure_keeps_the_one_hold(
    rt: Runtime, client: TestClient, staff: StaffLogins, monkeypatch: pytest.MonkeyPatch
) -> None:
    payer = online_customer(rt, client, staff, 95)
    payee = open_online_customer(rt, client, staff, 96, balance=0)
    paid = pay(rt, client, payer, payee, 30_000).json()
    assert authorise_with_sms(rt, client, payer, paid).json()["status"] == "executed"
    queue = payments.notify.queue

    def failing_queue(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr(payments.notify, "queue", failing_queue)
    lenient = TestClient(client.app, raise_server_exceptions=False)  # the answer a client gets
    failed = lenient.post(
        f"{API}/me/payments/{paid['id']}/recall",
        json={"reason": "wrong payee"},
        headers=payer.headers(),
    )
    assert failed.status_code == 500
    assert get_account(rt, payee.account_id).available == 0  # the hold was placed
    monkeypatch.setattr(payments.notify, "queue", queue)

    again = client.post(
        f"{API}/me/payments/{paid['id']}/recall",
        json={"reason": "wrong payee"},
        headers=payer.headers(),
    )
    assert again.status_code == 200, again.text
    assert again.json()["recall_status"] == "held"
    payee_account = get_account(rt, payee.account_id)
    assert (payee_account.balance, payee_account.available) == (30_000, 0)  # held once
