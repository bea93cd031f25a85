"""Stateful property test: random sequences of transfers, holds, posts, voids, reversals and
retries, posted through the real engine and database, agree with a simple model of the ledger and
keep every invariant (checked by ``ebank ledger verify``'s own code after every step)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from tests.conftest import START, _empty_postgres, make_settings
from tests.factories import individual

from ebank.common.actor import SYSTEM
from ebank.common.clock import ManualClock
from ebank.ledger.accounts import Product
from ebank.ledger.models import Account
from ebank.ledger.posting import Code, TransferKind, TransferRequest
from ebank.ledger.service import ensure_internal_accounts, internal_account_id, open_account
from ebank.ledger.verify import verify_ledger
from ebank.runtime import Runtime, build_runtime

CNY = "CNY"
CUSTOMERS = 3
OPENING = 10_000


@dataclass
class Model:
    """What the ledger must hold, computed the simplest way."""

    balance: dict[int, int] = field(default_factory=dict)  # posted, normal side (credit)
    held: dict[int, int] = field(default_factory=dict)  # pending debits
    customer: set[int] = field(default_factory=set)
    holds: dict[str, tuple[int, int, int, str]] = field(
        default_factory=dict
    )  # id → from, to, amount, state
    posted: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # id → from, to, amount
    reversed: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, tuple[str, Code]] = field(default_factory=dict)  # id → body hash, outcome

    def available(self, account: int) -> int:
        return self.balance[account] - self.held[account]

    def can_debit(self, account: int, amount: int) -> bool:
        return account not in self.customer or self.available(account) >= amount


class LedgerMachine(RuleBasedStateMachine):
    make_runtime: Callable[[], Runtime]

    holds = Bundle("holds")
    posted = Bundle("posted")
    used_ids = Bundle("used_ids")

    def __init__(self) -> None:
        super().__init__()
        self.rt = self.make_runtime()
        self.model = Model()
        self.accounts: list[int] = []

    def teardown(self) -> None:
        self.rt.close()

    @initialize()
    def open_and_fund(self) -> None:
        ensure_internal_accounts(self.rt)
        bank = internal_account_id(self.rt, Product.EQUITY)
        self.model.balance[bank] = 0
        self.model.held[bank] = 0
        self.accounts.append(bank)
        for index in range(CUSTOMERS):
            account = open_account(
                self.rt, SYSTEM, customer_id=individual(self.rt, index), product=Product.PERSONAL_I
            ).id
            self.accounts.append(account)
            self.model.customer.add(account)
            self.model.balance[account] = 0
            self.model.held[account] = 0
            self.submit(TransferRequest(f"fund-{index}", bank, account, OPENING, CNY))
            self.model.balance[bank] -= OPENING
            self.model.balance[account] += OPENING

    def submit(self, request: TransferRequest) -> Code:
        [result] = self.rt.posting.submit([request])
        return result.code

    def remember(self, request: TransferRequest, code: Code) -> None:
        self.model.outcomes.setdefault(request.id, (request.body_hash(), code))

    @rule(target=posted, data=st.data(), amount=st.integers(1, 12_000))
    def transfer(self, data: st.DataObject, amount: int) -> str:
        debit, credit = data.draw(st.permutations(self.accounts))[:2]
        request = TransferRequest(uuid.uuid4().hex, debit, credit, amount, CNY)
        expected = Code.OK if self.model.can_debit(debit, amount) else Code.INSUFFICIENT_FUNDS
        code = self.submit(request)
        assert code == expected
        self.remember(request, code)
        if code is Code.OK:
            self.model.balance[debit] -= amount
            self.model.balance[credit] += amount
            self.model.posted[request.id] = (debit, credit, amount)
        return request.id if code is Code.OK else multiple()  # type: ignore[return-value]

    @rule(target=holds, data=st.data(), amount=st.integers(1, 8_000))
    def place_hold(self, data: st.DataObject, amount: int) -> str:
        debit, credit = data.draw(st.permutations(self.accounts))[:2]
        request = TransferRequest(
            uuid.uuid4().hex, debit, credit, amount, CNY, kind=TransferKind.PENDING, timeout_s=3600
        )
        expected = Code.OK if self.model.can_debit(debit, amount) else Code.INSUFFICIENT_FUNDS
        code = self.submit(request)
        assert code == expected
        self.remember(request, code)
        if code is not Code.OK:
            return multiple()  # type: ignore[return-value]
        self.model.held[debit] += amount
        self.model.holds[request.id] = (debit, credit, amount, "pending")
        return request.id

    @rule(hold=holds, data=st.data())
    def post_hold(self, hold: str, data: st.DataObject) -> None:
        debit, credit, amount, state = self.model.holds[hold]
        part = data.draw(st.one_of(st.none(), st.integers(1, amount + 2)))
        request = TransferRequest(
            uuid.uuid4().hex, kind=TransferKind.POST, pending_id=hold, amount=part
        )
        code = self.submit(request)
        if state == "posted":
            assert code is Code.PENDING_TRANSFER_ALREADY_POSTED
        elif state == "voided":
            assert code is Code.PENDING_TRANSFER_ALREADY_VOIDED
        elif part is not None and part > amount:
            assert code is Code.EXCEEDS_PENDING_AMOUNT
        else:
            assert code is Code.OK
            moved = amount if part is None else part
            self.model.held[debit] -= amount
            self.model.balance[debit] -= moved
            self.model.balance[credit] += moved
            self.model.holds[hold] = (debit, credit, amount, "posted")
            self.model.posted[request.id] = (debit, credit, moved)

    @rule(hold=holds)
    def void_hold(self, hold: str) -> None:
        debit, credit, amount, state = self.model.holds[hold]
        code = self.submit(
            TransferRequest(uuid.uuid4().hex, kind=TransferKind.VOID, pending_id=hold)
        )
        if state == "pending":
            assert code is Code.OK
            self.model.held[debit] -= amount
            self.model.holds[hold] = (debit, credit, amount, "voided")
        else:
            assert code in (
                Code.PENDING_TRANSFER_ALREADY_POSTED,
                Code.PENDING_TRANSFER_ALREADY_VOIDED,
            )

    @rule(original=posted, data=st.data())
    def reverse(self, original: str, data: st.DataObject) -> None:
        debit, credit, amount = self.model.posted[original]
        remaining = amount - self.model.reversed.get(original, 0)
        part = data.draw(st.one_of(st.none(), st.integers(1, amount)))
        moved = remaining if part is None else part
        request = TransferRequest(
            uuid.uuid4().hex, credit, debit, part, CNY, reverses_id=original, code="reversal"
        )
        code = self.submit(request)
        if moved <= 0 or moved > remaining:
            assert code is Code.REVERSAL_EXCEEDS_ORIGINAL
        elif not self.model.can_debit(credit, moved):
            assert code is Code.INSUFFICIENT_FUNDS
        else:
            assert code is Code.OK
            self.model.balance[credit] -= moved
            self.model.balance[debit] += moved
            self.model.reversed[original] = self.model.reversed.get(original, 0) + moved

    @rule(original=posted)
    def retry_same_body_changes_nothing(self, original: str) -> None:
        debit, credit, amount = self.model.posted[original]
        stored = self.rt.posting.submit([TransferRequest(original, debit, credit, amount, CNY)])[0]
        # Posts of holds were sent with another shape; only plain transfers are replayed exactly.
        body_hash, _ = self.model.outcomes.get(original, ("", Code.OK))
        if body_hash == TransferRequest(original, debit, credit, amount, CNY).body_hash():
            assert stored.ok
            assert stored.repeated
        else:
            assert stored.code is Code.ID_ALREADY_USED

    @rule(original=posted, bump=st.integers(1, 100))
    def retry_other_body_is_refused(self, original: str, bump: int) -> None:
        debit, credit, amount = self.model.posted[original]
        code = self.submit(TransferRequest(original, debit, credit, amount + bump, CNY))
        assert code is Code.ID_ALREADY_USED

    @invariant()
    def database_agrees_with_the_model_and_verifies(self) -> None:
        if not self.accounts:
            return
        with self.rt.db.read() as session:
            rows = session.execute(select(Account).where(Account.id.in_(self.accounts))).scalars()
            for account in rows:
                balance = account.credits_posted - account.debits_posted
                assert balance == self.model.balance[account.id]
                assert account.debits_pending == self.model.held[account.id]
                if account.id in self.model.customer:
                    assert balance - account.debits_pending >= 0
            report = verify_ledger(session.connection())
        assert report.ok, report.problems


def _runtime_factory(
    database_url: str, tmp_path: Path, sqlite_template: Path
) -> Callable[[], Runtime]:
    counter = iter(range(10**6))

    def make() -> Runtime:
        if database_url.startswith("sqlite"):
            path = tmp_path / f"model-{next(counter)}.db"
            shutil.copy(sqlite_template, path)
            url = f"sqlite:///{path}"
        else:
            _empty_postgres(database_url)
            url = database_url
        return build_runtime(make_settings(url, tmp_path), clock=ManualClock(START))

    return make


@pytest.mark.parametrize("examples", [40])
def test_random_ledger_histories_keep_every_invariant(
    database_url: str, tmp_path: Path, sqlite_template: Path, examples: int
) -> None:
    LedgerMachine.make_runtime = staticmethod(
        _runtime_factory(database_url, tmp_path, sqlite_template)
    )  # type: ignore[method-assign]
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=examples if database_url.startswith("sqlite") else examples // 2,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


del consumes  # imported for readers extending the machine (a rule that takes a hold for good)
