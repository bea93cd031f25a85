"""The ledger's rules as a pure function (ebank.ledger.posting), one behaviour per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ebank.ledger.posting import (
    AccountState,
    Code,
    LedgerState,
    StoredTransfer,
    TransferKind,
    TransferRequest,
    TransferResult,
    apply_batch,
)
from ebank.policy import ClassLimitsMinor

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
CNY = "CNY"
BANK, ALICE, BOB, VAULT, USD_ACCOUNT = 1, 2, 3, 4, 5


def account(
    account_id: int,
    *,
    customer: bool = True,
    credits: int = 0,
    debits: int = 0,
    status: str = "active",
    currency: str = CNY,
    limits: ClassLimitsMinor | None = None,
    vault: bool = False,
) -> AccountState:
    return AccountState(
        id=account_id,
        currency=currency,
        customer=customer,
        status=status,
        normal_side="debit" if vault else "credit",
        debits_must_not_exceed_credits=customer,
        credits_must_not_exceed_debits=vault,
        limits=limits or ClassLimitsMinor(),
        debits_posted=debits,
        credits_posted=credits,
    )


def ledger(*accounts: AccountState) -> LedgerState:
    return LedgerState(accounts={a.id: a for a in accounts})


def standard() -> LedgerState:
    return ledger(
        account(BANK, customer=False),
        account(ALICE, credits=10_000),
        account(BOB),
        account(VAULT, customer=False, vault=True, debits=5_000),
        account(USD_ACCOUNT, currency="USD"),
    )


def move(
    transfer_id: str, debit: int, credit: int, amount: int | None, **fields: object
) -> TransferRequest:
    return TransferRequest(
        id=transfer_id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        currency=str(fields.pop("currency", CNY)),
        **fields,  # type: ignore[arg-type]
    )


def run(
    state: LedgerState, *requests: TransferRequest, now: datetime = NOW
) -> list[TransferResult]:
    return apply_batch([list(requests)], state, now=now, zone=ZONE).results


def codes(results: list[TransferResult]) -> list[Code]:
    return [r.code for r in results]


def test_a_transfer_moves_money_and_records_balances_after() -> None:
    state = standard()
    [result] = run(state, move("t1", ALICE, BOB, 2_500))
    assert result.ok
    assert result.row is not None
    assert state.accounts[ALICE].posted_balance == 7_500
    assert state.accounts[BOB].posted_balance == 2_500
    assert (result.row["debit_balance_after"], result.row["credit_balance_after"]) == (7_500, 2_500)


def test_customer_account_cannot_go_below_zero() -> None:
    state = standard()
    assert codes(run(state, move("t1", ALICE, BOB, 10_001))) == [Code.INSUFFICIENT_FUNDS]
    assert state.accounts[ALICE].posted_balance == 10_000
    assert codes(run(state, move("t2", ALICE, BOB, 10_000))) == [Code.OK]
    assert state.accounts[ALICE].posted_balance == 0


def test_vault_cannot_pay_out_more_cash_than_it_holds() -> None:
    state = standard()
    assert codes(run(state, move("w1", BANK, VAULT, 5_001))) == [Code.EXCEEDS_DEBITS]
    assert codes(run(state, move("w2", BANK, VAULT, 5_000))) == [Code.OK]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (move("x", ALICE, ALICE, 1), Code.ACCOUNTS_MUST_BE_DIFFERENT),
        (move("x", ALICE, 99, 1), Code.ACCOUNT_NOT_FOUND),
        (move("x", 99, BOB, 1), Code.ACCOUNT_NOT_FOUND),
        (move("x", ALICE, BOB, 0), Code.AMOUNT_NOT_POSITIVE),
        (move("x", ALICE, BOB, -5), Code.AMOUNT_NOT_POSITIVE),
        (move("x", ALICE, BOB, 10**16), Code.AMOUNT_TOO_LARGE),
        (move("x", ALICE, BOB, 1, currency="USD"), Code.CURRENCY_MISMATCH),
        (move("x", ALICE, USD_ACCOUNT, 1), Code.CURRENCY_MISMATCH),
        (move("x", ALICE, BOB, 1, timeout_s=60), Code.TIMEOUT_RESERVED_FOR_PENDING),
        (move("x", ALICE, BOB, 1, pending_id="p"), Code.PENDING_ID_NOT_ALLOWED),
        (
            TransferRequest(id="x", credit_account_id=BOB, amount=1, currency=CNY),
            Code.ACCOUNT_REQUIRED,
        ),
    ],
)
def test_malformed_transfers_are_refused_without_effect(
    request_: TransferRequest, code: Code
) -> None:
    state = standard()
    before = {k: v.copy() for k, v in state.accounts.items()}
    assert codes(run(state, request_)) == [code]
    assert state.accounts == before


def test_frozen_account_refuses_debits_but_takes_credits() -> None:
    state = standard()
    state.accounts[ALICE].status = "frozen"
    assert codes(run(state, move("t1", ALICE, BOB, 1))) == [Code.ACCOUNT_FROZEN]
    assert codes(run(state, move("t2", BANK, ALICE, 1))) == [Code.OK]


def test_closed_account_refuses_debits_and_credits() -> None:
    state = standard()
    state.accounts[BOB].status = "closed"
    assert codes(run(state, move("t1", BOB, ALICE, 1))) == [Code.ACCOUNT_CLOSED]
    assert codes(run(state, move("t2", ALICE, BOB, 1))) == [Code.ACCOUNT_CLOSED]


def test_same_id_and_body_returns_the_first_result_and_changes_nothing() -> None:
    state = standard()
    first = run(state, move("t1", ALICE, BOB, 100))[0]
    again = run(state, move("t1", ALICE, BOB, 100))[0]
    assert again.ok
    assert again.repeated
    assert again.row == first.row
    assert state.accounts[BOB].posted_balance == 100


def test_same_id_with_another_body_is_an_error() -> None:
    state = standard()
    run(state, move("t1", ALICE, BOB, 100))
    assert codes(run(state, move("t1", ALICE, BOB, 101))) == [Code.ID_ALREADY_USED]
    assert state.accounts[BOB].posted_balance == 100


def test_an_id_that_failed_stays_failed_even_when_it_would_now_succeed() -> None:
    state = standard()
    first = run(state, move("t1", BOB, ALICE, 50))
    assert codes(first) == [Code.INSUFFICIENT_FUNDS]
    run(state, move("fund", BANK, BOB, 1_000))
    retry = run(state, move("t1", BOB, ALICE, 50))[0]
    assert retry.code is Code.INSUFFICIENT_FUNDS
    assert retry.repeated
    assert state.accounts[BOB].posted_balance == 1_000


def test_duplicate_id_inside_one_batch_is_a_retry() -> None:
    state = standard()
    results = run(state, move("t1", ALICE, BOB, 100), move("t1", ALICE, BOB, 100))
    assert codes(results) == [Code.OK, Code.OK]
    assert results[1].repeated
    assert state.accounts[BOB].posted_balance == 100


def test_linked_chain_succeeds_together() -> None:
    state = standard()
    results = run(
        state,
        move("fee", ALICE, BANK, 5, linked=True, code="fee"),
        move("pay", ALICE, BOB, 1_000),
    )
    assert codes(results) == [Code.OK, Code.OK]
    assert state.accounts[ALICE].posted_balance == 10_000 - 1_005


def test_linked_chain_fails_together_and_leaves_no_trace() -> None:
    state = standard()
    before = {k: v.copy() for k, v in state.accounts.items()}
    results = run(
        state,
        move("fee", ALICE, BANK, 5, linked=True),
        move("pay", ALICE, BOB, 10_000),  # with the fee, one fen short
        move("other", ALICE, BOB, 1),
    )
    assert codes(results) == [Code.LINKED_EVENT_FAILED, Code.INSUFFICIENT_FUNDS, Code.OK]
    assert state.accounts[BANK] == before[BANK]
    assert state.accounts[ALICE].posted_balance == 9_999


def test_chain_left_open_fails_entirely() -> None:
    state = standard()
    results = run(
        state, move("a", ALICE, BOB, 1, linked=True), move("b", ALICE, BOB, 1, linked=True)
    )
    assert codes(results) == [Code.LINKED_EVENT_FAILED, Code.LINKED_EVENT_CHAIN_OPEN]
    assert state.accounts[BOB].posted_balance == 0


def test_chains_never_reach_across_submissions() -> None:
    state = standard()
    groups = [[move("a", ALICE, BOB, 1, linked=True)], [move("b", ALICE, BOB, 1)]]
    results = apply_batch(groups, state, now=NOW, zone=ZONE).results
    assert codes(results) == [Code.LINKED_EVENT_CHAIN_OPEN, Code.OK]


def hold(transfer_id: str, amount: int, timeout_s: int | None = None) -> TransferRequest:
    return move(transfer_id, ALICE, BOB, amount, kind=TransferKind.PENDING, timeout_s=timeout_s)


def resolve(
    transfer_id: str, pending_id: str, kind: TransferKind, amount: int | None = None
) -> TransferRequest:
    return TransferRequest(id=transfer_id, pending_id=pending_id, kind=kind, amount=amount)


def test_hold_reserves_available_balance_without_posting() -> None:
    state = standard()
    assert codes(run(state, hold("h1", 6_000))) == [Code.OK]
    alice = state.accounts[ALICE]
    assert (alice.posted_balance, alice.available) == (10_000, 4_000)
    assert codes(run(state, move("t1", ALICE, BOB, 4_001))) == [Code.INSUFFICIENT_FUNDS]


def test_posting_part_of_a_hold_releases_the_rest() -> None:
    state = standard()
    run(state, hold("h1", 6_000))
    [result] = run(state, resolve("p1", "h1", TransferKind.POST, 2_000))
    assert result.ok
    assert result.row is not None
    assert result.row["amount"] == 2_000
    alice = state.accounts[ALICE]
    assert (alice.posted_balance, alice.available, alice.debits_pending) == (8_000, 8_000, 0)
    assert state.pendings["h1"].state == "posted"


def test_a_hold_is_resolved_at_most_once() -> None:
    state = standard()
    run(state, hold("h1", 100))
    run(state, resolve("p1", "h1", TransferKind.POST))
    assert codes(run(state, resolve("p2", "h1", TransferKind.POST))) == [
        Code.PENDING_TRANSFER_ALREADY_POSTED
    ]
    assert codes(run(state, resolve("v1", "h1", TransferKind.VOID))) == [
        Code.PENDING_TRANSFER_ALREADY_POSTED
    ]
    run(state, hold("h2", 100))
    run(state, resolve("v2", "h2", TransferKind.VOID))
    assert codes(run(state, resolve("p3", "h2", TransferKind.POST))) == [
        Code.PENDING_TRANSFER_ALREADY_VOIDED
    ]
    assert state.accounts[BOB].posted_balance == 100


def test_post_cannot_exceed_the_hold_and_void_releases_all() -> None:
    state = standard()
    run(state, hold("h1", 100))
    assert codes(run(state, resolve("p1", "h1", TransferKind.POST, 101))) == [
        Code.EXCEEDS_PENDING_AMOUNT
    ]
    assert codes(run(state, resolve("v1", "h1", TransferKind.VOID, 50))) == [
        Code.VOID_AMOUNT_MUST_MATCH
    ]
    assert codes(run(state, resolve("v2", "h1", TransferKind.VOID))) == [Code.OK]
    assert state.accounts[ALICE].available == 10_000


def test_expired_hold_cannot_be_posted_and_is_released() -> None:
    state = standard()
    run(state, hold("h1", 100, timeout_s=60))
    later = NOW + timedelta(seconds=61)
    assert codes(run(state, resolve("p1", "h1", TransferKind.POST), now=later)) == [
        Code.PENDING_TRANSFER_EXPIRED
    ]
    assert state.pendings["h1"].state == "expired"
    assert state.accounts[ALICE].available == 10_000


def test_unknown_pending_transfer() -> None:
    state = standard()
    assert codes(run(state, resolve("p1", "nope", TransferKind.POST))) == [
        Code.PENDING_TRANSFER_NOT_FOUND
    ]
    assert codes(run(state, TransferRequest(id="p2", kind=TransferKind.POST))) == [
        Code.PENDING_ID_REQUIRED
    ]


def with_original(state: LedgerState, result: TransferResult) -> LedgerState:
    row = result.row
    assert row is not None
    state.references[row["id"]] = StoredTransfer(
        row["id"],
        TransferKind(row["kind"]),
        row["debit_account_id"],
        row["credit_account_id"],
        row["amount"],
        row["currency"],
        row["body_hash"],
        NOW,
        row,
    )
    return state


def test_reversal_moves_money_back_up_to_the_original_amount() -> None:
    state = standard()
    original = run(state, move("t1", ALICE, BOB, 1_000))[0]
    with_original(state, original)
    back = move("r1", BOB, ALICE, 600, reverses_id="t1", code="reversal")
    assert codes(run(state, back)) == [Code.OK]
    assert codes(run(state, move("r2", BOB, ALICE, 401, reverses_id="t1"))) == [
        Code.REVERSAL_EXCEEDS_ORIGINAL
    ]
    assert codes(run(state, move("r3", BOB, ALICE, None, reverses_id="t1"))) == [Code.OK]
    assert state.accounts[ALICE].posted_balance == 10_000
    assert codes(run(state, move("r4", BOB, ALICE, None, reverses_id="t1"))) == [
        Code.REVERSAL_EXCEEDS_ORIGINAL
    ]


def test_reversal_must_swap_the_original_accounts() -> None:
    state = standard()
    with_original(state, run(state, move("t1", ALICE, BOB, 1_000))[0])
    assert codes(run(state, move("r1", BOB, BANK, 10, reverses_id="t1"))) == [
        Code.REVERSAL_ACCOUNTS_MISMATCH
    ]
    assert codes(run(state, move("r2", BOB, ALICE, 10, reverses_id="nope"))) == [
        Code.REVERSAL_TARGET_NOT_FOUND
    ]


def test_reversal_cannot_overdraw_the_payee_who_spent_the_money() -> None:
    state = standard()
    with_original(state, run(state, move("t1", ALICE, BOB, 1_000))[0])
    run(state, move("spend", BOB, BANK, 900))
    assert codes(run(state, move("r1", BOB, ALICE, None, reverses_id="t1"))) == [
        Code.INSUFFICIENT_FUNDS
    ]


CLASS_II = ClassLimitsMinor(outbound_daily_limit=1_000_000, outbound_yearly_limit=20_000_000)
CLASS_III = ClassLimitsMinor(
    max_balance=200_000, outbound_daily_limit=200_000, outbound_yearly_limit=5_000_000
)


def test_class_ii_daily_outbound_limit_resets_the_next_local_day() -> None:
    state = ledger(
        account(BANK, customer=False),
        account(ALICE, credits=3_000_000, limits=CLASS_II),
        account(BOB),
    )
    assert codes(run(state, move("a", ALICE, BOB, 1_000_000))) == [Code.OK]
    assert codes(run(state, move("b", ALICE, BOB, 1))) == [Code.DAILY_LIMIT_EXCEEDED]
    next_morning = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 on the 24th in Shanghai
    assert codes(run(state, move("c", ALICE, BOB, 1), now=next_morning)) == [Code.OK]


def test_class_ii_yearly_limit() -> None:
    limits = ClassLimitsMinor(outbound_daily_limit=None, outbound_yearly_limit=1_500)
    state = ledger(account(ALICE, credits=10_000, limits=limits), account(BOB))
    assert codes(run(state, move("a", ALICE, BOB, 1_500))) == [Code.OK]
    assert codes(run(state, move("b", ALICE, BOB, 1), now=NOW + timedelta(days=3))) == [
        Code.YEARLY_LIMIT_EXCEEDED
    ]
    new_year = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert codes(run(state, move("c", ALICE, BOB, 1), now=new_year)) == [Code.OK]


def test_class_iii_balance_cap_counts_incoming_holds() -> None:
    state = ledger(
        account(BANK, customer=False),
        account(ALICE, limits=CLASS_III),
        account(BOB, credits=500_000),
    )
    assert codes(run(state, move("a", BANK, ALICE, 150_000))) == [Code.OK]
    held = move("h", BOB, ALICE, 50_000, kind=TransferKind.PENDING)
    assert codes(run(state, held)) == [Code.OK]
    assert codes(run(state, move("b", BANK, ALICE, 1))) == [Code.BALANCE_CAP_EXCEEDED]


def test_voided_hold_gives_back_the_daily_limit() -> None:
    state = ledger(account(ALICE, credits=3_000_000, limits=CLASS_II), account(BOB))
    run(state, move("h", ALICE, BOB, 1_000_000, kind=TransferKind.PENDING))
    assert codes(run(state, move("a", ALICE, BOB, 1))) == [Code.DAILY_LIMIT_EXCEEDED]
    run(state, resolve("v", "h", TransferKind.VOID))
    assert codes(run(state, move("b", ALICE, BOB, 1_000_000))) == [Code.OK]


def test_reversals_are_not_held_to_outbound_limits() -> None:
    limits = ClassLimitsMinor(outbound_daily_limit=100)
    state = ledger(account(BANK, customer=False), account(ALICE, credits=1_000, limits=limits))
    with_original(state, run(state, move("credit", BANK, ALICE, 500))[0])
    assert codes(run(state, move("r", ALICE, BANK, None, reverses_id="credit"))) == [Code.OK]


def test_a_transfer_can_be_reversed_in_the_batch_that_posts_it() -> None:
    state = standard()
    results = run(
        state,
        move("t1", ALICE, BOB, 1_000),
        move("r1", BOB, ALICE, 400, reverses_id="t1", code="reversal"),
        move("r2", BOB, ALICE, 601, reverses_id="t1", code="reversal"),
    )
    assert codes(results) == [Code.OK, Code.OK, Code.REVERSAL_EXCEEDS_ORIGINAL]
    assert state.accounts[BOB].posted_balance == 600


def test_a_hold_can_be_posted_in_the_batch_that_places_it() -> None:
    state = standard()
    results = run(state, hold("h1", 700), resolve("p1", "h1", TransferKind.POST, 500))
    assert codes(results) == [Code.OK, Code.OK]
    assert state.pendings["h1"].state == "posted"
    assert (state.accounts[ALICE].posted_balance, state.accounts[ALICE].available) == (9_500, 9_500)


def test_a_failed_chain_leaves_a_hold_placed_earlier_in_the_batch_untouched() -> None:
    state = standard()
    changes = apply_batch(
        [
            [
                hold("h1", 100),
                TransferRequest(id="p1", kind=TransferKind.POST, pending_id="h1", linked=True),
                move("big", ALICE, BOB, 1_000_000),
            ]
        ],
        state,
        now=NOW,
        zone=ZONE,
    )
    assert codes(changes.results) == [Code.OK, Code.LINKED_EVENT_FAILED, Code.INSUFFICIENT_FUNDS]
    [written] = changes.new_pendings
    assert (written.state, written.resolved_by) == ("pending", None)
    assert state.accounts[ALICE].debits_pending == 100
    assert codes(run(state, resolve("v1", "h1", TransferKind.VOID))) == [Code.OK]


def test_an_already_posted_id_in_a_failing_chain_reports_its_first_outcome() -> None:
    state = standard()
    run(state, move("t1", ALICE, BOB, 10, linked=True), move("t0", ALICE, BOB, 10))
    results = run(state, move("t1", ALICE, BOB, 10, linked=True), move("t2", ALICE, BOB, 10**9))

    assert codes(results) == [Code.OK, Code.INSUFFICIENT_FUNDS]
    assert results[0].repeated
