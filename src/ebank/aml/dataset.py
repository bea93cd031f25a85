"""What a scan looks at: the scan's DuckDB tables (see :mod:`ebank.aml.typologies`), filled from
the ledger or from an external dataset.

The ledger's postings are streamed out of the bank's database into a temporary CSV file that
DuckDB reads in one pass (DuckDB's own PostgreSQL and SQLite readers are extensions it would
download, which a bank's servers must not do). Accounts of ours are nodes by their account id;
a payee at another bank is a node of its own (a negative id per payee account), so fan-outs to
other banks count their distinct payees.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from sqlalchemy import Connection, func, or_, select

from ebank.auth.models import CustomerDevice
from ebank.customers.models import Customer
from ebank.ledger.accounts import INTERNAL_PRODUCTS, Product
from ebank.ledger.models import Account, OutboundTransfer, Transfer

FLOWS_DDL = """
CREATE TABLE flows (
    id VARCHAR, ts TIMESTAMP, day DATE, payer BIGINT, payee BIGINT, amount BIGINT,
    purpose VARCHAR, code VARCHAR, cash BOOLEAN, cross_border BOOLEAN
)
"""
PARTIES_DDL = """
CREATE TABLE parties (
    node BIGINT PRIMARY KEY, customer BIGINT, kind VARCHAR, registered_capital BIGINT,
    declared_monthly_turnover BIGINT, business_scope VARCHAR, opened_on DATE
)
"""
IDENTIFIERS_DDL = "CREATE TABLE identifiers (customer BIGINT, kind VARCHAR, value VARCHAR)"
FLOW_COLUMNS = (
    "id",
    "ts",
    "day",
    "payer",
    "payee",
    "amount",
    "purpose",
    "code",
    "cash",
    "cross_border",
)
POSTED_KINDS = ("single", "post")  # what moved money; holds and their releases did not


def scan_database(memory_limit_mb: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the scan's empty tables; it spills to a temporary directory when
    ``memory_limit_mb`` is reached."""
    con = duckdb.connect(":memory:")
    if memory_limit_mb:
        con.execute(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
    con.execute("SET preserve_insertion_order = false")
    for ddl in (FLOWS_DDL, PARTIES_DDL, IDENTIFIERS_DDL):
        con.execute(ddl)
    return con


def load_flows_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute(
        "INSERT INTO flows SELECT * FROM read_csv(?, header = true, columns = {"
        "'id': 'VARCHAR', 'ts': 'TIMESTAMP', 'day': 'DATE', 'payer': 'BIGINT', "
        "'payee': 'BIGINT', 'amount': 'BIGINT', 'purpose': 'VARCHAR', 'code': 'VARCHAR', "
        "'cash': 'BOOLEAN', 'cross_border': 'BOOLEAN'})",
        [str(path)],
    )


@dataclass(frozen=True)
class LedgerExtract:
    flows: int
    parties: int


def load_ledger(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    *,
    first_day: date,
    last_day: date,
    zone: ZoneInfo,
    currency: str,
    home_country: str = "CN",
) -> LedgerExtract:
    """Fill the scan's tables with the ledger's postings of ``first_day``..``last_day`` (the
    bank's local days) in ``currency``, the accounts and customers they touch, and the shared
    identifiers."""
    start = datetime.combine(first_day, time.min, zone)
    end = datetime.combine(last_day + timedelta(days=1), time.min, zone)
    internal = _internal_accounts(conn)
    with tempfile.TemporaryDirectory(prefix="ebank-aml-") as scratch:
        path = Path(scratch) / "flows.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(FLOW_COLUMNS)
            count = 0
            for row in _flow_rows(
                conn, (start, end), currency, internal=internal, zone=zone, home=home_country
            ):
                writer.writerow(row)
                count += 1
        load_flows_csv(con, path)
    parties = _load_parties(conn, con)
    _load_identifiers(conn, con)
    return LedgerExtract(flows=count, parties=parties)


def _internal_accounts(conn: Connection) -> dict[int, str]:
    rows = conn.execute(
        select(Account.id, Account.product).where(Account.product.in_(list(INTERNAL_PRODUCTS)))
    )
    return dict(rows.all())


def _flow_rows(
    conn: Connection,
    span: tuple[datetime, datetime],
    currency: str,
    *,
    internal: dict[int, str],
    zone: ZoneInfo,
    home: str,
) -> Iterator[tuple[object, ...]]:
    query = (
        select(
            Transfer.id,
            Transfer.created_at,
            Transfer.debit_account_id,
            Transfer.credit_account_id,
            Transfer.amount,
            Transfer.purpose,
            Transfer.code,
            OutboundTransfer.payee_account_hash,
            OutboundTransfer.payee_bank,
        )
        .outerjoin(OutboundTransfer, OutboundTransfer.transfer_id == Transfer.id)
        .where(
            Transfer.created_at >= span[0],
            Transfer.created_at < span[1],
            Transfer.currency == currency,
            Transfer.kind.in_(POSTED_KINDS),
            or_(
                Transfer.debit_account_id.not_in(list(internal)),
                Transfer.credit_account_id.not_in(list(internal)),
            ),
        )
        .order_by(Transfer.seq)
        .execution_options(yield_per=10_000)
    )
    outside = _OutsideNodes()
    for tid, at, debit, credit, amount, purpose, code, payee_hash, payee_bank in conn.execute(
        query
    ):
        cash = code.startswith("cash_")
        payer = None if debit in internal else debit
        payee = None if credit in internal else credit
        if payee_hash is not None:
            payee = outside.node(payee_hash)
        cross_border = payee_bank is not None and is_foreign_bank(payee_bank, home)
        local = at.astimezone(zone)
        yield (
            tid,
            at.replace(tzinfo=None).isoformat(),
            local.date().isoformat(),
            payer,
            payee,
            amount,
            purpose or "",
            code,
            cash,
            cross_border,
        )


class _OutsideNodes:
    """Negative node ids for payees at other banks, one per payee account."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def node(self, payee_hash: str) -> int:
        return self._ids.setdefault(payee_hash, -(len(self._ids) + 1))


def is_foreign_bank(bank: str, home_country: str) -> bool:
    """A payee bank named by a SWIFT BIC (8 or 11 characters, the country in characters 5–6)
    outside ``home_country``; a domestic bank code or name is never foreign."""
    code = bank.strip().upper()
    if len(code) not in (8, 11) or not code.isalnum() or not code[:6].isalpha():
        return False
    return code[4:6] != home_country.upper()


def _load_parties(conn: Connection, con: duckdb.DuckDBPyConnection) -> int:
    rows = conn.execute(
        select(
            Account.id,
            Account.customer_id,
            Customer.kind,
            Customer.registered_capital,
            Customer.expected_monthly_turnover,
            Customer.business_scope,
            func.date(Account.opened_at),
        )
        .join(Customer, Customer.id == Account.customer_id)
        .where(Account.product.not_in(list(INTERNAL_PRODUCTS)))
    ).all()
    insert_rows(
        con,
        "INSERT INTO parties VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(*row[:6], _as_date(row[6])) for row in rows],
    )
    con.execute(
        """
        INSERT INTO parties
        SELECT DISTINCT payee, NULL, 'external', NULL, NULL, NULL, NULL FROM flows
        WHERE payee < 0
        """
    )
    return len(rows)


def insert_rows(con: duckdb.DuckDBPyConnection, sql: str, rows: list[tuple[object, ...]]) -> None:
    """``executemany`` that accepts an empty list (DuckDB's refuses one)."""
    if rows:
        con.executemany(sql, rows)


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _load_identifiers(conn: Connection, con: duckdb.DuckDBPyConnection) -> None:
    devices = conn.execute(
        select(CustomerDevice.customer_id, CustomerDevice.device_hash).distinct()
    ).all()
    phones = conn.execute(select(Customer.id, Customer.mobile_hash)).all()
    insert_rows(
        con,
        "INSERT INTO identifiers VALUES (?, ?, ?)",
        [*((c, "device", h) for c, h in devices), *((c, "phone", h) for c, h in phones)],
    )


def account_products(conn: Connection, ids: Iterable[int]) -> dict[int, Product]:
    wanted = [i for i in ids if i > 0]
    if not wanted:
        return {}
    rows = conn.execute(select(Account.id, Account.product).where(Account.id.in_(wanted)))
    return {account_id: Product(product) for account_id, product in rows}
