"""Channel enrolment (at the counter or self-service), signed accounts and limits, investment
services opened online, and payees.

Self-service registration needs the bank card with its PIN and a citizen-identity check
(scenario S7: online banking was opened with a fake ID card and no card). Every registration and
every security change is notified to the reserved phone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.auth import service as auth
from ebank.auth.models import CardPin
from ebank.auth.passwords import hash_password, verify_password
from ebank.channels.identity import identity_check
from ebank.channels.limits import Limits
from ebank.channels.models import ChannelEnrolment, Payee, SignedAccount
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, Forbidden, Locked, NotFound, Unprocessable
from ebank.common.i18n import N_
from ebank.common.masking import mask_card_number, mask_name
from ebank.common.validation import require_text
from ebank.common.validators import normalize_resident_id
from ebank.customers.models import Customer, CustomerDocument
from ebank.customers.service import DOCUMENT_PURPOSE, NAME_PURPOSE
from ebank.db import DirectRead, among
from ebank.ledger import service as ledger
from ebank.ledger.accounts import Product
from ebank.ledger.clearing import PAYEE_ACCOUNT, PAYEE_ACCOUNT_PURPOSE, PAYEE_NAME_PURPOSE
from ebank.ledger.models import Account
from ebank.ledger.service import ACCOUNT_NUMBER_PURPOSE
from ebank.notify import service as notify
from ebank.notify.messages import CHANGE_CARD_PIN, CHANGE_LIMITS, CHANNEL_CHANGES
from ebank.risk.assessment import EventKind, RiskEvent
from ebank.runtime import Runtime

CHANNELS = ("online", "mobile", "phone", "tv")
CHANNEL_LABELS = {
    "online": N_("online"),
    "mobile": N_("mobile"),
    "phone": N_("phone"),
    "tv": N_("TV"),
}
ENROLMENT_STATES = {"active": N_("active"), "suspended": N_("suspended"), "closed": N_("closed")}
VIA_LABELS = {"counter": N_("at the counter"), "self_service": N_("self-service")}
FUNCTIONS = ("query", "transfer", "payment")
CARD_PRODUCTS = (Product.PERSONAL_I.value, Product.PERSONAL_II.value, Product.PERSONAL_III.value)
PAYABLE_PRODUCTS = (*CARD_PRODUCTS, Product.CORPORATE_BASIC.value, Product.CORPORATE_GENERAL.value)
PAYEE_PRODUCTS = (
    *PAYABLE_PRODUCTS,
    Product.PRECIOUS_METAL_MARGIN.value,
)  # what a payment may credit
PIN = re.compile(r"^[0-9]{6}$")  # ASCII digits: \d takes any script's
SERVICE_LABELS = {Product.PRECIOUS_METAL_MARGIN.value: N_("precious-metal two-way trading")}


@dataclass(frozen=True)
class SignedAccountView:
    account_id: int
    number_masked: str
    product: str
    can_query: bool
    can_transfer: bool
    can_pay: bool


@dataclass(frozen=True)
class EnrolmentView:
    id: int
    customer_id: int
    channel: str
    status: str
    status_reason: str | None
    registered_via: str
    per_transaction_limit: int
    daily_limit: int
    yearly_limit: int
    created_at: datetime
    accounts: list[SignedAccountView]


def _check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise Unprocessable(
            "invalid_channel", "Choose online, mobile, phone or TV banking.", field="channel"
        )
    return channel


def default_contract(rt: Runtime) -> Limits:
    contract = rt.policy.channels.default_contract
    return Limits(
        per_transaction=rt.policy.to_minor(contract.per_transaction),
        daily=rt.policy.to_minor(contract.daily),
        yearly=rt.policy.to_minor(contract.yearly),
    )


def _enrolment_view(session: Session, row: ChannelEnrolment) -> EnrolmentView:
    signed = session.execute(
        select(SignedAccount, Account)
        .join(Account, Account.id == SignedAccount.account_id)
        .where(SignedAccount.enrolment_id == row.id)
        .order_by(SignedAccount.id)
    ).all()
    return EnrolmentView(
        id=row.id,
        customer_id=row.customer_id,
        channel=row.channel,
        status=row.status,
        status_reason=row.status_reason,
        registered_via=row.registered_via,
        per_transaction_limit=row.per_transaction_limit,
        daily_limit=row.daily_limit,
        yearly_limit=row.yearly_limit,
        created_at=row.created_at,
        accounts=[
            SignedAccountView(
                account.id,
                account.number_masked,
                account.product,
                link.can_query,
                link.can_transfer,
                link.can_pay,
            )
            for link, account in signed
        ],
    )


def _enrolment_audit(row: ChannelEnrolment) -> dict[str, object]:
    return {
        "channel": row.channel,
        "status": row.status,
        "registered_via": row.registered_via,
        "per_transaction_limit": row.per_transaction_limit,
        "daily_limit": row.daily_limit,
        "yearly_limit": row.yearly_limit,
    }


# --- registration -------------------------------------------------------------------------------


def register_at_counter(
    rt: Runtime,
    actor: Actor,
    customer_id: int,
    *,
    channel: str,
    account_ids: list[int],
    credentials: auth.NewCredentials | None = None,
    functions: tuple[str, ...] = FUNCTIONS,
) -> EnrolmentView:
    """A teller registers the customer for a channel, after checking their identity in person."""
    _check_channel(channel)
    with rt.db.write() as session:
        customer = _active_customer(session, customer_id)
        if credentials is not None:
            auth.store_credentials(session, rt, customer.id, credentials)
        elif channel in auth.LOGIN_CHANNELS and not auth.has_credentials(session, customer.id):
            raise Unprocessable(
                "credentials_required",
                "Set a login name and passwords to register for online or mobile banking.",
                field="login_name",
            )
        row = _enrol(session, rt, actor, customer, channel=channel, via="counter")
        _sign_accounts(session, rt, row, account_ids, functions)
        view = _enrolment_view(session, row)
    rt.courier.wake()
    return view


def _active_customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update={"key_share": True})
    if customer is None:
        raise NotFound("customer_not_found", "No such customer.", field="customer_id")
    if customer.status != "active":
        raise Conflict("customer_closed", "This customer is closed.", field="customer_id")
    return customer


def _enrol(
    session: Session, rt: Runtime, actor: Actor, customer: Customer, *, channel: str, via: str
) -> ChannelEnrolment:
    existing = session.execute(
        select(ChannelEnrolment).where(
            ChannelEnrolment.customer_id == customer.id, ChannelEnrolment.channel == channel
        )
    ).scalar_one_or_none()
    if existing is not None and existing.status != "closed":
        raise Conflict(
            "already_registered",
            "The customer is already registered for this channel.",
            field="channel",
        )
    now = rt.clock.now()
    contract = default_contract(rt)
    if existing is not None:  # a closed contract, registered anew: its accounts were closed too
        session.execute(delete(SignedAccount).where(SignedAccount.enrolment_id == existing.id))
    row = existing or ChannelEnrolment(customer_id=customer.id, channel=channel, created_at=now)
    row.status, row.status_reason, row.registered_via = "active", None, via
    row.per_transaction_limit = contract.per_transaction or 0
    row.daily_limit, row.yearly_limit = contract.daily or 0, contract.yearly or 0
    row.updated_at = now
    session.add(row)
    session.flush()
    audit.record(
        session,
        AuditEntry(
            actor,
            "channel.registered",
            "channel_enrolment",
            str(row.id),
            after=_enrolment_audit(row),
        ),
        now,
    )
    notify.queue(
        session,
        rt,
        customer.id,
        "registered",
        channel_msgid=CHANNEL_LABELS[channel],
        via_msgid=VIA_LABELS[via],
    )
    rt.risk.assess(
        RiskEvent(
            kind=EventKind.REGISTRATION,
            customer_id=customer.id,
            at=now,
            channel=channel,
            details={"via": via},
        )
    )
    return row


def _sign_accounts(
    session: Session,
    rt: Runtime,
    row: ChannelEnrolment,
    account_ids: list[int],
    functions: tuple[str, ...],
) -> None:
    unknown = set(functions) - set(FUNCTIONS)
    if unknown or not functions:
        raise Unprocessable(
            "invalid_functions", "Functions are query, transfer and payment.", field="functions"
        )
    if not account_ids:
        raise Unprocessable(
            "accounts_required", "Sign at least one account to the channel.", field="account_ids"
        )
    for account_id in dict.fromkeys(account_ids):
        account = session.get(Account, account_id)
        if account is None or account.customer_id != row.customer_id:
            raise Unprocessable(
                "account_not_customers", "This account is not the customer's.", field="account_ids"
            )
        _sign(session, rt, row.id, account_id, functions)


def _sign(
    session: Session, rt: Runtime, enrolment_id: int, account_id: int, functions: tuple[str, ...]
) -> None:
    link = session.execute(
        select(SignedAccount).where(
            SignedAccount.enrolment_id == enrolment_id, SignedAccount.account_id == account_id
        )
    ).scalar_one_or_none()
    if link is None:
        link = SignedAccount(
            enrolment_id=enrolment_id, account_id=account_id, created_at=rt.clock.now()
        )
        session.add(link)
    link.can_query = "query" in functions
    link.can_transfer = "transfer" in functions
    link.can_pay = "payment" in functions
    session.flush()


@dataclass(frozen=True)
class SelfRegistration:
    card_number: str
    pin: str
    name: str
    id_number: str
    login_name: str
    login_password: str
    transaction_password: str
    channel: str = "online"


def register_self_service(rt: Runtime, request: SelfRegistration) -> EnrolmentView:
    """Register online with the card and its PIN, and a citizen-identity check; the card's
    account is signed with every function. The error never says which detail was wrong."""
    if not PIN.match(request.pin or ""):  # no PIN at all: bad input, not a try at the card's
        raise Unprocessable("invalid_pin", "A card PIN is 6 digits.", field="pin")
    channel = _check_channel(request.channel)
    if channel not in auth.LOGIN_CHANNELS:
        raise Unprocessable("invalid_channel", "Choose online or mobile banking.", field="channel")
    credentials = auth.prepare_credentials(
        rt,
        login_name=request.login_name,
        login_password=request.login_password,
        transaction_password=request.transaction_password,
    )
    card = _card_account(rt, request.card_number)
    pin_ok = card is not None and _pin_matches(rt, card.id, request.pin)
    identity_ok = _identity_matches(rt, request, card)
    if card is None:
        raise _registration_refused()
    with rt.db.write() as session:  # the PIN's failure count commits even when refused
        failure = _count_pin(session, rt, card.id, pin_ok=pin_ok)
    if failure is not None:
        raise failure
    if not identity_ok:
        raise _registration_refused()
    with rt.db.write() as session:
        assert card.customer_id is not None
        customer = _active_customer(session, card.customer_id)
        auth.store_credentials(session, rt, customer.id, credentials)
        row = _enrol(
            session,
            rt,
            auth.customer_actor(customer.id),
            customer,
            channel=channel,
            via="self_service",
        )
        _sign(session, rt, row.id, card.id, FUNCTIONS)
        view = _enrolment_view(session, row)
    rt.courier.wake()
    return view


def _registration_refused() -> Forbidden:
    return Forbidden(
        "registration_refused",
        "The card, PIN or identity details do not match. Check them, or register at a branch.",
    )


def _card_account(rt: Runtime, card_number: str) -> Account | None:
    digits = re.sub(r"[\s-]", "", card_number or "")
    number_hash = rt.cipher.lookup_hash(digits, purpose=ACCOUNT_NUMBER_PURPOSE)
    with rt.db.read() as session:
        account = session.execute(
            select(Account).where(Account.number_hash == number_hash)
        ).scalar_one_or_none()
    if account is None or account.product not in CARD_PRODUCTS or account.status != "active":
        return None
    return account


def _pin_matches(rt: Runtime, account_id: int, pin: str) -> bool:
    with rt.db.read() as session:
        row = session.get(CardPin, account_id)
        known = row.pin_hash if row else None
    return verify_password(known, pin or "")


def _count_pin(session: Session, rt: Runtime, account_id: int, *, pin_ok: bool) -> Exception | None:
    row = session.get(CardPin, account_id, with_for_update={"key_share": True})
    if row is None:
        return _registration_refused()
    if row.locked_at is not None:
        return Locked("pin_locked", "The card's PIN is locked. Visit a branch to reset it.")
    if pin_ok:
        row.failed_attempts = 0
        return None
    row.failed_attempts += 1
    row.updated_at = rt.clock.now()
    if row.failed_attempts >= rt.policy.customer_auth.pin_max_failures:
        row.locked_at = rt.clock.now()
        return Locked("pin_locked", "The card's PIN is locked. Visit a branch to reset it.")
    return _registration_refused()


def _identity_matches(rt: Runtime, request: SelfRegistration, card: Account | None) -> bool:
    try:
        number = normalize_resident_id(request.id_number)
    except ValueError:
        return False
    name = (request.name or "").strip()
    if card is None or not name or not identity_check(rt).matches(rt, name=name, id_number=number):
        return False
    with rt.db.read() as session:  # and the card belongs to that very person
        holder = session.execute(
            select(CustomerDocument.customer_id).where(
                CustomerDocument.number_hash
                == rt.cipher.lookup_hash(number, purpose=DOCUMENT_PURPOSE),
                CustomerDocument.customer_id == card.customer_id,
            )
        ).first()
        customer = session.get(Customer, card.customer_id)
        same_name = customer is not None and customer.name_hash == rt.cipher.lookup_hash(
            name, purpose=NAME_PURPOSE
        )
    return holder is not None and same_name


def set_card_pin(rt: Runtime, actor: Actor, account_id: int, pin: str) -> None:
    """The customer sets the card's PIN on the counter's PIN pad."""
    if not PIN.match(pin or "") or len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise Unprocessable(
            "weak_pin", "A PIN is 6 digits, not all the same and not in sequence.", field="pin"
        )
    digest = hash_password(pin)
    now = rt.clock.now()
    with rt.db.write() as session:
        account = session.get(Account, account_id)
        if account is None or account.product not in CARD_PRODUCTS:
            raise NotFound("account_not_found", "No such card account.", field="account_id")
        row = session.get(CardPin, account_id, with_for_update={"key_share": True})
        if row is None:
            row = CardPin(account_id=account_id, failed_attempts=0)
            session.add(row)
        row.pin_hash, row.failed_attempts, row.locked_at, row.updated_at = digest, 0, None, now
        audit.record(session, AuditEntry(actor, "card.pin_set", "account", str(account_id)), now)
        if account.customer_id is not None:  # a card always has its holder
            notify.queue(
                session, rt, account.customer_id, "security_change", change_msgid=CHANGE_CARD_PIN
            )
    rt.courier.wake()


# --- enrolments ---------------------------------------------------------------------------------


def enrolments(rt: Runtime, customer_id: int) -> list[EnrolmentView]:
    with rt.db.read() as session:
        rows = session.execute(
            select(ChannelEnrolment)
            .where(ChannelEnrolment.customer_id == customer_id)
            .order_by(ChannelEnrolment.id)
        ).scalars()
        return [_enrolment_view(session, row) for row in rows]


def enrolment(rt: Runtime, customer_id: int, channel: str) -> EnrolmentView:
    with rt.db.read() as session:
        return _enrolment_view(session, _enrolment_row(session, customer_id, channel))


def _enrolment_row(
    session: Session, customer_id: int, channel: str, *, lock: bool = False
) -> ChannelEnrolment:
    query = select(ChannelEnrolment).where(
        ChannelEnrolment.customer_id == customer_id, ChannelEnrolment.channel == channel
    )
    row = session.execute(
        query.with_for_update(key_share=True) if lock else query
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(
            "not_registered", "You are not registered for this channel.", field="channel"
        )
    return row


STATUS_CHANGES = {
    "suspend": ("active", "suspended"),
    "resume": ("suspended", "active"),
    "close": (None, "closed"),
}


def change_enrolment_status(
    rt: Runtime, actor: Actor, customer_id: int, channel: str, *, change: str, reason: str
) -> EnrolmentView:
    """Suspend (the channel's sessions end at once), resume, or close a channel."""
    from ebank.auth.sessions import revoke_all_for

    reason = require_text("reason", reason, max_length=200)
    required, new_status = STATUS_CHANGES[change]
    now = rt.clock.now()
    with rt.db.write() as session:
        row = _enrolment_row(session, customer_id, _check_channel(channel), lock=True)
        if (required and row.status != required) or row.status == "closed":
            raise Conflict(
                "enrolment_state",
                "The channel is {state_msgid}: that change does not apply.",
                field="channel",
                state=row.status,
                state_msgid=ENROLMENT_STATES[row.status],
            )
        before = _enrolment_audit(row)
        row.status, row.status_reason, row.updated_at = new_status, reason, now
        if new_status != "active":
            revoke_all_for(  # that channel's: the others are still the customer's to use
                session, "customer", customer_id, now, f"channel_{new_status}", channel=row.channel
            )
        audit.record(
            session,
            AuditEntry(
                actor,
                f"channel.{change}",
                "channel_enrolment",
                str(row.id),
                before=before,
                after=_enrolment_audit(row),
            ),
            now,
        )
        notify.queue(
            session, rt, customer_id, "security_change", change_msgid=CHANNEL_CHANGES[change]
        )
        view = _enrolment_view(session, row)
    rt.courier.wake()
    return view


def change_limits(
    rt: Runtime, actor: Actor, customer_id: int, channel: str, limits: Limits
) -> EnrolmentView:
    """Change a channel's contract limits. A customer may only lower them; staff may set them up
    to the policy's default contract."""
    if limits.per_transaction is None and limits.daily is None and limits.yearly is None:
        raise Unprocessable("nothing_to_change", "Give at least one limit to change.")
    ceiling = default_contract(rt)
    now = rt.clock.now()
    with rt.db.write() as session:
        row = _enrolment_row(session, customer_id, _check_channel(channel), lock=True)
        current = Limits(row.per_transaction_limit, row.daily_limit, row.yearly_limit)
        cap = current if actor.kind == "customer" else ceiling
        for name in ("per_transaction", "daily", "yearly"):
            value = getattr(limits, name)
            top = getattr(cap, name)
            if value is not None and (value <= 0 or (top is not None and value > top)):
                raise Unprocessable(
                    "limit_out_of_range",
                    "A limit must be above zero and not above {maximum}.",
                    field=name,
                    maximum=top,
                )
        before = _enrolment_audit(row)
        row.per_transaction_limit = limits.per_transaction or row.per_transaction_limit
        row.daily_limit = limits.daily or row.daily_limit
        row.yearly_limit = limits.yearly or row.yearly_limit
        row.updated_at = now
        audit.record(
            session,
            AuditEntry(
                actor,
                "channel.limits_changed",
                "channel_enrolment",
                str(row.id),
                before=before,
                after=_enrolment_audit(row),
            ),
            now,
        )
        notify.queue(session, rt, customer_id, "security_change", change_msgid=CHANGE_LIMITS)
        view = _enrolment_view(session, row)
    rt.risk.assess(
        RiskEvent(
            kind=EventKind.LIMIT_CHANGE,
            customer_id=customer_id,
            at=now,
            channel="counter" if actor.kind == "staff" else channel,
        )
    )
    rt.courier.wake()
    return view


def signed_account(
    session: Session, customer_id: int, channel: str, account_id: int, function: str
) -> SignedSource:
    """The account, if it is signed to this live channel for ``function`` (one query)."""
    found = signed_accounts_in(session, [(customer_id, channel, account_id)], function)
    account = found[customer_id, channel, account_id]
    if isinstance(account, Exception):
        raise account
    return account


SignedKey = tuple[int, str, int]  # customer, channel, account


@dataclass(frozen=True)
class SignedSource:
    """A signed account as paying from it needs it."""

    id: int
    currency: str
    number_masked: str
    available: int


_SIGNED = {
    function: DirectRead(
        select(
            ChannelEnrolment.customer_id,
            ChannelEnrolment.channel,
            column,
            Account.id,
            Account.currency,
            Account.number_masked,
            Account.normal_side,
            Account.debits_posted,
            Account.credits_posted,
            Account.debits_pending,
            Account.credits_pending,
        )
        .join(SignedAccount, SignedAccount.account_id == Account.id)
        .join(ChannelEnrolment, ChannelEnrolment.id == SignedAccount.enrolment_id)
        .where(among(Account.id, "account_ids"), ChannelEnrolment.status == "active")
    )
    for function, column in (
        ("query", SignedAccount.can_query),
        ("transfer", SignedAccount.can_transfer),
        ("payment", SignedAccount.can_pay),
    )
}


def signed_accounts_in(
    session: Session, wanted: Sequence[SignedKey], function: str
) -> dict[SignedKey, SignedSource | Forbidden]:
    """For each (customer, channel, account): the account, if it is signed to that customer's
    live channel for ``function``, or the refusal — all in one query."""
    rows = _SIGNED[function].rows(
        session.connection(), {"account_ids": sorted({key[2] for key in wanted})}
    )
    allowed = {
        (customer_id, channel, account_id): SignedSource(
            account_id,
            currency,
            masked,
            ledger.available_of(
                side, debits_posted, credits_posted, debits_pending, credits_pending
            ),
        )
        for (
            customer_id,
            channel,
            can,
            account_id,
            currency,
            masked,
            side,
            debits_posted,
            credits_posted,
            debits_pending,
            credits_pending,
        ) in rows
        if can
    }
    return {key: allowed[key] if key in allowed else _not_signed() for key in wanted}


def _not_signed() -> Forbidden:
    return Forbidden(
        "account_not_signed",
        "This account is not signed to this channel for that use.",
        field="account_id",
    )


def signed_accounts(rt: Runtime, customer_id: int, channel: str) -> list[ledger.AccountView]:
    with rt.db.read() as session:
        ids = (
            session.execute(
                select(SignedAccount.account_id)
                .join(ChannelEnrolment, ChannelEnrolment.id == SignedAccount.enrolment_id)
                .where(
                    ChannelEnrolment.customer_id == customer_id,
                    ChannelEnrolment.channel == channel,
                    SignedAccount.can_query.is_(True),
                )
                .order_by(SignedAccount.account_id)
            )
            .scalars()
            .all()
        )
    return [ledger.get_account(rt, account_id) for account_id in ids]


def require_signed(
    rt: Runtime, customer_id: int, channel: str, account_id: int, function: str
) -> None:
    with rt.db.read() as session:
        signed_account(session, customer_id, channel, account_id, function)


# --- services opened online ---------------------------------------------------------------------


def open_investment_service(
    rt: Runtime, customer_id: int, *, channel: str, parent_account_id: int
) -> ledger.AccountView:
    """Open precious-metal two-way trading: a margin sub-account of a signed account, itself
    signed to the channel. The reserved phone is told, and the risk engine sees the event (S2)."""
    require_signed(rt, customer_id, channel, parent_account_id, "transfer")
    actor = auth.customer_actor(customer_id)
    account = ledger.open_account(
        rt,
        actor,
        customer_id=customer_id,
        product=Product.PRECIOUS_METAL_MARGIN,
        parent_account_id=parent_account_id,
    )
    with rt.db.write() as session:
        row = _enrolment_row(session, customer_id, channel)
        _sign(session, rt, row.id, account.id, FUNCTIONS)
        notify.queue(
            session,
            rt,
            customer_id,
            "service_opened",
            service_msgid=SERVICE_LABELS[account.product],
            account=account.number_masked,
        )
    rt.risk.assess(
        RiskEvent(
            kind=EventKind.NEW_SERVICE,
            customer_id=customer_id,
            at=rt.clock.now(),
            channel=channel,
            account_id=account.id,
            details={"service": account.product, "parent_account_id": parent_account_id},
        )
    )
    rt.courier.wake()
    return account


# --- payees -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayeeView:
    id: int
    name_masked: str
    account_masked: str
    bank_code: str
    in_bank: bool
    verified: bool
    trusted: bool
    nickname: str | None
    created_at: datetime


def _payee_view(row: Payee) -> PayeeView:
    return PayeeView(
        row.id,
        row.name_masked,
        row.account_masked,
        row.bank_code,
        row.account_id is not None,
        row.verified,
        row.trusted,
        row.nickname,
        row.created_at,
    )


@dataclass(frozen=True)
class ResolvedPayee:
    """A payee as a payment needs it: the full details, checked."""

    name: str
    account_number: str
    bank_code: str
    account_id: int | None  # an account of this bank
    verified: bool
    holder_id: int | None = None  # the customer holding that account
    owner_id: int | None = None  # for a saved payee: the customer who saved it


def resolve_payee(
    rt: Runtime, *, account_number: str, name: str, bank_code: str | None
) -> ResolvedPayee:
    """Check a payee. For this bank the account must exist and the name must be its holder's."""
    with rt.db.read() as session:
        return resolve_payee_in(
            session, rt, account_number=account_number, name=name, bank_code=bank_code
        )


def resolve_payee_in(
    session: Session, rt: Runtime, *, account_number: str, name: str, bank_code: str | None
) -> ResolvedPayee:
    """:func:`resolve_payee` inside the caller's transaction."""
    wanted = parse_payee(rt, account_number=account_number, name=name, bank_code=bank_code)
    found = resolve_payees_in(session, rt, [wanted])[0]
    if isinstance(found, Exception):
        raise found
    return found


@dataclass(frozen=True)
class PayeeDetails:
    """A payee as the customer typed it, in the right form (not yet checked against accounts)."""

    account_number: str
    name: str
    bank_code: str


def parse_payee(
    rt: Runtime, *, account_number: str, name: str, bank_code: str | None
) -> PayeeDetails:
    """The payee's account number (digits only), name and bank, or a field error."""
    number = re.sub(r"[\s-]", "", account_number or "")
    if not PAYEE_ACCOUNT.match(number):
        raise Unprocessable(
            "invalid_payee_account", "The payee's account is 8-32 digits.", field="payee_account"
        )
    name = require_text("payee_name", name, max_length=64)
    own_bank = rt.policy.ledger.bank_code
    bank = (bank_code or own_bank).strip().upper()[:64] or own_bank
    return PayeeDetails(number, name, bank)


_PAYEE_ACCOUNTS = DirectRead(
    select(
        Account.number_hash, Account.id, Account.product, Account.customer_id, Customer.name_hash
    )
    .join(Customer, Customer.id == Account.customer_id)
    .where(among(Account.number_hash, "hashes"))
)


def resolve_payees_in(
    session: Session, rt: Runtime, wanted: Sequence[PayeeDetails]
) -> list[ResolvedPayee | Unprocessable]:
    """Check payees, all in one query. For this bank the account must exist and the name must
    be its holder's; another bank's payee is taken as given (unverified)."""
    own_bank = rt.policy.ledger.bank_code
    hashes = {
        payee.account_number: rt.cipher.lookup_hash(
            payee.account_number, purpose=ACCOUNT_NUMBER_PURPOSE
        )
        for payee in wanted
        if payee.bank_code == own_bank
    }
    accounts = (
        {
            row.number_hash: row
            for row in _PAYEE_ACCOUNTS.rows(
                session.connection(), {"hashes": sorted(set(hashes.values()))}
            )
        }
        if hashes
        else {}
    )
    found: list[ResolvedPayee | Unprocessable] = []
    for payee in wanted:
        if payee.bank_code != own_bank:
            found.append(
                ResolvedPayee(payee.name, payee.account_number, payee.bank_code, None, False)
            )
            continue
        account = accounts.get(hashes[payee.account_number])
        if account is None or account.product not in PAYEE_PRODUCTS:
            found.append(
                Unprocessable(
                    "payee_account_unknown",
                    "No account of this bank has that number.",
                    field="payee_account",
                )
            )
        elif account.name_hash != rt.cipher.lookup_hash(payee.name, purpose=NAME_PURPOSE):
            found.append(
                Unprocessable(
                    "payee_name_mismatch",
                    "The payee's name does not match the account. Check it with the payee.",
                    field="payee_name",
                )
            )
        else:
            found.append(
                ResolvedPayee(
                    payee.name,
                    payee.account_number,
                    payee.bank_code,
                    account.id,
                    True,
                    account.customer_id,
                )
            )
    return found


def add_payee(
    rt: Runtime,
    customer_id: int,
    *,
    account_number: str,
    name: str,
    bank_code: str | None,
    nickname: str | None = None,
) -> PayeeView:
    payee = resolve_payee(rt, account_number=account_number, name=name, bank_code=bank_code)
    now = rt.clock.now()
    account_hash = rt.cipher.lookup_hash(payee.account_number, purpose=PAYEE_ACCOUNT_PURPOSE)
    with rt.db.write() as session:
        row = session.execute(
            select(Payee).where(
                Payee.customer_id == customer_id, Payee.account_hash == account_hash
            )
        ).scalar_one_or_none()
        if row is not None and row.status == "active":
            raise Conflict("payee_exists", "This payee is already saved.", field="payee_account")
        if row is None:
            row = Payee(customer_id=customer_id, account_hash=account_hash, created_at=now)
            session.add(row)
        row.name_enc = rt.cipher.encrypt(payee.name, purpose=PAYEE_NAME_PURPOSE)
        row.name_masked = mask_name(payee.name)
        row.account_enc = rt.cipher.encrypt(payee.account_number, purpose=PAYEE_ACCOUNT_PURPOSE)
        row.account_masked = mask_card_number(payee.account_number)
        row.bank_code, row.account_id, row.verified = (
            payee.bank_code,
            payee.account_id,
            payee.verified,
        )
        row.trusted, row.status = False, "active"
        row.nickname = (nickname or "").strip()[:40] or None
        session.flush()
        audit.record(
            session,
            AuditEntry(
                auth.customer_actor(customer_id),
                "payee.added",
                "payee",
                str(row.id),
                after={
                    "account": row.account_masked,
                    "bank": row.bank_code,
                    "verified": row.verified,
                },
            ),
            now,
        )
        view = _payee_view(row)
    rt.risk.assess(
        RiskEvent(
            kind=EventKind.NEW_PAYEE,
            customer_id=customer_id,
            at=now,
            channel="online",
            payee_key=account_hash,
        )
    )
    return view


def payees(rt: Runtime, customer_id: int) -> list[PayeeView]:
    with rt.db.read() as session:
        rows = session.execute(
            select(Payee)
            .where(Payee.customer_id == customer_id, Payee.status == "active")
            .order_by(Payee.id)
        ).scalars()
        return [_payee_view(row) for row in rows]


def payee_details(rt: Runtime, customer_id: int, payee_id: int) -> ResolvedPayee:
    with rt.db.read() as session:
        return payee_details_in(session, rt, customer_id, payee_id)


def payee_details_in(
    session: Session, rt: Runtime, customer_id: int, payee_id: int
) -> ResolvedPayee:
    """:func:`payee_details` inside the caller's transaction."""
    found = saved_payees_in(session, rt, customer_id, [payee_id]).get(payee_id)
    if found is None:
        raise payee_not_found()
    return found


def payee_not_found() -> NotFound:
    return NotFound("payee_not_found", "No such payee.", field="payee_id")


_SAVED_PAYEES = (
    select(Payee, Account.customer_id)
    .outerjoin(Account, Account.id == Payee.account_id)
    .where(among(Payee.id, "ids"), Payee.status == "active")
)


def saved_payees_in(
    session: Session, rt: Runtime, customer_id: int | None, payee_ids: Sequence[int]
) -> dict[int, ResolvedPayee]:
    """These saved payees (of ``customer_id``, or of whoever asks when None: the caller then
    checks the owner), active ones only, in one query; keyed by payee id."""
    rows = session.execute(_SAVED_PAYEES, {"ids": sorted(set(payee_ids))}).all()
    return {
        row.id: ResolvedPayee(
            rt.cipher.decrypt(row.name_enc, purpose=PAYEE_NAME_PURPOSE),
            rt.cipher.decrypt(row.account_enc, purpose=PAYEE_ACCOUNT_PURPOSE),
            row.bank_code,
            row.account_id,
            row.verified,
            holder_id,
            owner_id=row.customer_id,
        )
        for row, holder_id in rows
        if customer_id is None or row.customer_id == customer_id
    }


def delete_payee(rt: Runtime, customer_id: int, payee_id: int) -> None:
    with rt.db.write() as session:
        row = session.get(Payee, payee_id, with_for_update={"key_share": True})
        if row is None or row.customer_id != customer_id or row.status != "active":
            raise NotFound("payee_not_found", "No such payee.", field="payee_id")
        row.status = "deleted"
        audit.record(
            session,
            AuditEntry(auth.customer_actor(customer_id), "payee.deleted", "payee", str(row.id)),
            rt.clock.now(),
        )
