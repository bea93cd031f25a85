"""Posting a batch of transfer requests in one database transaction.

Reads everything the batch needs in a handful of statements, locking the accounts it touches
(``FOR UPDATE`` on PostgreSQL; SQLite's write transaction is already exclusive), applies the pure
rules of :mod:`ebank.ledger.posting`, and writes back with one multi-row statement per table. The
balance columns move by SQL-side increments, and the accounts table's CHECK constraints refuse any
overdraft in the very statement that would cause it: the rules decide, the database guarantees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, select, text, union_all, update

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.common.actor import Actor
from ebank.db import DirectRead, among, bulk_insert, driver_execute, json_insert, table_of, to_json
from ebank.ledger.models import Account, PendingTransfer, RejectedTransfer, Transfer
from ebank.ledger.posting import (
    AccountState,
    BatchChanges,
    LedgerState,
    PendingState,
    PriorRejection,
    StoredTransfer,
    TransferKind,
    TransferRequest,
    TransferResult,
    apply_batch,
    expire_hold,
)
from ebank.policy import ClassLimitsMinor, Policy

_TRANSFERS = table_of(Transfer)
_ACCOUNTS = table_of(Account)
_PENDING = table_of(PendingTransfer)
_REJECTED = table_of(RejectedTransfer)

_ACCOUNT_COLUMNS = (
    "id",
    "currency",
    "kind",
    "status",
    "normal_side",
    "debits_must_not_exceed_credits",
    "credits_must_not_exceed_debits",
    "product",
    "debits_pending",
    "debits_posted",
    "credits_pending",
    "credits_posted",
    "outbound_day",
    "outbound_day_amount",
    "outbound_year",
    "outbound_year_amount",
)
_ACCOUNT_DELTAS = (
    "d_debits_pending",
    "d_debits_posted",
    "d_credits_pending",
    "d_credits_posted",
    "outbound_day",
    "outbound_day_amount",
    "outbound_year",
    "outbound_year_amount",
    "account_id",
)
_SQLITE_ACCOUNT_UPDATE = """
UPDATE accounts SET
    debits_pending = debits_pending + ?, debits_posted = debits_posted + ?,
    credits_pending = credits_pending + ?, credits_posted = credits_posted + ?,
    outbound_day = ?, outbound_day_amount = ?, outbound_year = ?, outbound_year_amount = ?
WHERE id = ?
"""
_PENDING_UPDATE = (
    update(_PENDING)
    .where(_PENDING.c.transfer_id == bindparam("pending_transfer_id"))
    .values(
        state=bindparam("state"),
        resolved_at=bindparam("resolved_at"),
        resolved_by=bindparam("resolved_by"),
    )
)


def post_batch(
    conn: Connection,
    groups: Sequence[Sequence[TransferRequest]],
    *,
    now: datetime,
    policy: Policy,
    actors: Sequence[Actor | None] | None = None,
    audit_entries: Sequence[AuditEntry] = (),
    after_posting: Callable[[list[TransferResult]], Sequence[AuditEntry]] | None = None,
) -> list[TransferResult]:
    """Apply the groups' requests inside the caller's transaction; one result per request, in
    order (see :func:`ebank.ledger.posting.apply_batch` for what a group is).

    ``actors`` (one per group) are who asked: each transfer posted or refused is audited in
    their name; a replay of an earlier outcome changes nothing and is not recorded again.
    ``after_posting`` sees the results before the audit trail is appended to, last, so that the
    trail's lock is held for as short a time as possible; it returns entries to add.
    """
    requests = [request for group in groups for request in group]
    if not requests:
        extra = after_posting([]) if after_posting is not None else ()
        audit.append(conn, [*audit_entries, *extra], now)
        return []
    if conn.dialect.name == "postgresql":
        _lock_ids(conn, [request.id for request in requests])
    state = _load_state(conn, requests, policy)
    before = {account_id: account.copy() for account_id, account in state.accounts.items()}
    changes = apply_batch(groups, state, now=now, zone=policy.zone)
    _write(conn, changes, before, state)
    extra = after_posting(changes.results) if after_posting is not None else ()
    outcomes = _outcome_entries(groups, actors, changes.results)
    audit.append(conn, [*outcomes, *audit_entries, *extra], now)
    return changes.results


def _outcome_entries(
    groups: Sequence[Sequence[TransferRequest]],
    actors: Sequence[Actor | None] | None,
    results: list[TransferResult],
) -> list[AuditEntry]:
    if actors is None:
        return []
    entries: list[AuditEntry] = []
    position = 0
    for group, actor in zip(groups, actors, strict=True):
        for request, result in zip(group, results[position : position + len(group)], strict=True):
            if actor is not None and not result.repeated:
                entries.append(transfer_audit_entry(actor, request, result))
        position += len(group)
    return entries


def transfer_audit_entry(
    actor: Actor, request: TransferRequest, result: TransferResult
) -> AuditEntry:
    """What the audit trail keeps of a transfer: the posting as stored, or the refused request."""
    if result.ok and result.row is not None:
        row = result.row
        facts = {
            key: row[key]
            for key in (
                "kind",
                "debit_account_id",
                "credit_account_id",
                "amount",
                "currency",
                "pending_id",
                "reverses_id",
                "code",
                "channel",
                "reference",
            )
        }
        return AuditEntry(actor, f"transfer.{row['kind']}", "transfer", request.id, None, facts)
    facts = {
        "result": result.code.value,
        "kind": request.kind.value,
        "debit_account_id": request.debit_account_id,
        "credit_account_id": request.credit_account_id,
        "amount": request.amount,
        "currency": request.currency,
        "pending_id": request.pending_id,
        "reverses_id": request.reverses_id,
        "code": request.code,
        "channel": request.channel,
    }
    return AuditEntry(actor, "transfer.refused", "transfer", request.id, None, facts)


def _lock_ids(conn: Connection, ids: list[str]) -> None:
    """Serialise concurrent batches that carry the same request id (in other processes), so an id
    can never both fail in one and succeed in another."""
    _LOCK_IDS.rows(conn, {"ids": sorted(set(ids))})


_LOCK_IDS = DirectRead(
    text(
        "SELECT pg_advisory_xact_lock(hashtextextended(x, 0)) FROM unnest(CAST(:ids AS text[])) AS x"
    )
)


# Statements built once (list parameters bound at execution: see :func:`ebank.db.among`).
_SEEN = DirectRead(
    union_all(
        select(_TRANSFERS.c.id, literal("posted").label("outcome")).where(
            among(_TRANSFERS.c.id, "ids")
        ),
        select(_REJECTED.c.id, literal("rejected").label("outcome")).where(
            among(_REJECTED.c.id, "ids")
        ),
    )
)
_STORED = select(_TRANSFERS).where(among(_TRANSFERS.c.id, "ids"))
_REJECTIONS = select(_REJECTED).where(among(_REJECTED.c.id, "ids"))
_LOCK_ACCOUNTS = DirectRead(
    select(*(_ACCOUNTS.c[name] for name in _ACCOUNT_COLUMNS))
    .where(among(_ACCOUNTS.c.id, "ids"))
    .order_by(_ACCOUNTS.c.id)
    .with_for_update(
        key_share=True
    )  # PostgreSQL; SQLite's write transaction already excludes other writers
)
_PENDINGS = (
    select(_PENDING, _TRANSFERS.c.currency, _TRANSFERS.c.created_at)
    .join(_TRANSFERS, _TRANSFERS.c.id == _PENDING.c.transfer_id)
    .where(among(_PENDING.c.transfer_id, "ids"))
)
_REVERSED = (
    select(_TRANSFERS.c.reverses_id, func.sum(_TRANSFERS.c.amount))
    .where(among(_TRANSFERS.c.reverses_id, "ids"))
    .group_by(_TRANSFERS.c.reverses_id)
)


def _load_state(
    conn: Connection, requests: Sequence[TransferRequest], policy: Policy
) -> LedgerState:
    own_ids = {request.id for request in requests}
    referenced = {r.pending_id for r in requests if r.pending_id} | {
        r.reverses_id for r in requests if r.reverses_id
    }
    prior, prior_rejections = _prior_outcomes(conn, own_ids)
    references = _stored_transfers(conn, {str(ref) for ref in referenced})
    account_ids = {
        account_id
        for request in requests
        for account_id in (request.debit_account_id, request.credit_account_id)
        if account_id is not None
    }
    for stored in references.values():
        account_ids.update((stored.debit_account_id, stored.credit_account_id))
    accounts = lock_accounts(conn, account_ids, policy)
    # Only holds read before the locks: a hold committed since names accounts not locked here.
    pending_ids = {r.pending_id for r in requests if r.pending_id in references}
    return LedgerState(
        accounts=accounts,
        pendings=load_pendings(conn, {str(p) for p in pending_ids}, policy),
        references=references,
        reversed_amounts=_reversed_amounts(conn, {r.reverses_id for r in requests}),
        prior_transfers=prior,
        prior_rejections=prior_rejections,
    )


def _prior_outcomes(
    conn: Connection, ids: set[str]
) -> tuple[dict[str, StoredTransfer], dict[str, PriorRejection]]:
    """Earlier outcomes of these ids, found with one query (there usually are none)."""
    found: dict[str, set[str]] = {"posted": set(), "rejected": set()}
    for transfer_id, outcome in _SEEN.rows(conn, {"ids": sorted(ids)}):
        found[outcome].add(transfer_id)
    posted = _stored_transfers(conn, found["posted"])
    rejected = _prior_rejections(conn, found["rejected"]) if found["rejected"] else {}
    return posted, rejected


def _stored_transfers(conn: Connection, ids: set[str]) -> dict[str, StoredTransfer]:
    if not ids:
        return {}
    rows = conn.execute(_STORED, {"ids": sorted(ids)}).mappings().all()
    return {
        row["id"]: StoredTransfer(
            id=row["id"],
            kind=TransferKind(row["kind"]),
            debit_account_id=row["debit_account_id"],
            credit_account_id=row["credit_account_id"],
            amount=row["amount"],
            currency=row["currency"],
            body_hash=row["body_hash"],
            created_at=row["created_at"],
            row=dict(row),
        )
        for row in rows
    }


def _prior_rejections(conn: Connection, ids: set[str]) -> dict[str, PriorRejection]:
    rows = conn.execute(_REJECTIONS, {"ids": sorted(ids)}).mappings().all()
    return {row["id"]: PriorRejection(row["id"], row["body_hash"], row["code"]) for row in rows}


def lock_accounts(
    conn: Connection, account_ids: Iterable[int], policy: Policy
) -> dict[int, AccountState]:
    """Load the accounts, locked until the transaction ends, in id order (no deadlock cycles)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    limits_by_product: dict[str, ClassLimitsMinor] = {}
    accounts: dict[int, AccountState] = {}
    for (
        account_id,
        currency,
        kind,
        status,
        normal_side,
        no_overdraft,
        no_negative_asset,
        product,
        *totals,
    ) in _LOCK_ACCOUNTS.rows(conn, {"ids": ids}):
        if product not in limits_by_product:
            limits_by_product[product] = policy.class_limits(product)
        accounts[account_id] = AccountState(
            account_id,
            currency,
            kind == "customer",
            status,
            normal_side,
            bool(no_overdraft),
            bool(no_negative_asset),
            limits_by_product[product],
            *totals,
        )
    return accounts


def load_pendings(conn: Connection, ids: set[str], policy: Policy) -> dict[str, PendingState]:
    if not ids:
        return {}
    zone = policy.zone
    return {
        row["transfer_id"]: PendingState(
            transfer_id=row["transfer_id"],
            debit_account_id=row["debit_account_id"],
            credit_account_id=row["credit_account_id"],
            amount=row["amount"],
            currency=row["currency"],
            state=row["state"],
            expires_at=row["expires_at"],
            created_day=row["created_at"].astimezone(zone).date(),
            resolved_at=row["resolved_at"],
            resolved_by=row["resolved_by"],
        )
        for row in conn.execute(_PENDINGS, {"ids": sorted(ids)}).mappings()
    }


def _reversed_amounts(conn: Connection, ids: set[str | None]) -> dict[str, int]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = conn.execute(_REVERSED, {"ids": sorted(wanted)})
    return {str(original): int(total) for original, total in rows}


def _write(
    conn: Connection,
    changes: BatchChanges,
    before: dict[int, AccountState],
    state: LedgerState,
) -> None:
    resolved = _last_state_per_pending(changes.resolved_pendings, changes.new_pendings)
    updates = changes.account_updates(before, state.accounts)
    pendings = [_pending_row(p) for p in changes.new_pendings]
    if conn.dialect.name == "postgresql":
        _write_postgres(conn, changes, pendings, resolved, updates)
        return
    bulk_insert(conn, _TRANSFERS, changes.transfers)
    bulk_insert(conn, _REJECTED, changes.rejected)
    bulk_insert(conn, _PENDING, pendings)
    if resolved:
        conn.execute(_PENDING_UPDATE, resolved)
    if updates:
        conn.exec_driver_sql(
            _SQLITE_ACCOUNT_UPDATE,
            [_sqlite_account_delta(u) for u in updates],
        )


def _sqlite_account_delta(update: dict[str, Any]) -> tuple[Any, ...]:
    day = update["outbound_day"]
    return (
        *(update[key] for key in _ACCOUNT_DELTAS[:4]),
        None if day is None else day.isoformat(),
        *(update[key] for key in _ACCOUNT_DELTAS[5:]),
    )


def _write_postgres(
    conn: Connection,
    changes: BatchChanges,
    pendings: list[dict[str, Any]],
    resolved: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> None:
    """Everything a batch writes, as one statement: each table's rows a data-modifying CTE."""
    parts: list[str] = []
    params: dict[str, str] = {}
    for name, table, rows in (
        ("transfers", _TRANSFERS, changes.transfers),
        ("rejected", _REJECTED, changes.rejected),
        ("pendings", _PENDING, pendings),
    ):
        if rows:
            statement, params[name] = json_insert(table, rows, name)
            parts.append(f"{name} AS ({statement})")
    if resolved:
        parts.append(f"resolved AS ({_PG_PENDING_UPDATE})")
        params["resolved"] = to_json(resolved)
    if updates:
        params["accounts"] = to_json(updates)
    if not parts and not updates:
        return
    final = _PG_ACCOUNT_UPDATE if updates else "SELECT 1"
    statement = (f"WITH {', '.join(parts)} " if parts else "") + final
    driver_execute(conn, statement, params)


_PG_PENDING_UPDATE = """
UPDATE pending_transfers AS p SET state = v.state, resolved_at = v.resolved_at,
    resolved_by = v.resolved_by
FROM json_to_recordset(%(resolved)s::json) AS v(
    pending_transfer_id text, state text, resolved_at timestamptz, resolved_by text
)
WHERE p.transfer_id = v.pending_transfer_id
"""

# The changed accounts' increments arrive as one JSON document, unpacked server-side.
_PG_ACCOUNT_UPDATE = """
UPDATE accounts AS a SET
    debits_pending = a.debits_pending + v.d_debits_pending,
    debits_posted = a.debits_posted + v.d_debits_posted,
    credits_pending = a.credits_pending + v.d_credits_pending,
    credits_posted = a.credits_posted + v.d_credits_posted,
    outbound_day = v.outbound_day,
    outbound_day_amount = v.outbound_day_amount,
    outbound_year = v.outbound_year,
    outbound_year_amount = v.outbound_year_amount
FROM json_to_recordset(%(accounts)s::json) AS v(
    account_id bigint, d_debits_pending bigint, d_debits_posted bigint, d_credits_pending bigint,
    d_credits_posted bigint, outbound_day date, outbound_day_amount bigint, outbound_year integer,
    outbound_year_amount bigint
)
WHERE a.id = v.account_id
"""


def _pending_row(pending: PendingState) -> dict[str, Any]:
    return {
        "transfer_id": pending.transfer_id,
        "debit_account_id": pending.debit_account_id,
        "credit_account_id": pending.credit_account_id,
        "amount": pending.amount,
        "state": pending.state,
        "expires_at": pending.expires_at,
        "resolved_at": pending.resolved_at,
        "resolved_by": pending.resolved_by,
    }


def _last_state_per_pending(
    resolved: list[PendingState], created: list[PendingState]
) -> list[dict[str, Any]]:
    """Holds created in this batch are inserted with their final state; others are updated."""
    created_ids = {p.transfer_id for p in created}
    latest = {p.transfer_id: p for p in resolved if p.transfer_id not in created_ids}
    return [
        {
            "pending_transfer_id": p.transfer_id,
            "state": p.state,
            "resolved_at": p.resolved_at,
            "resolved_by": p.resolved_by,
        }
        for p in latest.values()
    ]


def expire_holds(conn: Connection, pending_ids: set[str], *, now: datetime, policy: Policy) -> int:
    """Release the given holds if they are (still) pending and past their expiry."""
    candidates = load_pendings(conn, pending_ids, policy)
    accounts = lock_accounts(
        conn,
        {a for p in candidates.values() for a in (p.debit_account_id, p.credit_account_id)},
        policy,
    )
    pendings = load_pendings(conn, pending_ids, policy)  # re-read under the account locks
    state = LedgerState(accounts=accounts, pendings=pendings)
    before = {account_id: account.copy() for account_id, account in accounts.items()}
    changes = BatchChanges()
    for pending in pendings.values():
        if pending.state == "pending" and pending.expires_at and pending.expires_at <= now:
            expire_hold(pending, state, now, changes)
    _write(conn, changes, before, state)
    return len(changes.resolved_pendings)
