"""Deciding held payments when it is not simple: to another bank, after the hold expired, after a
refused first attempt, by two analysts at once; and feedback that reaches another process."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    OnlineCustomer,
    authorise_with_sms,
    login_with_sms,
    open_online_customer,
    pay,
    sms_messages,
)
from tests.conftest import StaffLogins
from tests.risk.test_risk_scenarios import analyst, open_alerts, paid, seasoned_customer

from ebank.app import create_app
from ebank.channels.payments import expire_stale_payments
from ebank.common.actor import Actor
from ebank.common.clock import ManualClock
from ebank.ledger import clearing
from ebank.ledger import service as ledger
from ebank.risk import service
from ebank.risk.engine import RiskEngine
from ebank.risk.live import LiveRiskEngine
from ebank.runtime import Runtime, build_runtime
from ebank.staff.permissions import Role

OTHER_BANK = {"payee_account": "6222020000000000000", "payee_name": "王五", "payee_bank": "ICBC"}


def fresh_customer(rt: Runtime, client: TestClient, staff: StaffLogins, n: int) -> OnlineCustomer:
    """Registered a moment ago: its first large transfer is held (S7)."""
    return login_with_sms(rt, client, open_online_customer(rt, client, staff, n))


def held_to_other_bank(rt: Runtime, client: TestClient, payer: OnlineCustomer) -> dict[str, Any]:
    drafted = client.post(
        f"{API}/me/payments",
        json={
            "request_id": f"other-bank-{payer.customer_id}",
            "from_account_id": payer.account_id,
            "amount": 300_000,
            "method": "sms",
            **OTHER_BANK,
        },
        headers=payer.headers(),
    ).json()
    held = authorise_with_sms(rt, client, payer, drafted).json()
    assert held["status"] == "held"
    return dict(held)


def test_a_released_payment_to_another_bank_leaves_once_and_can_be_recalled(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = fresh_customer(rt, client, staff, 91)
    held = held_to_other_bank(rt, client, payer)
    assert clearing.list_outbound(rt) == []  # nothing leaves while it is held
    [alert] = open_alerts(client, staff)

    assert analyst(client, staff, alert["id"], "release", note="checked").status_code == 200
    [queued] = clearing.list_outbound(rt)
    assert queued.amount == 300_000
    assert ledger.get_account(rt, payer.account_id).balance == 1_000_000 - 300_000
    released = client.get(f"{API}/me/payments/{held['id']}", headers=payer.headers()).json()
    assert released["status"] == "executed"
    reversal = client.post(
        f"{API}/transfers/{released['transfer_id']}/reversals",
        json={"id": "undo-release"},
        headers=staff.headers(Role.SUPERVISOR),
    )
    assert reversal.status_code == 409  # clearing money comes back only through clearing
    assert reversal.json()["code"] == "reversal_through_clearing"
    recall = client.post(
        f"{API}/me/payments/{held['id']}/recall",
        json={"reason": "wrong payee"},
        headers=payer.headers(),
    )
    assert recall.status_code == 200, recall.text
    assert recall.json()["recall_status"] == "sent"
    assert len(clearing.list_outbound(rt)) == 1


def test_an_expired_hold_stops_the_payment_closes_the_alert_and_tells_the_customer(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = fresh_customer(rt, client, staff, 92)
    payee = open_online_customer(rt, client, staff, 93, balance=0)
    held = paid(rt, client, payer, payee, 450_000)
    [alert] = open_alerts(client, staff)
    clock.advance(timedelta(days=8))
    staff.log_in_again()

    too_late = analyst(client, staff, alert["id"], "release", note="finally")
    assert too_late.status_code == 409
    assert too_late.json()["code"] == "hold_expired"
    assert open_alerts(client, staff) == []
    [closed] = open_alerts(client, staff, status="closed")
    assert closed["id"] == alert["id"]
    assert ledger.get_account(rt, payer.account_id).available == 1_000_000
    assert ledger.get_account(rt, payee.account_id).balance == 0
    login_with_sms(rt, client, payer)
    mine = client.get(f"{API}/me/payments/{held['id']}", headers=payer.headers()).json()
    assert mine["status"] == "expired"
    texts = [message["text"] for message in sms_messages(rt, payer.mobile)]
    assert any("stopped after a security check" in text for text in texts)


def test_the_worker_settles_expired_holds_without_an_analyst(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = fresh_customer(rt, client, staff, 94)
    payee = open_online_customer(rt, client, staff, 95, balance=0)
    paid(rt, client, payer, payee, 450_000)
    clock.advance(timedelta(days=8))
    assert ledger.expire_due_holds(rt) == 1
    assert service.settle_expired_holds(rt) == 1
    assert service.settle_expired_holds(rt) == 0
    assert service.list_alerts(rt) == []


def test_a_release_refused_once_can_be_tried_again(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = fresh_customer(rt, client, staff, 96)
    payee = open_online_customer(rt, client, staff, 97, balance=0)
    paid(rt, client, payer, payee, 450_000)
    [alert] = open_alerts(client, staff)
    supervisor = staff.headers(Role.SUPERVISOR)
    body = {"reason": "court order"}
    client.post(f"{API}/accounts/{payer.account_id}/freeze", json=body, headers=supervisor)

    refused = analyst(client, staff, alert["id"], "release", note="checked")
    assert refused.status_code == 409
    assert open_alerts(client, staff)[0]["status"] == "open"
    client.post(f"{API}/accounts/{payer.account_id}/unfreeze", json=body, headers=supervisor)
    assert analyst(client, staff, alert["id"], "release", note="checked").status_code == 200
    assert ledger.get_account(rt, payee.account_id).balance == 450_000


def test_two_analysts_deciding_one_alert_at_once_decide_it_once(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = fresh_customer(rt, client, staff, 98)
    payee = open_online_customer(rt, client, staff, 99, balance=0)
    paid(rt, client, payer, payee, 450_000)
    [alert] = open_alerts(client, staff)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(action: str, who: str) -> None:
        start.wait()
        try:
            getattr(service, action)(rt, Actor("staff", who, "risk_analyst"), alert["id"], "x")
            outcomes.append(action)
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    threads = [
        threading.Thread(target=decide, args=("release", "a")),
        threading.Thread(target=decide, args=("void", "b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) in (["Conflict", "release"], ["Conflict", "void"])
    received = ledger.get_account(rt, payee.account_id).balance
    kept = ledger.get_account(rt, payer.account_id).balance
    assert (received, kept) in ((450_000, 550_000), (0, 1_000_000))
    texts = [m["text"] for m in sms_messages(rt, payer.mobile)]
    decided = ("passed the security check", "stopped after a security check")
    assert sum(any(words in t for words in decided) for t in texts) == 1


def test_a_payment_confirmed_twice_counts_once(rt: Runtime) -> None:
    from tests.risk.test_engine import payment

    assert isinstance(rt.risk, LiveRiskEngine)
    engine: RiskEngine = rt.risk.engine()
    first = payment(10_000)
    first = type(first)(**{**first.__dict__, "details": {"payment": "p1"}})
    assessed = engine.examine(first)
    assert engine.examine(first) is assessed  # asked again: the same answer
    later = type(first)(**{**first.__dict__, "at": first.at + timedelta(minutes=1), "details": {}})
    assert engine.examine(later).features["customer_count_1h"] == 1


def test_a_payee_blocked_in_one_process_is_refused_by_another(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    other_rt = build_runtime(rt.settings.model_copy(update={"risk_reload_s": 0}), clock=clock)
    other = TestClient(create_app(other_rt))
    with other:
        payer = seasoned_customer(rt, client, staff, clock, 102)
        victim = fresh_customer(rt, client, staff, 100)
        mule = open_online_customer(rt, client, staff, 101, balance=0)
        assert isinstance(other_rt.risk, LiveRiskEngine)
        other_rt.risk.engine()  # the other process is running, its store built
        paid(rt, client, victim, mule, 150_000)
        [alert] = open_alerts(client, staff)
        analyst(client, staff, alert["id"], "block-payee", reason="mule")

        clock.advance(timedelta(seconds=61))  # one login code a minute per phone
        login_with_sms(other_rt, other, payer)
        refused = paid(other_rt, other, payer, mule, 30_000)
        assert refused["status"] == "blocked"
    other_rt.close()


def test_a_risky_payment_left_unauthorised_becomes_an_alert(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """Whoever holds the phone meets a full authentication and gives up: the analysts still see
    the attempt once the draft's time has passed, and can act on its payee."""
    payer = fresh_customer(rt, client, staff, 103)
    mule = open_online_customer(rt, client, staff, 104, balance=0)
    abandoned = pay(rt, client, payer, mule, 450_000).json()
    assert abandoned["status"] == "awaiting_auth"
    authorised = paid(rt, client, payer, mule, 460_000)  # held: its own alert, not an attempt

    clock.advance(timedelta(minutes=rt.policy.channels.draft_ttl_minutes - 1))
    assert service.alert_abandoned_attempts(rt) == 0  # the customer may still authorise it
    clock.advance(timedelta(minutes=2))
    assert service.alert_abandoned_attempts(rt) == 1
    assert service.alert_abandoned_attempts(rt) == 0  # once
    staff.log_in_again()
    alerts = {alert["kind"]: alert for alert in open_alerts(client, staff)}
    assert set(alerts) == {"attempt", "hold"}
    assert alerts["attempt"]["payment_id"] == abandoned["id"]
    assert alerts["hold"]["payment_id"] == authorised["id"]
    attempt = alerts["attempt"]["id"]
    assert analyst(client, staff, attempt, "release", note="no").status_code == 409
    assert analyst(client, staff, attempt, "label", label="fraud").status_code == 200
    assert analyst(client, staff, attempt, "close", note="customer unaware").status_code == 200


def test_a_risky_payment_expired_before_the_alert_round_still_becomes_an_alert(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = fresh_customer(rt, client, staff, 105)
    mule = open_online_customer(rt, client, staff, 106, balance=0)
    abandoned = pay(rt, client, payer, mule, 450_000).json()
    assert abandoned["status"] == "awaiting_auth"

    clock.advance(timedelta(minutes=rt.policy.channels.draft_ttl_minutes + 1))
    assert expire_stale_payments(rt) == 1  # the worker's rounds may come in either order
    assert service.alert_abandoned_attempts(rt) == 1
    assert service.alert_abandoned_attempts(rt) == 0
    staff.log_in_again()
    [alert] = open_alerts(client, staff)
    assert (alert["kind"], alert["payment_id"]) == ("attempt", abandoned["id"])
