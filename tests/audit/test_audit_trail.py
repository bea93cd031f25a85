"""The audit trail in the database, on both backends: what actions append, the verification
endpoint, the immutability triggers, tamper detection, the CLI, and no personal data inside."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from tests.conftest import StaffLogins
from tests.customers.customer_payloads import (
    API,
    company_body,
    count_rows,
    individual_body,
    raw_rows,
    rows_containing,
)
from tests.factories import mobile, resident_id, uscc

from ebank.common.actor import Actor
from ebank.customers.service import KycInput, update_kyc
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

VERIFY = f"{API}/audit/verifications"
RECORDS = f"{API}/audit/records"


@pytest.fixture
def trail(client: TestClient, staff: StaffLogins) -> dict[str, Any]:
    """A teller onboards a customer, opens an account and takes a cash deposit."""
    teller = staff.headers(Role.TELLER)
    customer = client.post(f"{API}/customers/individuals", headers=teller, json=individual_body(1))
    assert customer.status_code == 201, customer.text
    account = client.post(
        f"{API}/accounts",
        headers=teller,
        json={"customer_id": customer.json()["id"], "product": "personal_i"},
    )
    assert account.status_code == 201, account.text
    deposit = client.post(
        f"{API}/cash/deposits",
        headers=teller,
        json={
            "id": "dep-1",
            "account_id": account.json()["id"],
            "amount": 50_000,
            "currency": "CNY",
        },
    )
    assert deposit.status_code == 201, deposit.text
    me = client.get(f"{API}/staff/me", headers=teller).json()
    return {"customer": customer.json(), "account": account.json(), "teller_id": me["id"]}


def _records(rt: Runtime, **where: str) -> list[dict[str, Any]]:
    return [r for r in raw_rows(rt, "audit_records") if all(r[k] == v for k, v in where.items())]


def _verify(client: TestClient, staff: StaffLogins) -> dict[str, Any]:
    response = client.post(VERIFY, headers=staff.headers(Role.AUDITOR))
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def test_actions_append_records_naming_actor_action_entity_and_change(
    rt: Runtime, trail: dict[str, Any]
) -> None:
    teller = str(trail["teller_id"])
    customer_id = str(trail["customer"]["id"])
    [created] = _records(rt, action="customer.create")
    assert (created["actor_kind"], created["actor_id"], created["actor_role"]) == (
        "staff",
        teller,
        "teller",
    )
    assert (created["entity_type"], created["entity_id"]) == ("customer", customer_id)
    assert created["before_json"] is None
    after = json.loads(created["after_json"])
    assert after["name"] == "**明"
    assert after["mobile"] == "134****0001"
    assert after["document"]["type"] == "resident_id"

    [opened] = _records(rt, action="account.open", entity_id=str(trail["account"]["id"]))
    assert (opened["actor_kind"], opened["actor_id"], opened["actor_role"]) == (
        "staff",
        teller,
        "teller",
    )
    assert opened["entity_type"] == "account"
    assert opened["before_json"] is None
    assert opened["after_json"]

    [deposit] = _records(rt, entity_type="transfer", entity_id="dep-1")
    assert deposit["actor_id"] == teller
    assert deposit["action"] == "transfer.single"
    moved = json.loads(deposit["after_json"])
    assert moved["amount"] == 50_000
    assert moved["credit_account_id"] == trail["account"]["id"]
    assert moved["currency"] == "CNY"


def test_records_are_chained_in_sequence_and_the_head_follows(
    rt: Runtime, trail: dict[str, Any]
) -> None:
    records = sorted(raw_rows(rt, "audit_records"), key=lambda r: r["seq"])
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["prev_hash"] == "0" * 64
    for earlier, later in itertools.pairwise(records):
        assert later["prev_hash"] == earlier["hash"]
        assert later["at"] >= earlier["at"]
    [head] = raw_rows(rt, "audit_head")
    assert (head["seq"], head["hash"]) == (records[-1]["seq"], records[-1]["hash"])


def test_the_chain_verifies_through_the_api(
    client: TestClient, staff: StaffLogins, rt: Runtime, trail: dict[str, Any]
) -> None:
    report = _verify(client, staff)
    assert report["ok"] is True
    assert report["first_bad_seq"] is None
    assert report["checked"] == count_rows(rt, "audit_records")
    assert report["checked"] > 5


def _raises_immutable(rt: Runtime, statement: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, rt.db.engine.begin() as conn:
        conn.execute(text(statement))
    error = caught.value
    assert "immutable" in str(error.orig)
    if rt.db.is_postgres:
        assert getattr(error.orig, "sqlstate", None) == "23001"  # restrict_violation
    return error


def test_audit_records_cannot_be_updated_or_deleted(rt: Runtime, trail: dict[str, Any]) -> None:
    before = raw_rows(rt, "audit_records")
    _raises_immutable(rt, "UPDATE audit_records SET after_json = '{}' WHERE seq = 2")
    _raises_immutable(rt, "UPDATE audit_records SET actor_id = 'someone-else'")
    _raises_immutable(rt, "DELETE FROM audit_records WHERE seq = 2")
    _raises_immutable(rt, "DELETE FROM audit_records")
    assert raw_rows(rt, "audit_records") == before


@pytest.fixture
def without_triggers(rt: Runtime) -> Iterator[Runtime]:
    """Let a test play the attacker who drops the immutability triggers; PostgreSQL's schema
    outlives the test, so its trigger is put back afterwards."""
    yield rt
    if rt.db.is_postgres:
        with rt.db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_records_immutable ON audit_records"))
            conn.execute(
                text(
                    "CREATE TRIGGER audit_records_immutable BEFORE UPDATE OR DELETE ON "
                    "audit_records FOR EACH ROW EXECUTE FUNCTION ebank_refuse_change()"
                )
            )


def _drop_trigger(rt: Runtime, event: str) -> None:
    with rt.db.engine.begin() as conn:
        if rt.db.is_postgres:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_records_immutable ON audit_records"))
        else:
            conn.execute(text(f"DROP TRIGGER audit_records_no_{event}"))


def _tamper(rt: Runtime, statement: str, **params: Any) -> None:
    _drop_trigger(rt, "update" if statement.lstrip().upper().startswith("UPDATE") else "delete")
    with rt.db.engine.begin() as conn:
        assert conn.execute(text(statement), params).rowcount == 1


def _seq_of(rt: Runtime, action: str) -> int:
    [record] = _records(rt, action=action)
    return int(record["seq"])


def test_an_altered_record_is_named_by_the_verification(
    client: TestClient, staff: StaffLogins, without_triggers: Runtime, trail: dict[str, Any]
) -> None:
    rt = without_triggers
    staff.headers(Role.AUDITOR)  # log the auditor in before tampering
    seq = _seq_of(rt, "customer.create")
    assert seq < count_rows(rt, "audit_records")  # a record in the middle
    _tamper(
        rt,
        "UPDATE audit_records SET after_json = REPLACE(after_json, 'engineer', 'politician') "
        "WHERE seq = :seq",
        seq=seq,
    )
    report = _verify(client, staff)
    assert report["ok"] is False
    assert report["first_bad_seq"] == seq
    assert report["checked"] == seq - 1
    assert str(seq) in report["reason"]


def test_a_deleted_middle_record_is_named_by_the_verification(
    client: TestClient, staff: StaffLogins, without_triggers: Runtime, trail: dict[str, Any]
) -> None:
    rt = without_triggers
    staff.headers(Role.AUDITOR)
    seq = _seq_of(rt, "customer.create")
    _tamper(rt, "DELETE FROM audit_records WHERE seq = :seq", seq=seq)
    report = _verify(client, staff)
    assert report["ok"] is False
    assert report["first_bad_seq"] == seq
    assert "missing" in report["reason"]


def test_a_deleted_last_record_is_caught_by_the_head(
    client: TestClient, staff: StaffLogins, without_triggers: Runtime, trail: dict[str, Any]
) -> None:
    rt = without_triggers
    staff.headers(Role.AUDITOR)
    last = count_rows(rt, "audit_records")
    _tamper(rt, "DELETE FROM audit_records WHERE seq = :seq", seq=last)
    report = _verify(client, staff)
    assert report["ok"] is False
    assert report["first_bad_seq"] == last


def test_verification_is_consistent_while_tellers_keep_working(
    client: TestClient,
    staff: StaffLogins,
    rt: Runtime,
    trail: dict[str, Any],
) -> None:
    """A record committed while the verification runs must not make an intact trail look broken."""
    staff.headers(Role.AUDITOR)
    teller = Actor("staff", str(trail["teller_id"]), "teller")
    appended: list[int] = []

    def append_meanwhile(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if appended or not statement.lstrip().upper().startswith("SELECT"):
            return
        if "FROM audit_records" not in statement:
            return
        appended.append(1)
        update_kyc(rt, teller, trail["customer"]["id"], kyc=KycInput(occupation="chef"))

    event.listen(rt.db.engine, "before_cursor_execute", append_meanwhile)
    try:
        report = _verify(client, staff)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", append_meanwhile)
    assert appended == [1]
    assert _records(rt, action="customer.update")  # the teller's change did commit
    assert report["ok"] is True, report
    assert _verify(client, staff)["ok"] is True


def test_only_transfers_that_happened_are_recorded(
    client: TestClient, staff: StaffLogins, rt: Runtime, trail: dict[str, Any]
) -> None:
    teller = staff.headers(Role.TELLER)
    account_id = trail["account"]["id"]
    replay = client.post(
        f"{API}/cash/deposits",
        headers=teller,
        json={"id": "dep-1", "account_id": account_id, "amount": 50_000, "currency": "CNY"},
    )
    assert replay.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"
    refused = client.post(
        f"{API}/cash/withdrawals",
        headers=teller,
        json={"id": "wd-1", "account_id": account_id, "amount": 10**9, "currency": "CNY"},
    )
    assert refused.status_code == 409
    assert client.get(f"{API}/transfers/wd-1", headers=teller).status_code == 404
    # The replay changed nothing and is not recorded again; the refusal is recorded as one.
    assert len(_records(rt, entity_type="transfer", entity_id="dep-1")) == 1
    [withdrawal] = _records(rt, entity_type="transfer", entity_id="wd-1")
    assert withdrawal["action"] == "transfer.refused"
    assert json.loads(withdrawal["after_json"])["result"] == "insufficient_funds"
    assert withdrawal["actor_role"] == "teller"


# --- the CLI -----------------------------------------------------------------------------------


def _cli_env(rt: Runtime) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBANK_")}
    env.update(
        {
            "EBANK_DATABASE_URL": rt.settings.database_url,
            "EBANK_DATA_KEYS": rt.settings.data_keys or "",
            "EBANK_LOOKUP_KEY": rt.settings.lookup_key or "",
            "EBANK_BACKGROUND_INTERVAL_S": "0",
            "EBANK_VAR_DIR": str(rt.settings.var_dir),
            "COLUMNS": "200",
        }
    )
    return env


def _audit_verify_cli(rt: Runtime) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ebank.cli", "audit", "verify"],
        env=_cli_env(rt),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_audit_verify_passes_then_names_the_first_bad_record(
    without_triggers: Runtime, trail: dict[str, Any]
) -> None:
    rt = without_triggers
    total = count_rows(rt, "audit_records")
    intact = _audit_verify_cli(rt)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit trail OK" in intact.stdout
    assert f"{total} records" in intact.stdout
    seq = _seq_of(rt, "customer.create")
    _tamper(
        rt,
        "UPDATE audit_records SET actor_role = 'supervisor' WHERE seq = :seq",
        seq=seq,
    )
    broken = _audit_verify_cli(rt)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"BROKEN at record {seq}" in broken.stdout


# --- the audit API -------------------------------------------------------------------------------


def test_only_auditors_read_and_verify_the_trail(client: TestClient, staff: StaffLogins) -> None:
    for role in (r for r in Role if r is not Role.AUDITOR):
        headers = staff.headers(role)
        for method, path in (("GET", RECORDS), ("POST", VERIFY)):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 403, (role, path)
            assert response.json()["code"] == "forbidden"
    auditor = staff.headers(Role.AUDITOR)
    assert client.get(RECORDS, headers=auditor).status_code == 200
    assert client.post(VERIFY, headers=auditor).status_code == 200


def test_anonymous_callers_cannot_read_or_verify_the_trail(client: TestClient) -> None:
    for method, path in (("GET", RECORDS), ("POST", VERIFY)):
        for headers in ({}, {"Authorization": "Bearer forged"}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401
            assert response.json()["code"] == "not_authenticated"


def test_auditors_filter_the_trail_by_entity(
    client: TestClient, staff: StaffLogins, trail: dict[str, Any]
) -> None:
    teller = staff.headers(Role.TELLER)
    other = client.post(f"{API}/customers/individuals", headers=teller, json=individual_body(2))
    customer_id = trail["customer"]["id"]
    client.patch(f"{API}/customers/{customer_id}", headers=teller, json={"occupation": "chef"})
    auditor = staff.headers(Role.AUDITOR)
    response = client.get(
        RECORDS, headers=auditor, params={"entity_type": "customer", "entity_id": customer_id}
    )
    assert response.status_code == 200, response.text
    records = response.json()
    assert [r["action"] for r in records] == ["customer.create", "customer.update"]
    assert {(r["entity_type"], r["entity_id"]) for r in records} == {("customer", str(customer_id))}
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    others = client.get(
        RECORDS,
        headers=auditor,
        params={"entity_type": "customer", "entity_id": other.json()["id"]},
    ).json()
    assert [r["action"] for r in others] == ["customer.create"]
    by_action = client.get(RECORDS, headers=auditor, params={"action": "customer.update"}).json()
    assert [r["entity_id"] for r in by_action] == [str(customer_id)]


def test_auditors_page_through_the_trail(
    client: TestClient, staff: StaffLogins, rt: Runtime, trail: dict[str, Any]
) -> None:
    auditor = staff.headers(Role.AUDITOR)
    total = count_rows(rt, "audit_records")
    first = client.get(RECORDS, headers=auditor, params={"limit": 3}).json()
    assert [r["seq"] for r in first] == [1, 2, 3]
    rest = client.get(RECORDS, headers=auditor, params={"after": 3, "limit": 1000}).json()
    assert [r["seq"] for r in rest] == list(range(4, total + 1))
    for params in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"after": 2**63}):
        assert client.get(RECORDS, headers=auditor, params=params).status_code == 422, params


# --- no personal data in the trail --------------------------------------------------------------


def test_no_personal_data_reaches_the_trail(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    person = client.post(
        f"{API}/customers/individuals",
        headers=teller,
        json=individual_body(
            3, name="司马相如", vulnerable=True, vulnerable_reason="recently bereaved"
        ),
    )
    company = client.post(f"{API}/customers/companies", headers=teller, json=company_body(3))
    assert person.status_code == 201, person.text
    assert company.status_code == 201, company.text
    person_id = person.json()["id"]
    client.post(
        f"{API}/customers/{person_id}/documents",
        headers=teller,
        json={"doc_type": "passport", "number": "EA7654321"},
    )
    client.patch(f"{API}/customers/{person_id}", headers=teller, json={"occupation": "poet"})
    secrets = [
        "司马相如",
        resident_id(3),
        mobile(3),
        "星河贸易有限公司",
        uscc(3),
        mobile(50_003),
        "赵大海",
        "EA7654321",
        "1990-03-07",
    ]
    records = raw_rows(rt, "audit_records")
    assert len(records) >= 5
    assert rows_containing(records, secrets) == []
    # Nor through the API an auditor reads.
    listing = client.get(RECORDS, headers=staff.headers(Role.AUDITOR), params={"limit": 1000})
    assert listing.status_code == 200
    for secret in secrets:
        assert secret not in listing.text
        assert json.dumps(secret)[1:-1] not in listing.text  # nor \\u-escaped
