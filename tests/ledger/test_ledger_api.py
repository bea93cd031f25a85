"""The ledger through its HTTP API: accounts, counter cash, transfers, holds, reversals,
statements, inter-bank payments — and every kind of bad input refused without effect."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from tests.conftest import StaffLogins
from tests.factories import company, funded_account, individual

from ebank.ledger.accounts import Product
from ebank.ledger.models import Account, OutboundTransfer, RejectedTransfer, Transfer
from ebank.ledger.service import internal_account_id
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

API = "/api/v1"


def counts(rt: Runtime) -> tuple[int, int, int, int]:
    with rt.db.read() as session:
        return (
            session.execute(select(func.count()).select_from(Transfer)).scalar_one(),
            session.execute(select(func.count()).select_from(RejectedTransfer)).scalar_one(),
            session.execute(select(func.count()).select_from(Account)).scalar_one(),
            session.execute(select(func.sum(Account.credits_posted))).scalar_one(),
        )


def balance(client: TestClient, headers: dict[str, str], account_id: int) -> int:
    response = client.get(f"{API}/accounts/{account_id}", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def transfer(
    client: TestClient,
    headers: dict[str, str],
    transfer_id: str,
    accounts: tuple[int, int],
    amount: int,
) -> dict[str, Any]:
    """Post one transfer (debit, credit) through the batch endpoint; its result."""
    debit, credit = accounts
    body = {
        "transfers": [
            {
                "id": transfer_id,
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": amount,
                "currency": "CNY",
            }
        ]
    }
    response = client.post(f"{API}/transfers", headers=headers, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


def interbank_body(
    transfer_id: str, account: int, amount: int, bank: str, payee_account: str
) -> dict[str, Any]:
    return {
        "id": transfer_id,
        "account_id": account,
        "amount": amount,
        "currency": "CNY",
        "payee_bank": bank,
        "payee_account": payee_account,
        "payee_name": "王五",
    }


@pytest.fixture
def teller(staff: StaffLogins) -> dict[str, str]:
    return staff.headers(Role.TELLER)


@pytest.fixture
def supervisor(staff: StaffLogins) -> dict[str, str]:
    return staff.headers(Role.SUPERVISOR)


def test_cash_deposit_and_withdrawal_move_the_vault(
    client: TestClient, rt: Runtime, teller: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 0)
    vault = internal_account_id(rt, Product.CASH)
    body = {
        "id": "dep-1",
        "account_id": account,
        "amount": 100_000,
        "currency": "CNY",
        "purpose": "存款",
    }
    response = client.post(f"{API}/cash/deposits", headers=teller, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["credit_balance_after"] == 100_000
    assert balance(client, teller, vault) == 100_000
    out = {"id": "wd-1", "account_id": account, "amount": 30_000, "currency": "CNY"}
    response = client.post(f"{API}/cash/withdrawals", headers=teller, json=out)
    assert response.status_code == 201, response.text
    assert balance(client, teller, account) == 70_000
    assert balance(client, teller, vault) == 70_000


def test_retrying_a_deposit_returns_the_first_result_once(
    client: TestClient, rt: Runtime, teller: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 0)
    body = {"id": "dep-1", "account_id": account, "amount": 5_000, "currency": "CNY"}
    first = client.post(f"{API}/cash/deposits", headers=teller, json=body)
    second = client.post(f"{API}/cash/deposits", headers=teller, json=body)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert balance(client, teller, account) == 5_000
    other = client.post(f"{API}/cash/deposits", headers=teller, json={**body, "amount": 5_001})
    assert other.status_code == 409
    assert other.json()["code"] == "id_already_used"
    assert other.json()["field"] == "id"
    assert balance(client, teller, account) == 5_000


def test_withdrawal_beyond_the_balance_fails_and_stays_failed(
    client: TestClient, rt: Runtime, teller: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 1_000)
    client.post(
        f"{API}/cash/deposits",
        headers=teller,
        json={
            "id": "vault",
            "account_id": funded_account(rt, individual(rt, 2), 0),
            "amount": 10_000,
            "currency": "CNY",
        },
    )
    body = {"id": "wd-1", "account_id": account, "amount": 1_001, "currency": "CNY"}
    response = client.post(f"{API}/cash/withdrawals", headers=teller, json=body)
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "insufficient_funds"
    assert problem["field"] == "amount"
    assert response.headers["content-type"].startswith("application/problem+json")
    client.post(
        f"{API}/cash/deposits",
        headers=teller,
        json={"id": "dep-2", "account_id": account, "amount": 5_000, "currency": "CNY"},
    )
    retry = client.post(f"{API}/cash/withdrawals", headers=teller, json=body)
    assert retry.status_code == 409
    assert retry.json()["code"] == "insufficient_funds"
    assert balance(client, teller, account) == 6_000


BAD_CASH_BODIES: list[tuple[dict[str, Any], str, str]] = [
    ({"amount": "12.34"}, "invalid_amount", "amount"),
    ({"amount": 12.5}, "invalid_amount", "amount"),
    ({"amount": True}, "invalid_amount", "amount"),
    ({"amount": None}, "invalid_amount", "amount"),
    ({"amount": 0}, "amount_not_positive", "amount"),
    ({"amount": -100}, "amount_not_positive", "amount"),
    ({"amount": 10**16}, "amount_too_large", "amount"),
    ({"amount": 10**30}, "amount_too_large", "amount"),
    ({"currency": "XYZ"}, "invalid_currency", "currency"),
    ({"currency": "usd"}, "currency_mismatch", "currency"),
    ({"currency": 7}, "invalid_currency", "currency"),
    ({"account_id": 999_999}, "account_not_found", "account_id"),
    ({"account_id": 0}, "too_small", "account_id"),
    ({"account_id": 2**70}, "too_large", "account_id"),
    ({"account_id": "abc"}, "not_an_integer", "account_id"),
    ({"id": ""}, "invalid_transfer_id", "id"),
    ({"id": "x" * 65}, "invalid_transfer_id", "id"),
    ({"id": "has space"}, "invalid_transfer_id", "id"),
    ({"purpose": "长" * 141}, "too_long", "purpose"),
    ({"unexpected": 1}, "unknown_field", "unexpected"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD_CASH_BODIES)
def test_bad_deposit_input_is_refused_and_changes_nothing(
    client: TestClient,
    rt: Runtime,
    teller: dict[str, str],
    *,
    change: dict[str, Any],
    code: str,
    field: str,
) -> None:
    account = funded_account(rt, individual(rt, 1), 0)
    body = {"id": "dep-1", "account_id": account, "amount": 100, "currency": "CNY", **change}
    before = counts(rt)
    response = client.post(f"{API}/cash/deposits", headers=teller, json=body)
    assert 400 <= response.status_code < 500, response.text
    problem = response.json()
    assert problem["code"] == code, problem
    assert problem["field"] == field, problem
    assert problem["detail"]
    after = counts(rt)
    assert after[0] == before[0]
    assert after[2:] == before[2:]


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"id": "a", "amount": 1e309}'],
)
def test_malformed_json_bodies_are_refused(
    client: TestClient, rt: Runtime, teller: dict[str, str], raw: bytes
) -> None:
    before = counts(rt)
    response = client.post(
        f"{API}/cash/deposits", headers={**teller, "Content-Type": "application/json"}, content=raw
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {
        "malformed_json",
        "invalid_body",
        "invalid_amount",
        "field_required",
    }
    assert counts(rt) == before


def test_oversize_body_is_refused(client: TestClient, rt: Runtime, teller: dict[str, str]) -> None:
    response = client.post(
        f"{API}/cash/deposits",
        headers={**teller, "Content-Type": "application/json"},
        content=b'{"purpose": "' + b"x" * 2_000_000 + b'"}',
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_batch_of_transfers_with_holds_posts_and_voids(
    client: TestClient, rt: Runtime, supervisor: dict[str, str]
) -> None:
    alice = funded_account(rt, individual(rt, 1), 10_000)
    bob = funded_account(rt, individual(rt, 2), 0)
    fees = internal_account_id(rt, Product.FEE_INCOME)
    batch = {
        "transfers": [
            {
                "id": "fee",
                "debit_account_id": alice,
                "credit_account_id": fees,
                "amount": 10,
                "currency": "CNY",
                "linked": True,
                "code": "fee",
            },
            {
                "id": "pay",
                "debit_account_id": alice,
                "credit_account_id": bob,
                "amount": 1_000,
                "currency": "CNY",
            },
            {
                "id": "hold",
                "kind": "pending",
                "debit_account_id": alice,
                "credit_account_id": bob,
                "amount": 3_000,
                "currency": "CNY",
                "timeout_s": 600,
            },
            {
                "id": "too-much",
                "debit_account_id": alice,
                "credit_account_id": bob,
                "amount": 6_000,
                "currency": "CNY",
            },
        ]
    }
    response = client.post(f"{API}/transfers", headers=supervisor, json=batch)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["ok", "ok", "ok", "insufficient_funds"]
    assert results[3]["message"]
    assert results[3]["field"] == "amount"
    account = client.get(f"{API}/accounts/{alice}", headers=supervisor).json()
    assert (account["balance"], account["available"]) == (8_990, 5_990)
    post = {"transfers": [{"id": "post", "kind": "post", "pending_id": "hold", "amount": 2_000}]}
    assert (
        client.post(f"{API}/transfers", headers=supervisor, json=post).json()["results"][0][
            "result"
        ]
        == "ok"
    )
    again = {"transfers": [{"id": "void", "kind": "void", "pending_id": "hold"}]}
    result = client.post(f"{API}/transfers", headers=supervisor, json=again).json()["results"][0]
    assert result["result"] == "pending_transfer_already_posted"
    account = client.get(f"{API}/accounts/{alice}", headers=supervisor).json()
    assert (account["balance"], account["available"]) == (6_990, 6_990)
    hold = client.get(f"{API}/transfers/hold", headers=supervisor).json()
    assert hold["pending_state"] == "posted"


def test_reversal_points_to_the_original_and_is_capped(
    client: TestClient, rt: Runtime, supervisor: dict[str, str]
) -> None:
    alice = funded_account(rt, individual(rt, 1), 10_000)
    bob = funded_account(rt, individual(rt, 2), 0)
    pay = {
        "id": "pay",
        "debit_account_id": alice,
        "credit_account_id": bob,
        "amount": 5_000,
        "currency": "CNY",
    }
    client.post(f"{API}/transfers", headers=supervisor, json={"transfers": [pay]})
    response = client.post(
        f"{API}/transfers/pay/reversals",
        headers=supervisor,
        json={"id": "rev-1", "amount": 4_500, "purpose": "误转 erroneous amount"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["reverses_id"] == "pay"
    assert (response.json()["debit_account_id"], response.json()["credit_account_id"]) == (
        bob,
        alice,
    )
    more = client.post(
        f"{API}/transfers/pay/reversals", headers=supervisor, json={"id": "rev-2", "amount": 501}
    )
    assert more.status_code == 409
    assert more.json()["code"] == "reversal_exceeds_original"
    missing = client.post(
        f"{API}/transfers/nope/reversals", headers=supervisor, json={"id": "rev-3"}
    )
    assert missing.status_code == 404
    assert balance(client, supervisor, alice) == 9_500
    with rt.db.read() as session:  # the original posting is untouched: corrections are new rows
        original = session.execute(select(Transfer).where(Transfer.id == "pay")).scalar_one()
        assert original.amount == 5_000


def test_postings_cannot_be_updated_or_deleted(rt: Runtime) -> None:
    alice = funded_account(rt, individual(rt, 1), 1_000)
    for statement in ("UPDATE transfers SET amount = amount + 1", "DELETE FROM transfers"):
        with pytest.raises(Exception, match="immutable"), rt.db.write() as session:
            session.execute(text(statement))
    with rt.db.read() as session:
        assert (
            session.execute(select(Account.credits_posted).where(Account.id == alice)).scalar_one()
            == 1_000
        )


def test_opening_rules(client: TestClient, rt: Runtime, teller: dict[str, str]) -> None:
    person = individual(rt, 1)
    firm = company(rt, 1)
    ok = client.post(
        f"{API}/accounts", headers=teller, json={"customer_id": person, "product": "personal_ii"}
    )
    assert ok.status_code == 201
    assert ok.json()["number_masked"].startswith("6219 ")
    wrong = client.post(
        f"{API}/accounts",
        headers=teller,
        json={"customer_id": person, "product": "corporate_basic"},
    )
    assert wrong.json()["code"] == "product_not_for_customer"
    basic = client.post(
        f"{API}/accounts", headers=teller, json={"customer_id": firm, "product": "corporate_basic"}
    )
    assert basic.status_code == 201
    second = client.post(
        f"{API}/accounts", headers=teller, json={"customer_id": firm, "product": "corporate_basic"}
    )
    assert second.status_code == 409
    assert second.json()["code"] == "basic_account_exists"
    internal = client.post(
        f"{API}/accounts", headers=teller, json={"customer_id": person, "product": "cash"}
    )
    assert internal.json()["code"] == "invalid_product"
    orphan = client.post(
        f"{API}/accounts",
        headers=teller,
        json={"customer_id": person, "product": "precious_metal_margin"},
    )
    assert orphan.json()["code"] == "invalid_parent_account"
    margin = client.post(
        f"{API}/accounts",
        headers=teller,
        json={
            "customer_id": person,
            "product": "precious_metal_margin",
            "parent_account_id": ok.json()["id"],
        },
    )
    assert margin.status_code == 201
    assert margin.json()["parent_account_id"] == ok.json()["id"]
    unknown = client.post(
        f"{API}/accounts", headers=teller, json={"customer_id": 987654, "product": "personal_i"}
    )
    assert unknown.status_code == 404
    listed = client.get(f"{API}/customers/{person}/accounts", headers=teller).json()
    assert [a["product"] for a in listed] == ["personal_ii", "precious_metal_margin"]


def test_freeze_refuses_debits_and_close_needs_an_empty_account(
    client: TestClient, rt: Runtime, supervisor: dict[str, str], teller: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 1_000)
    other = funded_account(rt, individual(rt, 2), 0)
    frozen = client.post(
        f"{API}/accounts/{account}/freeze", headers=supervisor, json={"reason": "court order"}
    )
    assert frozen.json()["status"] == "frozen"
    assert transfer(client, supervisor, "p1", (account, other), 1)["result"] == "account_frozen"
    refused = client.post(f"{API}/accounts/{account}/freeze", headers=teller, json={"reason": "x"})
    assert refused.status_code == 403
    client.post(
        f"{API}/accounts/{account}/unfreeze", headers=supervisor, json={"reason": "order lifted"}
    )
    not_empty = client.post(
        f"{API}/accounts/{account}/close", headers=supervisor, json={"reason": "customer request"}
    )
    assert not_empty.status_code == 409
    assert not_empty.json()["code"] == "account_not_empty"
    assert transfer(client, supervisor, "p2", (account, other), 1_000)["result"] == "ok"
    closed = client.post(
        f"{API}/accounts/{account}/close", headers=supervisor, json={"reason": "customer request"}
    )
    assert closed.json()["status"] == "closed"
    assert transfer(client, supervisor, "p3", (other, account), 1)["result"] == "account_closed"
    empty_reason = client.post(
        f"{API}/accounts/{other}/freeze", headers=supervisor, json={"reason": "  "}
    )
    assert empty_reason.json()["code"] == "field_required"


def test_class_ii_account_daily_limit_comes_from_the_policy(
    client: TestClient, rt: Runtime, supervisor: dict[str, str]
) -> None:
    limit = rt.policy.class_limits("personal_ii").outbound_daily_limit
    assert limit == 1_000_000  # 10,000.00 CNY in cn.yaml
    account = funded_account(rt, individual(rt, 1), 2_000_000, Product.PERSONAL_II)
    other = funded_account(rt, individual(rt, 2), 0)

    assert transfer(client, supervisor, "a", (account, other), limit)["result"] == "ok"
    assert (
        transfer(client, supervisor, "b", (account, other), 1)["result"] == "daily_limit_exceeded"
    )


def test_statement_shows_running_balance_and_opening_balance(
    client: TestClient, rt: Runtime, staff: StaffLogins, clock: Any
) -> None:
    from datetime import timedelta

    from tests.conftest import TELLER

    from ebank.ledger.service import CashDirection, counter_cash

    account = funded_account(rt, individual(rt, 1), 0)
    for n, amount in enumerate([10_000, 2_500, 700]):
        counter_cash(
            rt,
            TELLER,
            direction=CashDirection.DEPOSIT,
            transfer_id=f"d{n}",
            account_id=account,
            amount=amount,
            currency="CNY",
        )
        clock.advance(timedelta(days=1))
    counter_cash(
        rt,
        TELLER,
        direction=CashDirection.WITHDRAWAL,
        transfer_id="w",
        account_id=account,
        amount=1_200,
        currency="CNY",
    )
    teller = staff.headers(Role.TELLER)  # logs in now, after the days have passed
    statement = client.get(
        f"{API}/accounts/{account}/statement",
        headers=teller,
        params={"from": "2026-11-24", "to": "2026-11-30"},
    ).json()
    assert statement["opening_balance"] == 10_000
    assert [(e["direction"], e["amount"], e["balance_after"]) for e in statement["entries"]] == [
        ("credit", 2_500, 12_500),
        ("credit", 700, 13_200),
        ("debit", 1_200, 12_000),
    ]
    assert statement["closing_balance"] == 12_000
    assert (statement["total_credits"], statement["total_debits"]) == (3_200, 1_200)
    assert statement["entries"][0]["counterparty_name"].startswith("Cash vault")
    page = client.get(
        f"{API}/accounts/{account}/statement",
        headers=teller,
        params={"from": "2026-11-01", "to": "2026-11-30", "limit": 2},
    ).json()
    assert len(page["entries"]) == 2
    rest = client.get(
        f"{API}/accounts/{account}/statement",
        headers=teller,
        params={"from": "2026-11-01", "to": "2026-11-30", "after": page["next_cursor"]},
    ).json()
    assert [e["amount"] for e in rest["entries"]] == [700, 1_200]
    backwards = client.get(
        f"{API}/accounts/{account}/statement",
        headers=teller,
        params={"from": "2026-11-30", "to": "2026-11-01"},
    )
    assert backwards.json()["code"] == "invalid_date_range"
    bad_date = client.get(
        f"{API}/accounts/{account}/statement",
        headers=teller,
        params={"from": "2026-13-01", "to": "2026-11-01"},
    )
    assert bad_date.status_code == 422
    assert bad_date.json()["code"] == "invalid_date"


def test_interbank_payment_is_queued_then_settled(
    client: TestClient, rt: Runtime, teller: dict[str, str], staff: StaffLogins
) -> None:
    account = funded_account(rt, individual(rt, 1), 100_000)
    clearing = internal_account_id(rt, Product.CLEARING)
    body = interbank_body("ib-1", account, 30_000, "ICBC", "6222021234567890128")
    response = client.post(f"{API}/interbank/transfers", headers=teller, json=body)
    assert response.status_code == 201, response.text
    outbound = response.json()["outbound"]
    assert outbound["status"] == "queued"
    assert outbound["payee_account_masked"] == "6222 **** **** 0128"
    assert outbound["payee_name_masked"] == "*五"
    assert balance(client, teller, clearing) == 30_000
    retry = client.post(f"{API}/interbank/transfers", headers=teller, json=body)
    assert retry.json()["outbound"]["id"] == outbound["id"]
    run = client.post(
        f"{API}/interbank/clearing-runs", headers=staff.headers(Role.SUPERVISOR)
    ).json()
    assert run == {"settled": 1, "returned": 0, "failed": 0}
    assert balance(client, teller, clearing) == 0
    assert balance(client, teller, account) == 70_000
    listed = client.get(
        f"{API}/interbank/transfers", headers=teller, params={"status": "settled"}
    ).json()
    assert [item["transfer_id"] for item in listed] == ["ib-1"]
    with rt.db.read() as session:
        stored = session.execute(select(OutboundTransfer)).scalar_one()
        assert b"6222021234567890128" not in stored.payee_account_enc


def test_interbank_payment_returned_by_the_other_bank_comes_back(
    client: TestClient, rt: Runtime, teller: dict[str, str], supervisor: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 100_000)
    body = interbank_body("ib-1", account, 30_000, "ABC", "6222021234567890123")
    assert client.post(f"{API}/interbank/transfers", headers=teller, json=body).status_code == 201
    assert balance(client, teller, account) == 70_000
    run = client.post(f"{API}/interbank/clearing-runs", headers=supervisor).json()
    assert run == {
        "settled": 0,
        "returned": 1,
        "failed": 0,
    }  # the card number fails its check digit there
    assert balance(client, teller, account) == 100_000
    returned = client.get(
        f"{API}/interbank/transfers", headers=teller, params={"status": "returned"}
    ).json()[0]
    assert returned["return_reason"] == "account does not exist"
    back = client.get(f"{API}/transfers/{returned['outcome_transfer_id']}", headers=teller).json()
    assert back["reverses_id"] == "ib-1"
    assert client.post(f"{API}/interbank/clearing-runs", headers=supervisor).json() == {
        "settled": 0,
        "returned": 0,
        "failed": 0,
    }


def test_interbank_bad_payee_is_refused(
    client: TestClient, rt: Runtime, teller: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 100_000)
    body = interbank_body("ib-1", account, 3, "ABC", "12ab")
    before = counts(rt)
    response = client.post(f"{API}/interbank/transfers", headers=teller, json=body)
    assert response.json()["code"] == "invalid_payee_account"
    assert counts(rt) == before


def test_ledger_verification_catches_a_tampered_balance(
    client: TestClient, rt: Runtime, staff: StaffLogins
) -> None:
    account = funded_account(rt, individual(rt, 1), 5_000)
    auditor = staff.headers(Role.AUDITOR)
    report = client.post(f"{API}/ledger/verifications", headers=auditor).json()
    assert report["ok"] is True
    assert report["totals"]["CNY"]["debits_posted"] == report["totals"]["CNY"]["credits_posted"]
    with rt.db.write() as session:
        session.execute(
            text("UPDATE accounts SET credits_posted = credits_posted + 100 WHERE id = :id"),
            {"id": account},
        )
    report = client.post(f"{API}/ledger/verifications", headers=auditor).json()
    assert report["ok"] is False
    assert any(f"account {account}" in problem for problem in report["problems"])
    assert any("posted debits" in problem for problem in report["problems"])


def test_a_payment_to_another_bank_is_not_reversed_by_hand(
    client: TestClient, rt: Runtime, teller: dict[str, str], supervisor: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 100_000)
    body = interbank_body("ib-1", account, 1_000, "ICBC", "6222021234567890128")
    assert client.post(f"{API}/interbank/transfers", headers=teller, json=body).status_code == 201
    refused = client.post(f"{API}/transfers/ib-1/reversals", headers=supervisor, json={"id": "rev"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "reversal_through_clearing"
    assert client.post(f"{API}/interbank/clearing-runs", headers=supervisor).json()["settled"] == 1
    assert balance(client, teller, account) == 99_000
    assert balance(client, teller, internal_account_id(rt, Product.CLEARING)) == 0


def test_ids_reserved_for_the_bank_are_refused(
    client: TestClient, rt: Runtime, teller: dict[str, str]
) -> None:
    account = funded_account(rt, individual(rt, 1), 0)
    body = {"id": "sys:settle:1", "account_id": account, "amount": 100, "currency": "CNY"}
    response = client.post(f"{API}/cash/deposits", headers=teller, json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_transfer_id"


@pytest.mark.parametrize(
    ("date_from", "date_to"), [("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-31")]
)
def test_statement_dates_out_of_range_are_refused(
    client: TestClient, rt: Runtime, teller: dict[str, str], date_from: str, date_to: str
) -> None:
    account = funded_account(rt, individual(rt, 1), 0)
    params = {"from": date_from, "to": date_to}
    response = client.get(f"{API}/accounts/{account}/statement", headers=teller, params=params)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_date_range"
