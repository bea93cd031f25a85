"""The outbox: ``queue`` writes a notification in the caller's transaction; after the commit the
courier (``rt.courier``) has ``deliver`` send what is pending (and the worker retries what failed);
``inbox`` reads them back."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from ebank.common.errors import NotFound
from ebank.common.i18n import current_locale
from ebank.customers.models import Customer
from ebank.customers.service import MOBILE_PURPOSE
from ebank.db import among, bulk_update, driver_execute, one_of, table_of, to_json
from ebank.notify.gateways import SEND_TIMEOUT_S, SmsGateway, gateway_for
from ebank.notify.messages import MESSAGES, render
from ebank.notify.models import Notification
from ebank.runtime import Runtime

log = logging.getLogger(__name__)
PARAMS_PURPOSE = "notification.params"
MAX_ATTEMPTS = 10
CLAIM_MARGIN_S = 60.0  # beyond the gateway's own timeouts, before a claim is given up on


_NOTIFICATIONS = table_of(Notification)


@dataclass(frozen=True)
class Note:
    """A notification to write: what happened (``kind`` of :data:`MESSAGES`) and its
    parameters, for one customer, in ``locale`` (by default the request's language)."""

    customer_id: int
    kind: str
    params: dict[str, Any]
    locale: str | None = None


def queue(
    target: Session | Connection,
    rt: Runtime,
    customer_id: int,
    kind: str,
    *,
    locale: str | None = None,
    **params: Any,
) -> int:
    """Write a notification to the customer's reserved phone and inbox, in the transaction of
    ``target`` (a session, or a connection such as a posting batch's); returns its id."""
    if isinstance(target, Session):
        target.flush()  # the customer may have been created in this session
        conn = target.connection()
    else:
        conn = target
    return queue_many(conn, rt, [Note(customer_id, kind, params, locale)])[0]


_PHONES = select(Customer.id, Customer.mobile_enc, Customer.mobile_masked).where(
    among(Customer.id, "ids")
)


def queue_many(conn: Connection, rt: Runtime, notes: Sequence[Note]) -> list[int]:
    """:func:`queue` for many notifications at once — on PostgreSQL one statement that takes each
    recipient's reserved phone from the customers table as it inserts; returns the ids in the
    order of ``notes``."""
    if not notes:
        return []
    now = rt.clock.now()
    rows = [
        {
            "customer_id": note.customer_id,
            "kind": note.kind,
            "params_enc": rt.cipher.encrypt(json.dumps(note.params), purpose=PARAMS_PURPOSE),
            "locale": note.locale or current_locale.get(),
            "inbox": MESSAGES[note.kind].inbox,
            "sensitive": MESSAGES[note.kind].sensitive,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for note in notes
    ]
    ids = _insert_postgres(conn, rows) if conn.dialect.name == "postgresql" else _insert(conn, rows)
    if len(ids) != len(rows):
        raise NotFound("customer_not_found", "No such customer.", field="customer_id")
    return ids


def _insert_postgres(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    names = list(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)
    values = ", ".join(f'r."{name}"' for name in names)
    # Ids follow the order rows are inserted in, which is the notes' order (ORDER BY ordinality).
    found = driver_execute(
        conn,
        f"INSERT INTO notifications ({columns}, recipient_enc, recipient_masked) "  # noqa: S608 -- names come from the table definition
        f"SELECT {values}, c.mobile_enc, c.mobile_masked "
        "FROM json_populate_recordset(NULL::notifications, %(rows)s::json) "
        "WITH ORDINALITY AS r JOIN customers AS c ON c.id = r.customer_id "
        "ORDER BY r.ordinality RETURNING id",
        {"rows": to_json(rows)},
    )
    ids = sorted(int(row[0]) for row in found)
    if len(ids) != len(rows):  # a customer is unknown: all the notes or none
        conn.execute(delete(_NOTIFICATIONS).where(_NOTIFICATIONS.c.id.in_(ids)))
        return []
    return ids


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    wanted = sorted({row["customer_id"] for row in rows})
    phones = {row.id: row for row in conn.execute(_PHONES, {"ids": wanted})}
    known = [
        {**row, "recipient_enc": phone.mobile_enc, "recipient_masked": phone.mobile_masked}
        for row in rows
        if (phone := phones.get(row["customer_id"])) is not None
    ]
    if len(known) != len(rows):
        return []
    inserted = conn.execute(
        insert(_NOTIFICATIONS).returning(_NOTIFICATIONS.c.id, sort_by_parameter_order=True),
        known,
    )
    return [int(row.id) for row in inserted]


_OUTGOING = (
    _NOTIFICATIONS.c.id,
    _NOTIFICATIONS.c.kind,
    _NOTIFICATIONS.c.params_enc,
    _NOTIFICATIONS.c.locale,
    _NOTIFICATIONS.c.sensitive,
    _NOTIFICATIONS.c.recipient_enc,
    _NOTIFICATIONS.c.attempts,
)


def deliver(
    rt: Runtime, ids: list[int] | None = None, *, customer_id: int | None = None, limit: int = 500
) -> int:
    """Send pending notifications (those in ``ids``, or the customer's, or the oldest ``limit``);
    returns how many went out. A failure leaves the message pending for the next round. Use
    cases do not call this: they wake the courier (``rt.courier``).

    The gateway is called outside any transaction (a slow gateway must not hold the database,
    SQLite's single writer least of all): the messages are first claimed for as long as sending
    them all could take, then sent, then their outcomes recorded. Other senders skip a claimed
    message; one whose sender died is sent again once the claim has run out (at least once)."""
    rows = _claim(rt, ids, customer_id, limit)
    if not rows:
        return 0
    gateway = gateway_for(rt.settings.sms_gateway, rt.settings.var_dir)
    now = rt.clock.now()
    try:
        outcomes = [_send(rt, gateway, row, now) for row in rows]
    finally:
        gateway.close()
    with rt.db.write_connection() as conn:
        bulk_update(conn, _NOTIFICATIONS, outcomes)
    return sum(outcome["status"] == "sent" for outcome in outcomes)


def _claim(
    rt: Runtime, ids: list[int] | None, customer_id: int | None, limit: int
) -> Sequence[Any]:
    columns = _NOTIFICATIONS.c
    now = rt.clock.now()
    query = select(*_OUTGOING).where(
        columns.status == "pending",
        (columns.claimed_until.is_(None)) | (columns.claimed_until <= now),
    )
    if ids is not None:
        query = query.where(one_of(columns.id, ids))
    if customer_id is not None:
        query = query.where(columns.customer_id == customer_id)
    query = (
        query.order_by(columns.id).limit(limit).with_for_update(skip_locked=True, key_share=True)
    )
    with rt.db.write_connection() as conn:
        rows = conn.execute(query).all()
        if rows:
            until = now + timedelta(seconds=CLAIM_MARGIN_S + SEND_TIMEOUT_S * len(rows))
            conn.execute(
                update(_NOTIFICATIONS)
                .where(one_of(columns.id, [row.id for row in rows]))
                .values(claimed_until=until)
            )
    return rows


def _send(rt: Runtime, gateway: SmsGateway, row: Any, now: datetime) -> dict[str, Any]:
    """Hand one message to the gateway; what to record of it. Whatever goes wrong with it (the
    gateway, its rendering) is counted against that message alone, so one bad message never
    holds up the others."""
    attempts = row.attempts + 1
    try:
        if row.recipient_enc is None:
            raise LookupError("no recipient")
        recipient = rt.cipher.decrypt(row.recipient_enc, purpose=MOBILE_PURPOSE)
        gateway.send(to=recipient, text=_text(rt, row, row.locale), at=now)
    except Exception as exc:
        log.warning("SMS %s not delivered: %s", row.id, type(exc).__name__)
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        return _delivery(rt, row, status, attempts, sent_at=None)
    return _delivery(rt, row, "sent", attempts, sent_at=now)


def _delivery(
    rt: Runtime, row: Any, status: str, attempts: int, *, sent_at: datetime | None
) -> dict[str, Any]:
    # A one-time code, once sent or given up on, leaves no copy behind.
    forget = row.sensitive and status != "pending"
    return {
        "id": row.id,
        "status": status,
        "attempts": attempts,
        "sent_at": sent_at,
        "claimed_until": None,
        "params_enc": rt.cipher.encrypt("{}", purpose=PARAMS_PURPOSE) if forget else row.params_enc,
    }


def _text(rt: Runtime, row: Any, locale: str) -> str:
    params = json.loads(rt.cipher.decrypt(row.params_enc, purpose=PARAMS_PURPOSE))
    return render(row.kind, params, locale)


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    text: str
    created_at: datetime
    sent_to: str | None
    delivered: bool
    read: bool


def inbox(
    rt: Runtime, customer_id: int, *, limit: int = 50, before_id: int | None = None
) -> list[InboxItem]:
    """The customer's notifications, newest first, in the reader's language."""
    locale = current_locale.get()
    with rt.db.read() as session:
        query = select(Notification).where(
            Notification.customer_id == customer_id, Notification.inbox.is_(True)
        )
        if before_id is not None:
            query = query.where(Notification.id < before_id)
        rows = session.execute(query.order_by(Notification.id.desc()).limit(limit)).scalars()
        return [
            InboxItem(
                id=row.id,
                kind=row.kind,
                text=_text(rt, row, locale),
                created_at=row.created_at,
                sent_to=row.recipient_masked,
                delivered=row.status == "sent",
                read=row.read_at is not None,
            )
            for row in rows
        ]


def mark_read(rt: Runtime, customer_id: int, notification_id: int) -> None:
    with rt.db.write() as session:
        done = session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.customer_id == customer_id,
                Notification.inbox.is_(True),
            )
            .values(read_at=rt.clock.now())
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(
                "notification_not_found", "No such notification.", field="notification_id"
            )
