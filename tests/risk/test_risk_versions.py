"""Rule-set and model versions through the API: checked before they can run, four eyes to go
live, shadow rules that only watch, a model trained on the bank's own labelled history, and an
engine whose state survives a restart."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import API, OnlineCustomer, login_with_sms, open_online_customer, pay
from tests.conftest import STAFF_PASSWORD, StaffLogins
from tests.risk.test_risk_scenarios import analyst, open_alerts, paid, seasoned_customer

from ebank.app import create_app
from ebank.common.actor import SYSTEM, Actor
from ebank.common.clock import ManualClock
from ebank.risk import configuration
from ebank.risk.live import LiveRiskEngine
from ebank.runtime import Runtime, build_runtime
from ebank.staff.permissions import Role
from ebank.staff.service import create_staff

HOLD_FROM_300 = """
rules:
  - id: hold_from_300
    when: {all: [{field: kind, op: "==", value: payment}, {field: amount, op: ">=", value: 30000}]}
    outcome: hold
    reason: {en: Three hundred or more., zh-CN: 三百元及以上。}
"""


def second_analyst(rt: Runtime, client: TestClient) -> dict[str, str]:
    create_staff(
        rt,
        Actor("system", "test", None),
        username="riskanalyst2",
        display_name="Second analyst",
        role=Role.RISK_ANALYST,
        password=STAFF_PASSWORD,
    )
    response = client.post(
        "/api/v1/staff/sessions", json={"username": "riskanalyst2", "password": STAFF_PASSWORD}
    )
    return {"Authorization": f"Bearer {response.json()['token']}", "Accept-Language": "en"}


def draft(client: TestClient, staff: StaffLogins, body: str, locale: str = "en") -> Any:
    return client.post(
        f"{API}/risk/rule-sets",
        json={"body": body, "note": "test"},
        headers=staff.headers(Role.RISK_ANALYST, locale),
    )


def move(client: TestClient, headers: dict[str, str], what: str, version: int, status: str) -> Any:
    return client.post(
        f"{API}/risk/{what}/{version}/status", json={"status": status}, headers=headers
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("rules: [", "line"),
        (HOLD_FROM_300.replace("field: amount", "field: amount_in_dollars"), "amount_in_dollars"),
        (HOLD_FROM_300.replace("value: 30000", "value: lots"), "number"),
        (HOLD_FROM_300.replace("outcome: hold", "outcome: maybe"), "outcome"),
        (HOLD_FROM_300.replace("zh-CN: 三百元及以上。", ""), "zh-CN"),
        (HOLD_FROM_300.replace('op: ">="', "op: [x]"), "op"),
        ("rules: [{1: r}]", "unknown keys 1"),
        ("[" * 5000, "rule set"),
    ],
)
def test_a_bad_rule_set_is_refused_with_what_is_wrong_and_nothing_is_kept(
    client: TestClient, staff: StaffLogins, body: str, problem: str
) -> None:
    refused = draft(client, staff, body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "invalid_rule_set"
    assert refused.json()["field"] == "body"
    assert problem in refused.json()["detail"]
    in_chinese = draft(client, staff, body, "zh-CN").json()["detail"]
    assert "规则" in in_chinese
    listed = client.get(f"{API}/risk/rule-sets", headers=staff.headers(Role.RISK_ANALYST))
    assert listed.json() == []


def test_a_rule_set_goes_live_by_a_second_analyst_decides_then_retires(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = seasoned_customer(rt, client, staff, clock, 61)
    shop = open_online_customer(rt, client, staff, 62, balance=0)
    author = staff.headers(Role.RISK_ANALYST)
    version = draft(client, staff, HOLD_FROM_300).json()
    assert version["status"] == "draft"
    assert version["rules"] == ["hold_from_300"]

    own = move(client, author, "rule-sets", version["id"], "live")
    assert own.status_code == 403
    assert own.json()["code"] == "four_eyes"
    assert paid(rt, client, payer, shop, 40_000)["status"] == "executed"  # drafts decide nothing

    checker = second_analyst(rt, client)
    assert move(client, checker, "rule-sets", version["id"], "live").json()["status"] == "live"
    assert paid(rt, client, payer, shop, 41_000)["status"] == "held"
    assert "hold_from_300" in open_alerts(client, staff)[0]["rules"]

    assert move(client, checker, "rule-sets", version["id"], "shadow").status_code == 409
    assert move(client, checker, "rule-sets", version["id"], "retired").status_code == 200
    assert paid(rt, client, payer, shop, 42_000)["status"] == "executed"  # the policy's rules

    trail = client.get(
        f"{API}/audit/records",
        params={"entity_type": "rule_set"},
        headers=staff.headers(Role.AUDITOR),
    ).json()
    assert [(r["action"], r["actor_id"]) for r in trail] == [
        ("risk.rule_set.drafted", author_id(client, author)),
        ("risk.rule_set.live", author_id(client, checker)),
        ("risk.rule_set.retired", author_id(client, checker)),
    ]


def author_id(client: TestClient, headers: dict[str, str]) -> str:
    return str(client.get(f"{API}/staff/me", headers=headers).json()["id"])


def test_a_shadow_rule_decides_nothing_and_its_hits_are_recorded(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = seasoned_customer(rt, client, staff, clock, 63)
    shop = open_online_customer(rt, client, staff, 64, balance=0)
    version = draft(client, staff, HOLD_FROM_300).json()
    author = staff.headers(Role.RISK_ANALYST)
    assert move(client, author, "rule-sets", version["id"], "shadow").status_code == 200

    assert paid(rt, client, payer, shop, 40_000)["status"] == "executed"
    assert paid(rt, client, payer, shop, 20_000)["status"] == "executed"
    assert open_alerts(client, staff) == []  # nothing for the queue
    [hit] = open_alerts(client, staff, status="closed", kind="shadow")
    assert hit["rules"] == ["hold_from_300"]
    assert hit["amount"] == 40_000


def labelled_history(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> tuple[list[OnlineCustomer], date]:
    """Ten days in which night-time payments of 2,000.00 to a mule are fraud and small daytime
    ones are not: a shadow rule surfaces the large ones, an analyst labels them. Returns the
    payers and the first day."""
    clock.advance(timedelta(days=-20))
    payers = [
        login_with_sms(rt, client, open_online_customer(rt, client, staff, n, balance=2_000_000))
        for n in (65, 66, 67)
    ]
    shop = open_online_customer(rt, client, staff, 68, balance=0)
    mule = open_online_customer(rt, client, staff, 69, balance=0)
    clock.advance(timedelta(days=10))
    staff.log_in_again()
    watch = draft(client, staff, HOLD_FROM_300.replace("30000", "150000")).json()
    move(client, staff.headers(Role.RISK_ANALYST), "rule-sets", watch["id"], "shadow")
    first_day = clock.now().date()
    for day in range(10):
        for i, payer in enumerate(payers):
            login_with_sms(rt, client, payer)
            for k in range(2):
                paid(rt, client, payer, shop, 3_000 + 1_000 * i + 500 * k + 100 * day)
        clock.advance(timedelta(hours=13))  # 23:00 in Beijing
        victim = login_with_sms(rt, client, payers[day % 3])
        paid(rt, client, victim, mule, 200_000 + day)
        clock.advance(timedelta(hours=11))
    staff.log_in_again()
    for hit in open_alerts(client, staff, status="closed", kind="shadow", limit=200):
        assert analyst(client, staff, hit["id"], "label", label="fraud").status_code == 200
    return payers, first_day


def test_a_model_trained_on_labelled_history_goes_live_and_explains_its_scores(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payers, first_day = labelled_history(rt, client, staff, clock)
    trainer = staff.headers(Role.RISK_ANALYST)
    window = {"train_from": str(first_day), "train_to": str(first_day + timedelta(days=9))}
    candidate = client.post(f"{API}/risk/models", json=window, headers=trainer)
    assert candidate.status_code == 201, candidate.text
    model = candidate.json()
    assert (model["status"], model["rows"], model["frauds"]) == ("candidate", 70, 10)
    assert model["metrics"]["auc_roc"] > 0.9
    assert move(client, trainer, "models", model["id"], "live").status_code == 403
    assert (
        move(client, second_analyst(rt, client), "models", model["id"], "live").status_code == 200
    )

    stranger = open_online_customer(rt, client, staff, 70, balance=0)
    clock.advance(timedelta(hours=13))
    staff.log_in_again()
    victim = login_with_sms(rt, client, payers[0])
    assert paid(rt, client, victim, stranger, 200_000)["status"] == "held"
    [alert] = open_alerts(client, staff)
    assert alert["score"] >= rt.policy.risk.hold_score
    detail = client.get(
        f"{API}/risk/alerts/{alert['id']}", headers=staff.headers(Role.RISK_ANALYST)
    ).json()
    assert "model_score" in [reason["code"] for reason in detail["reasons"]]
    assert detail["contributions"]
    assert detail["contributions"][0][0] in detail["features"]


@pytest.mark.parametrize(
    "window",
    [
        {"train_from": "0001-01-01", "train_to": "2026-11-20"},
        {"train_from": "2026-11-01", "train_to": "9999-12-31"},
        {"train_from": "2020-01-01", "train_to": "2026-11-20"},
    ],
)
def test_an_impossible_training_window_is_refused(
    client: TestClient, staff: StaffLogins, window: dict[str, str]
) -> None:
    refused = client.post(
        f"{API}/risk/models", json=window, headers=staff.headers(Role.RISK_ANALYST)
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_a_candidate_is_trained_on_schedule_and_never_goes_live_by_itself(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    policy = rt.policy.risk
    _, first_day = labelled_history(rt, client, staff, clock)
    # Today the latest window (ending label_delay_days ago) takes in the ten labelled days.
    clock.set(
        datetime.combine(first_day, time(2), UTC) + timedelta(days=policy.label_delay_days + 9)
    )
    scheduled = configuration.retrain_if_due(rt, SYSTEM)
    assert scheduled is not None
    assert scheduled.status == "candidate"
    assert scheduled.trained_to == first_day + timedelta(days=9)
    assert (scheduled.trained_to - scheduled.trained_from).days == policy.training_days - 1
    assert scheduled.frauds == 10
    assert configuration.retrain_if_due(rt, SYSTEM) is None  # not due again yet
    clock.advance(timedelta(days=policy.retrain_days))
    assert configuration.retrain_if_due(rt, SYSTEM) is not None
    assert [m.status for m in configuration.models(rt)] == ["candidate", "candidate"]
    assert isinstance(rt.risk, LiveRiskEngine)
    assert rt.risk.engine().model is None  # nobody put one live


def test_not_enough_labels_to_train_is_a_clear_refusal(
    client: TestClient, staff: StaffLogins
) -> None:
    refused = client.post(
        f"{API}/risk/models",
        json={"train_from": "2026-11-01", "train_to": "2026-11-20"},
        headers=staff.headers(Role.RISK_ANALYST),
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_enough_labels"
    backwards = client.post(
        f"{API}/risk/models",
        json={"train_from": "2026-11-20", "train_to": "2026-11-01"},
        headers=staff.headers(Role.RISK_ANALYST),
    )
    assert backwards.status_code == 422
    assert backwards.json()["field"] == "train_to"


def restarted(rt: Runtime, clock: ManualClock) -> tuple[Runtime, TestClient]:
    """The same bank after its process stopped: a new runtime on the same database."""
    rt.close()
    again = build_runtime(rt.settings, clock=clock)
    client = TestClient(create_app(again))
    client.__enter__()
    return again, client


def test_what_the_engine_knew_survives_a_restart(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """After a restart the engine still knows the payee paid minutes ago (S4), the device new
    today (S3), the fraud an analyst confirmed and the payee blocked."""
    student = seasoned_customer(rt, client, staff, clock, 71)
    other = seasoned_customer(rt, client, staff, clock, 72)
    seller = open_online_customer(rt, client, staff, 73, balance=0)
    mule = open_online_customer(rt, client, staff, 74, balance=0)
    fresh = login_with_sms(rt, client, open_online_customer(rt, client, staff, 75))
    assert paid(rt, client, fresh, mule, 150_000)["status"] == "held"  # S7
    [queued] = open_alerts(client, staff)
    analyst(client, staff, queued["id"], "void", note="mule")
    analyst(client, staff, queued["id"], "label", label="fraud")
    analyst(client, staff, queued["id"], "block-payee", reason="mule")
    intruder = login_with_sms(
        rt, client, OnlineCustomer(**{**student.__dict__, "device": "trojan-phone", "token": None})
    )
    clock.advance(timedelta(seconds=61))
    login_with_sms(rt, client, student)
    paid(rt, client, student, seller, 60_000)

    rt, client = restarted(rt, clock)
    staff = staff.restarted(rt, client)
    clock.advance(timedelta(minutes=3))
    for customer in (student, intruder, other):
        login_with_sms(rt, client, customer)
        clock.advance(timedelta(seconds=61))  # one login code a minute per phone
    repeat = pay(rt, client, student, seller, 60_000).json()
    confirmed = client.post(
        f"{API}/me/payments/{repeat['id']}/confirm",
        json={"method": "sms", "acknowledge_warnings": True},
        headers=student.headers(),
    ).json()
    assert confirmed["risk_outcome"] == "challenge"  # S4: the same payment minutes ago
    stepped_up = pay(rt, client, intruder, seller, 150_000).json()
    assert stepped_up["risk_outcome"] == "challenge"  # S3: the device is new today
    refused = paid(rt, client, other, mule, 30_000)
    assert refused["status"] == "blocked"
    [block] = open_alerts(client, staff, customer_id=other.customer_id)
    assert {"blocked_payee", "payee_with_confirmed_fraud"} <= set(block["rules"])
    client.__exit__(None, None, None)
    rt.close()


def test_the_event_log_keeps_what_rebuilds_and_training_need_and_no_more(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    from sqlalchemy import func, select

    from ebank.risk.live import RiskEventLog, prune_event_log
    from ebank.risk.models import RiskEventRecord

    def logged() -> int:
        rt.worker(RiskEventLog).flush()
        with rt.db.read() as session:
            return int(session.execute(select(func.count(RiskEventRecord.id))).scalar_one())

    login_with_sms(rt, client, open_online_customer(rt, client, staff, 111))
    old = logged()
    assert old >= 2  # the registration and the new device, at least
    clock.advance(timedelta(days=rt.policy.risk.event_log_days - 1))
    staff.log_in_again()
    login_with_sms(rt, client, open_online_customer(rt, client, staff, 112))
    assert prune_event_log(rt) == 0
    clock.advance(timedelta(days=2))
    assert prune_event_log(rt) == old
    assert logged() >= 2  # the newer customer's
