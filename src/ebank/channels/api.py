"""Channel API: self-service registration, the customer's own banking (accounts, payees,
payments, services, limits) for the mobile app and the web, and the counter's registration."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from ebank.auth import service as auth
from ebank.auth.api import challenge_out
from ebank.auth.challenges import Proof
from ebank.auth.service import CustomerSession
from ebank.auth.strength import Factor
from ebank.channels import payments, service
from ebank.channels.limits import Limits
from ebank.channels.schemas import (
    AuthoriseIn,
    ConfirmIn,
    CounterRegistrationIn,
    EnrolmentStatusIn,
    LimitsIn,
    PayeeIn,
    PaymentChangeIn,
    PaymentIn,
    PaymentOut,
    RecallIn,
    SelfRegistrationIn,
    ServiceOpenIn,
    WarningOut,
)
from ebank.common.errors import DomainError, Unprocessable
from ebank.common.i18n import current_locale, gettext
from ebank.common.money import format_amount
from ebank.ledger import service as ledger
from ebank.notify.messages import TIP_NEVER_ASK_CODE
from ebank.risk.assessment import Outcome
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, current_customer, require, runtime

router = APIRouter(tags=["channels"])
EntityPath = Annotated[int, Path(ge=1, le=MAX_ID)]
PaymentPath = Annotated[str, Path(min_length=1, max_length=32)]
ChannelPath = Annotated[str, Path(pattern=r"^(online|mobile|phone|tv)$")]
PAYEE_FIELDS = {"payee_account": "account_number", "payee_name": "name", "payee_bank": "bank_code"}


def payment_out(view: payments.PaymentView) -> PaymentOut:
    locale = current_locale.get()
    return PaymentOut(
        id=view.id,
        request_id=view.request_id,
        status=view.status,
        version=view.version,
        channel=view.channel,
        amount=view.amount,
        currency=view.currency,
        purpose=view.purpose,
        confirmation=view.confirmation,
        amount_text=format_amount(view.amount, view.currency, locale),
        warnings=[
            WarningOut(code=w, message=gettext(payments.WARNING_MESSAGES[w], locale))
            for w in view.warnings
        ],
        needs_confirmation=view.needs_confirmation,
        exemption=view.exemption,
        risk_outcome=customer_risk_outcome(view.status, view.risk_outcome),
        strength=view.strength,
        factors=view.factors,
        transfer_id=view.transfer_id,
        failure_code=view.failure_code,
        recall_status=view.recall_status,
        challenge=challenge_out(view.challenge) if view.challenge else None,
        tip=gettext(TIP_NEVER_ASK_CODE, locale),
    )


def customer_risk_outcome(status: str, outcome: str | None) -> str | None:
    """What the customer's app is told of the risk decision: before the payment is final a hold
    or a block shows only as what the customer meets — a full authentication (``challenge``) —
    so that whoever holds the phone cannot try amounts until one passes unseen."""
    if status in payments.FINAL_STATES or outcome not in (Outcome.HOLD, Outcome.BLOCK):
        return outcome
    return Outcome.CHALLENGE.value


# --- payments (first: routes are matched in order, and these are the busiest) -------------------


@router.post("/me/payments", response_model=PaymentOut, status_code=status.HTTP_201_CREATED)
async def create_payment(
    body: PaymentIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> PaymentOut:
    """Draft a payment: the answer is the confirmation to show, and the challenge (or the warnings
    to confirm first)."""
    view = await payments.create_payment_async(
        rt,
        caller,
        payments.PaymentInput(
            request_id=body.request_id,
            from_account_id=body.from_account_id,
            amount=body.amount,
            purpose=body.purpose,
            payee_id=body.payee_id,
            payee_account=body.payee_account,
            payee_name=body.payee_name,
            payee_bank=body.payee_bank,
        ),
        method=Factor(body.method) if body.method else None,
    )
    return payment_out(view)


@router.get("/me/payments", response_model=list[PaymentOut])
def my_payments(
    caller: CustomerSession = Depends(current_customer), rt: Runtime = Depends(runtime)
) -> list[PaymentOut]:
    return [payment_out(view) for view in payments.list_payments(rt, caller.customer_id)]


@router.get("/me/payments/{payment_id}", response_model=PaymentOut)
def get_payment(
    payment_id: PaymentPath,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> PaymentOut:
    return payment_out(payments.get_payment(rt, caller.customer_id, payment_id))


@router.patch("/me/payments/{payment_id}", response_model=PaymentOut)
def change_payment(
    payment_id: PaymentPath,
    body: PaymentChangeIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> PaymentOut:
    """Change amount, purpose or payee: earlier challenges stop working; confirm again."""
    _require_a_change(body)
    new_payee = None
    if body.payee_id is not None or body.payee_account is not None:
        new_payee = payments.PaymentInput(
            request_id="-",
            from_account_id=0,
            amount=1,
            payee_id=body.payee_id,
            payee_account=body.payee_account,
            payee_name=body.payee_name,
            payee_bank=body.payee_bank,
        )
    view = payments.update_payment(
        rt, caller, payment_id, amount=body.amount, purpose=body.purpose, payee=new_payee
    )
    return payment_out(view)


def _require_a_change(body: PaymentChangeIn) -> None:
    """A change names what changes: a payee's name or bank come with its account."""
    payee = body.payee_id is not None or body.payee_account is not None
    if (body.payee_name is not None or body.payee_bank is not None) and not payee:
        raise Unprocessable(
            "payee_account_required",
            "Give the payee's account with its name and bank.",
            field="payee_account",
        )
    if body.amount is None and body.purpose is None and not payee:
        raise Unprocessable(
            "nothing_to_change", "Give the amount, the purpose or the payee to change."
        )


@router.post("/me/payments/{payment_id}/confirm", response_model=PaymentOut)
async def confirm_payment(
    payment_id: PaymentPath,
    body: ConfirmIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> PaymentOut:
    view = await payments.confirm_payment_async(
        rt,
        caller,
        payment_id,
        acknowledge_warnings=body.acknowledge_warnings,
        method=Factor(body.method) if body.method else None,
    )
    return payment_out(view)


@router.post("/me/payments/{payment_id}/authorize", response_model=PaymentOut)
async def authorise_payment(
    payment_id: PaymentPath,
    body: AuthoriseIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> PaymentOut:
    authorisation = payments.Authorisation(
        challenge_id=body.challenge_id,
        proof=Proof(code=body.code, signature=body.signature, credential=body.credential),
        transaction_password=body.transaction_password,
    )
    view = await payments.authorise_payment_async(rt, caller, payment_id, authorisation)
    return payment_out(view)


@router.post("/me/payments/{payment_id}/recall", response_model=PaymentOut)
def recall_payment(
    payment_id: PaymentPath,
    body: RecallIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> PaymentOut:
    """Ask for an erroneous transfer back (the amount is held at an in-bank payee)."""
    return payment_out(payments.request_recall(rt, caller, payment_id, reason=body.reason))


# --- registration -------------------------------------------------------------------------------


@router.post(
    "/channels/registrations",
    response_model=service.EnrolmentView,
    status_code=status.HTTP_201_CREATED,
)
def self_register(
    body: SelfRegistrationIn, rt: Runtime = Depends(runtime)
) -> service.EnrolmentView:
    """Register for online or mobile banking with the bank card, its PIN and the citizen ID."""
    return service.register_self_service(
        rt,
        service.SelfRegistration(
            card_number=body.card_number,
            pin=body.pin,
            name=body.name,
            id_number=body.id_number,
            login_name=body.login_name,
            login_password=body.login_password,
            transaction_password=body.transaction_password,
            channel=body.channel,
        ),
    )


@router.post(
    "/customers/{customer_id}/channels",
    response_model=service.EnrolmentView,
    status_code=status.HTTP_201_CREATED,
)
def register_at_counter(
    customer_id: EntityPath,
    body: CounterRegistrationIn,
    principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
    rt: Runtime = Depends(runtime),
) -> service.EnrolmentView:
    credentials = None
    if body.login_name is not None:
        credentials = auth.prepare_credentials(
            rt,
            login_name=body.login_name,
            login_password=body.login_password or "",
            transaction_password=body.transaction_password or "",
        )
    return service.register_at_counter(
        rt,
        principal.actor,
        customer_id,
        channel=body.channel,
        account_ids=list(body.account_ids),
        credentials=credentials,
        functions=tuple(body.functions),
    )


@router.get("/customers/{customer_id}/channels", response_model=list[service.EnrolmentView])
def customer_channels(
    customer_id: EntityPath,
    _: StaffPrincipal = Depends(require(Permission.CUSTOMERS_READ)),
    rt: Runtime = Depends(runtime),
) -> list[service.EnrolmentView]:
    return service.enrolments(rt, customer_id)


def _status_route(change: str, permission: Permission) -> None:
    @router.post(
        f"/customers/{{customer_id}}/channels/{{channel}}/{change}",
        response_model=service.EnrolmentView,
        name=f"channel_{change}",
    )
    def change_status(
        customer_id: EntityPath,
        channel: ChannelPath,
        body: EnrolmentStatusIn,
        principal: StaffPrincipal = Depends(require(permission)),
        rt: Runtime = Depends(runtime),
    ) -> service.EnrolmentView:
        return service.change_enrolment_status(
            rt, principal.actor, customer_id, channel, change=change, reason=body.reason
        )


_status_route("suspend", Permission.CHANNELS_SUSPEND)
_status_route("resume", Permission.CHANNELS_SUSPEND)
_status_route("close", Permission.CUSTOMERS_WRITE)


@router.put(
    "/customers/{customer_id}/channels/{channel}/limits", response_model=service.EnrolmentView
)
def set_limits(
    customer_id: EntityPath,
    channel: ChannelPath,
    body: LimitsIn,
    principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
    rt: Runtime = Depends(runtime),
) -> service.EnrolmentView:
    limits = Limits(body.per_transaction, body.daily, body.yearly)
    return service.change_limits(rt, principal.actor, customer_id, channel, limits)


# --- the customer's own banking -----------------------------------------------------------------


@router.get("/me/channels", response_model=list[service.EnrolmentView])
def my_channels(
    caller: CustomerSession = Depends(current_customer), rt: Runtime = Depends(runtime)
) -> list[service.EnrolmentView]:
    return service.enrolments(rt, caller.customer_id)


@router.put("/me/limits", response_model=service.EnrolmentView)
def lower_my_limits(
    body: LimitsIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> service.EnrolmentView:
    """Lower the limits of the channel in use (raising them needs the counter)."""
    limits = Limits(body.per_transaction, body.daily, body.yearly)
    return service.change_limits(rt, caller.actor, caller.customer_id, caller.channel, limits)


@router.get("/me/accounts", response_model=list[ledger.AccountView])
def my_accounts(
    caller: CustomerSession = Depends(current_customer), rt: Runtime = Depends(runtime)
) -> list[ledger.AccountView]:
    return service.signed_accounts(rt, caller.customer_id, caller.channel)


@router.get("/me/accounts/{account_id}/statement", response_model=ledger.Statement)
def my_statement(
    account_id: EntityPath,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> ledger.Statement:
    """The last 30 days unless dates are given (the bank's local dates, inclusive)."""
    service.require_signed(rt, caller.customer_id, caller.channel, account_id, "query")
    today = rt.local_today()
    end = date_to or today
    start = date_from or end - timedelta(days=30)
    if (end - start).days > 3660:
        raise Unprocessable(
            "date_range_too_long", "A statement covers at most ten years.", field="to"
        )
    return ledger.statement(rt, account_id, date_from=start, date_to=end)


@router.post(
    "/me/services/precious-metal",
    response_model=ledger.AccountView,
    status_code=status.HTTP_201_CREATED,
)
def open_precious_metal(
    body: ServiceOpenIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> ledger.AccountView:
    return service.open_investment_service(
        rt, caller.customer_id, channel=caller.channel, parent_account_id=body.parent_account_id
    )


@router.get("/me/payees", response_model=list[service.PayeeView])
def my_payees(
    caller: CustomerSession = Depends(current_customer), rt: Runtime = Depends(runtime)
) -> list[service.PayeeView]:
    return service.payees(rt, caller.customer_id)


@router.post("/me/payees", response_model=service.PayeeView, status_code=status.HTTP_201_CREATED)
def add_payee(
    body: PayeeIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> service.PayeeView:
    try:
        return service.add_payee(
            rt,
            caller.customer_id,
            account_number=body.account_number,
            name=body.name,
            bank_code=body.bank_code,
            nickname=body.nickname,
        )
    except DomainError as refusal:  # the payee checks name the payment's fields
        refusal.field = PAYEE_FIELDS.get(refusal.field or "", refusal.field)
        raise


@router.delete("/me/payees/{payee_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_payee(
    payee_id: EntityPath,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> None:
    service.delete_payee(rt, caller.customer_id, payee_id)
