"""Queueing many notifications at once (``queue_many``, one ``Note`` each): all written pending in
the caller's transaction, in the order of the notes, each in its reader's language and encrypted
like a single ``queue``; an unknown customer is refused; no notes write nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from ebank.common.errors import NotFound
from ebank.customers.service import MOBILE_PURPOSE
from ebank.notify import service as notify
from ebank.notify.models import Notification
from ebank.notify.service import Note
from ebank.runtime import Runtime
from tests.conftest import START
from tests.factories import individual, mobile
from tests.notify.test_outbox import PAYMENT, reading_in

PAYMENT_EN = (
    "You paid CN¥1,234.56 from account 6217****0001 to ACME Trading (account 6222****1234). "
    "If this was not you, call the bank at once."
)
NEVER_ASK_CODE_ZH = "本行绝不会向您索要验证码，请勿告知任何人，包括银行工作人员。"
LOCKED_ZH = "因错误次数过多，您的电子银行已被锁定，请到网点办理解锁。" + NEVER_ASK_CODE_ZH
LOGIN_CODE_EN = (
    "Your e-banking login code is 480213, valid for 5 minutes. "
    "The bank never asks for your verification code. Never tell it to anyone, not even bank staff."
)
NEW_DEVICE_ZH = "您的电子银行在新设备上登录：Pixel 9。如非本人操作，请立即致电本行。"
LOGIN_CODE = {"code": "480213", "minutes": 5}


def queue_many(rt: Runtime, notes: list[Note]) -> list[int]:
    """Queue the notes in a write transaction of their own, committed on return."""
    with rt.db.write() as session:
        return notify.queue_many(session.connection(), rt, notes)


def stored(rt: Runtime) -> dict[int, Notification]:
    with rt.db.read() as session:
        return {row.id: row for row in session.scalars(select(Notification))}


def notification_count(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.execute(select(func.count()).select_from(Notification)).scalar_one()


def params_of(rt: Runtime, row: Notification) -> Any:
    return json.loads(rt.cipher.decrypt(row.params_enc, purpose=notify.PARAMS_PURPOSE))


def sms_outbox(rt: Runtime) -> list[dict[str, Any]]:
    """The SMS the file gateway has been handed."""
    path = Path(rt.settings.var_dir) / "sms-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_queue_many_stores_every_note_pending_encrypted_in_order_in_its_readers_language(
    rt: Runtime,
) -> None:
    first, second, third = (individual(rt, n) for n in (1, 2, 3))
    notes = [
        Note(first, "payment_executed", PAYMENT),  # the request's language
        Note(second, "locked", {}, locale="zh-CN"),  # the reader's own choice wins
        Note(first, "new_device", {"device": "Pixel 9"}, locale="zh-CN"),
        Note(third, "otp_login", LOGIN_CODE),
    ]
    with reading_in("en"):
        ids = queue_many(rt, notes)

    assert len(ids) == len(notes)
    assert ids == sorted(set(ids))  # one each, numbered in the order of the notes
    rows = stored(rt)
    assert sorted(rows) == ids
    expected = [
        (first, "payment_executed", "en", True, False, "134****0001"),
        (second, "locked", "zh-CN", True, False, "134****0002"),
        (first, "new_device", "zh-CN", True, False, "134****0001"),
        (third, "otp_login", "en", False, True, "134****0003"),  # a code: SMS only, erased later
    ]
    assert [
        (r.customer_id, r.kind, r.locale, r.inbox, r.sensitive, r.recipient_masked)
        for r in (rows[i] for i in ids)
    ] == expected
    for notification_id, note, customer in zip(ids, notes, (1, 2, 1, 3), strict=True):
        row = rows[notification_id]
        assert (row.status, row.attempts, row.sent_at, row.read_at) == ("pending", 0, None, None)
        assert row.created_at == START
        assert params_of(rt, row) == note.params
        for value in note.params.values():
            if len(str(value)) >= 6:  # long enough not to turn up in random bytes by chance
                assert str(value).encode() not in row.params_enc  # encrypted at rest
        assert row.recipient_enc is not None
        assert mobile(customer).encode() not in row.recipient_enc
        assert rt.cipher.decrypt(row.recipient_enc, purpose=MOBILE_PURPOSE) == mobile(customer)

    # Each SMS goes out in the language its note was queued in, to its customer's phone.
    assert rt.courier.flush() == len(notes)
    assert [(line["to"], line["text"]) for line in sms_outbox(rt)] == [
        (mobile(1), PAYMENT_EN),
        (mobile(2), LOCKED_ZH),
        (mobile(1), NEW_DEVICE_ZH),
        (mobile(3), LOGIN_CODE_EN),
    ]


def test_queue_many_keeps_the_order_of_many_notes_for_the_same_customers(rt: Runtime) -> None:
    customers = [individual(rt, n) for n in (1, 2, 3)]
    notes = [
        Note(
            customers[i % 3], "new_device", {"device": f"device-{i}"}, locale=("en", "zh-CN")[i % 2]
        )
        for i in range(120)
    ]

    ids = queue_many(rt, notes)

    assert ids == sorted(set(ids))
    rows = stored(rt)
    assert [
        (rows[i].customer_id, rows[i].locale, params_of(rt, rows[i])["device"]) for i in ids
    ] == [(note.customer_id, note.locale, note.params["device"]) for note in notes]


def queue_then_fail(rt: Runtime, notes: list[Note]) -> None:
    """A use case that queues its notifications, then fails before its transaction commits."""
    with rt.db.write() as session:
        notify.queue_many(session.connection(), rt, notes)
        raise RuntimeError("the change being reported failed")


def test_queue_many_is_written_in_the_callers_transaction(rt: Runtime) -> None:
    customer = individual(rt, 1)

    with pytest.raises(RuntimeError):
        queue_then_fail(rt, [Note(customer, "locked", {}), Note(customer, "new_device", {})])

    assert notification_count(rt) == 0
    assert rt.courier.flush() == 0


def test_queue_many_with_an_unknown_customer_raises_not_found_and_its_transaction_writes_nothing(
    rt: Runtime,
) -> None:
    known = individual(rt, 1)
    notes = [
        Note(known, "locked", {}),
        Note(known + 1_000, "locked", {}),
        Note(known, "new_device", {"device": "Pixel 9"}),
    ]

    with pytest.raises(NotFound) as raised:
        queue_many(rt, notes)

    assert raised.value.code == "customer_not_found"
    assert raised.value.field == "customer_id"
    assert notification_count(rt) == 0
    assert rt.courier.flush() == 0
    assert sms_outbox(rt) == []


def test_queue_many_refused_for_an_unknown_customer_leaves_no_row_when_the_caller_commits(
    rt: Runtime,
) -> None:
    """``queue`` is used this way (see test_outbox): the refusal is handled, the transaction
    goes on and commits, and the refused call must have left nothing behind."""
    known = individual(rt, 1)
    with rt.db.write() as session, pytest.raises(NotFound):
        notify.queue_many(
            session.connection(),
            rt,
            [Note(known, "locked", {}), Note(known + 1_000, "locked", {})],
        )
    # pytest.raises took the error inside the transaction, which went on and committed

    assert notification_count(rt) == 0


def test_queue_many_of_no_notes_writes_nothing_and_sends_no_statement(rt: Runtime) -> None:
    individual(rt, 1)
    sent: list[str] = []

    def record(**event_args: Any) -> None:
        sent.append(event_args["statement"])

    with rt.db.write() as session:
        conn = session.connection()
        event.listen(rt.db.engine, "before_cursor_execute", record, named=True)
        try:
            assert notify.queue_many(conn, rt, []) == []
        finally:
            event.remove(rt.db.engine, "before_cursor_execute", record)

    assert sent == []
    assert notification_count(rt) == 0
