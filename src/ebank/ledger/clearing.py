"""Transfers to other banks: posted to the clearing account and queued; a counterparty bank (a
simulated one by default) later settles each (clearing → central-bank settlement) or returns it (a
reversal back to the customer, or to suspense if the customer's account is closed)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.common.actor import SYSTEM, Actor
from ebank.common.errors import Unprocessable
from ebank.common.masking import mask_card_number, mask_name
from ebank.common.validation import require_text
from ebank.common.validators import is_luhn_valid
from ebank.db import one_of, table_of
from ebank.ledger.accounts import Product
from ebank.ledger.models import OutboundTransfer
from ebank.ledger.posting import TransferRequest, TransferResult
from ebank.ledger.service import (
    SYSTEM_ID_PREFIX,
    check_request,
    clean_purpose,
    internal_account_id,
    parse_currency,
    refusal,
)
from ebank.ledger.writer import post_batch
from ebank.runtime import Runtime

if TYPE_CHECKING:
    from ebank.ledger.engine import AfterPost

log = logging.getLogger(__name__)
PAYEE_ACCOUNT = re.compile(r"^[0-9]{8,32}$")  # ASCII digits: \d takes any script's
PAYEE_ACCOUNT_PURPOSE = "payee.account"
PAYEE_NAME_PURPOSE = "payee.name"
_OUTBOUND = table_of(OutboundTransfer)


@dataclass(frozen=True)
class OutboundView:
    id: int
    transfer_id: str
    account_id: int
    payee_bank: str
    payee_account_masked: str
    payee_name_masked: str
    amount: int
    currency: str
    status: str
    outcome_transfer_id: str | None
    return_reason: str | None
    recall_status: str | None = None


def _outbound(conn: Connection, *where: Any, lock: bool = False) -> OutboundTransfer | None:
    """One queue item read through the caller's connection (and transaction)."""
    query = select(OutboundTransfer).where(*where)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, key_share=True)
    with Session(bind=conn, expire_on_commit=False) as session:
        return session.execute(query).scalar_one_or_none()


def _view(row: OutboundTransfer) -> OutboundView:

    return OutboundView(
        row.id,
        row.transfer_id,
        row.account_id,
        row.payee_bank,
        row.payee_account_masked,
        row.payee_name_masked,
        row.amount,
        row.currency,
        row.status,
        row.outcome_transfer_id,
        row.return_reason,
        row.recall_status,
    )


@dataclass(frozen=True)
class OutboundPayment:
    """A payment to another bank: who pays, how much, and the payee as the customer gave it."""

    transfer_id: str
    account_id: int
    amount: int
    currency: str
    payee_bank: str
    payee_account: str
    payee_name: str


def outbound_payment(
    *,
    transfer_id: str,
    account_id: int,
    amount: int,
    currency: str,
    payee_bank: str,
    payee_account: str,
    payee_name: str,
) -> OutboundPayment:
    """The payment in the form clearing takes, or a field error."""
    payee_account = re.sub(r"[\s-]", "", payee_account or "")
    if not PAYEE_ACCOUNT.match(payee_account):
        raise Unprocessable(
            "invalid_payee_account", "The payee's account is 8-32 digits.", field="payee_account"
        )
    return OutboundPayment(
        transfer_id=transfer_id,
        account_id=account_id,
        amount=amount,
        currency=parse_currency(currency),
        payee_bank=require_text("payee_bank", payee_bank, max_length=64),
        payee_account=payee_account,
        payee_name=require_text("payee_name", payee_name, max_length=64),
    )


def outbound_request(
    rt: Runtime, actor: Actor, payment: OutboundPayment, *, purpose: str | None, channel: str
) -> TransferRequest:
    """The posting that sends the payment: the customer's account to the clearing account."""
    return TransferRequest(
        id=payment.transfer_id,
        debit_account_id=payment.account_id,
        credit_account_id=internal_account_id(rt, Product.CLEARING, payment.currency),
        amount=payment.amount,
        currency=payment.currency,
        code="interbank_out",
        purpose=clean_purpose(purpose),
        channel=channel,
        reference=payment.payee_bank[:64],
        created_by=actor.ref,
    )


def queue_outbound(
    conn: Connection, rt: Runtime, sent: Sequence[tuple[OutboundPayment, TransferResult]]
) -> list[OutboundView | None]:
    """Queue for the counterparty bank the payments whose posting succeeded, in the transaction
    of that posting (one read for those already queued — a retried batch — and one insert)."""
    posted = [(payment, result) for payment, result in sent if result.ok]
    ids = [payment.transfer_id for payment, _result in posted]
    queued = _queued(conn, ids)
    now = rt.clock.now()
    rows = [
        {
            "transfer_id": payment.transfer_id,
            "account_id": payment.account_id,
            "payee_bank": payment.payee_bank,
            "payee_account_enc": rt.cipher.encrypt(
                payment.payee_account, purpose=PAYEE_ACCOUNT_PURPOSE
            ),
            "payee_account_hash": rt.cipher.lookup_hash(
                payment.payee_account, purpose=PAYEE_ACCOUNT_PURPOSE
            ),
            "payee_account_masked": mask_card_number(payment.payee_account),
            "payee_name_enc": rt.cipher.encrypt(payment.payee_name, purpose=PAYEE_NAME_PURPOSE),
            "payee_name_masked": mask_name(payment.payee_name),
            "amount": result.row["amount"] if result.row else payment.amount,
            "currency": payment.currency,
            "status": "queued",
            "created_at": now,
            "updated_at": now,
        }
        for payment, result in posted
        if payment.transfer_id not in queued
    ]
    if rows:
        conn.execute(insert(_OUTBOUND), rows)
        queued = _queued(conn, ids)
    return [queued.get(payment.transfer_id) for payment, _result in sent]


def _queued(conn: Connection, transfer_ids: list[str]) -> dict[str, OutboundView]:
    if not transfer_ids:
        return {}
    with Session(bind=conn, expire_on_commit=False) as session:
        rows = session.execute(
            select(OutboundTransfer).where(one_of(OutboundTransfer.transfer_id, transfer_ids))
        ).scalars()
        return {row.transfer_id: _view(row) for row in rows}


def send_to_other_bank(
    rt: Runtime,
    actor: Actor,
    *,
    transfer_id: str,
    account_id: int,
    amount: int,
    currency: str,
    payee_bank: str,
    payee_account: str,
    payee_name: str,
    purpose: str | None = None,
    channel: str = "counter",
    after_post: AfterPost | None = None,
) -> tuple[TransferResult, OutboundView | None]:
    """Debit the customer, credit clearing, and queue the payment for the counterparty bank;
    ``after_post`` records the caller's own outcome in the same transaction."""
    payment = outbound_payment(
        transfer_id=transfer_id,
        account_id=account_id,
        amount=amount,
        currency=currency,
        payee_bank=payee_bank,
        payee_account=payee_account,
        payee_name=payee_name,
    )
    request = outbound_request(rt, actor, payment, purpose=purpose, channel=channel)
    check_request(request)
    queued: list[OutboundView | None] = []

    def enqueue(conn: Connection, results: list[TransferResult]) -> Sequence[AuditEntry] | None:
        also = after_post(conn, results) if after_post is not None else None
        queued[:] = queue_outbound(conn, rt, [(payment, results[0])])
        return also

    result = rt.posting.submit([request], actor=actor, after_post=enqueue)[0]
    if not result.ok:
        raise refusal(result)
    return result, (queued[0] if queued else None)


class Counterparty(Protocol):
    def decide(self, payee_bank: str, payee_account: str, payee_name: str) -> str | None:
        """None to settle, or the reason the receiving bank returns the payment."""
        ...

    def recall(self, outbound_id: int) -> None:
        """Take a recall message for a settled payment (the payee's bank asks its customer)."""
        ...


@dataclass
class SimulatedCounterparty:
    """Another bank, simulated: it returns payments to card numbers that fail the Luhn check, to
    accounts it knows are closed, and to accounts whose holder's name does not match."""

    closed_accounts: set[str] = field(default_factory=set)
    directory: dict[str, str] = field(default_factory=dict)  # account → holder name
    recalls: list[int] = field(default_factory=list)  # recall messages received

    def decide(self, payee_bank: str, payee_account: str, payee_name: str) -> str | None:
        if 16 <= len(payee_account) <= 19 and not is_luhn_valid(payee_account):
            return "account does not exist"
        if payee_account in self.closed_accounts:
            return "account closed"
        known = self.directory.get(payee_account)
        if known is not None and known != payee_name:
            return "payee name does not match the account"
        return None

    def recall(self, outbound_id: int) -> None:
        self.recalls.append(outbound_id)


@dataclass(frozen=True)
class ClearingRun:
    settled: int
    returned: int
    failed: int = 0


def run_clearing(
    rt: Runtime, counterparty: Counterparty, *, actor: Actor = SYSTEM, limit: int = 1000
) -> ClearingRun:
    """Let the counterparty bank settle or return what is queued. Safe to re-run."""
    with rt.db.read() as session:
        queued_ids = list(
            session.execute(
                select(OutboundTransfer.id)
                .where(OutboundTransfer.status == "queued")
                .order_by(OutboundTransfer.id)
                .limit(limit)
            ).scalars()
        )
    settled = returned = failed = 0
    for outbound_id in queued_ids:
        try:
            outcome = _clear_one(rt, counterparty, actor, outbound_id)
        except Exception as exc:  # one stuck item must not hold up the rest of the queue
            log.error("clearing item %s failed: %s", outbound_id, type(exc).__name__)
            failed += 1
            continue
        settled += outcome == "settled"
        returned += outcome == "returned"
    return ClearingRun(settled, returned, failed)


def _clear_one(
    rt: Runtime, counterparty: Counterparty, actor: Actor, outbound_id: int
) -> str | None:
    now = rt.clock.now()
    with rt.db.write_connection() as conn:
        item = _outbound(
            conn,
            OutboundTransfer.id == outbound_id,
            OutboundTransfer.status == "queued",
            lock=True,
        )
        if item is None:
            return None
        payee_account = rt.cipher.decrypt(item.payee_account_enc, purpose=PAYEE_ACCOUNT_PURPOSE)
        payee_name = rt.cipher.decrypt(item.payee_name_enc, purpose=PAYEE_NAME_PURPOSE)
        reason = counterparty.decide(item.payee_bank, payee_account, payee_name)
        if item.recall_status == "requested":  # recalled before it left: it never goes out
            reason = RECALLED
        clearing = internal_account_id(rt, Product.CLEARING, item.currency)
        if reason is None:
            requests = [_settlement(rt, item, clearing, actor)]
        else:
            requests = [_return(item, clearing, actor)]
        results = post_batch(conn, [requests], now=now, policy=rt.policy, actors=[actor])
        if reason is not None and not results[0].ok:  # the customer's account cannot take it back
            requests = [_return_to_suspense(rt, item, clearing, actor)]
            results = post_batch(conn, [requests], now=now, policy=rt.policy, actors=[actor])
        if not results[0].ok:
            raise refusal(results[0])
        status = "settled" if reason is None else "returned"
        conn.execute(
            update(_OUTBOUND)
            .where(_OUTBOUND.c.id == item.id)
            .values(
                status=status,
                outcome_transfer_id=requests[0].id,
                return_reason=reason,
                recall_status="returned" if reason == RECALLED else item.recall_status,
                updated_at=now,
            )
        )
        audit.append(
            conn,
            [
                AuditEntry(
                    actor,
                    f"interbank.{status}",
                    "outbound_transfer",
                    str(item.id),
                    {"status": "queued"},
                    {"status": status, "reason": reason, "transfer_id": requests[0].id},
                ),
            ],
            now,
        )
        return status


RECALLED = "recalled at the payer's request"


def request_recall(rt: Runtime, actor: Actor, transfer_id: str, reason: str) -> OutboundView:
    """Ask for a payment to another bank back. Still queued: it is returned at the next clearing
    run instead of going out. Already settled: a recall message goes to the payee's bank, which
    asks its customer for consent."""
    reason = require_text("reason", reason, max_length=200)
    now = rt.clock.now()
    with rt.db.write_connection() as conn:
        item = _outbound(conn, OutboundTransfer.transfer_id == transfer_id, lock=True)
        if item is None:
            raise Unprocessable(
                "not_interbank", "This transfer did not go to another bank.", field="transfer_id"
            )
        if item.status == "returned" or item.recall_status is not None:
            return _view(item)
        conn.execute(
            update(_OUTBOUND)
            .where(_OUTBOUND.c.id == item.id)
            .values(recall_status="requested", recall_reason=reason, updated_at=now)
        )
        audit.append(
            conn,
            [AuditEntry(actor, "interbank.recall_requested", "outbound_transfer", str(item.id))],
            now,
        )
        stored = _outbound(conn, OutboundTransfer.id == item.id)
        assert stored is not None
        return _view(stored)


def send_recalls(rt: Runtime, counterparty: Counterparty, *, actor: Actor = SYSTEM) -> int:
    """Send the recall messages of settled payments to the counterparty bank."""
    now = rt.clock.now()
    sent = 0
    with rt.db.write_connection() as conn:
        rows = (
            conn.execute(
                select(_OUTBOUND.c.id).where(
                    _OUTBOUND.c.recall_status == "requested", _OUTBOUND.c.status == "settled"
                )
            )
            .scalars()
            .all()
        )
        for outbound_id in rows:
            counterparty.recall(outbound_id)
            conn.execute(
                update(_OUTBOUND)
                .where(_OUTBOUND.c.id == outbound_id)
                .values(recall_status="sent", updated_at=now)
            )
            audit.append(
                conn,
                [AuditEntry(actor, "interbank.recall_sent", "outbound_transfer", str(outbound_id))],
                now,
            )
            sent += 1
    return sent


def _settlement(
    rt: Runtime, item: OutboundTransfer, clearing: int, actor: Actor
) -> TransferRequest:
    return TransferRequest(
        id=f"{SYSTEM_ID_PREFIX}settle:{item.id}",
        debit_account_id=clearing,
        credit_account_id=internal_account_id(rt, Product.SETTLEMENT, item.currency),
        amount=item.amount,
        currency=item.currency,
        code="interbank_settle",
        channel="system",
        reference=str(item.id),
        created_by=actor.ref,
    )


def _return(item: OutboundTransfer, clearing: int, actor: Actor) -> TransferRequest:
    return TransferRequest(
        id=f"{SYSTEM_ID_PREFIX}return:{item.id}",
        debit_account_id=clearing,
        credit_account_id=item.account_id,
        amount=item.amount,
        currency=item.currency,
        reverses_id=item.transfer_id,
        code="interbank_return",
        channel="system",
        reference=str(item.id),
        created_by=actor.ref,
    )


def _return_to_suspense(
    rt: Runtime, item: OutboundTransfer, clearing: int, actor: Actor
) -> TransferRequest:
    return TransferRequest(
        id=f"{SYSTEM_ID_PREFIX}suspense:{item.id}",
        debit_account_id=clearing,
        credit_account_id=internal_account_id(rt, Product.SUSPENSE, item.currency),
        amount=item.amount,
        currency=item.currency,
        code="interbank_return_suspense",
        purpose="returned payment for a closed account",
        channel="system",
        reference=str(item.id),
        created_by=actor.ref,
    )


def list_outbound(
    rt: Runtime, *, status: str | None = None, limit: int = 200
) -> list[OutboundView]:
    query = select(OutboundTransfer).order_by(OutboundTransfer.id.desc()).limit(limit)
    if status:
        query = query.where(OutboundTransfer.status == status)
    with rt.db.read() as session:
        return [_view(row) for row in session.execute(query).scalars()]
