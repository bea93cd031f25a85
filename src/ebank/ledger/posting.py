"""The ledger's rules as a pure function: apply a batch of transfer requests to account states.

Nothing here touches storage. The service loads (and locks) the accounts a batch names, calls
:func:`apply_batch`, and writes back what it returns; the property tests call it directly.

Semantics follow TigerBeetle: each request succeeds or fails on its own, in order; a run of
requests with ``linked`` set, closed by the first one without it, succeeds or fails as one; a
request id is used once — the same id and body give the first outcome again, another body is an
error, and an id that failed stays failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from ebank.policy import ClassLimitsMinor

MAX_AMOUNT = 10**15  # 10 trillion in major units of a 2-decimal currency: above any real payment


class TransferKind(StrEnum):
    SINGLE = "single"  # posted at once
    PENDING = "pending"  # a hold: reserves the amount until posted, voided or expired
    POST = "post"  # posts a pending transfer, fully or partly (the rest is released)
    VOID = "void"  # releases a pending transfer


class Code(StrEnum):
    """Stable result codes; every code but OK is a failure."""

    OK = "ok"
    ID_ALREADY_USED = "id_already_used"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    ACCOUNT_REQUIRED = "account_required"
    ACCOUNT_NOT_FOUND = "account_not_found"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"
    CURRENCY_MISMATCH = "currency_mismatch"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_CLOSED = "account_closed"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXCEEDS_DEBITS = "exceeds_debits"
    DAILY_LIMIT_EXCEEDED = "daily_limit_exceeded"
    YEARLY_LIMIT_EXCEEDED = "yearly_limit_exceeded"
    BALANCE_CAP_EXCEEDED = "balance_cap_exceeded"
    TIMEOUT_RESERVED_FOR_PENDING = "timeout_reserved_for_pending"
    PENDING_ID_REQUIRED = "pending_id_required"
    PENDING_ID_NOT_ALLOWED = "pending_id_not_allowed"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = "pending_transfer_has_different_accounts"
    EXCEEDS_PENDING_AMOUNT = "exceeds_pending_amount"
    VOID_AMOUNT_MUST_MATCH = "void_amount_must_match"
    REVERSAL_TARGET_NOT_FOUND = "reversal_target_not_found"
    REVERSAL_NOT_ALLOWED = "reversal_not_allowed"
    REVERSAL_ACCOUNTS_MISMATCH = "reversal_accounts_mismatch"
    REVERSAL_EXCEEDS_ORIGINAL = "reversal_exceeds_original"


# Which request field a failure concerns (for problem+json's ``field``).
CODE_FIELD: dict[Code, str] = {
    Code.ID_ALREADY_USED: "id",
    Code.ACCOUNTS_MUST_BE_DIFFERENT: "credit_account_id",
    Code.ACCOUNT_REQUIRED: "debit_account_id",
    Code.AMOUNT_NOT_POSITIVE: "amount",
    Code.AMOUNT_TOO_LARGE: "amount",
    Code.CURRENCY_MISMATCH: "currency",
    Code.INSUFFICIENT_FUNDS: "amount",
    Code.EXCEEDS_DEBITS: "amount",
    Code.DAILY_LIMIT_EXCEEDED: "amount",
    Code.YEARLY_LIMIT_EXCEEDED: "amount",
    Code.BALANCE_CAP_EXCEEDED: "amount",
    Code.TIMEOUT_RESERVED_FOR_PENDING: "timeout_s",
    Code.PENDING_ID_REQUIRED: "pending_id",
    Code.PENDING_ID_NOT_ALLOWED: "pending_id",
    Code.PENDING_TRANSFER_NOT_FOUND: "pending_id",
    Code.PENDING_TRANSFER_ALREADY_POSTED: "pending_id",
    Code.PENDING_TRANSFER_ALREADY_VOIDED: "pending_id",
    Code.PENDING_TRANSFER_EXPIRED: "pending_id",
    Code.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS: "pending_id",
    Code.EXCEEDS_PENDING_AMOUNT: "amount",
    Code.VOID_AMOUNT_MUST_MATCH: "amount",
    Code.REVERSAL_TARGET_NOT_FOUND: "reverses_id",
    Code.REVERSAL_NOT_ALLOWED: "reverses_id",
    Code.REVERSAL_ACCOUNTS_MISMATCH: "reverses_id",
    Code.REVERSAL_EXCEEDS_ORIGINAL: "amount",
}


@dataclass(frozen=True, slots=True)
class TransferRequest:
    id: str
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: int | None = None  # None: post the whole pending amount / reverse what remains
    currency: str | None = None
    kind: TransferKind = TransferKind.SINGLE
    pending_id: str | None = None
    reverses_id: str | None = None
    timeout_s: int | None = None
    linked: bool = False
    code: str = "transfer"
    purpose: str | None = None
    channel: str = "system"
    reference: str | None = None
    created_by: str = "system"

    def body_hash(self) -> str:
        """What makes two requests with one id "the same": every field but who sent it."""
        body = [
            self.debit_account_id,
            self.credit_account_id,
            self.amount,
            self.currency,
            self.kind.value,
            self.pending_id,
            self.reverses_id,
            self.timeout_s,
            self.linked,
            self.code,
            self.purpose,
            self.channel,
            self.reference,
        ]
        return hashlib.sha256(
            repr(body).encode()
        ).hexdigest()  # str, int, bool, None: repr is exact


@dataclass(slots=True)
class AccountState:
    id: int
    currency: str
    customer: bool
    status: str
    normal_side: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    limits: ClassLimitsMinor
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    outbound_day: date | None = None
    outbound_day_amount: int = 0
    outbound_year: int | None = None
    outbound_year_amount: int = 0

    @property
    def posted_balance(self) -> int:
        """Balance on the account's normal side (what a statement shows)."""
        net = self.credits_posted - self.debits_posted
        return net if self.normal_side == "credit" else -net

    @property
    def available(self) -> int:
        """What can still be debited from a credit-normal account: posted less holds."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    def copy(self) -> AccountState:
        return AccountState(
            self.id,
            self.currency,
            self.customer,
            self.status,
            self.normal_side,
            self.debits_must_not_exceed_credits,
            self.credits_must_not_exceed_debits,
            self.limits,
            self.debits_pending,
            self.debits_posted,
            self.credits_pending,
            self.credits_posted,
            self.outbound_day,
            self.outbound_day_amount,
            self.outbound_year,
            self.outbound_year_amount,
        )


@dataclass(slots=True)
class PendingState:
    transfer_id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    state: str  # pending | posted | voided | expired
    expires_at: datetime | None
    created_day: date  # the bank's local date when the hold was placed (for the outbound limits)
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    def copy(self) -> PendingState:
        return replace(self)


@dataclass(frozen=True, slots=True)
class StoredTransfer:
    """An existing transfer that a request refers to (pending_id, reverses_id) or repeats (id)."""

    id: str
    kind: TransferKind
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    body_hash: str
    created_at: datetime
    row: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PriorRejection:
    id: str
    body_hash: str
    code: str


@dataclass(frozen=True, slots=True)
class TransferResult:
    id: str
    code: Code
    row: Mapping[str, Any] | None = None  # the transfer as stored (new or, on a retry, the first)
    repeated: bool = False  # True when this id was seen before: the first outcome is returned

    @property
    def ok(self) -> bool:
        return self.code is Code.OK


@dataclass
class BatchChanges:
    results: list[TransferResult] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    new_pendings: list[PendingState] = field(default_factory=list)
    resolved_pendings: list[PendingState] = field(default_factory=list)

    def account_updates(
        self, before: Mapping[int, AccountState], after: Mapping[int, AccountState]
    ) -> list[dict[str, Any]]:
        """Per changed account: increments of the four totals and the outbound counters."""
        updates = []
        for account_id, new in after.items():
            old = before[account_id]
            if new == old:
                continue
            updates.append(
                {
                    "account_id": account_id,
                    "d_debits_pending": new.debits_pending - old.debits_pending,
                    "d_debits_posted": new.debits_posted - old.debits_posted,
                    "d_credits_pending": new.credits_pending - old.credits_pending,
                    "d_credits_posted": new.credits_posted - old.credits_posted,
                    "outbound_day": new.outbound_day,
                    "outbound_day_amount": new.outbound_day_amount,
                    "outbound_year": new.outbound_year,
                    "outbound_year_amount": new.outbound_year_amount,
                }
            )
        return updates


class _Failure(Exception):
    def __init__(self, code: Code) -> None:
        self.code = code


@dataclass
class LedgerState:
    """What a batch reads and changes. The caller passes what it loaded; apply mutates it."""

    accounts: dict[int, AccountState]
    pendings: dict[str, PendingState] = field(default_factory=dict)
    references: dict[str, StoredTransfer] = field(default_factory=dict)  # by pending/reverses id
    reversed_amounts: dict[str, int] = field(default_factory=dict)
    prior_transfers: dict[str, StoredTransfer] = field(default_factory=dict)  # by own id
    prior_rejections: dict[str, PriorRejection] = field(default_factory=dict)


def chains(requests: Sequence[TransferRequest]) -> list[list[TransferRequest]]:
    """Split into linked chains (a lone request is a chain of one); a last chain may stay open."""
    result: list[list[TransferRequest]] = []
    current: list[TransferRequest] = []
    for request in requests:
        current.append(request)
        if not request.linked:
            result.append(current)
            current = []
    if current:
        result.append(current)
    return result


def apply_batch(
    groups: Sequence[Sequence[TransferRequest]],
    state: LedgerState,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> BatchChanges:
    """Apply each group's requests in order to ``state`` (mutated in place); say what to write.

    A group is one caller's submission: linked chains never reach across groups, so callers who
    share a batch (group commit) cannot tie their transfers together.
    """
    changes = BatchChanges()
    local_today = now.astimezone(zone).date()
    _expire_referenced([r for group in groups for r in group], state, now, changes)
    for group in groups:
        for chain in chains(group):
            _apply_chain(chain, state, now, local_today, changes)
    return changes


def _expire_referenced(
    requests: Sequence[TransferRequest],
    state: LedgerState,
    now: datetime,
    changes: BatchChanges,
) -> None:
    for request in requests:
        pending = state.pendings.get(request.pending_id or "")
        if pending and pending.state == "pending" and _is_expired(pending, now):
            expire_hold(pending, state, now, changes)


def _is_expired(pending: PendingState, now: datetime) -> bool:
    return pending.expires_at is not None and pending.expires_at <= now


def expire_hold(
    pending: PendingState, state: LedgerState, now: datetime, changes: BatchChanges
) -> None:
    """Release an expired hold: no transfer row, only the pending totals and its state change."""
    debit = state.accounts[pending.debit_account_id]
    credit = state.accounts[pending.credit_account_id]
    debit.debits_pending -= pending.amount
    credit.credits_pending -= pending.amount
    _release_outbound(debit, pending, pending.amount)
    pending.state = "expired"
    pending.resolved_at = now
    changes.resolved_pendings.append(pending)


class _Undo:
    """Copies of everything a chain touched, to put back if the chain fails."""

    def __init__(self, state: LedgerState) -> None:
        self.state = state
        self.accounts: dict[int, AccountState] = {}
        self.pendings: dict[str, PendingState | None] = {}
        self.reversed: dict[str, int | None] = {}

    def account(self, account: AccountState) -> AccountState:
        if account.id not in self.accounts:
            self.accounts[account.id] = account.copy()
        return account

    def pending(self, transfer_id: str) -> None:
        if transfer_id not in self.pendings:
            existing = self.state.pendings.get(transfer_id)
            self.pendings[transfer_id] = existing.copy() if existing else None

    def reversal(self, original_id: str) -> None:
        if original_id not in self.reversed:
            self.reversed[original_id] = self.state.reversed_amounts.get(original_id)

    def restore(self) -> None:
        for account_id, saved in self.accounts.items():
            self.state.accounts[account_id] = saved
        for transfer_id, pending in self.pendings.items():
            if pending is None:
                self.state.pendings.pop(transfer_id, None)
                continue
            # Put the saved fields back onto the same object: a hold placed earlier in this batch
            # is also referenced from the batch's list of new holds, which is what gets written.
            live = self.state.pendings[transfer_id]
            for name in ("state", "resolved_at", "resolved_by"):
                setattr(live, name, getattr(pending, name))
        for original_id, amount in self.reversed.items():
            if amount is None:
                self.state.reversed_amounts.pop(original_id, None)
            else:
                self.state.reversed_amounts[original_id] = amount


def _apply_chain(
    chain: list[TransferRequest],
    state: LedgerState,
    now: datetime,
    today: date,
    changes: BatchChanges,
) -> None:
    undo = _Undo(state) if len(chain) > 1 else None
    staged: list[TransferResult] = []
    new_rows: list[dict[str, Any]] = []
    new_pendings: list[PendingState] = []
    resolved: list[PendingState] = []
    failed_at: int | None = None
    failure = Code.OK
    for index, request in enumerate(chain):
        if index == len(chain) - 1 and request.linked:
            failed_at, failure = index, Code.LINKED_EVENT_CHAIN_OPEN
            break
        repeat = _repeat_outcome(request, state)
        if repeat is not None:
            if repeat.ok:  # a retry of a success: the first result again, nothing changes
                staged.append(repeat)
                continue
            failed_at, failure = index, repeat.code
            break
        try:
            row, pending_new, pending_done = _apply_one(request, state, now, today, undo)
        except _Failure as failed:
            failed_at, failure = index, failed.code
            break
        state.prior_transfers[request.id] = _as_stored(request, row, now)
        staged.append(TransferResult(request.id, Code.OK, row))
        new_rows.append(row)
        if pending_new:
            new_pendings.append(pending_new)
        if pending_done:
            resolved.append(pending_done)

    if failed_at is None:
        changes.results.extend(staged)
        changes.transfers.extend(new_rows)
        changes.new_pendings.extend(new_pendings)
        changes.resolved_pendings.extend(resolved)
        return

    if undo is not None:
        undo.restore()
    for row in new_rows:
        state.prior_transfers.pop(row["id"], None)
    for index, request in enumerate(chain):
        code = failure if index == failed_at else Code.LINKED_EVENT_FAILED
        _record_failure(request, code, state, now, changes)


def _repeat_outcome(request: TransferRequest, state: LedgerState) -> TransferResult | None:
    """The outcome of an id used before (in an earlier batch or earlier in this one), or None."""
    prior = state.prior_transfers.get(request.id)
    if prior is not None:
        if prior.body_hash != request.body_hash():
            return TransferResult(request.id, Code.ID_ALREADY_USED, repeated=False)
        return TransferResult(request.id, Code.OK, prior.row, repeated=True)
    rejection = state.prior_rejections.get(request.id)
    if rejection is not None:
        if rejection.body_hash != request.body_hash():
            return TransferResult(request.id, Code.ID_ALREADY_USED, repeated=False)
        return TransferResult(request.id, Code(rejection.code), repeated=True)
    return None


def _record_failure(
    request: TransferRequest,
    code: Code,
    state: LedgerState,
    now: datetime,
    changes: BatchChanges,
) -> None:
    repeat = _repeat_outcome(request, state)
    if repeat is not None:  # the id already has an outcome of its own: report it, never overwrite
        changes.results.append(repeat)
        return
    state.prior_rejections[request.id] = PriorRejection(request.id, request.body_hash(), code.value)
    changes.rejected.append(
        {"id": request.id, "body_hash": request.body_hash(), "code": code.value, "created_at": now}
    )
    changes.results.append(TransferResult(request.id, code))


def _as_stored(request: TransferRequest, row: dict[str, Any], now: datetime) -> StoredTransfer:
    return StoredTransfer(
        id=request.id,
        kind=request.kind,
        debit_account_id=row["debit_account_id"],
        credit_account_id=row["credit_account_id"],
        amount=row["amount"],
        currency=row["currency"],
        body_hash=row["body_hash"],
        created_at=now,
        row=row,
    )


def _apply_one(
    request: TransferRequest,
    state: LedgerState,
    now: datetime,
    today: date,
    undo: _Undo | None,
) -> tuple[dict[str, Any], PendingState | None, PendingState | None]:
    if request.kind in (TransferKind.POST, TransferKind.VOID):
        return _resolve_pending(request, state, now, undo)
    return _post_new(request, state, now, today, undo)


def _account(state: LedgerState, account_id: int | None) -> AccountState:
    if account_id is None:
        raise _Failure(Code.ACCOUNT_REQUIRED)
    account = state.accounts.get(account_id)
    if account is None:
        raise _Failure(Code.ACCOUNT_NOT_FOUND)
    return account


def _check_amount(amount: int | None) -> int:
    if amount is None or amount <= 0:
        raise _Failure(Code.AMOUNT_NOT_POSITIVE)
    if amount > MAX_AMOUNT:
        raise _Failure(Code.AMOUNT_TOO_LARGE)
    return amount


def _post_new(
    request: TransferRequest,
    state: LedgerState,
    now: datetime,
    today: date,
    undo: _Undo | None,
) -> tuple[dict[str, Any], PendingState | None, PendingState | None]:
    debit, credit, amount = _validate_new(request, state, today)
    reversal = request.reverses_id is not None
    if undo is not None:
        undo.account(debit)
        undo.account(credit)
        if reversal:
            undo.reversal(str(request.reverses_id))
        if request.kind is TransferKind.PENDING:
            undo.pending(request.id)
    if reversal:
        key = str(request.reverses_id)
        state.reversed_amounts[key] = state.reversed_amounts.get(key, 0) + amount
    elif debit.customer:
        _count_outbound(debit, amount, today)
    if request.kind is not TransferKind.PENDING:
        debit.debits_posted += amount
        credit.credits_posted += amount
        return _row(request, debit, credit, amount, now), None, None
    debit.debits_pending += amount
    credit.credits_pending += amount
    expires_at = now + timedelta(seconds=request.timeout_s) if request.timeout_s else None
    hold = PendingState(
        request.id, debit.id, credit.id, amount, debit.currency, "pending", expires_at, today
    )
    state.pendings[request.id] = hold
    return _row(request, debit, credit, amount, now, expires_at=expires_at), hold, None


def _validate_new(
    request: TransferRequest, state: LedgerState, today: date
) -> tuple[AccountState, AccountState, int]:
    if request.pending_id is not None:
        raise _Failure(Code.PENDING_ID_NOT_ALLOWED)
    if request.timeout_s is not None and request.kind is not TransferKind.PENDING:
        raise _Failure(Code.TIMEOUT_RESERVED_FOR_PENDING)
    if request.debit_account_id == request.credit_account_id and request.debit_account_id:
        raise _Failure(Code.ACCOUNTS_MUST_BE_DIFFERENT)
    debit = _account(state, request.debit_account_id)
    credit = _account(state, request.credit_account_id)
    reversal = request.reverses_id is not None
    amount = _reversal_amount(request, state) if reversal else _check_amount(request.amount)
    if request.currency != debit.currency or request.currency != credit.currency:
        raise _Failure(Code.CURRENCY_MISMATCH)
    _check_can_debit(debit)
    _check_can_credit(credit)
    _check_funds(debit, credit, amount)
    if not reversal:
        _check_outbound_limits(debit, amount, today)
        _check_balance_cap(credit, amount)
    return debit, credit, amount


def _reversal_amount(request: TransferRequest, state: LedgerState) -> int:
    # The original may have been posted from the database or earlier in this very batch.
    original = state.references.get(str(request.reverses_id)) or state.prior_transfers.get(
        str(request.reverses_id)
    )

    if original is None:
        raise _Failure(Code.REVERSAL_TARGET_NOT_FOUND)
    if original.kind not in (TransferKind.SINGLE, TransferKind.POST) or (
        request.kind is not TransferKind.SINGLE
    ):
        raise _Failure(Code.REVERSAL_NOT_ALLOWED)
    if (
        request.debit_account_id != original.credit_account_id
        or request.credit_account_id != original.debit_account_id
    ):
        raise _Failure(Code.REVERSAL_ACCOUNTS_MISMATCH)
    remaining = original.amount - state.reversed_amounts.get(original.id, 0)
    amount = remaining if request.amount is None else _check_amount(request.amount)
    if amount <= 0 or amount > remaining:
        raise _Failure(Code.REVERSAL_EXCEEDS_ORIGINAL)
    return amount


def _check_can_debit(debit: AccountState) -> None:
    if debit.status == "closed":
        raise _Failure(Code.ACCOUNT_CLOSED)
    if debit.status == "frozen":
        raise _Failure(Code.ACCOUNT_FROZEN)


def _check_can_credit(credit: AccountState) -> None:
    if credit.status == "closed":
        raise _Failure(Code.ACCOUNT_CLOSED)


def _check_funds(debit: AccountState, credit: AccountState, amount: int) -> None:
    if debit.debits_must_not_exceed_credits and (
        debit.debits_posted + debit.debits_pending + amount > debit.credits_posted
    ):
        raise _Failure(Code.INSUFFICIENT_FUNDS)
    if credit.credits_must_not_exceed_debits and (
        credit.credits_posted + credit.credits_pending + amount > credit.debits_posted
    ):
        raise _Failure(Code.EXCEEDS_DEBITS)


def _outbound_so_far(account: AccountState, today: date) -> tuple[int, int]:
    day = account.outbound_day_amount if account.outbound_day == today else 0
    year = account.outbound_year_amount if account.outbound_year == today.year else 0
    return day, year


def _check_outbound_limits(debit: AccountState, amount: int, today: date) -> None:
    if not debit.customer:
        return
    day, year = _outbound_so_far(debit, today)
    limits = debit.limits
    if limits.outbound_daily_limit is not None and day + amount > limits.outbound_daily_limit:
        raise _Failure(Code.DAILY_LIMIT_EXCEEDED)
    if limits.outbound_yearly_limit is not None and year + amount > limits.outbound_yearly_limit:
        raise _Failure(Code.YEARLY_LIMIT_EXCEEDED)


def _count_outbound(debit: AccountState, amount: int, today: date) -> None:
    day, year = _outbound_so_far(debit, today)
    debit.outbound_day, debit.outbound_day_amount = today, day + amount
    debit.outbound_year, debit.outbound_year_amount = today.year, year + amount


def _release_outbound(debit: AccountState, pending: PendingState, amount: int) -> None:
    """Give back to the limits what a hold counted but did not pay, if its period is current."""
    if not debit.customer or amount <= 0:
        return
    if debit.outbound_day == pending.created_day:
        debit.outbound_day_amount = max(0, debit.outbound_day_amount - amount)
    if debit.outbound_year == pending.created_day.year:
        debit.outbound_year_amount = max(0, debit.outbound_year_amount - amount)


def _check_balance_cap(credit: AccountState, amount: int) -> None:
    cap = credit.limits.max_balance
    if cap is None or not credit.customer:
        return
    if credit.credits_posted + credit.credits_pending - credit.debits_posted + amount > cap:
        raise _Failure(Code.BALANCE_CAP_EXCEEDED)


def _resolve_pending(
    request: TransferRequest,
    state: LedgerState,
    now: datetime,
    undo: _Undo | None,
) -> tuple[dict[str, Any], PendingState | None, PendingState | None]:
    pending = _open_pending(request, state, now)
    debit = state.accounts[pending.debit_account_id]
    credit = state.accounts[pending.credit_account_id]
    posting = request.kind is TransferKind.POST
    if posting:
        amount = pending.amount if request.amount is None else _check_amount(request.amount)
        if amount > pending.amount:
            raise _Failure(Code.EXCEEDS_PENDING_AMOUNT)
        _check_can_debit(debit)
        _check_can_credit(credit)
    else:
        amount = pending.amount
        if request.amount is not None and request.amount != pending.amount:
            raise _Failure(Code.VOID_AMOUNT_MUST_MATCH)

    if undo is not None:
        undo.account(debit)
        undo.account(credit)
        undo.pending(pending.transfer_id)
    debit.debits_pending -= pending.amount
    credit.credits_pending -= pending.amount
    posted = amount if posting else 0
    debit.debits_posted += posted
    credit.credits_posted += posted
    _release_outbound(debit, pending, pending.amount - posted)
    pending.state = "posted" if posting else "voided"
    pending.resolved_at = now
    pending.resolved_by = request.id
    return _row(request, debit, credit, amount, now), None, pending


def _open_pending(request: TransferRequest, state: LedgerState, now: datetime) -> PendingState:
    """The pending transfer a post or void names, if it can still be resolved."""
    if request.pending_id is None:
        raise _Failure(Code.PENDING_ID_REQUIRED)
    if request.timeout_s is not None:
        raise _Failure(Code.TIMEOUT_RESERVED_FOR_PENDING)
    if request.reverses_id is not None:
        raise _Failure(Code.REVERSAL_NOT_ALLOWED)
    pending = state.pendings.get(request.pending_id)
    if pending is None:
        raise _Failure(Code.PENDING_TRANSFER_NOT_FOUND)
    if pending.state == "posted":
        raise _Failure(Code.PENDING_TRANSFER_ALREADY_POSTED)
    if pending.state == "voided":
        raise _Failure(Code.PENDING_TRANSFER_ALREADY_VOIDED)
    if pending.state == "expired" or _is_expired(pending, now):
        raise _Failure(Code.PENDING_TRANSFER_EXPIRED)
    if (
        request.debit_account_id not in (None, pending.debit_account_id)
        or request.credit_account_id not in (None, pending.credit_account_id)
        or request.currency not in (None, pending.currency)
    ):
        raise _Failure(Code.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS)
    return pending


def _row(
    request: TransferRequest,
    debit: AccountState,
    credit: AccountState,
    amount: int,
    now: datetime,
    *,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": request.id,
        "kind": request.kind.value,
        "debit_account_id": debit.id,
        "credit_account_id": credit.id,
        "amount": amount,
        "currency": debit.currency,
        "pending_id": request.pending_id,
        "reverses_id": request.reverses_id,
        "expires_at": expires_at,
        "linked": request.linked,
        "code": request.code,
        "purpose": request.purpose,
        "channel": request.channel,
        "reference": request.reference,
        "debit_balance_after": debit.posted_balance,
        "credit_balance_after": credit.posted_balance,
        "body_hash": request.body_hash(),
        "created_by": request.created_by,
        "created_at": now,
    }
