"""Ledger API for staff: accounts, statements, transfers, counter cash, inter-bank payments."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ebank.common.errors import Unprocessable
from ebank.common.i18n import gettext
from ebank.ledger import clearing, service
from ebank.ledger.posting import CODE_FIELD, TransferRequest, TransferResult
from ebank.ledger.schemas import (
    AccountOpen,
    CashIn,
    InterbankIn,
    InterbankOut,
    LedgerReportOut,
    ReversalIn,
    StatusChange,
    TransferBatch,
    TransferBatchOut,
    TransferIn,
    TransferOut,
    TransferResultOut,
    transfer_out,
)
from ebank.ledger.verify import verify_ledger
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, require, runtime

router = APIRouter(tags=["ledger"])
AccountId = Annotated[int, Path(ge=1, le=MAX_ID)]
TransferIdPath = Annotated[str, Path(min_length=1, max_length=64)]
REPLAYED_HEADER = "Idempotent-Replayed"


@router.post("/accounts", response_model=service.AccountView, status_code=status.HTTP_201_CREATED)
def open_account(
    body: AccountOpen,
    principal: StaffPrincipal = Depends(require(Permission.ACCOUNTS_OPEN)),
    rt: Runtime = Depends(runtime),
) -> service.AccountView:
    return service.open_account(
        rt,
        principal.actor,
        customer_id=body.customer_id,
        product=body.product,
        currency=body.currency,
        parent_account_id=body.parent_account_id,
        document_id=body.document_id,
    )


@router.get("/accounts/{account_id}", response_model=service.AccountView)
def get_account(
    account_id: AccountId,
    _: StaffPrincipal = Depends(require(Permission.ACCOUNTS_READ)),
    rt: Runtime = Depends(runtime),
) -> service.AccountView:
    return service.get_account(rt, account_id)


@router.get("/customers/{customer_id}/accounts", response_model=list[service.AccountView])
def customer_accounts(
    customer_id: AccountId,
    _: StaffPrincipal = Depends(require(Permission.ACCOUNTS_READ)),
    rt: Runtime = Depends(runtime),
) -> list[service.AccountView]:
    from ebank.customers.service import get_customer

    get_customer(rt, customer_id)  # 404 for an unknown customer rather than an empty list
    return list(service.customer_accounts(rt, customer_id))


@router.get("/internal-accounts", response_model=list[service.AccountView])
def internal_accounts(
    _: StaffPrincipal = Depends(require(Permission.ACCOUNTS_READ)), rt: Runtime = Depends(runtime)
) -> list[service.AccountView]:
    return list(service.internal_accounts(rt))


def _status_route(new_status: str, permission: Permission, summary: str) -> None:
    def change(
        account_id: AccountId,
        body: StatusChange,
        principal: StaffPrincipal = Depends(require(permission)),
        rt: Runtime = Depends(runtime),
    ) -> service.AccountView:
        return service.set_account_status(
            rt, principal.actor, account_id, status=new_status, reason=body.reason
        )

    verb = {"frozen": "freeze", "active": "unfreeze", "closed": "close"}[new_status]
    change.__name__ = f"{verb}_account"
    router.post(
        f"/accounts/{{account_id}}/{verb}", response_model=service.AccountView, summary=summary
    )(change)


_status_route("frozen", Permission.ACCOUNTS_FREEZE, "Freeze: the account refuses debits")
_status_route("active", Permission.ACCOUNTS_FREEZE, "Lift a freeze")
_status_route("closed", Permission.ACCOUNTS_CLOSE, "Close an empty account")


@router.get("/accounts/{account_id}/statement", response_model=service.Statement)
def statement(
    account_id: AccountId,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    _: StaffPrincipal = Depends(require(Permission.ACCOUNTS_READ)),
    rt: Runtime = Depends(runtime),
) -> service.Statement:
    """Posted entries between two dates (the bank's local time) with the running balance."""
    if (date_to - date_from).days > 3660:
        raise Unprocessable(
            "date_range_too_long", "A statement covers at most ten years.", field="to"
        )
    return service.statement(
        rt, account_id, date_from=date_from, date_to=date_to, after_seq=after, limit=limit
    )


def _result_out(result: TransferResult) -> TransferResultOut:
    if result.ok:
        return TransferResultOut(
            id=result.id,
            result="ok",
            repeated=result.repeated,
            transfer=transfer_out(result.row) if result.row else None,
        )
    refusal = service.refusal(result)
    return TransferResultOut(
        id=result.id,
        result=result.code.value,
        message=gettext(refusal.message),
        field=CODE_FIELD.get(result.code),
        repeated=result.repeated,
    )


def _request(item: TransferIn) -> TransferRequest:
    return TransferRequest(
        id=item.id,
        debit_account_id=item.debit_account_id,
        credit_account_id=item.credit_account_id,
        amount=item.amount,
        currency=item.currency,
        kind=item.kind,
        pending_id=item.pending_id,
        timeout_s=item.timeout_s,
        linked=item.linked,
        code=item.code,
        purpose=item.purpose,
        reference=item.reference,
        channel="api",
    )


@router.post("/transfers", response_model=TransferBatchOut)
def create_transfers(
    body: TransferBatch,
    principal: StaffPrincipal = Depends(require(Permission.TRANSFERS_POST)),
    rt: Runtime = Depends(runtime),
) -> TransferBatchOut:
    """Post a batch: single, pending (a hold), post or void; ``linked`` chains all-or-nothing.
    Each transfer gets its own result; an id seen before returns its first result."""
    results = service.create_transfers(rt, principal.actor, [_request(t) for t in body.transfers])
    return TransferBatchOut(results=[_result_out(r) for r in results])


@router.get("/transfers/{transfer_id}", response_model=TransferOut)
def get_transfer(
    transfer_id: TransferIdPath,
    _: StaffPrincipal = Depends(require(Permission.ACCOUNTS_READ)),
    rt: Runtime = Depends(runtime),
) -> TransferOut:
    return TransferOut.model_validate(service.get_transfer(rt, transfer_id))


def _created(result: TransferResult, response: Response) -> TransferOut:
    if result.repeated:
        response.headers[REPLAYED_HEADER] = "true"
    assert result.row is not None
    return transfer_out(result.row)


@router.post(
    "/transfers/{transfer_id}/reversals",
    response_model=TransferOut,
    status_code=status.HTTP_201_CREATED,
)
def reverse(
    transfer_id: TransferIdPath,
    body: ReversalIn,
    response: Response,
    principal: StaffPrincipal = Depends(require(Permission.TRANSFERS_REVERSE)),
    rt: Runtime = Depends(runtime),
) -> TransferOut:
    """A correction: a new transfer that moves (part of) the original back and points to it."""
    result = service.reverse_transfer(
        rt,
        principal.actor,
        transfer_id=body.id,
        original_id=transfer_id,
        amount=body.amount,
        purpose=body.purpose,
    )
    return _created(result, response)


def _cash_route(direction: service.CashDirection) -> None:
    def cash(
        body: CashIn,
        response: Response,
        principal: StaffPrincipal = Depends(require(Permission.CASH)),
        rt: Runtime = Depends(runtime),
    ) -> TransferOut:
        result = service.counter_cash(
            rt,
            principal.actor,
            direction=direction,
            transfer_id=body.id,
            account_id=body.account_id,
            amount=body.amount,
            currency=body.currency,
            purpose=body.purpose,
        )
        return _created(result, response)

    cash.__name__ = f"cash_{direction.value}"
    router.post(
        f"/cash/{direction.value}s",
        response_model=TransferOut,
        status_code=status.HTTP_201_CREATED,
        summary=f"Counter cash {direction.value}",
    )(cash)


_cash_route(service.CashDirection.DEPOSIT)
_cash_route(service.CashDirection.WITHDRAWAL)


@router.post(
    "/interbank/transfers", response_model=InterbankOut, status_code=status.HTTP_201_CREATED
)
def send_interbank(
    body: InterbankIn,
    response: Response,
    principal: StaffPrincipal = Depends(require(Permission.INTERBANK_SEND)),
    rt: Runtime = Depends(runtime),
) -> InterbankOut:
    """Pay an account at another bank: posted to clearing, queued for the counterparty bank."""
    result, outbound = clearing.send_to_other_bank(
        rt,
        principal.actor,
        transfer_id=body.id,
        account_id=body.account_id,
        amount=body.amount,
        currency=body.currency,
        payee_bank=body.payee_bank,
        payee_account=body.payee_account,
        payee_name=body.payee_name,
        purpose=body.purpose,
    )
    return InterbankOut(
        transfer=_created(result, response),
        outbound=outbound,
    )


@router.get("/interbank/transfers", response_model=list[clearing.OutboundView])
def list_interbank(
    status_filter: Annotated[
        str | None, Query(alias="status", pattern="^(queued|settled|returned)$")
    ] = None,
    _: StaffPrincipal = Depends(require(Permission.ACCOUNTS_READ)),
    rt: Runtime = Depends(runtime),
) -> list[clearing.OutboundView]:
    return clearing.list_outbound(rt, status=status_filter)


@router.post("/interbank/clearing-runs", response_model=clearing.ClearingRun)
def clearing_run(
    principal: StaffPrincipal = Depends(require(Permission.CLEARING_OPERATE)),
    rt: Runtime = Depends(runtime),
) -> clearing.ClearingRun:
    """Let the (simulated) counterparty bank settle or return what is queued."""
    return clearing.run_clearing(rt, clearing.SimulatedCounterparty(), actor=principal.actor)


@router.post("/ledger/verifications", response_model=LedgerReportOut)
def verify(
    _: StaffPrincipal = Depends(require(Permission.LEDGER_VERIFY)), rt: Runtime = Depends(runtime)
) -> LedgerReportOut:
    """Check conservation, every balance against its postings, and every running balance."""
    with rt.db.snapshot() as conn:
        report = verify_ledger(conn)
    return LedgerReportOut(
        ok=report.ok,
        accounts=report.accounts,
        transfers=report.transfers,
        totals=report.totals,
        problem_count=report.problem_count,
        problems=report.problems,
    )
