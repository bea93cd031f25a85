"""A small hand-made book of movements in the scan's tables, for the typology and large-value
tests."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from ebank.aml.dataset import scan_database
from ebank.aml.large_value import LargeValueHit, large_value_hits
from ebank.aml.typologies import TYPOLOGIES, Context, Days, Hit, with_flows
from ebank.config import PROJECT_ROOT
from ebank.policy import load_policy_file

POLICY = load_policy_file(PROJECT_ROOT / "policies" / "cn.yaml").aml


class Book:
    """Accounts (nodes) and movements in the scan's tables."""

    def __init__(self) -> None:
        self.con = scan_database()
        self.moves = 0

    def party(
        self,
        node: int,
        kind: str = "individual",
        *,
        customer: int | None = None,
        capital: int | None = None,
        turnover: int | None = None,
        scope: str | None = None,
        opened: date = date(2025, 1, 1),
    ) -> int:
        self.con.execute(
            "INSERT INTO parties VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                node,
                customer if customer is not None else node,
                kind,
                capital * 100 if capital is not None else None,
                turnover * 100 if turnover is not None else None,
                scope,
                opened,
            ],
        )
        return node

    def pay(
        self,
        payer: int | None,
        payee: int | None,
        yuan: float,
        day: date,
        *,
        purpose: str = "",
        cash: bool = False,
        cross_border: bool = False,
        hour: int = 10,
    ) -> str:
        self.moves += 1
        transfer_id = f"t{self.moves}"
        self.con.execute(
            "INSERT INTO flows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                transfer_id,
                datetime.combine(day, time(hour, self.moves % 60)),
                day,
                payer,
                payee,
                round(yuan * 100),
                purpose,
                "cash" if cash else "transfer",
                cash,
                cross_border,
            ],
        )
        return transfer_id

    def share(self, kind: str, value: str, *customers: int) -> None:
        for customer in customers:
            self.con.execute("INSERT INTO identifiers VALUES (?, ?, ?)", [customer, kind, value])

    def run(
        self, typology: str, first: date, last: date | None = None, **changes: Any
    ) -> list[Hit]:
        section = getattr(POLICY.typologies, typology)
        params = section.model_copy(update=changes) if changes else section
        ctx = Context(self.con, Days(first, last or first), 100, POLICY.large_value)
        return with_flows(ctx, TYPOLOGIES[typology](ctx, params))

    def large_value(self, first: date, last: date | None = None) -> list[LargeValueHit]:
        ctx = Context(self.con, Days(first, last or first), 100, POLICY.large_value)
        return large_value_hits(ctx, POLICY.large_value, "CNY")
