"""``ebank ledger verify``: prove the ledger's invariants from the stored rows.

1. Conservation: per currency, all debits equal all credits (posted and pending).
2. Every account's four totals equal the sums of the transfers (and open holds) that name it.
3. No account breaks its balance rule (customer accounts never below zero).
4. Every posting's stored balance-after equals the running balance replayed from the first posting.
5. Every transfer's currency is its accounts' currency; every hold has its state row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, select

from ebank.db import table_of
from ebank.ledger.models import Account, PendingTransfer, Transfer

Progress = Callable[[int, int], None]  # (done, total)

_A = table_of(Account)
_T = table_of(Transfer)
_P = table_of(PendingTransfer)
POSTED = ("single", "post")
MAX_PROBLEMS = 50


@dataclass
class LedgerReport:
    accounts: int = 0
    transfers: int = 0
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


def verify_ledger(
    conn: Connection, progress: Progress | None = None, chunk: int = 20000
) -> LedgerReport:
    report = LedgerReport()
    _conservation(conn, report)
    accounts = {row["id"]: row for row in conn.execute(select(_A)).mappings()}
    report.accounts = len(accounts)
    _account_totals(conn, accounts, report)
    _balance_rules(accounts, report)
    _running_balances(conn, accounts, report, progress, chunk)
    _consistency(conn, report)
    return report


def _conservation(conn: Connection, report: LedgerReport) -> None:
    query = select(
        _A.c.currency,
        func.sum(_A.c.debits_posted),
        func.sum(_A.c.credits_posted),
        func.sum(_A.c.debits_pending),
        func.sum(_A.c.credits_pending),
    ).group_by(_A.c.currency)
    for currency, dpo, cpo, dpe, cpe in conn.execute(query):
        report.totals[currency] = {
            "debits_posted": int(dpo),
            "credits_posted": int(cpo),
            "debits_pending": int(dpe),
            "credits_pending": int(cpe),
        }
        if dpo != cpo:
            report.problem(f"{currency}: posted debits {dpo} ≠ posted credits {cpo}")
        if dpe != cpe:
            report.problem(f"{currency}: pending debits {dpe} ≠ pending credits {cpe}")


def _sums(conn: Connection, query: Select[Any]) -> dict[int, int]:
    return {int(k): int(v) for k, v in conn.execute(query)}


def _account_totals(
    conn: Connection, accounts: dict[int, RowMapping], report: LedgerReport
) -> None:
    posted = _T.c.kind.in_(POSTED)
    expected = {
        "debits_posted": _sums(
            conn,
            select(_T.c.debit_account_id, func.sum(_T.c.amount))
            .where(posted)
            .group_by(_T.c.debit_account_id),
        ),
        "credits_posted": _sums(
            conn,
            select(_T.c.credit_account_id, func.sum(_T.c.amount))
            .where(posted)
            .group_by(_T.c.credit_account_id),
        ),
        "debits_pending": _sums(
            conn,
            select(_P.c.debit_account_id, func.sum(_P.c.amount))
            .where(_P.c.state == "pending")
            .group_by(_P.c.debit_account_id),
        ),
        "credits_pending": _sums(
            conn,
            select(_P.c.credit_account_id, func.sum(_P.c.amount))
            .where(_P.c.state == "pending")
            .group_by(_P.c.credit_account_id),
        ),
    }
    for account_id, row in accounts.items():
        for column, sums in expected.items():
            stored = row[column]
            if stored != sums.get(account_id, 0):
                report.problem(
                    f"account {account_id}: {column} is {stored} but its transfers sum to "
                    f"{sums.get(account_id, 0)}"
                )


def _balance_rules(accounts: dict[int, RowMapping], report: LedgerReport) -> None:
    for account_id, row in accounts.items():
        r = row
        if r["debits_must_not_exceed_credits"] and (
            r["debits_posted"] + r["debits_pending"] > r["credits_posted"]
        ):
            report.problem(f"account {account_id}: debits exceed credits (overdrawn)")
        if r["credits_must_not_exceed_debits"] and (
            r["credits_posted"] + r["credits_pending"] > r["debits_posted"]
        ):
            report.problem(f"account {account_id}: credits exceed debits")


def _running_balances(
    conn: Connection,
    accounts: dict[int, RowMapping],
    report: LedgerReport,
    progress: Progress | None,
    chunk: int,
) -> None:
    total = int(conn.execute(select(func.count()).select_from(_T)).scalar_one())
    report.transfers = total
    credit_normal = {aid: row["normal_side"] == "credit" for aid, row in accounts.items()}
    running: dict[int, int] = defaultdict(int)
    last_seq = 0
    done = 0
    while True:
        rows = conn.execute(
            select(
                _T.c.seq,
                _T.c.id,
                _T.c.kind,
                _T.c.debit_account_id,
                _T.c.credit_account_id,
                _T.c.amount,
                _T.c.debit_balance_after,
                _T.c.credit_balance_after,
            )
            .where(_T.c.seq > last_seq)
            .order_by(_T.c.seq)
            .limit(chunk)
        ).all()
        if not rows:
            break
        for seq, transfer_id, kind, debit, credit, amount, debit_after, credit_after in rows:
            if kind in POSTED:
                running[debit] += -amount if credit_normal.get(debit, True) else amount
                running[credit] += amount if credit_normal.get(credit, True) else -amount
            if running[debit] != debit_after:
                report.problem(
                    f"transfer {transfer_id} (#{seq}): debit balance after is {debit_after}, "
                    f"replay gives {running[debit]}"
                )
            if running[credit] != credit_after:
                report.problem(
                    f"transfer {transfer_id} (#{seq}): credit balance after is {credit_after}, "
                    f"replay gives {running[credit]}"
                )
        done += len(rows)
        last_seq = rows[-1][0]
        if progress is not None:
            progress(done, total)


def _consistency(conn: Connection, report: LedgerReport) -> None:
    debit = _A.alias("d")
    credit = _A.alias("c")
    mismatched = conn.execute(
        select(_T.c.id)
        .join(debit, debit.c.id == _T.c.debit_account_id)
        .join(credit, credit.c.id == _T.c.credit_account_id)
        .where((debit.c.currency != _T.c.currency) | (credit.c.currency != _T.c.currency))
        .limit(MAX_PROBLEMS)
    ).scalars()
    for transfer_id in mismatched:
        report.problem(f"transfer {transfer_id}: currency differs from its accounts'")
    orphans = conn.execute(
        select(_T.c.id)
        .outerjoin(_P, _P.c.transfer_id == _T.c.id)
        .where(_T.c.kind == "pending", _P.c.transfer_id.is_(None))
        .limit(MAX_PROBLEMS)
    ).scalars()
    for transfer_id in orphans:
        report.problem(f"pending transfer {transfer_id}: no hold state recorded")
