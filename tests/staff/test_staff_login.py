"""Password login: no user-name oracle, the warning before the lock, the lock, the unlock."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.conftest import STAFF_PASSWORD, StaffLogins
from tests.customers.customer_payloads import raw_rows

from ebank.auth import passwords
from ebank.common.actor import Actor
from ebank.common.clock import ManualClock
from ebank.common.errors import DomainError
from ebank.runtime import Runtime
from ebank.staff import service
from ebank.staff.permissions import Role
from ebank.staff.service import create_staff

SESSIONS = "/api/v1/staff/sessions"
USERS = "/api/v1/staff/users"
SYSTEM = Actor("system", "test", None)
WRONG = "wrong-password-123"


@pytest.fixture
def alice(rt: Runtime) -> int:
    view = create_staff(
        rt,
        SYSTEM,
        username="alice",
        display_name="Alice Wang",
        role=Role.TELLER,
        password=STAFF_PASSWORD,
    )
    return view.id


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post(
        SESSIONS,
        json={"username": username, "password": password},
        headers={"Accept-Language": "en"},
    )


def _failed_logins(rt: Runtime, staff_id: int) -> int:
    with rt.db.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT failed_logins FROM staff_users WHERE id = :id"), {"id": staff_id}
            ).scalar_one()
        )


def test_login_returns_a_session_for_the_user(client: TestClient, rt: Runtime, alice: int) -> None:
    response = _login(client, "alice", STAFF_PASSWORD)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"]
    assert body["csrf_token"]
    assert body["token"] != body["csrf_token"]
    assert body["staff"] == {
        "id": alice,
        "username": "alice",
        "display_name": "Alice Wang",
        "role": "teller",
        "status": "active",
        "locked": False,
    }
    assert "password" not in response.text
    me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


def test_user_name_is_matched_case_and_space_insensitively(client: TestClient, alice: int) -> None:
    assert _login(client, "  Alice ", STAFF_PASSWORD).status_code == 201


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, alice: int) -> None:
    wrong_password = _login(client, "alice", WRONG)
    unknown_user = _login(client, "nobody", WRONG)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["code"] == "invalid_credentials"
    assert wrong_password.json()["detail"] == "The user name or password is incorrect."
    assert "token" not in wrong_password.text


def test_the_last_attempt_is_announced_then_the_account_locks(
    client: TestClient, rt: Runtime, alice: int
) -> None:
    assert rt.policy.staff.max_failed_logins == 5
    for _ in range(3):
        response = _login(client, "alice", WRONG)
        assert response.status_code == 401
        assert "params" not in response.json()
        assert "attempt" not in response.json()["detail"]
    fourth = _login(client, "alice", WRONG)
    assert fourth.status_code == 401
    assert fourth.json()["code"] == "invalid_credentials"
    assert fourth.json()["params"]["remaining_attempts"] == 1
    assert "One attempt left" in fourth.json()["detail"]
    fifth = _login(client, "alice", WRONG)
    assert fifth.status_code == 423
    assert fifth.json()["code"] == "account_locked"
    # Locked: even the right password is refused, and no session is issued.
    right = _login(client, "alice", STAFF_PASSWORD)
    assert right.status_code == 423
    assert right.json()["code"] == "account_locked"
    assert "token" not in right.text


def test_lock_holds_over_time_until_an_admin_unlocks(
    client: TestClient, rt: Runtime, staff: StaffLogins, alice: int
) -> None:
    for _ in range(5):
        _login(client, "alice", WRONG)
    assert isinstance(rt.clock, ManualClock)
    rt.clock.advance(timedelta(days=3))
    assert _login(client, "alice", STAFF_PASSWORD).status_code == 423
    admin = staff.headers(Role.ADMIN)
    listed = {u["username"]: u for u in client.get(USERS, headers=admin).json()}
    assert listed["alice"]["locked"] is True
    response = client.patch(f"{USERS}/{alice}", headers=admin, json={"unlock": True})
    assert response.status_code == 200, response.text
    assert response.json()["locked"] is False
    assert _login(client, "alice", STAFF_PASSWORD).status_code == 201
    # The unlock reset the count: four more failures only warn.
    for _ in range(3):
        assert _login(client, "alice", WRONG).status_code == 401
    assert _login(client, "alice", WRONG).json()["params"]["remaining_attempts"] == 1


def test_a_successful_login_resets_the_failure_count(
    client: TestClient, rt: Runtime, alice: int
) -> None:
    for _ in range(4):
        assert _login(client, "alice", WRONG).status_code == 401
    assert _failed_logins(rt, alice) == 4
    assert _login(client, "alice", STAFF_PASSWORD).status_code == 201
    assert _failed_logins(rt, alice) == 0
    for _ in range(3):
        response = _login(client, "alice", WRONG)
        assert response.status_code == 401
        assert "params" not in response.json()
    assert _login(client, "alice", STAFF_PASSWORD).status_code == 201


def test_failures_of_one_user_do_not_lock_another(
    client: TestClient, rt: Runtime, alice: int
) -> None:
    create_staff(
        rt, SYSTEM, username="bob", display_name="Bob", role=Role.TELLER, password=STAFF_PASSWORD
    )
    for _ in range(5):
        _login(client, "alice", WRONG)
    assert _login(client, "bob", STAFF_PASSWORD).status_code == 201


def test_locking_is_audited(client: TestClient, rt: Runtime, alice: int) -> None:
    for _ in range(5):
        _login(client, "alice", WRONG)
    locks = [r for r in raw_rows(rt, "audit_records") if r["action"] == "staff.locked"]
    assert len(locks) == 1
    assert locks[0]["entity_type"] == "staff_user"
    assert locks[0]["entity_id"] == str(alice)
    assert WRONG not in str(locks[0])


def test_malformed_login_is_422_and_counts_nothing(
    client: TestClient, rt: Runtime, alice: int
) -> None:
    for body in (
        {"username": "alice"},
        {"username": "alice", "password": ""},
        {"username": "a" * 33, "password": "x"},
        {"username": "alice", "password": STAFF_PASSWORD, "remember": True},
    ):
        response = client.post(SESSIONS, json=body)
        assert response.status_code == 422, body
    assert _failed_logins(rt, alice) == 0


def test_concurrent_wrong_passwords_all_count_towards_the_lock(
    rt: Runtime, alice: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five guesses fired at once must lock the account just as five in a row do: every guess
    holds its place until all five have read the user (unless the database makes them queue)."""
    attempts = rt.policy.staff.max_failed_logins
    barrier = threading.Barrier(attempts, timeout=1.0)
    real_verify = passwords.verify_password

    def verify_together(password_hash: str | None, password: str) -> bool:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return real_verify(password_hash, password)

    monkeypatch.setattr("ebank.staff.service.verify_password", verify_together)
    outcomes: list[str] = []

    def guess() -> None:
        try:
            service.login(rt, username="alice", password=WRONG, user_agent=None)
        except DomainError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=guess) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    monkeypatch.undo()
    assert sorted(outcomes) == sorted(["invalid_credentials"] * (attempts - 1) + ["account_locked"])
    assert _failed_logins(rt, alice) == attempts
    with pytest.raises(DomainError) as refused:
        service.login(rt, username="alice", password=STAFF_PASSWORD, user_agent=None)
    assert refused.value.code == "account_locked"


def test_a_locked_account_reveals_its_lock_only_to_the_right_password_and_keeps_its_session(
    client: TestClient, staff: StaffLogins
) -> None:
    headers = staff.headers(Role.TELLER)  # the teller is logged in and working
    for _ in range(5):
        client.post(
            "/api/v1/staff/sessions", json={"username": "teller1", "password": "not-the-password-1"}
        )
    wrong = client.post(
        "/api/v1/staff/sessions", json={"username": "teller1", "password": "still-not-it-22"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    right = client.post(
        "/api/v1/staff/sessions", json={"username": "teller1", "password": STAFF_PASSWORD}
    )
    assert (right.status_code, right.json()["code"]) == (423, "account_locked")
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 200
