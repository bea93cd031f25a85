"""The storage helpers of ``ebank.db`` as the use cases rely on them, on SQLite and PostgreSQL:
list parameters (``among`` bound at execution, ``one_of`` bound now), rows written in bulk
(``NewRows``, ``bulk_insert``, ``bulk_update``), the read connection, the connections a batch
worker keeps (``holding``), and which database errors may be retried (``is_transient``)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    cast,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ebank.auth.models import AuthChallenge, AuthTool
from ebank.customers.models import Customer
from ebank.db import (
    Base,
    DirectRead,
    NewRows,
    among,
    built,
    bulk_insert,
    bulk_update,
    is_transient,
    one_of,
    table_of,
)
from ebank.ledger.models import Account
from ebank.notify.models import Notification
from ebank.runtime import Runtime
from tests.conftest import START
from tests.factories import individual

SHANGHAI = timezone(timedelta(hours=8))
# Every byte value, and text that JSON, SQL quoting or bytea's "\x" form could get wrong.
ALL_BYTES = bytes(range(256))
AWKWARD_TEXT = 'O\'Brien "quoted" \\x41 back\\slash 测试 ✓'

_ACCOUNTS = table_of(Account)
_NOTIFICATIONS = table_of(Notification)

# Built once, as the use cases build theirs (at import), and executed with different lists.
_CUSTOMERS_AMONG = select(Customer.id).where(among(Customer.id, "ids")).order_by(Customer.id)
_ACCOUNTS_BY_ID_OR_CODE = (
    select(Account.code)
    .where(or_(among(Account.id, "ids"), among(Account.code, "codes")))
    .order_by(Account.code)
)

ON_POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def new_customers(rt: Runtime, count: int) -> list[int]:
    return [individual(rt, n) for n in range(1, count + 1)]


def internal_accounts(rt: Runtime) -> dict[str, int]:
    """The bank's own accounts (opened by the ``rt`` fixture): code → id."""
    with rt.db.read() as session:
        rows = session.execute(select(Account.code, Account.id).where(Account.code.is_not(None)))
        return {str(code): int(account_id) for code, account_id in rows}


@contextmanager
def sql_sent(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) the engine sends while the block runs."""
    sent: list[tuple[str, Any]] = []

    def record(**event_args: Any) -> None:
        sent.append((event_args["statement"], event_args["parameters"]))

    event.listen(engine, "before_cursor_execute", record, named=True)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def inserted_tables(sent: list[tuple[str, Any]]) -> list[str]:
    return [
        match.group(1)
        for statement, _ in sent
        if (match := re.match(r'\s*INSERT INTO "?(\w+)"?', statement, re.IGNORECASE))
    ]


def backend_session_id(conn: Connection) -> object:
    """Which database session a connection talks to: the server process on PostgreSQL, the
    driver's connection object on SQLite."""
    if conn.dialect.name == "postgresql":
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return conn.connection.dbapi_connection


def notification_row(customer_id: int, kind: str = "locked", **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "kind": kind,
        "params_enc": b"\x00sealed",
        "locale": "en",
        "inbox": True,
        "sensitive": False,
        "recipient_enc": None,
        "recipient_masked": None,
        "status": "pending",
        "attempts": 0,
        "created_at": START,
        "sent_at": None,
        "read_at": None,
    }
    row.update(values)
    return row


def account_row(customer_id: int | None, code: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": "customer",
        "product": "personal_i",
        "code": code,
        "name": f"Account {code}",
        "number_enc": None,
        "number_hash": None,
        "number_masked": "6217****0001",
        "customer_id": customer_id,
        "parent_account_id": None,
        "opened_with_document_id": None,
        "currency": "CNY",
        "normal_side": "credit",
        "debits_must_not_exceed_credits": True,
        "credits_must_not_exceed_debits": False,
        "status": "active",
        "status_reason": None,
        "debits_pending": 0,
        "debits_posted": 0,
        "credits_pending": 0,
        "credits_posted": 0,
        "outbound_day": None,
        "outbound_day_amount": 0,
        "outbound_year": None,
        "outbound_year_amount": 0,
        "opened_at": START,
        "closed_at": None,
    }
    row.update(values)
    return row


def columns_of(row: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def stored_notifications(rt: Runtime) -> dict[int, Notification]:
    with rt.db.read() as session:
        return {row.id: row for row in session.scalars(select(Notification))}


def stored_accounts(rt: Runtime) -> dict[str, Account]:
    with rt.db.read() as session:
        rows = session.scalars(select(Account).where(Account.code.is_not(None)))
        return {str(row.code): row for row in rows}


NOTIFICATION_COLUMNS = [column.key for column in _NOTIFICATIONS.columns]
ACCOUNT_COLUMNS = [column.key for column in _ACCOUNTS.columns]


# --- among: a list parameter bound at execution ---------------------------------------------------


def test_among_selects_the_rows_whose_id_is_in_the_list_given_at_execution(rt: Runtime) -> None:
    first, second, third = new_customers(rt, 3)

    with rt.db.read_connection() as conn:

        def chosen(ids: list[int]) -> list[int]:
            return list(conn.execute(_CUSTOMERS_AMONG, {"ids": ids}).scalars())

        assert chosen([third, first]) == [first, third]
        assert chosen([second]) == [second]
        assert chosen([]) == []
        assert chosen([third, third, third]) == [third]  # each matching row once
        assert chosen([third + 1_000]) == []
        assert chosen([2**40, second]) == [second]  # a bigint id beyond 32 bits is no error
        assert chosen([first, second, third]) == [first, second, third]


def test_among_compares_text_columns_and_takes_two_lists_in_one_statement(rt: Runtime) -> None:
    accounts = internal_accounts(rt)
    by_id, by_code, untouched = sorted(accounts)[:3]

    with rt.db.read_connection() as conn:

        def chosen(ids: list[int], codes: list[str]) -> list[str | None]:
            found = conn.execute(_ACCOUNTS_BY_ID_OR_CODE, {"ids": ids, "codes": codes})
            return list(found.scalars())

        assert chosen([accounts[by_id]], [by_code]) == [by_id, by_code]
        assert chosen([], [untouched]) == [untouched]
        assert chosen([accounts[by_id]], []) == [by_id]
        assert chosen([], []) == []


def test_among_sends_one_parameter_and_the_same_sql_however_many_values(rt: Runtime) -> None:
    first, second = new_customers(rt, 2)
    lists: list[list[int]] = [[], [first], [first, second], list(range(1, 5_001))]

    with sql_sent(rt.db.engine) as sent, rt.db.read_connection() as conn:
        results = [list(conn.execute(_CUSTOMERS_AMONG, {"ids": ids}).scalars()) for ids in lists]

    assert results == [[], [first], [first, second], [first, second]]
    statements = [(sql, params) for sql, params in sent if "customers" in sql]
    assert len(statements) == len(lists)
    assert len({sql for sql, _ in statements}) == 1  # compiled once, prepared once
    assert all(len(params) == 1 for _, params in statements)


# --- one_of: a list parameter bound now ---------------------------------------------------------


def test_one_of_takes_its_values_from_any_iterable_at_build_time(rt: Runtime) -> None:
    first, second, third = new_customers(rt, 3)

    def chosen(values: Iterable[int]) -> list[int]:
        statement = select(Customer.id).where(one_of(Customer.id, values)).order_by(Customer.id)
        with rt.db.read() as session:
            return list(session.scalars(statement))

    assert chosen([third, first]) == [first, third]
    assert chosen((second,)) == [second]
    assert chosen(value for value in (third, first)) == [first, third]
    assert chosen({second, third}) == [second, third]
    assert chosen([]) == []
    # The same statement built again with other values: a cached compilation takes the new ones.
    assert chosen([first]) == [first]
    assert chosen([third]) == [third]


def test_one_of_twice_and_with_among_keeps_each_list_apart(rt: Runtime) -> None:
    first, second, third = new_customers(rt, 3)

    both = select(Customer.id).where(
        one_of(Customer.id, [first, second]), one_of(Customer.id, [second, third])
    )
    mixed = select(Customer.id).where(
        one_of(Customer.id, [first, second, third]), among(Customer.id, "ids")
    )
    with rt.db.read_connection() as conn:
        assert list(conn.execute(both).scalars()) == [second]
        assert list(conn.execute(mixed, {"ids": [third, third + 1_000]}).scalars()) == [third]
        assert list(conn.execute(mixed, {"ids": []}).scalars()) == []


# --- NewRows: mapped objects written with one insert per table -----------------------------------


def new_notification(customer_id: int, kind: str) -> Notification:
    """A notification with only what has no default set."""
    return Notification(
        customer_id=customer_id,
        kind=kind,
        params_enc=b"{}",
        locale="en",
        inbox=True,
        status="pending",
        created_at=START,
    )


def new_tool(customer_id: int, tool_id: int) -> AuthTool:
    """An e-token with only what has no default set (counters come from the column defaults)."""
    return AuthTool(
        id=tool_id,
        customer_id=customer_id,
        kind="totp",
        serial=f"TOTP-{tool_id}",
        status="active",
        secret_enc=ALL_BYTES,
        created_at=START,
        updated_at=START.astimezone(SHANGHAI),
    )


def new_challenge(challenge_id: str, customer_id: int, tool_id: int) -> AuthChallenge:
    return AuthChallenge(
        id=challenge_id,
        customer_id=customer_id,
        purpose="payment",
        subject=f"payment-{challenge_id}",
        method="totp",
        tool_id=tool_id,
        linked_digest="d" * 64,
        max_attempts=5,
        status="open",
        created_at=START,
        expires_at=START + timedelta(minutes=5),
    )


def test_new_rows_of_several_tables_are_written_by_one_write_first_added_table_first(
    rt: Runtime,
) -> None:
    [customer] = new_customers(rt, 1)
    rows = NewRows()
    # Children (challenges) refer to parents (tools) added just before them: every tool must be
    # in the database before the first challenge is, as the foreign keys are checked at once.
    rows.add(new_tool(customer, 9_001))
    rows.add(new_challenge("challenge-1", customer, 9_001))
    rows.add(new_tool(customer, 9_002))
    rows.add(new_challenge("challenge-2", customer, 9_002))
    rows.add(new_notification(customer, "locked"))  # no id given

    with sql_sent(rt.db.engine) as sent, rt.db.write() as session:
        rows.write(session.connection())

    assert inserted_tables(sent) == ["auth_tools", "auth_challenges", "notifications"]
    with rt.db.read() as session:
        tools = list(session.scalars(select(AuthTool).order_by(AuthTool.id)))
        challenges = list(session.scalars(select(AuthChallenge).order_by(AuthChallenge.id)))
        [notification] = session.scalars(select(Notification))
    assert [(t.id, t.serial, t.customer_id) for t in tools] == [
        (9_001, "TOTP-9001", customer),
        (9_002, "TOTP-9002", customer),
    ]
    tool = tools[0]
    assert (tool.counter, tool.sign_count, tool.fail_count, tool.drift_steps) == (0, 0, 0, 0)
    assert (tool.label, tool.last_step, tool.lost_at) == (None, None, None)
    assert tool.secret_enc == ALL_BYTES
    assert (tool.created_at, tool.updated_at) == (START, START)
    assert tool.updated_at.tzinfo == UTC
    assert [(c.id, c.tool_id, c.attempts) for c in challenges] == [
        ("challenge-1", 9_001, 0),
        ("challenge-2", 9_002, 0),
    ]
    assert challenges[0].expires_at == START + timedelta(minutes=5)
    # No id given: the database numbered it; column defaults filled what was left unset.
    assert notification.id is not None
    assert (notification.sensitive, notification.attempts) == (False, 0)


def test_new_rows_write_empties_the_collection(rt: Runtime) -> None:
    [customer] = new_customers(rt, 1)
    rows = NewRows()
    rows.add(new_tool(customer, 9_001))

    with rt.db.write_connection() as conn:
        rows.write(conn)
    with sql_sent(rt.db.engine) as sent, rt.db.write_connection() as conn:
        rows.write(conn)  # nothing new: no insert, so no duplicate key either
    assert inserted_tables(sent) == []

    rows.add(new_tool(customer, 9_002))
    with rt.db.write_connection() as conn:
        rows.write(conn)
    with rt.db.read() as session:
        assert list(session.scalars(select(AuthTool.id).order_by(AuthTool.id))) == [9_001, 9_002]


# --- bulk_insert ----------------------------------------------------------------------------------


def test_bulk_insert_stores_every_row_with_its_values_as_given(rt: Runtime) -> None:
    [customer] = new_customers(rt, 1)
    opened = datetime(2026, 11, 23, 18, 30, 15, 123_456, tzinfo=SHANGHAI)
    rows = [
        account_row(
            customer,
            "TEST-A",
            name=AWKWARD_TEXT,
            number_enc=ALL_BYTES,
            outbound_day=date(2026, 11, 23),
            outbound_year=2026,
            outbound_day_amount=2**40,
            opened_at=opened,
        ),
        account_row(
            customer,
            "TEST-B",
            debits_must_not_exceed_credits=False,
            credits_must_not_exceed_debits=True,
            normal_side="debit",
            status="closed",
            status_reason="closed at the holder's request",
            closed_at=START + timedelta(days=1),
        ),
    ]

    with sql_sent(rt.db.engine) as sent, rt.db.write_connection() as conn:
        bulk_insert(conn, _ACCOUNTS, rows)

    assert inserted_tables(sent) == ["accounts"]  # one statement for all the rows
    stored = stored_accounts(rt)
    for row in rows:
        account = stored[row["code"]]
        assert account.id is not None
        assert columns_of(account, row) == row  # datetimes compare as instants
    first = stored["TEST-A"]
    assert first.opened_at.tzinfo == UTC
    assert first.opened_at == datetime(2026, 11, 23, 10, 30, 15, 123_456, tzinfo=UTC)
    assert first.number_enc == ALL_BYTES
    assert first.name == AWKWARD_TEXT


def test_bulk_insert_of_no_rows_sends_nothing(rt: Runtime) -> None:
    before = stored_accounts(rt)
    with sql_sent(rt.db.engine) as sent, rt.db.write_connection() as conn:
        bulk_insert(conn, _ACCOUNTS, [])
    assert inserted_tables(sent) == []
    assert stored_accounts(rt).keys() == before.keys()


# --- bulk_update ----------------------------------------------------------------------------------


def test_bulk_update_sets_the_given_columns_of_the_listed_rows_only(rt: Runtime) -> None:
    first, second = new_customers(rt, 2)
    with rt.db.write_connection() as conn:
        bulk_insert(
            conn,
            _NOTIFICATIONS,
            [
                notification_row(first),
                notification_row(second, "new_device"),
                notification_row(first, recipient_masked="134****0001"),
            ],
        )
    before = stored_notifications(rt)
    sent_id, untouched_id, failed_id = sorted(before)
    sent_at = datetime(2026, 11, 23, 18, 30, 15, 123_456, tzinfo=SHANGHAI)

    with sql_sent(rt.db.engine) as sent, rt.db.write_connection() as conn:
        bulk_update(
            conn,
            _NOTIFICATIONS,
            [
                {
                    "id": sent_id,
                    "status": "sent",
                    "attempts": 1,
                    "sent_at": sent_at,
                    "params_enc": ALL_BYTES,
                },
                {
                    "id": failed_id,
                    "status": "failed",
                    "attempts": 10,
                    "sent_at": None,
                    "params_enc": AWKWARD_TEXT.encode(),
                },
            ],
        )

    updates = [sql for sql, _ in sent if sql.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1  # one statement (an executemany on SQLite)
    after = stored_notifications(rt)
    assert columns_of(after[untouched_id], NOTIFICATION_COLUMNS) == columns_of(
        before[untouched_id], NOTIFICATION_COLUMNS
    )
    changed = ("status", "attempts", "sent_at", "params_enc")
    assert columns_of(after[sent_id], changed) == {
        "status": "sent",
        "attempts": 1,
        "sent_at": sent_at,
        "params_enc": ALL_BYTES,
    }
    sent_row = after[sent_id].sent_at
    assert sent_row is not None
    assert sent_row.tzinfo == UTC
    assert columns_of(after[failed_id], changed) == {
        "status": "failed",
        "attempts": 10,
        "sent_at": None,
        "params_enc": AWKWARD_TEXT.encode(),
    }
    kept = [name for name in NOTIFICATION_COLUMNS if name not in changed]
    for notification_id in (sent_id, failed_id):
        assert columns_of(after[notification_id], kept) == columns_of(before[notification_id], kept)


def test_bulk_update_finds_rows_by_another_key_and_can_set_null(rt: Runtime) -> None:
    accounts = internal_accounts(rt)
    changed_code, cleared_code, *others = sorted(accounts)
    with rt.db.write_connection() as conn:
        bulk_update(
            conn,
            _ACCOUNTS,
            [{"code": cleared_code, "status_reason": "under review", "outbound_year": 2026}],
            key="code",
        )
    before = stored_accounts(rt)

    with rt.db.write_connection() as conn:
        bulk_update(
            conn,
            _ACCOUNTS,
            [
                {
                    "code": changed_code,
                    "status_reason": AWKWARD_TEXT,
                    "outbound_day": date(2026, 11, 23),
                    "outbound_year": 2026,
                    "credits_must_not_exceed_debits": True,
                },
                {
                    "code": cleared_code,
                    "status_reason": None,
                    "outbound_day": None,
                    "outbound_year": None,
                    "credits_must_not_exceed_debits": False,
                },
            ],
            key="code",
        )

    after = stored_accounts(rt)
    assert columns_of(after[changed_code], ["status_reason", "outbound_day", "outbound_year"]) == {
        "status_reason": AWKWARD_TEXT,
        "outbound_day": date(2026, 11, 23),
        "outbound_year": 2026,
    }
    assert after[changed_code].credits_must_not_exceed_debits is True
    assert columns_of(after[cleared_code], ["status_reason", "outbound_day", "outbound_year"]) == {
        "status_reason": None,
        "outbound_day": None,
        "outbound_year": None,
    }
    assert after[cleared_code].credits_must_not_exceed_debits is False
    assert after[changed_code].id == accounts[changed_code]  # found by code, id unchanged
    for code in others:
        assert columns_of(after[code], ACCOUNT_COLUMNS) == columns_of(before[code], ACCOUNT_COLUMNS)


def test_bulk_update_of_no_rows_sends_nothing(rt: Runtime) -> None:
    with sql_sent(rt.db.engine) as sent, rt.db.write_connection() as conn:
        bulk_update(conn, _ACCOUNTS, [])
    assert [sql for sql, _ in sent if "accounts" in sql] == []


# --- read_connection ------------------------------------------------------------------------------


def test_read_connection_reads_what_write_transactions_committed(rt: Runtime) -> None:
    first, second = new_customers(rt, 2)
    with rt.db.write() as session:
        session.add(new_notification(second, "locked"))

    with rt.db.read_connection() as conn:
        assert list(conn.execute(select(Customer.id).order_by(Customer.id)).scalars()) == [
            first,
            second,
        ]
        customers_notified = conn.execute(select(Notification.customer_id)).scalars()
        assert list(customers_notified) == [second]


def driver_autocommits(conn: Connection) -> bool:
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return bool(driver.autocommit)


def transaction_ids(conn: Connection) -> tuple[int, int]:
    """The transaction of two statements in a row on a PostgreSQL connection."""
    query = text("SELECT txid_current()")
    return conn.execute(query).scalar_one(), conn.execute(query).scalar_one()


@ON_POSTGRES_ONLY  # autocommit reads, kept read connections: PostgreSQL's
def test_read_connection_on_postgresql_runs_each_statement_in_a_transaction_of_its_own(
    rt: Runtime,
) -> None:
    [customer] = new_customers(rt, 1)
    count = select(func.count()).select_from(Notification)

    with rt.db.write_connection() as conn:  # for contrast: one transaction for the block
        first, second = transaction_ids(conn)
        assert first == second

    with rt.db.read_connection() as conn:
        assert driver_autocommits(conn)
        first, second = transaction_ids(conn)
        assert first != second
        assert conn.execute(count).scalar_one() == 0
        with rt.db.write() as session:  # committed by another connection meanwhile
            session.add(new_notification(customer, "locked"))
        assert conn.execute(count).scalar_one() == 1  # no snapshot held between statements


# --- holding: a batch worker's kept connections ---------------------------------------------------


def test_holding_keeps_one_write_connection_across_committed_transactions(rt: Runtime) -> None:
    [customer] = new_customers(rt, 1)
    used: list[Connection] = []
    sessions: list[object] = []

    with rt.db.holding():
        with rt.db.write() as session:
            session.add(new_notification(customer, "locked"))
            used.append(session.connection())
            sessions.append(backend_session_id(session.connection()))
        assert len(stored_notifications(rt)) == 1  # committed when its block ended
        with rt.db.write_connection() as conn:
            conn.execute(insert(_NOTIFICATIONS).values(notification_row(customer)))
            used.append(conn)
            sessions.append(backend_session_id(conn))
        assert len(stored_notifications(rt)) == 2
        with rt.db.write() as session:
            used.append(session.connection())
            sessions.append(backend_session_id(session.connection()))
        still_open = not used[0].closed

    assert still_open  # kept while holding...
    assert used[0] is used[1] is used[2]
    assert sessions[0] == sessions[1] == sessions[2]
    assert used[0].closed  # ...and given back when holding ends
    # Without holding, each transaction checks a connection out and gives it back.
    with rt.db.write_connection() as first:
        pass
    with rt.db.write_connection() as second:
        pass
    assert first is not second
    assert first.closed
    assert second.closed


@ON_POSTGRES_ONLY  # autocommit reads, kept read connections: PostgreSQL's
def test_holding_on_postgresql_keeps_the_autocommit_read_connection_too(rt: Runtime) -> None:
    used: list[Connection] = []
    with rt.db.holding():
        for _ in range(2):
            with rt.db.read_connection() as conn:
                used.append(conn)
                assert driver_autocommits(conn)
                first, second = transaction_ids(conn)
                assert first != second
        with rt.db.write_connection() as writer:
            assert writer is not used[0]  # reads and writes keep a connection each
            assert backend_session_id(writer) != backend_session_id(used[0])
    assert used[0] is used[1]
    assert used[0].closed


def insert_then_give_up(rt: Runtime, row: dict[str, Any]) -> None:
    """A write transaction that inserts ``row``, then fails for a reason of its own."""
    with rt.db.write_connection() as conn:
        conn.execute(insert(_NOTIFICATIONS).values(row))
        raise RuntimeError("the use case gave up")


def insert_notifications(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    """A write transaction that inserts ``rows`` one by one."""
    with rt.db.write_connection() as conn:
        for row in rows:
            conn.execute(insert(_NOTIFICATIONS).values(row))


def test_holding_rolls_a_failed_transaction_back_and_replaces_the_connection_after_a_db_error(
    rt: Runtime,
) -> None:
    [customer] = new_customers(rt, 1)
    with rt.db.holding():
        with rt.db.write_connection() as conn:
            kept = conn
        with pytest.raises(RuntimeError):
            insert_then_give_up(rt, notification_row(customer, "new_device"))
        with rt.db.write_connection() as conn:
            assert conn is kept  # an error of the caller's does not cost the connection
            assert conn.execute(select(Notification.kind)).all() == []  # rolled back
        with pytest.raises(IntegrityError):  # the second row's customer does not exist
            insert_notifications(rt, [notification_row(customer), notification_row(customer + 1)])
        assert kept.closed  # a database error: the connection is dropped...
        with rt.db.write() as session:
            replacement = session.connection()
            assert replacement is not kept  # ...and the next transaction gets a fresh one
            session.add(new_notification(customer, "registered"))

    assert [row.kind for row in stored_notifications(rt).values()] == ["registered"]


def test_holding_keeps_connections_for_the_calling_thread_only(rt: Runtime) -> None:
    other_thread: list[Connection] = []

    def write_elsewhere() -> None:
        with rt.db.write_connection() as conn:
            conn.execute(text("SELECT 1"))
            other_thread.append(conn)

    with rt.db.holding():
        with rt.db.write_connection() as conn:
            kept = conn
        worker = threading.Thread(target=write_elsewhere)
        worker.start()
        worker.join(10)
        assert not worker.is_alive()
        with rt.db.write_connection() as conn:
            assert conn is kept

    [elsewhere] = other_thread
    assert elsewhere is not kept
    assert elsewhere.closed  # the other thread's connection went back at once


# --- is_transient ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("driver_error", "transient"),
    [
        pytest.param(psycopg.errors.SerializationFailure("could not serialize"), True, id="40001"),
        pytest.param(psycopg.errors.DeadlockDetected("deadlock detected"), True, id="40P01"),
        pytest.param(psycopg.errors.LockNotAvailable("could not obtain lock"), True, id="55P03"),
        pytest.param(psycopg.errors.UniqueViolation("duplicate key"), False, id="23505"),
        pytest.param(psycopg.errors.CheckViolation("violates check"), False, id="23514"),
        pytest.param(sqlite3.OperationalError("database is locked"), True, id="sqlite-locked"),
        pytest.param(sqlite3.OperationalError("database is busy"), True, id="sqlite-busy"),
        pytest.param(sqlite3.IntegrityError("UNIQUE constraint failed"), False, id="sqlite-unique"),
        pytest.param(sqlite3.OperationalError("no such table: x"), False, id="sqlite-schema"),
    ],
)
def test_is_transient_by_sqlstate_or_sqlite_message(
    driver_error: Exception, transient: bool
) -> None:
    assert is_transient(OperationalError("UPDATE accounts", None, driver_error)) is transient


def test_is_transient_recognises_a_real_lock_conflict_and_not_a_constraint(rt: Runtime) -> None:
    accounts = internal_accounts(rt)
    code = min(accounts)
    locked: DBAPIError
    with rt.db.write_connection() as holder:
        if rt.db.is_postgres:
            holder.execute(select(Account.id).where(Account.code == code).with_for_update())
            with pytest.raises(OperationalError) as raised, rt.db.write_connection() as other:
                other.execute(
                    select(Account.id).where(Account.code == code).with_for_update(nowait=True)
                )
        else:  # the holder's BEGIN IMMEDIATE has the file; a writer that will not wait fails
            other = rt.db.engine.connect()
            try:
                other.exec_driver_sql("PRAGMA busy_timeout=0")
                other.commit()
                with pytest.raises(OperationalError) as raised:
                    other.execution_options(ebank_write=True).begin()
            finally:
                other.invalidate()  # not back to the pool with its busy timeout of 0
                other.close()
        locked = raised.value
    assert is_transient(locked)

    with pytest.raises(IntegrityError) as duplicate, rt.db.write_connection() as conn:
        bulk_insert(conn, _ACCOUNTS, [account_row(None, code)])
    assert not is_transient(duplicate.value)


# --- DirectRead --------------------------------------------------------------------------------

_DIRECT_CUSTOMERS = DirectRead(
    select(Customer.id, Customer.kind, Customer.created_at, literal("seen").label("mark"))
    .where(among(Customer.id, "ids"), one_of(Customer.kind, ["individual", "company"]))
    .order_by(Customer.id)
)


def test_direct_read_gives_what_sqlalchemy_gives_on_every_run(rt: Runtime) -> None:
    """The first run goes through SQLAlchemy, the next ones straight to the driver (on
    PostgreSQL): the same rows, named the same, values converted the same."""
    first, second, third = new_customers(rt, 3)
    with rt.db.read_connection() as conn:
        expected = [
            tuple(row) for row in conn.execute(_DIRECT_CUSTOMERS.statement, {"ids": [first, third]})
        ]
        runs = [_DIRECT_CUSTOMERS.rows(conn, {"ids": [third, first]}) for _ in range(3)]
        assert conn.execute(_DIRECT_CUSTOMERS.statement, {"ids": []}).all() == []
        assert _DIRECT_CUSTOMERS.rows(conn, {"ids": [second + 1_000]}) == []
    assert len(expected) == 2
    for rows in runs:
        assert [tuple(row) for row in rows] == expected
        assert [row.id for row in rows] == [first, third]
        assert {row.mark for row in rows} == {"seen"}
        assert all(row.created_at.utcoffset() == timedelta(0) for row in rows)


@ON_POSTGRES_ONLY
def test_direct_read_gives_utc_datetimes_whatever_the_connection_time_zone(rt: Runtime) -> None:
    (customer,) = new_customers(rt, 1)
    with rt.db.write_connection() as conn:
        _DIRECT_CUSTOMERS.rows(conn, {"ids": [customer]})  # the first run, through SQLAlchemy
        conn.exec_driver_sql("SET LOCAL TIME ZONE 'Asia/Shanghai'")
        [row] = _DIRECT_CUSTOMERS.rows(conn, {"ids": [customer]})
        stored = conn.execute(select(Customer.created_at).where(Customer.id == customer)).scalar()
    assert row.created_at.tzinfo is UTC
    assert row.created_at == stored


@ON_POSTGRES_ONLY
def test_direct_read_raises_driver_errors_as_sqlalchemy_does(rt: Runtime) -> None:
    """A lock conflict met on the driver is a DBAPIError that may be retried, as the batches
    expect."""
    accounts = internal_accounts(rt)
    code = min(accounts)
    locking = DirectRead(
        select(Account.id).where(among(Account.code, "codes")).with_for_update(nowait=True)
    )
    with rt.db.write_connection() as holder:
        locking.rows(holder, {"codes": [code]})  # the first run, through SQLAlchemy
        assert [row.id for row in locking.rows(holder, {"codes": [code]})] == [accounts[code]]
        with pytest.raises(DBAPIError) as raised, rt.db.write_connection() as other:
            locking.rows(other, {"codes": [code]})
    assert is_transient(raised.value)
    assert isinstance(raised.value.orig, psycopg.errors.LockNotAvailable)


def test_direct_read_refuses_an_expanding_parameter_when_built() -> None:
    """``in_`` renders its values at each execution: such a statement cannot be sent as it is."""
    with pytest.raises(TypeError, match="one_of"):
        DirectRead(select(Customer.id).where(Customer.kind.in_(["individual"])))


def test_direct_read_converts_floating_point_results_on_every_run(rt: Runtime) -> None:
    """Result conversions that depend on the column's database type (floating point on
    PostgreSQL) are set up from the first run's description."""
    first, second = new_customers(rt, 2)
    halves = DirectRead(
        select(Customer.id, (cast(Customer.id, Float) / 2).label("half"))
        .where(among(Customer.id, "ids"))
        .order_by(Customer.id)
    )
    with rt.db.read_connection() as conn:
        runs = [halves.rows(conn, {"ids": [first, second]}) for _ in range(3)]
    for rows in runs:
        assert [(row.id, row.half) for row in rows] == [(first, first / 2), (second, second / 2)]
        assert all(isinstance(row.half, float) for row in rows)


_LOCKED_CUSTOMERS = DirectRead(
    select(Customer).where(among(Customer.id, "ids")).order_by(Customer.id).with_for_update()
)


def column_values(row: Base) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in table_of(type(row)).columns}


def test_objects_built_from_direct_rows_hold_what_the_session_loads_and_belong_to_none(
    rt: Runtime,
) -> None:
    first, second = new_customers(rt, 2)
    with rt.db.write() as session:
        loaded = [
            column_values(row)
            for row in session.scalars(_LOCKED_CUSTOMERS.statement, {"ids": [first, second]})
        ]
        session.expunge_all()
        runs = [
            _LOCKED_CUSTOMERS.objects(session, Customer, {"ids": [first, second]}, in_session=False)
            for _ in range(3)
        ]
        assert all([column_values(row) for row in rows] == loaded for rows in runs)
        assert all(
            isinstance(row, Customer) and row not in session for rows in runs for row in rows
        )
        with sql_sent(rt.db.engine) as sent:
            runs[-1][0].name_masked = "changed"  # the batch writes what it changes itself
            session.flush()
        assert sent == []
    with rt.db.read() as session:
        assert session.get(Customer, first).name_masked == loaded[0]["name_masked"]  # type: ignore[union-attr]


def test_objects_loaded_in_the_session_are_written_when_they_change(rt: Runtime) -> None:
    (customer,) = new_customers(rt, 1)
    with rt.db.write() as session:
        [row] = _LOCKED_CUSTOMERS.objects(session, Customer, {"ids": [customer]}, in_session=True)
        assert row in session
        row.name_masked = "changed"
    with rt.db.read() as session:
        assert session.get(Customer, customer).name_masked == "changed"  # type: ignore[union-attr]


def test_an_object_is_built_from_the_leading_columns_of_a_wider_row(rt: Runtime) -> None:
    (customer,) = new_customers(rt, 1)
    wider = DirectRead(
        select(Customer, literal("extra").label("extra")).where(among(Customer.id, "ids"))
    )
    with rt.db.read_connection() as conn:
        [row] = wider.rows(conn, {"ids": [customer]})
    built_row = built(Customer, row)
    assert built_row.id == customer
    assert built_row.kind == "individual"
    assert not hasattr(built_row, "extra")
    assert row.extra == "extra"
