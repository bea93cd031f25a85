"""AML scan benchmark: every typology of the ``cn`` profile, large-value detection and
``with_flows`` over 10,000,000 synthetic transactions among 1,000,000 accounts.

The background bank is generated inside DuckDB (``range()`` and hashes of the row number and
``--seed``: the same data on any number of threads) straight into the scan's ``flows``,
``parties`` and ``identifiers`` tables: 10 % companies (registered capital, declared monthly
turnover, business scope), payments between random accounts with log-normal amounts and the
purposes a bank sees (salaries from companies to a stable set of employees once a month, 货款
between trading companies, advertising and consulting fees to companies of that trade, transfers
and consumer payments, cash deposits and withdrawals, payments to and from other banks), one phone
and one or two devices per customer, a few families sharing a phone or a device. Then each
typology's pattern is planted a few times on fresh accounts (above the background's ids) in the
last days, each just past the profile's thresholds. The scan reports the last seven days:

    python bench/aml.py [--transactions N] [--accounts N] [--days N] [--seed N]
                        [--memory-limit-mb N] [--threads N]

Timed: each detector, ``with_flows`` over all hits, ``large_value_hits`` — not the generation.
The last line printed is one JSON object: ``transactions``, ``seconds``, ``transactions_per_s``,
``peak_rss_mb``, ``planted_found`` / ``planted_total``, ``seconds_by_typology``,
``seconds_with_flows``, ``seconds_large_value``, ``planted_by_typology`` and
``background_hits_by_typology`` (alerts on background accounts: the false positives of a bank
without launderers).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from ebank.aml.dataset import scan_database
from ebank.aml.large_value import large_value_hits
from ebank.aml.typologies import Context, Days, Hit, detectors, with_flows
from ebank.config import PROJECT_ROOT
from ebank.policy import (
    AmlPolicy,
    ConcentratedDispersedParams,
    CycleParams,
    DormantParams,
    FanParams,
    GatherScatterParams,
    PassThroughParams,
    PayrollParams,
    PurposeParams,
    ScatterGatherParams,
    SharedIdentifierParams,
    SplitPaymentsParams,
    StructuringParams,
    TurnoverParams,
    load_policy_file,
)

LAST_DAY = date(2026, 11, 29)  # the last day of the data and of the scan
REPORTED_DAYS = 7  # the scan reports the last week
SCALE = 100  # fen per yuan
COMPANY_SHARE = 10  # one account in ten is a company's
SCOPES = (  # by (node - 1) % 8; the first five trade in goods (货款 fits them)
    "日用百货批发、零售",
    "服装生产、销售",
    "进出口贸易",
    "食品生产、批发",
    "电子产品零售",
    "软件开发、技术服务",
    "广告设计、制作、发布；媒体运营",
    "企业管理咨询、商务咨询",
)
TRADE_SCOPES, AD_SCOPE, CONSULTING_SCOPE = 5, 6, 7
OFF_SCOPE = "票务代理、印刷、场地租赁"  # fits none of the purpose rules' scopes

# The background's mix: (category, share of the non-payroll transactions).
MIX = (
    ("p2p", 0.45),  # person to person: 转账, 生活费, 还款…
    ("consumer", 0.26),  # person to company: 消费, 学费…
    ("goods", 0.08),  # trading company to trading company: 货款
    ("reimbursement", 0.02),  # company to person: 报销, 劳务费
    ("other_bank_in", 0.04),  # a person at another bank pays one of ours
    ("other_bank_out", 0.04),
    ("company_other_bank", 0.04),  # 货款 with companies at other banks, either way
    ("cash_in", 0.03),
    ("cash_out", 0.03),
    ("advertising", 0.005),  # any company to an advertising company: 广告费
    ("consulting", 0.005),  # any company to a consulting firm: 咨询费
)

MACROS = (
    # uniform in (0, 1) and standard normal (Box-Muller) from a hash of (x, k, seed)
    "CREATE OR REPLACE TEMP MACRO unif(x, k) AS "
    "((hash(x, k, getvariable('bench_seed')) >> 11)::DOUBLE + 0.5) / 9007199254740992.0",
    "CREATE OR REPLACE TEMP MACRO gauss(x, k) AS "
    "sqrt(-2 * ln(unif(x, k))) * cos(2 * pi() * unif(x, k + 1000))",
    "CREATE OR REPLACE TEMP MACRO pick(x, k, n) AS "
    "(hash(x, k, getvariable('bench_seed')) % n::UBIGINT)::BIGINT",
    # a company's scale in yuan: the typical size of its orders (its declared figures follow it)
    "CREATE OR REPLACE TEMP MACRO size_of(node) AS exp(ln(30000) + gauss(node, 77))",
    "CREATE OR REPLACE TEMP MACRO fen(yuan) AS greatest(100, round(yuan * 100))::BIGINT",
)


# --- the background ------------------------------------------------------------------------


def generate_background(
    con: duckdb.DuckDBPyConnection, *, accounts: int, transactions: int, days: int, seed: int
) -> dict[str, int]:
    """Parties, identifiers, payroll and random traffic over ``days`` days up to LAST_DAY; about
    ``transactions`` flows. Returns the count of flows per code (payroll, transfer, cash…)."""
    companies = accounts // COMPANY_SHARE
    externals = accounts // 5
    first = LAST_DAY - timedelta(days=days - 1)
    con.execute("SET VARIABLE bench_seed = ?", [seed])
    for macro in MACROS:
        con.execute(macro)
    con.execute(
        """
        INSERT INTO parties
        SELECT node, node,
               CASE WHEN node <= $companies THEN 'company' ELSE 'individual' END,
               CASE WHEN node <= $companies
                    THEN fen(size_of(node) * 20 * exp(0.7 * gauss(node, 78))) END,
               CASE WHEN node <= $companies
                    THEN fen(size_of(node) * 8 * exp(0.4 * gauss(node, 79))) END,
               CASE WHEN node <= $companies
                    THEN $scopes[1 + ((node - 1) % 8)::INTEGER] END,
               $first::DATE - 1 - pick(node, 80, 3650)::INTEGER
        FROM range(1, $accounts + 1) t(node)
        UNION ALL
        SELECT -node, NULL, 'external', NULL, NULL, NULL, NULL
        FROM range(1, $externals + 1) t(node)
        """,
        {
            "companies": companies,
            "accounts": accounts,
            "externals": externals,
            "scopes": list(SCOPES),
            "first": first,
        },
    )
    _identifiers(con, companies=companies, accounts=accounts)
    counts = {"payroll": _payroll(con, companies=companies, accounts=accounts, first=first)}
    rest = max(0, transactions - counts["payroll"])
    counts |= _traffic(
        con,
        rows=rest,
        companies=companies,
        accounts=accounts,
        externals=externals,
        first=first,
        days=days,
    )
    return counts


def _identifiers(con: duckdb.DuckDBPyConnection, *, companies: int, accounts: int) -> None:
    """One phone per customer and one device (a fifth have a second one); one person in fifty
    (even ids only, so never three) shares the phone or the device of the person before."""
    con.execute(
        """
        INSERT INTO identifiers
        SELECT node, 'phone', printf('ph%016x', hash(CASE
                   WHEN node > $companies + 1 AND node % 2 = 0 AND unif(node, 81) < 0.02
                   THEN node - 1 ELSE node END, 'phone', getvariable('bench_seed')))
        FROM range(1, $accounts + 1) t(node)
        UNION ALL
        SELECT node, 'device', printf('dv%016x', hash(CASE
                   WHEN node > $companies + 1 AND node % 2 = 0 AND unif(node, 82) < 0.02
                   THEN node - 1 ELSE node END, 'device', getvariable('bench_seed')))
        FROM range(1, $accounts + 1) t(node)
        UNION ALL
        SELECT node, 'device', printf('dv%016x', hash(node, 'tablet', getvariable('bench_seed')))
        FROM range(1, $accounts + 1) t(node) WHERE unif(node, 83) < 0.2
        """,
        {"companies": companies, "accounts": accounts},
    )


def _payroll(con: duckdb.DuckDBPyConnection, *, companies: int, accounts: int, first: date) -> int:
    """45 % of the people are employees of one company each (a few large employers, many small
    ones), paid once a month on their employer's payday."""
    con.execute(
        """
        INSERT INTO flows
        WITH staff AS (
            SELECT node AS employee,
                   least($companies, 1 + floor($companies * pow(unif(node, 90), 1.5)))::BIGINT
                       AS employer,
                   exp(ln(7000) + 0.5 * gauss(node, 91)) AS salary
            FROM range($companies + 1, $accounts + 1) t(node)
            WHERE unif(node, 92) < 0.45
        ), months AS (
            SELECT unnest(generate_series(date_trunc('month', $first::DATE),
                                          $last::DATE, INTERVAL 1 MONTH))::DATE AS month
        ), paid AS (
            SELECT s.*, m.month + (s.employer % 25)::INTEGER AS payday
            FROM staff s CROSS JOIN months m
        )
        SELECT 'w' || employee || '-' || month(payday), ts, ts::DATE, employer, employee,
               fen(salary * (1 + 0.05 * gauss(employee, 93 + month(payday)))),
               month(payday) || '月工资', 'payroll', false, false
        FROM (SELECT *, payday + INTERVAL 9 HOUR + to_seconds(employee % 3600) AS ts FROM paid)
        WHERE payday BETWEEN $first AND $last
        """,
        {"companies": companies, "accounts": accounts, "first": first, "last": LAST_DAY},
    )
    row = con.execute("SELECT count(*) FROM flows WHERE code = 'payroll'").fetchone()
    return int(row[0]) if row else 0


def _traffic(
    con: duckdb.DuckDBPyConnection,
    *,
    rows: int,
    companies: int,
    accounts: int,
    externals: int,
    first: date,
    days: int,
) -> dict[str, int]:
    """``rows`` random flows of the categories in MIX, with log-normal amounts (``g`` is the row's
    standard normal draw)."""
    groups = companies // len(SCOPES)

    def person(k: int) -> str:
        return f"({companies} + 1 + pick(i, {k}, {accounts - companies}))"

    def company(k: int) -> str:
        return f"(1 + pick(i, {k}, {companies}))"

    def of_scope(k: int, scope: int | None = None) -> str:  # a trading company by default
        offset = f"pick(i, {k + 1}, {TRADE_SCOPES})" if scope is None else str(scope)
        return f"(1 + {len(SCOPES)} * pick(i, {k}, {groups}) + {offset})"

    other_bank = f"(-1 - pick(i, 17, {externals}))"
    either = "unif(i, 18) < 0.5"
    mostly_people = "unif(i, 19) < 0.85"
    # per category: payer, payee, amount in yuan, purposes, code
    shapes = {
        "p2p": (person(11), person(12), "exp(ln(600) + 1.2 * g)",
                ["转账", "生活费", "还款", "房租", "红包", "借款", ""], "transfer"),
        "consumer": (person(11), company(12), "exp(ln(150) + 1.1 * g)",
                     ["消费", "购物", "服务费", "学费", "餐费", ""], "transfer"),
        "goods": (of_scope(13), of_scope(15),
                  f"sqrt(size_of({of_scope(13)}) * size_of({of_scope(15)})) * exp(0.8 * g)",
                  ["货款", "采购款", "货款结算"], "transfer"),
        "reimbursement": (company(12), person(11), "exp(ln(2000) + 0.9 * g)",
                          ["报销", "劳务费", "差旅费"], "transfer"),
        "other_bank_in": (other_bank, person(11), "exp(ln(1000) + 1.3 * g)",
                          ["转账", "还款", ""], "inbound"),
        "other_bank_out": (person(11), other_bank, "exp(ln(1000) + 1.3 * g)",
                           ["转账", "还款", ""], "outbound"),
        "company_other_bank": (
            f"CASE WHEN {either} THEN {of_scope(13)} ELSE {other_bank} END",
            f"CASE WHEN {either} THEN {other_bank} ELSE {of_scope(13)} END",
            f"size_of({of_scope(13)}) * exp(0.8 * g)", ["货款", "采购款"], "transfer"),
        "cash_in": ("NULL", f"CASE WHEN {mostly_people} THEN {person(11)} ELSE {company(12)} END",
                    "exp(ln(2000) + g)", ["现金存入"], "cash_deposit"),
        "cash_out": (f"CASE WHEN {mostly_people} THEN {person(11)} ELSE {company(12)} END",
                     "NULL", "exp(ln(2000) + g)", ["现金支取"], "cash_withdrawal"),
        "advertising": (company(12), of_scope(13, AD_SCOPE), "exp(ln(8000) + 0.9 * g)",
                        ["广告费", "广告投放费"], "transfer"),
        "consulting": (company(12), of_scope(13, CONSULTING_SCOPE), "exp(ln(8000) + 0.9 * g)",
                       ["咨询费"], "transfer"),
    }  # fmt: skip
    names = [name for name, _ in MIX]
    assert set(names) == set(shapes)
    bounds, total = [], 0.0
    for _, share in MIX:
        total += share
        bounds.append(min(total, 1.0))
    bounds[-1] = 1.0
    category = " ".join(f"WHEN u < {bound!r} THEN {n}" for n, bound in enumerate(bounds))

    def case(column: int) -> str:
        arms = " ".join(f"WHEN {n} THEN {shapes[name][column]}" for n, name in enumerate(names))
        return f"CASE cat {arms} END"

    purposes = " ".join(
        f"WHEN {n} THEN {shapes[name][3]!r}[1 + pick(i, 30, {len(shapes[name][3])})::INTEGER]"
        for n, name in enumerate(names)
    )
    codes = " ".join(f"WHEN {n} THEN '{shapes[name][4]}'" for n, name in enumerate(names))
    sql = f"""
        INSERT INTO flows
        SELECT 'b' || i, ts, ts::DATE, payer, payee, fen(yuan), purpose, code,
               code LIKE 'cash_%', code = 'outbound' AND unif(i, 40) < 0.02
        FROM (
            SELECT i, {case(0)} AS payer, {case(1)} AS payee, {case(2)} AS yuan,
                   CASE cat {purposes} END AS purpose, CASE cat {codes} END AS code,
                   $first::TIMESTAMP + to_seconds(pick(i, 31, {days}) * 86400
                       + CASE WHEN unif(i, 32) < 0.9 THEN 25200 + pick(i, 33, 54000)
                              ELSE pick(i, 33, 86400) END) AS ts
            FROM (SELECT i, CASE {category} END AS cat, gauss(i, 2) AS g
                  FROM (SELECT i, unif(i, 1) AS u FROM range($rows) t(i)))
        )
        """  # noqa: S608 -- built from this file's constants and integers only
    con.execute(sql, {"rows": rows, "first": first})
    return {
        str(code): int(n)
        for code, n in con.execute(
            "SELECT code, count(*) FROM flows WHERE id LIKE 'b%' GROUP BY code ORDER BY code"
        ).fetchall()
    }


# --- the planted patterns ------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    typology: str
    subject: int
    ring: frozenset[int] = frozenset()  # cycle: the ring; scatter-gather: source, destination


@dataclass
class Planter:
    """Fresh accounts (ids above the background's) and their flows, kept in Python until
    :meth:`insert`; each pattern in the last days, just past the profile's thresholds."""

    policy: AmlPolicy
    next_node: int
    last: date = LAST_DAY
    parties: list[tuple[Any, ...]] = field(default_factory=list)
    flows: list[tuple[Any, ...]] = field(default_factory=list)
    identifiers: list[tuple[int, str, str]] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)

    def day(self, back: int) -> date:
        return self.last - timedelta(days=back)

    def party(
        self,
        kind: str = "individual",
        *,
        capital: float | None = None,
        turnover: float | None = None,
        scope: str | None = None,
        opened: date | None = None,
    ) -> int:
        """An account opened recently (a mule's: never "dormant" since it was opened); a company
        trades in goods unless told otherwise."""
        node = self.next_node
        self.next_node += 1
        self.parties.append(
            (
                node,
                node,
                kind,
                None if capital is None else round(capital * SCALE),
                None if turnover is None else round(turnover * SCALE),
                scope or (SCOPES[2] if kind == "company" else None),
                opened or self.day(90),
            )
        )
        self.identifiers.append((node, "phone", f"pp{node:014x}"))
        return node

    def pay(
        self,
        payer: int | None,
        payee: int | None,
        yuan: float | Decimal,
        day: date,
        *,
        purpose: str = "转账",
        hour: int = 10,
    ) -> None:
        n = len(self.flows)
        cash = payer is None or payee is None
        code = (
            "cash_deposit" if payer is None else "cash_withdrawal" if payee is None else "transfer"
        )
        self.flows.append(
            (
                f"p{n}",
                datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=n % 60),
                day,
                payer,
                payee,
                round(Decimal(yuan) * SCALE),
                purpose,
                code,
                cash,
                False,
            )
        )

    def mark(self, typology: str, subject: int, ring: Sequence[int] = ()) -> None:
        self.planted.append(Planted(typology, subject, frozenset(ring)))

    def insert(self, con: duckdb.DuckDBPyConnection) -> None:
        con.executemany("INSERT INTO parties VALUES (?, ?, ?, ?, ?, ?, ?)", self.parties)
        con.executemany("INSERT INTO flows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.flows)
        con.executemany("INSERT INTO identifiers VALUES (?, ?, ?)", self.identifiers)


def plant(policy: AmlPolicy, first_node: int, instances: int) -> Planter:
    """``instances`` of each typology the profile configures."""
    planter = Planter(policy, first_node)
    typologies = policy.typologies
    for name in detectors(typologies):
        section = getattr(typologies, name)
        for k in range(instances):
            PLANTERS[name](planter, section, k, 1.02 + 0.03 * (k % 4))
    return planter


def _pass_through(pl: Planter, p: PassThroughParams, k: int, f: float) -> None:
    shell, source, a, b = pl.party(), pl.party(), pl.party(), pl.party()
    inflow = float(p.min_amount) * f
    out = inflow * (1 - p.max_retained_ratio / 2)
    day = pl.day(k % REPORTED_DAYS)
    pl.pay(source, shell, inflow, day, hour=9)
    pl.pay(shell, a, out * 0.6, day, hour=13)
    pl.pay(shell, b, out * 0.4, day, hour=16)
    pl.mark("pass_through", shell)


def _fan(pl: Planter, p: FanParams, k: int, f: float, *, inward: bool) -> None:
    hub = pl.party()
    count = p.min_counterparties + k % 3
    each = float(p.min_total) * f / count
    for n in range(count):
        other = pl.party()
        day = pl.day(min(p.window_days, REPORTED_DAYS) - 1 - n % min(p.window_days, REPORTED_DAYS))
        payer, payee = (other, hub) if inward else (hub, other)
        pl.pay(payer, payee, each, day)
    pl.mark("fan_in" if inward else "fan_out", hub)


def _gather_scatter(pl: Planter, p: GatherScatterParams, k: int, f: float) -> None:
    hub = pl.party()
    payers, payees = p.min_in + k % 2, p.min_out + k % 2
    inflow = float(p.min_total) * f
    for n in range(payers):
        pl.pay(pl.party(), hub, inflow / payers, pl.day(6 - n % 3))
    out = inflow * (1 - p.max_retained_ratio / 2)
    for n in range(payees):
        pl.pay(hub, pl.party(), out / payees, pl.day(3 - n % 3))
    pl.mark("gather_scatter", hub)


def _concentrated_dispersed(pl: Planter, p: ConcentratedDispersedParams, k: int, f: float) -> None:
    hub = pl.party("company")
    inflow = float(p.min_total) * f
    out = inflow * (1 - p.max_retained_ratio / 2)
    few, many = max(1, p.max_concentrated - k % 2), p.min_dispersed + k % 2
    payers, payees = (few, many) if k % 2 == 0 else (many, few)
    for _ in range(payers):
        pl.pay(pl.party("company"), hub, inflow / payers, pl.day(5), hour=9)
    for n in range(payees):
        pl.pay(hub, pl.party(), out / payees, pl.day(4 - n % 2), hour=15)
    pl.mark("concentrated_dispersed", hub)


def _scatter_gather(pl: Planter, p: ScatterGatherParams, k: int, f: float) -> None:
    source, destination = pl.party(), pl.party()
    leg = float(p.min_amount) * f
    start = 6 - k % 3
    for _ in range(p.min_intermediaries + k % 2):
        middle = pl.party()
        pl.pay(source, middle, leg * 1.01, pl.day(start))
        pl.pay(middle, destination, leg, pl.day(start - 2))
    pl.mark("scatter_gather", source, (source, destination))


def _cycle(pl: Planter, p: CycleParams, k: int, f: float) -> None:
    length = 2 + k % (p.max_length - 1)
    ring = [pl.party() for _ in range(length)]
    amount = float(p.min_amount) * 2 * f
    back = k % REPORTED_DAYS + 3 * (length - 1)  # the last leg in the reported days
    for n, node in enumerate(ring):
        pl.pay(node, ring[(n + 1) % length], amount * 0.97**n, pl.day(back - 3 * n))
    pl.mark("cycle", ring[0], ring)


def _structuring(pl: Planter, p: StructuringParams, k: int, f: float) -> None:
    limits = pl.policy.large_value
    kind = ("cash_in", "cash_out", "cash_in", "individual", "company")[k % 5]
    subject = pl.party("company" if kind == "company" else "individual")
    threshold = float(
        limits.cash if kind.startswith("cash") else
        limits.company_transfer if kind == "company" else limits.individual_domestic
    )  # fmt: skip
    for n in range(p.min_count):
        amount = threshold * (1 - p.band * (0.2 + 0.15 * n))  # inside the band, under the line
        day = pl.day(6 - 2 * n)
        if kind == "cash_in":
            pl.pay(None, subject, amount, day, purpose="现金存入")
        elif kind == "cash_out":
            pl.pay(subject, None, amount, day, purpose="现金支取")
        else:
            pl.pay(
                subject,
                pl.party(kind),
                amount,
                day,
                purpose="货款" if kind == "company" else "转账",
            )
    pl.mark("structuring", subject)


def _split_payments(pl: Planter, p: SplitPaymentsParams, k: int, f: float) -> None:
    payer, payee = pl.party(), pl.party()
    pieces = p.min_transfers + k % 2
    piece = float(p.min_total) * f / pieces
    usual = piece / p.below_usual_ratio * 2.5  # what it pays each of its usual payees
    for n in range(4):
        pl.pay(payer, pl.party(), usual, pl.day(40 - 6 * n))
    for n in range(pieces):
        pl.pay(payer, payee, piece, pl.day(k % 5 + (1 if n < pieces // 2 else 0)), hour=9 + n)
    pl.mark("split_payments", payer)


def _turnover(pl: Planter, p: TurnoverParams, k: int, f: float) -> None:
    capital = float(p.min_turnover) / p.capital_multiple * (1 + k % 3)
    declared = capital * p.capital_multiple / p.declared_turnover_multiple
    shell = pl.party("company", capital=capital, turnover=declared, scope=SCOPES[k % 5])
    inflow = capital * p.capital_multiple * f * 1.05
    for n in range(4):
        pl.pay(pl.party("company"), shell, inflow / 4, pl.day(k % 5 + 6 * (3 - n)), purpose="货款")
    pl.mark("turnover_vs_profile", shell)


def _purpose_vs_scope(pl: Planter, p: PurposeParams, k: int, f: float) -> None:
    name, rule = sorted(p.rules.items())[k % len(p.rules)]
    payer_scope = {"advertising": SCOPES[AD_SCOPE], "consulting": SCOPES[CONSULTING_SCOPE]}
    shell = pl.party("company", scope=OFF_SCOPE)
    payer = pl.party("company", scope=payer_scope.get(name, SCOPES[2]))
    pl.pay(payer, shell, float(p.min_amount) * f, pl.day(k % REPORTED_DAYS),
           purpose=rule.purpose_keywords[k % len(rule.purpose_keywords)])  # fmt: skip
    pl.mark("purpose_vs_scope", shell)


def _payroll_without_history(pl: Planter, p: PayrollParams, k: int, f: float) -> None:
    employer = pl.party("company", scope=SCOPES[5])
    for n in range(3 + k % 2):
        keyword = p.purpose_keywords[(k + n) % len(p.purpose_keywords)]
        pl.pay(employer, pl.party(), float(p.min_amount) * f, pl.day(k % REPORTED_DAYS),
               purpose=keyword)  # fmt: skip
    pl.mark("payroll_without_history", employer)


def _dormant(pl: Planter, p: DormantParams, k: int, f: float) -> None:
    quiet = p.dormant_days + 20 + k
    if k % 2 == 0:  # one small movement long ago, then nothing until now
        sleeper = pl.party(opened=pl.day(quiet + 500))
        old_friend = pl.party(opened=pl.day(quiet + 30))
        pl.pay(old_friend, sleeper, 1000, pl.day(quiet))
    else:  # never moved since it was opened
        sleeper = pl.party(opened=pl.day(quiet))
    total = float(p.min_amount) * f
    wake = k % REPORTED_DAYS
    pl.pay(pl.party(), sleeper, total * 0.55, pl.day(wake), hour=9)
    pl.pay(sleeper, pl.party(), total * 0.45, pl.day(max(0, wake - 1)), hour=15)
    pl.mark("dormant_reactivated", sleeper)


def _shared_identifier(pl: Planter, p: SharedIdentifierParams, k: int, f: float) -> None:
    kind = "device" if k % 2 == 0 else "phone"
    people = [pl.party() for _ in range(p.min_customers + k % 2)]
    shop = pl.party("company", scope=SCOPES[4])
    for n, person in enumerate(people):
        pl.identifiers.append((person, kind, f"shared-{kind}-{k}"))
        pl.pay(person, shop, 300 + 10 * n, pl.day(k % REPORTED_DAYS))
    pl.mark("shared_identifier", people[0])


PlantPattern = Callable[[Planter, Any, int, float], None]  # planter, parameters, instance, margin
PLANTERS: dict[str, PlantPattern] = {
    "pass_through": _pass_through,
    "fan_in": lambda pl, p, k, f: _fan(pl, p, k, f, inward=True),
    "fan_out": lambda pl, p, k, f: _fan(pl, p, k, f, inward=False),
    "gather_scatter": _gather_scatter,
    "concentrated_dispersed": _concentrated_dispersed,
    "scatter_gather": _scatter_gather,
    "cycle": _cycle,
    "structuring": _structuring,
    "split_payments": _split_payments,
    "turnover_vs_profile": _turnover,
    "purpose_vs_scope": _purpose_vs_scope,
    "payroll_without_history": _payroll_without_history,
    "dormant_reactivated": _dormant,
    "shared_identifier": _shared_identifier,
}


def found(planted: Planted, hits: list[Hit]) -> bool:
    """Some hit of the pattern's typology about its subject (a cycle: about its ring; a
    scatter-gather: its source, with the destination among the members)."""
    for hit in hits:
        if hit.typology != planted.typology:
            continue
        if planted.typology == "cycle":
            if frozenset(hit.members) == planted.ring:
                return True
        elif hit.subject == planted.subject and planted.ring <= set(hit.members):
            return True
    return False


# --- the scan --------------------------------------------------------------------------------


def peak_rss_mb() -> tuple[float, float]:
    """The process's peak resident memory: getrusage's, and /proc's VmHWM (MB)."""
    rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hwm = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return round(rusage, 1), round(hwm, 1)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--instances", type=int, default=6, help="planted patterns per typology")
    parser.add_argument("--memory-limit-mb", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (all cores)")
    args = parser.parse_args()
    if args.accounts < 10 * len(SCOPES) or args.days < REPORTED_DAYS:
        parser.error("at least 80 accounts and 7 days")

    policy = load_policy_file(PROJECT_ROOT / "policies" / "cn.yaml").aml
    spill = Path(tempfile.mkdtemp(prefix="ebank-bench-aml-"))
    con = scan_database(memory_limit_mb=args.memory_limit_mb)
    con.execute("SET temp_directory = ?", [str(spill)])
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    try:
        return run(con, policy, args)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def run(con: duckdb.DuckDBPyConnection, policy: AmlPolicy, args: argparse.Namespace) -> int:
    planter = plant(policy, args.accounts + 1, args.instances)
    log(
        f"generating {args.transactions:,} transactions over {args.accounts:,} accounts "
        f"and {args.days} days…"
    )
    started = time.perf_counter()
    background = generate_background(
        con,
        accounts=args.accounts,
        transactions=args.transactions - len(planter.flows),
        days=args.days,
        seed=args.seed,
    )
    planter.insert(con)
    generation = time.perf_counter() - started
    row = con.execute("SELECT count(*) FROM flows").fetchone()
    transactions = int(row[0]) if row else 0
    log(
        f"  {transactions:,} flows ({len(planter.flows)} planted) in {generation:.1f} s: {background}"
    )

    days = Days(LAST_DAY - timedelta(days=REPORTED_DAYS - 1), LAST_DAY)
    ctx = Context(con, days, SCALE, policy.large_value)
    hits: list[Hit] = []
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    for name, detect in detectors(policy.typologies).items():
        began = time.perf_counter()
        found_here = detect(ctx)
        seconds[name] = round(time.perf_counter() - began, 2)
        log(f"  {name}: {seconds[name]:.2f} s, {len(found_here)} hits")
        hits += found_here
    began = time.perf_counter()
    hits = with_flows(ctx, hits)
    filling = time.perf_counter() - began
    log(f"  with_flows: {filling:.2f} s")
    began = time.perf_counter()
    reports = large_value_hits(ctx, policy.large_value, "CNY")  # the yuan book it generated
    large_value = time.perf_counter() - began
    log(f"  large_value: {large_value:.2f} s, {len(reports)} reports")
    scan_seconds = time.perf_counter() - started

    planted_nodes = {node for node, *_ in planter.parties}
    by_typology: dict[str, dict[str, int]] = {}
    background_hits: dict[str, int] = {}
    for name in detectors(policy.typologies):
        mine = [p for p in planter.planted if p.typology == name]
        of_name = [h for h in hits if h.typology == name]
        by_typology[name] = {"found": sum(found(p, of_name) for p in mine), "total": len(mine)}
        background_hits[name] = sum(h.subject not in planted_nodes for h in of_name)
    for planted in planter.planted:
        if not found(planted, hits):
            log(f"  MISSED {planted.typology}: subject {planted.subject}")
    rusage_mb, hwm_mb = peak_rss_mb()
    row = con.execute("SELECT current_setting('threads')").fetchone()
    threads = int(row[0]) if row else 0
    figures = {
        "benchmark": "aml",
        "transactions": transactions,
        "accounts": args.accounts,
        "days": args.days,
        "reported_days": REPORTED_DAYS,
        "seconds": round(scan_seconds, 2),
        "transactions_per_s": round(transactions / scan_seconds),
        "generation_seconds": round(generation, 1),
        "peak_rss_mb": rusage_mb,
        "vm_hwm_mb": hwm_mb,
        "memory_limit_mb": args.memory_limit_mb,
        "threads": threads,
        "planted_found": sum(v["found"] for v in by_typology.values()),
        "planted_total": len(planter.planted),
        "hits": len(hits),
        "large_value_reports": len(reports),
        "seconds_by_typology": seconds,
        "seconds_with_flows": round(filling, 2),
        "seconds_large_value": round(large_value, 2),
        "planted_by_typology": by_typology,
        "background_hits_by_typology": background_hits,
    }
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
