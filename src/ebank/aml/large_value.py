"""Large-value transactions (PBoC Order [2016] No. 3, art. 5): which of a day's movements a bank
must report, per customer, single or same-day cumulative, by kind and direction.

A customer's movements of one local day are split by criterion — cash (either kind of customer),
a company's transfers, a person's domestic transfers, a person's cross-border transfers — and by
direction (money in, money out). Each group whose total reaches its threshold is reported, with
every movement in it: a single movement at the threshold reaches it on its own. Accounts kept in
a foreign currency are measured against that currency's thresholds, in a pass of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ebank.aml.calendar import BusinessCalendar
from ebank.aml.typologies import Context
from ebank.policy import LargeValueThresholds

CRITERIA = ("cash", "company_transfer", "individual_domestic", "individual_cross_border")


@dataclass(frozen=True)
class LargeValueHit:
    customer: int
    day: date
    criterion: str
    direction: str  # in | out
    total: int  # minor units
    count: int
    largest: int
    accounts: tuple[int, ...]
    transfer_ids: tuple[str, ...]
    currency: str


def thresholds_minor(thresholds: LargeValueThresholds, scale: int) -> dict[str, int]:
    return {criterion: int(getattr(thresholds, criterion) * scale) for criterion in CRITERIA}


def large_value_hits(
    ctx: Context, thresholds: LargeValueThresholds, currency: str
) -> list[LargeValueHit]:
    """Every customer-day-criterion-direction group of the reported days at or above its
    threshold (the scan's tables holding the movements in ``currency``)."""
    limits = thresholds_minor(thresholds, ctx.scale)
    rows = ctx.con.execute(
        """
        WITH sides AS (
            SELECT p.customer, p.node, f.day, f.id, f.ts, f.amount, 'in' AS direction,
                   f.cash, f.cross_border, p.kind
            FROM flows f JOIN parties p ON p.node = f.payee AND p.customer IS NOT NULL
            UNION ALL
            SELECT p.customer, p.node, f.day, f.id, f.ts, f.amount, 'out', f.cash,
                   f.cross_border, p.kind
            FROM flows f JOIN parties p ON p.node = f.payer AND p.customer IS NOT NULL
        ), classified AS (
            SELECT *, CASE
                WHEN cash THEN 'cash'
                WHEN kind = 'company' THEN 'company_transfer'
                WHEN cross_border THEN 'individual_cross_border'
                ELSE 'individual_domestic' END AS criterion
            FROM sides WHERE day BETWEEN ? AND ?
        ), limits AS (
            SELECT * FROM (VALUES ('cash', ?), ('company_transfer', ?),
                                  ('individual_domestic', ?), ('individual_cross_border', ?))
                AS t(criterion, threshold)
        )
        SELECT c.customer, c.day, c.criterion, c.direction, sum(c.amount), count(*),
               max(c.amount), list(DISTINCT c.node ORDER BY c.node), list(c.id ORDER BY c.ts)
        FROM classified c JOIN limits l USING (criterion)
        GROUP BY c.customer, c.day, c.criterion, c.direction
        HAVING sum(c.amount) >= any_value(l.threshold)
        ORDER BY c.day, c.customer, c.criterion, c.direction
        """,
        [ctx.days.first, ctx.days.last, *(limits[c] for c in CRITERIA)],
    ).fetchall()
    return [
        LargeValueHit(
            customer,
            day,
            criterion,
            direction,
            total,
            count,
            largest,
            tuple(nodes),
            tuple(ids),
            currency,
        )
        for customer, day, criterion, direction, total, count, largest, nodes, ids in rows
    ]


def report_deadline(calendar: BusinessCalendar, transaction_day: date, working_days: int) -> date:
    """The last day to file: ``working_days`` working days after the transaction's day."""
    return calendar.add_working_days(transaction_day, working_days)
