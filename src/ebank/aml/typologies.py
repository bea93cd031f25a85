"""The money-laundering typologies, each a query over the scan's tables in DuckDB.

A scan loads what it looks at into three tables (:mod:`ebank.aml.dataset`):

``flows``
    one row per movement of money: ``id``, ``ts`` (UTC), ``day`` (the bank's local date),
    ``payer`` and ``payee`` (node ids: an account of ours, or an outside counterparty; ``NULL``
    on the cash side of a cash deposit or withdrawal), ``amount`` (minor units), ``purpose``,
    ``code``, ``cash``, ``cross_border``.
``parties``
    one row per node: ``node``, ``customer`` (``NULL`` outside the bank), ``kind`` (``individual``,
    ``company`` or ``external``), ``registered_capital`` and ``declared_monthly_turnover`` (minor
    units), ``business_scope``, ``opened_on``.
``identifiers``
    ``customer``, ``kind`` (``device`` or ``phone``), ``value`` (a keyed hash).

Each detector takes the connection, its parameters from the policy profile, the days being
reported and the currency's minor-unit scale, and returns :class:`Hit` values: who, when, how
much, why (facts) and which transfers. A detector reports a pattern whose last day falls in the
reported days; it may look back before them (the scan loads enough history, see
:func:`lookback_days`). Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from ebank.policy import (
    ConcentratedDispersedParams,
    CycleParams,
    DormantParams,
    FanParams,
    GatherScatterParams,
    LargeValuePolicy,
    PassThroughParams,
    PayrollParams,
    PurposeParams,
    ScatterGatherParams,
    SharedIdentifierParams,
    SplitPaymentsParams,
    StructuringParams,
    TurnoverParams,
    TypologyParams,
)

MAX_TRANSFERS_PER_HIT = 200  # an alert lists at most this many transfers (the case has them all)


@dataclass(frozen=True)
class Days:
    """The days a scan reports on, inclusive."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError("the reported days end before they start")


@dataclass(frozen=True)
class Hit:
    typology: str
    subject: int  # the node the alert is about
    first_day: date
    last_day: date
    amount: int  # minor units: the money the pattern moved
    count: int  # transfers in the pattern
    score: float  # 0..1: how far past the thresholds
    facts: dict[str, Any] = field(default_factory=dict)
    members: tuple[int, ...] = ()  # every node taking part, the subject included
    transfer_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    con: duckdb.DuckDBPyConnection
    days: Days
    scale: int  # minor units per major unit of the amounts in the parameters
    thresholds: LargeValuePolicy  # the reporting thresholds structuring keeps under

    def minor(self, amount: Decimal) -> int:
        return int(amount * self.scale)


def _rows(ctx: Context, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return ctx.con.execute(sql, list(params)).fetchall()


def _score(value: float, threshold: float) -> float:
    """How far ``value`` is past ``threshold``: 0.5 at the threshold, towards 1 beyond."""
    if threshold <= 0:
        return 1.0
    return round(min(1.0, 0.5 * value / threshold), 4)


def _sides(since: date | None = None) -> str:
    """The inflows and outflows of accounts of ours (transfers and cash), one row per side, from
    ``since`` on (a window ending on the first reported day needs nothing older)."""
    bound = f"AND f.day >= DATE '{since.isoformat()}'" if since else ""
    return f"""
    SELECT f.payee AS node, f.day, f.amount AS inflow, 0::BIGINT AS outflow,
           f.payer AS counterparty, f.id
    FROM flows f JOIN parties p ON p.node = f.payee AND p.customer IS NOT NULL {bound}
    UNION ALL
    SELECT f.payer, f.day, 0::BIGINT, f.amount, f.payee, f.id
    FROM flows f JOIN parties p ON p.node = f.payer AND p.customer IS NOT NULL {bound}
    """


def _window_start(ctx: Context, window_days: int) -> date:
    """The first day a window ending on a reported day can reach."""
    return ctx.days.first - timedelta(days=window_days - 1)


def _rolling_parties(since: date) -> str:
    """Per account and day: distinct payers and payees, money in and out, over the ``?``-day
    window that ends on the day."""
    return f"""
    SELECT node, day,
           count(DISTINCT CASE WHEN inflow > 0 THEN counterparty END) OVER w AS payers,
           count(DISTINCT CASE WHEN outflow > 0 THEN counterparty END) OVER w AS payees,
           sum(inflow) OVER w AS i_w, sum(outflow) OVER w AS o_w
    FROM ({_sides(since)})
    WINDOW w AS (PARTITION BY node ORDER BY day
                 RANGE BETWEEN INTERVAL (? - 1) DAY PRECEDING AND CURRENT ROW)
    """


def pass_through(ctx: Context, p: PassThroughParams) -> list[Hit]:
    """In and out again within ``window_days``: at least ``min_amount`` in, and all but
    ``max_retained_ratio`` of it out."""
    rows = _rows(
        ctx,
        f"""
        WITH daily AS (
            SELECT node, day, sum(inflow) AS i, sum(outflow) AS o
            FROM ({_sides(_window_start(ctx, p.window_days))}) GROUP BY ALL
        ), rolling AS (
            SELECT node, day,
                   sum(i) OVER w AS i_w, sum(o) OVER w AS o_w
            FROM daily
            WINDOW w AS (PARTITION BY node ORDER BY day
                         RANGE BETWEEN INTERVAL (? - 1) DAY PRECEDING AND CURRENT ROW)
        )
        SELECT node, min(day) - (? - 1)::INTEGER, max(day), max(i_w), max(o_w), count(*)
        FROM rolling
        WHERE i_w >= ? AND o_w >= i_w * (1 - ?) AND day BETWEEN ? AND ?
        GROUP BY node
        """,
        [
            p.window_days,
            p.window_days,
            ctx.minor(p.min_amount),
            p.max_retained_ratio,
            ctx.days.first,
            ctx.days.last,
        ],
    )
    return [
        Hit(
            "pass_through",
            node,
            first,
            last,
            inflow,
            0,
            _score(inflow, ctx.minor(p.min_amount)),
            {"inflow": inflow, "outflow": outflow, "retained": inflow - min(inflow, outflow)},
        )
        for node, first, last, inflow, outflow, _ in rows
    ]


def _fan(ctx: Context, p: FanParams, *, inward: bool) -> list[Hit]:
    account, other = ("payee", "payer") if inward else ("payer", "payee")
    typology = "fan_in" if inward else "fan_out"
    excluded = [k.lower() for k in p.exclude_purposes]
    not_excluded = "".join(" AND NOT contains(lower(coalesce(f.purpose, '')), ?)" for _ in excluded)
    rows = _rows(
        ctx,
        f"""
        WITH legs AS (
            SELECT f.{account} AS node, f.{other} AS other, f.day, f.amount
            FROM flows f JOIN parties p ON p.node = f.{account} AND p.customer IS NOT NULL
            WHERE f.{other} IS NOT NULL AND f.day >= ?{not_excluded}
        ), rolling AS (
            SELECT node, day,
                   count(DISTINCT other) OVER w AS parties_w, sum(amount) OVER w AS total_w
            FROM legs
            WINDOW w AS (PARTITION BY node ORDER BY day
                         RANGE BETWEEN INTERVAL (? - 1) DAY PRECEDING AND CURRENT ROW)
        )
        SELECT node, min(day) - (? - 1)::INTEGER, max(day), max(parties_w), max(total_w)
        FROM rolling
        WHERE parties_w >= ? AND total_w >= ? AND day BETWEEN ? AND ?
        GROUP BY node
        """,
        [
            _window_start(ctx, p.window_days),
            *excluded,
            p.window_days,
            p.window_days,
            p.min_counterparties,
            ctx.minor(p.min_total),
            ctx.days.first,
            ctx.days.last,
        ],
    )
    return [
        Hit(
            typology,
            node,
            first,
            last,
            total,
            0,
            _score(parties, p.min_counterparties),
            {"counterparties": parties, "total": total},
        )
        for node, first, last, parties, total in rows
    ]


def fan_in(ctx: Context, p: FanParams) -> list[Hit]:
    """Money from many payers into one account within ``window_days``."""
    return _fan(ctx, p, inward=True)


def fan_out(ctx: Context, p: FanParams) -> list[Hit]:
    """Money from one account to many payees within ``window_days``."""
    return _fan(ctx, p, inward=False)


def gather_scatter(ctx: Context, p: GatherScatterParams) -> list[Hit]:
    """Many payers in and many payees out within ``window_days`` (either order), little kept."""
    rows = _rows(
        ctx,
        f"""
        WITH rolling AS ({_rolling_parties(_window_start(ctx, p.window_days))})
        SELECT node, min(day) - (? - 1)::INTEGER, max(day), max(payers), max(payees),
               max(i_w), max(o_w)
        FROM rolling
        WHERE payers >= ? AND payees >= ? AND i_w >= ? AND o_w >= i_w * (1 - ?)
          AND day BETWEEN ? AND ?
        GROUP BY node
        """,
        [
            p.window_days,
            p.window_days,
            p.min_in,
            p.min_out,
            ctx.minor(p.min_total),
            p.max_retained_ratio,
            ctx.days.first,
            ctx.days.last,
        ],
    )
    return [
        Hit(
            "gather_scatter",
            node,
            first,
            last,
            inflow,
            0,
            _score(min(payers / p.min_in, payees / p.min_out), 1),
            {"payers": payers, "payees": payees, "inflow": inflow, "outflow": outflow},
        )
        for node, first, last, payers, payees, inflow, outflow in rows
    ]


def concentrated_dispersed(ctx: Context, p: ConcentratedDispersedParams) -> list[Hit]:
    """Money from at most ``max_concentrated`` payers to at least ``min_dispersed`` payees within
    ``window_days`` (or from many payers to a few payees), at least ``min_total`` in, and all but
    ``max_retained_ratio`` of it out."""
    rows = _rows(
        ctx,
        f"""
        WITH rolling AS ({_rolling_parties(_window_start(ctx, p.window_days))}), shaped AS (
            SELECT *, CASE WHEN payers <= ? AND payees >= ? THEN 'dispersed_out'
                           WHEN payers >= ? AND payees <= ? THEN 'concentrated_out' END AS shape
            FROM rolling
            WHERE payers >= 1 AND payees >= 1 AND i_w >= ? AND o_w >= i_w * (1 - ?)
              AND day BETWEEN ? AND ?
        )
        SELECT node, arg_max(shape, i_w), min(day) - (? - 1)::INTEGER, max(day),
               max(payers), max(payees), max(i_w), max(o_w)
        FROM shaped WHERE shape IS NOT NULL
        GROUP BY node
        """,
        [
            p.window_days,
            p.max_concentrated,
            p.min_dispersed,
            p.min_dispersed,
            p.max_concentrated,
            ctx.minor(p.min_total),
            p.max_retained_ratio,
            ctx.days.first,
            ctx.days.last,
            p.window_days,
        ],
    )
    return [
        Hit(
            "concentrated_dispersed",
            node,
            first,
            last,
            inflow,
            0,
            _score(max(payers, payees), p.min_dispersed),
            {
                "shape": shape,
                "payers": payers,
                "payees": payees,
                "inflow": inflow,
                "outflow": outflow,
            },
        )
        for node, shape, first, last, payers, payees, inflow, outflow in rows
    ]


def scatter_gather(ctx: Context, p: ScatterGatherParams) -> list[Hit]:
    """One source pays several intermediaries, each of which pays the same destination within
    ``window_days`` of receiving."""
    minimum = ctx.minor(p.min_amount)
    rows = _rows(
        ctx,
        """
        WITH legs AS (
            SELECT payer, payee, day, sum(amount) AS amount, list(id) AS ids
            FROM flows WHERE payer IS NOT NULL AND payee IS NOT NULL AND amount >= ?
            GROUP BY ALL
        ), paths AS (
            SELECT a.payer AS source, b.payee AS destination, a.payee AS middle,
                   a.day AS out_day, b.day AS in_day, a.amount AS first_leg,
                   b.amount AS second_leg, list_concat(a.ids, b.ids) AS ids
            FROM legs a JOIN legs b ON b.payer = a.payee
             AND b.day BETWEEN a.day AND a.day + ?::INTEGER
            WHERE b.payee <> a.payer
        )
        SELECT source, destination, count(DISTINCT middle), min(out_day), max(in_day),
               sum(second_leg), list(DISTINCT middle), flatten(list(ids))
        FROM paths GROUP BY source, destination
        HAVING count(DISTINCT middle) >= ? AND max(in_day) BETWEEN ? AND ?
        """,
        [minimum, p.window_days, p.min_intermediaries, ctx.days.first, ctx.days.last],
    )
    return [
        Hit(
            "scatter_gather",
            source,
            first,
            last,
            total,
            len(ids),
            _score(middles, p.min_intermediaries),
            {"intermediaries": middles, "destination": destination},
            members=(source, destination, *sorted(middle_nodes)),
            transfer_ids=tuple(sorted(set(ids)))[:MAX_TRANSFERS_PER_HIT],
        )
        for source, destination, middles, first, last, total, middle_nodes, ids in rows
    ]


def cycle(ctx: Context, p: CycleParams) -> list[Hit]:
    """Money returning to its origin through 1..``max_length - 1`` other accounts, each leg at
    least ``min_amount`` and no earlier than the one before, all within ``window_days``, with at
    least ``min_returned_ratio`` of the first leg coming back."""
    con = ctx.con
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE cycle_legs AS
        SELECT payer, payee, day, sum(amount) AS amount, list(id) AS ids
        FROM flows WHERE payer IS NOT NULL AND payee IS NOT NULL AND payer <> payee
          AND amount >= ?
        GROUP BY ALL
        """,
        [ctx.minor(p.min_amount)],
    )
    _prune_to_cycles(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE cycle_paths AS
        SELECT payer AS origin, payee AS head, day AS first_day, day AS last_day,
               amount AS first_amount, amount AS last_amount, [payer, payee] AS nodes, ids
        FROM cycle_legs
        """
    )
    found: list[tuple[Any, ...]] = []
    for _ in range(p.max_length - 1):
        found += _rows(
            ctx,
            """
            SELECT c.origin, c.first_day, l.day, c.first_amount, l.amount, c.nodes,
                   list_concat(c.ids, l.ids)
            FROM cycle_paths c JOIN cycle_legs l ON l.payer = c.head AND l.payee = c.origin
             AND l.day BETWEEN c.last_day AND c.first_day + (? - 1)::INTEGER
            WHERE l.amount >= c.first_amount * ? AND l.day BETWEEN ? AND ?
            """,
            [p.window_days, p.min_returned_ratio, ctx.days.first, ctx.days.last],
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE cycle_paths AS
            SELECT c.origin, l.payee AS head, c.first_day, l.day AS last_day, c.first_amount,
                   l.amount AS last_amount, list_append(c.nodes, l.payee) AS nodes,
                   list_concat(c.ids, l.ids) AS ids
            FROM cycle_paths c JOIN cycle_legs l ON l.payer = c.head
             AND l.day BETWEEN c.last_day AND c.first_day + (? - 1)::INTEGER
            WHERE NOT list_contains(c.nodes, l.payee)
            """,
            [p.window_days],
        )
    return _cycle_hits(found, p)


def _prune_to_cycles(con: duckdb.DuckDBPyConnection) -> None:
    """Drop legs that cannot be on a cycle (their payer receives nothing or their payee pays
    nothing), until none is left to drop: on real traffic this removes almost everything."""
    while True:
        before = con.execute("SELECT count(*) FROM cycle_legs").fetchone()
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE cycle_legs AS
            SELECT * FROM cycle_legs l
            WHERE l.payer IN (SELECT payee FROM cycle_legs)
              AND l.payee IN (SELECT payer FROM cycle_legs)
            """
        )
        after = con.execute("SELECT count(*) FROM cycle_legs").fetchone()
        if before == after:
            return


def _cycle_hits(found: list[tuple[Any, ...]], p: CycleParams) -> list[Hit]:
    """One hit per distinct ring of accounts (a ring is found once from each of its members)."""
    hits: dict[frozenset[int], Hit] = {}
    for origin, first, last, sent, returned, nodes, ids in found:
        ring = frozenset(nodes)
        if ring in hits:
            continue
        hits[ring] = Hit(
            "cycle",
            origin,
            first,
            last,
            sent,
            len(ids),
            _score(returned, sent * p.min_returned_ratio),
            {"length": len(nodes), "sent": sent, "returned": returned, "path": list(nodes)},
            members=tuple(nodes),
            transfer_ids=tuple(ids)[:MAX_TRANSFERS_PER_HIT],
        )
    return list(hits.values())


def structuring(ctx: Context, p: StructuringParams) -> list[Hit]:
    """At least ``min_count`` movements within ``window_days``, each just under the reporting
    threshold that applies to it (cash; a company's or a person's transfers)."""
    rows = _rows(
        ctx,
        f"""
        WITH sides AS (
            SELECT s.node, s.day, greatest(s.inflow, s.outflow) AS amount, f.cash, p.kind
            FROM ({_sides(_window_start(ctx, p.window_days))}) s
            JOIN flows f ON f.id = s.id JOIN parties p ON p.node = s.node
        ), limits AS (
            SELECT *, CASE WHEN cash THEN ? WHEN kind = 'company' THEN ? ELSE ? END AS threshold
            FROM sides
        ), near AS (
            SELECT * FROM limits WHERE amount < threshold AND amount >= threshold * (1 - ?)
        ), rolling AS (
            SELECT node, day, count(*) OVER w AS n, sum(amount) OVER w AS total,
                   max(threshold) OVER w AS threshold
            FROM near
            WINDOW w AS (PARTITION BY node ORDER BY day
                         RANGE BETWEEN INTERVAL (? - 1) DAY PRECEDING AND CURRENT ROW)
        )
        SELECT node, min(day) - (? - 1)::INTEGER, max(day), max(n), max(total), max(threshold)
        FROM rolling WHERE n >= ? AND day BETWEEN ? AND ?
        GROUP BY node
        """,
        [
            ctx.minor(ctx.thresholds.cash),
            ctx.minor(ctx.thresholds.company_transfer),
            ctx.minor(ctx.thresholds.individual_domestic),
            p.band,
            p.window_days,
            p.window_days,
            p.min_count,
            ctx.days.first,
            ctx.days.last,
        ],
    )
    return [
        Hit(
            "structuring",
            node,
            first,
            last,
            total,
            count,
            _score(count, p.min_count),
            {"count": count, "threshold": threshold},
        )
        for node, first, last, count, total, threshold in rows
    ]


def split_payments(ctx: Context, p: SplitPaymentsParams) -> list[Hit]:
    """A payer paying one payee in pieces: at least ``min_transfers`` transfers within
    ``window_days``, each below ``below_usual_ratio`` of the payer's usual payment (the median,
    over its payees, of what it typically pays each)."""
    rows = _rows(
        ctx,
        """
        WITH per_payee AS (
            SELECT payer, payee, median(amount) AS typical FROM flows
            WHERE payer IS NOT NULL AND payee IS NOT NULL GROUP BY payer, payee
        ), usual AS (
            -- each payee counts once: a payee paid in many pieces cannot drag "usual" down
            SELECT payer, median(typical) AS usual FROM per_payee GROUP BY payer
        ), pieces AS (
            SELECT f.payer, f.payee, f.day, f.amount, f.id
            FROM flows f JOIN usual u ON u.payer = f.payer
            WHERE f.payee IS NOT NULL AND f.amount < u.usual * ?
        ), rolling AS (
            SELECT payer, payee, day, count(*) OVER w AS n, sum(amount) OVER w AS total
            FROM pieces
            WINDOW w AS (PARTITION BY payer, payee ORDER BY day
                         RANGE BETWEEN INTERVAL (? - 1) DAY PRECEDING AND CURRENT ROW)
        )
        SELECT payer, payee, min(day), max(day), max(n), max(total)
        FROM rolling WHERE n >= ? AND total >= ? AND day BETWEEN ? AND ?
        GROUP BY payer, payee
        """,
        [
            p.below_usual_ratio,
            p.window_days,
            p.min_transfers,
            ctx.minor(p.min_total),
            ctx.days.first,
            ctx.days.last,
        ],
    )
    return [
        Hit(
            "split_payments",
            payer,
            first,
            last,
            total,
            count,
            _score(count, p.min_transfers),
            {"payee": payee, "pieces": count, "total": total},
            members=(payer, payee),
        )
        for payer, payee, first, last, count, total in rows
    ]


def turnover_vs_profile(ctx: Context, p: TurnoverParams) -> list[Hit]:
    """Turnover (money in) within ``window_days`` far above the declared scale: ``capital_multiple``
    times the registered capital, or ``declared_turnover_multiple`` times the declared monthly
    turnover for the window's length."""
    rows = _rows(
        ctx,
        f"""
        WITH daily AS (
            SELECT node, day, sum(inflow) AS i
            FROM ({_sides(_window_start(ctx, p.window_days))}) GROUP BY ALL
        ), rolling AS (
            SELECT node, day, sum(i) OVER w AS i_w FROM daily
            WINDOW w AS (PARTITION BY node ORDER BY day
                         RANGE BETWEEN INTERVAL (? - 1) DAY PRECEDING AND CURRENT ROW)
        ), limits AS (
            SELECT r.*, p.registered_capital, p.declared_monthly_turnover,
                   least(coalesce(p.registered_capital * ?, 1e30),
                         coalesce(p.declared_monthly_turnover * ? * ? / 30.0, 1e30)) AS ceiling
            FROM rolling r JOIN parties p ON p.node = r.node
            WHERE p.registered_capital IS NOT NULL OR p.declared_monthly_turnover IS NOT NULL
        )
        SELECT node, min(day) - (? - 1)::INTEGER, max(day), max(i_w), min(ceiling),
               any_value(registered_capital), any_value(declared_monthly_turnover)
        FROM limits WHERE i_w > ceiling AND i_w >= ? AND day BETWEEN ? AND ?
        GROUP BY node
        """,
        [
            p.window_days,
            p.capital_multiple,
            p.declared_turnover_multiple,
            p.window_days,
            p.window_days,
            ctx.minor(p.min_turnover),
            ctx.days.first,
            ctx.days.last,
        ],
    )
    return [
        Hit(
            "turnover_vs_profile",
            node,
            first,
            last,
            turnover,
            0,
            _score(turnover, float(ceiling)),
            {
                "turnover": turnover,
                "registered_capital": capital,
                "declared_monthly_turnover": declared,
                "multiple_of_capital": round(turnover / capital, 1) if capital else None,
            },
        )
        for node, first, last, turnover, ceiling, capital, declared in rows
    ]


def purpose_vs_scope(ctx: Context, p: PurposeParams) -> list[Hit]:
    """Money a company receives for a purpose that belongs to a business its registered scope
    does not include (e.g. "advertising fees" received by a printing shop; paying for
    advertising is every business's right)."""
    hits: list[Hit] = []
    for name, rule in p.rules.items():
        purpose_match = " OR ".join("contains(lower(f.purpose), ?)" for _ in rule.purpose_keywords)
        scope_match = " OR ".join(
            "contains(lower(coalesce(p.business_scope, '')), ?)" for _ in rule.scope_keywords
        )
        rows = _rows(
            ctx,
            f"""
            SELECT f.payee, min(f.day), max(f.day), sum(f.amount), count(*),
                   list(f.id ORDER BY f.ts), any_value(f.purpose), any_value(p.business_scope)
            FROM flows f JOIN parties p ON p.node = f.payee
            WHERE p.kind = 'company' AND f.purpose IS NOT NULL AND ({purpose_match})
              AND NOT ({scope_match}) AND f.day BETWEEN ? - (? - 1)::INTEGER AND ?
            GROUP BY f.payee
            HAVING sum(f.amount) >= ? AND max(f.day) >= ?
            """,
            [
                *(k.lower() for k in rule.purpose_keywords),
                *(k.lower() for k in rule.scope_keywords),
                ctx.days.last,
                p.window_days,
                ctx.days.last,
                ctx.minor(p.min_amount),
                ctx.days.first,
            ],
        )
        hits += [
            Hit(
                "purpose_vs_scope",
                node,
                first,
                last,
                total,
                count,
                _score(total, ctx.minor(p.min_amount)),
                {"rule": name, "purpose": purpose, "business_scope": scope},
                transfer_ids=tuple(ids)[:MAX_TRANSFERS_PER_HIT],
            )
            for node, first, last, total, count, ids, purpose, scope in rows
        ]
    return hits


def payroll_without_history(ctx: Context, p: PayrollParams) -> list[Hit]:
    """A company paying individuals at least ``min_amount`` each as "salary" (or pension, bonus…)
    within ``window_days``, having paid no such thing in the ``history_days`` before."""
    keyword_match = " OR ".join("contains(lower(f.purpose), ?)" for _ in p.purpose_keywords)
    keywords = [k.lower() for k in p.purpose_keywords]
    rows = _rows(
        ctx,
        f"""
        WITH payroll AS (
            SELECT f.* FROM flows f
            JOIN parties c ON c.node = f.payer AND c.kind = 'company'
            JOIN parties i ON i.node = f.payee AND i.kind IN ('individual', 'external')
            WHERE f.purpose IS NOT NULL AND ({keyword_match})
        ), large AS (
            SELECT * FROM payroll
            WHERE amount >= ? AND day BETWEEN ? - (? - 1)::INTEGER AND ?
        ), firsts AS (
            SELECT payer, min(day) AS first_day FROM large GROUP BY payer
        )
        SELECT l.payer, min(l.day), max(l.day), sum(l.amount), count(*),
               count(DISTINCT l.payee), list(DISTINCT l.payee), list(l.id ORDER BY l.ts)
        FROM large l JOIN firsts s ON s.payer = l.payer
        WHERE NOT EXISTS (
            SELECT 1 FROM payroll h WHERE h.payer = l.payer
              AND h.day < s.first_day AND h.day >= s.first_day - ?::INTEGER
        )
        GROUP BY l.payer HAVING max(l.day) >= ?
        """,
        [
            *keywords,
            ctx.minor(p.min_amount),
            ctx.days.last,
            p.window_days,
            ctx.days.last,
            p.history_days,
            ctx.days.first,
        ],
    )
    return [
        Hit(
            "payroll_without_history",
            payer,
            first,
            last,
            total,
            count,
            _score(total / count, ctx.minor(p.min_amount)),
            {"payees": payees, "average": total // count},
            members=(payer, *sorted(payee_nodes)),
            transfer_ids=tuple(ids)[:MAX_TRANSFERS_PER_HIT],
        )
        for payer, first, last, total, count, payees, payee_nodes, ids in rows
    ]


def dormant_reactivated(ctx: Context, p: DormantParams) -> list[Hit]:
    """An account with no movement for ``dormant_days`` (or since it was opened) that moves at
    least ``min_amount`` within ``window_days`` of waking."""
    rows = _rows(
        ctx,
        f"""
        WITH daily AS (
            SELECT node, day, sum(inflow + outflow) AS moved FROM ({_sides()}) GROUP BY ALL
        ), gaps AS (
            SELECT d.node, d.day, d.moved,
                   coalesce(lag(d.day) OVER (PARTITION BY d.node ORDER BY d.day), p.opened_on)
                       AS previous
            FROM daily d JOIN parties p ON p.node = d.node
        ), wakes AS (
            SELECT node, day AS woke, previous FROM gaps
            WHERE previous IS NOT NULL AND day - previous >= ?
        )
        SELECT w.node, w.woke, max(d.day), sum(d.moved), w.previous
        FROM wakes w JOIN daily d ON d.node = w.node
         AND d.day BETWEEN w.woke AND w.woke + (? - 1)::INTEGER
        GROUP BY w.node, w.woke, w.previous
        HAVING sum(d.moved) >= ? AND max(d.day) BETWEEN ? AND ?
        """,
        [
            p.dormant_days,
            p.window_days,
            ctx.minor(p.min_amount),
            ctx.days.first,
            ctx.days.last,
        ],
    )
    return [
        Hit(
            "dormant_reactivated",
            node,
            woke,
            last,
            moved,
            0,
            _score(moved, ctx.minor(p.min_amount)),
            {"dormant_days": (woke - previous).days, "last_activity": previous.isoformat()},
        )
        for node, woke, last, moved, previous in rows
    ]


def shared_identifier(ctx: Context, p: SharedIdentifierParams) -> list[Hit]:
    """One device or one phone number behind at least ``min_customers`` customers: a hit per
    customer's account that moved money in the reported days."""
    min_customers = p.min_customers
    rows = _rows(
        ctx,
        """
        WITH shared AS (
            SELECT kind, value, list(DISTINCT customer ORDER BY customer) AS customers
            FROM identifiers GROUP BY kind, value HAVING count(DISTINCT customer) >= ?
        ), members AS (
            SELECT kind, customers, unnest(customers) AS customer FROM shared
        ), sides AS (  -- each side on its own: "node IN (payer, payee)" would be a loop join
            SELECT payer AS node, day, amount FROM flows
            WHERE payer IS NOT NULL AND day BETWEEN ? AND ?
            UNION ALL
            SELECT payee, day, amount FROM flows
            WHERE payee IS NOT NULL AND payee IS DISTINCT FROM payer AND day BETWEEN ? AND ?
        ), active AS (
            SELECT p.node, p.customer, min(s.day) AS first_day, max(s.day) AS last_day,
                   sum(s.amount) AS moved, count(*) AS n
            FROM sides s JOIN parties p ON p.node = s.node
            WHERE p.customer IN (SELECT customer FROM members)
            GROUP BY p.node, p.customer
        )
        SELECT a.node, a.first_day, a.last_day, a.moved, a.n, m.kind, m.customers
        FROM members m JOIN active a ON a.customer = m.customer
        ORDER BY a.node, m.kind
        """,
        [min_customers, ctx.days.first, ctx.days.last, ctx.days.first, ctx.days.last],
    )
    hits: dict[int, Hit] = {}
    for node, first, last, moved, count, kind, customers in rows:
        if node not in hits:
            hits[node] = Hit(
                "shared_identifier",
                node,
                first,
                last,
                moved,
                count,
                _score(len(customers), min_customers),
                {"identifier": kind, "customers": len(customers)},
            )
    return list(hits.values())


Detector = Callable[[Context], list[Hit]]

TYPOLOGIES: dict[str, Callable[[Context, Any], list[Hit]]] = {
    "pass_through": pass_through,
    "fan_in": fan_in,
    "fan_out": fan_out,
    "gather_scatter": gather_scatter,
    "concentrated_dispersed": concentrated_dispersed,
    "scatter_gather": scatter_gather,
    "cycle": cycle,
    "structuring": structuring,
    "split_payments": split_payments,
    "turnover_vs_profile": turnover_vs_profile,
    "purpose_vs_scope": purpose_vs_scope,
    "payroll_without_history": payroll_without_history,
    "dormant_reactivated": dormant_reactivated,
    "shared_identifier": shared_identifier,
}


def detectors(params: TypologyParams) -> dict[str, Detector]:
    """The typologies the parameters switch on, by name, in a stable order."""
    return {
        name: _bound(detect, section)
        for name, detect in TYPOLOGIES.items()
        if (section := getattr(params, name)) is not None
    }


def _bound(detect: Callable[[Context, Any], list[Hit]], section: object) -> Detector:
    return lambda ctx: detect(ctx, section)


def lookback_days(params: TypologyParams) -> int:
    """How many days before the reported ones a scan must load for every typology to see its
    whole window (and a dormant account its quiet months)."""
    windows = [0]
    for name in TypologyParams.model_fields:
        section = getattr(params, name)
        if section is None:
            continue
        windows.append(getattr(section, "window_days", 0))
        windows.append(getattr(section, "history_days", 0) + getattr(section, "window_days", 0))
        windows.append(getattr(section, "dormant_days", 0) + getattr(section, "window_days", 0))
    return max(windows)


def with_flows(ctx: Context, hits: list[Hit]) -> list[Hit]:
    """Fill in the members and transfers of hits that name only their subject: every flow of the
    subject within the hit's days."""
    bare = [h for h in hits if not h.members]
    if not bare:
        return hits
    ctx.con.execute(
        "CREATE OR REPLACE TEMP TABLE bare_hits (n INTEGER, subject BIGINT, first DATE, last DATE)"
    )
    ctx.con.executemany(
        "INSERT INTO bare_hits VALUES (?, ?, ?, ?)",
        [(n, h.subject, h.first_day, h.last_day) for n, h in enumerate(bare)],
    )
    rows = _rows(
        ctx,
        """
        WITH touching AS (  -- two equality joins: "subject IN (payer, payee)" would be a loop join
            SELECT h.n, f.payee AS other, f.id, f.ts, f.day FROM bare_hits h JOIN flows f
              ON f.payer = h.subject AND f.day BETWEEN h.first AND h.last
            UNION ALL
            SELECT h.n, f.payer, f.id, f.ts, f.day FROM bare_hits h JOIN flows f
              ON f.payee = h.subject AND f.day BETWEEN h.first AND h.last
             AND f.payer IS DISTINCT FROM f.payee
        )
        SELECT n, list(DISTINCT other), list(id ORDER BY ts), count(*), min(day)
        FROM touching GROUP BY n
        """,
    )
    filled = {n: (others, ids, count, first) for n, others, ids, count, first in rows}
    result = [h for h in hits if h.members]
    for n, hit in enumerate(bare):
        others, ids, count, first = filled.get(n, ([], [], 0, hit.first_day))
        members = (hit.subject, *sorted(o for o in others if o is not None and o != hit.subject))
        result.append(
            Hit(
                hit.typology,
                hit.subject,
                max(hit.first_day, first),  # a window's start, narrowed to its first movement
                hit.last_day,
                hit.amount,
                hit.count or count,
                hit.score,
                hit.facts,
                members=members,
                transfer_ids=tuple(ids)[:MAX_TRANSFERS_PER_HIT],
            )
        )
    return result


def facts_json(hit: Hit) -> str:
    return json.dumps(hit.facts, ensure_ascii=False, sort_keys=True, default=str)
