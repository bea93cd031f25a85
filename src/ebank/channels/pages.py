"""Online banking in the browser: log in with a password and a one-time code, accounts and
statements, payments (confirmation, challenge, result, recall), payees, the security centre
(devices, tools, limits) and the notification inbox.

The pages call the same use cases as the JSON API (``auth/api.py``, ``channels/api.py``,
``notify/api.py``). The services scope everything by the session's customer, so another
customer's id ends on the error page; every form that writes carries the session's CSRF token,
checked by :func:`ebank.web.security.page_customer`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from ebank.auth import service as auth
from ebank.auth import tools as auth_tools
from ebank.auth.challenges import IssuedChallenge, Proof
from ebank.auth.service import CustomerSession
from ebank.auth.strength import Factor, is_strong
from ebank.channels import payments
from ebank.channels import service as channels
from ebank.common.errors import DomainError, InvalidValue, Unprocessable
from ebank.common.i18n import N_, gettext
from ebank.common.money import parse_major_amount
from ebank.customers import service as customers
from ebank.ledger import service as ledger
from ebank.notify import service as notify
from ebank.notify.messages import TIP_NEVER_ASK_CODE
from ebank.runtime import Runtime
from ebank.web.fields import MAX_ID
from ebank.web.security import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    device_ref,
    page_customer,
    runtime,
)
from ebank.web.templating import render

router = APIRouter(prefix="/bank", include_in_schema=False)

HOME = "/bank"
LOGIN_PATH = "/bank/login"
LOGIN_CSRF_COOKIE = "ebank_bank_login_csrf"
CSRF_COOKIE = "ebank_csrf"
DEVICE_MAX_AGE_S = 5 * 365 * 86400
LOGIN_CHANNEL = "online"
STATEMENT_DAYS = 30
MAX_STATEMENT_DAYS = 3660
TEXT = 1000  # form fields longer than this are no form the pages sent

EntityPath = Annotated[int, Path(ge=1, le=MAX_ID)]
PaymentPath = Annotated[str, Path(min_length=1, max_length=32)]
Customer = Annotated[CustomerSession, Depends(page_customer)]
Rt = Annotated[Runtime, Depends(runtime)]

METHODS: dict[str, Factor] = {
    "sms": Factor.SMS,
    "totp": Factor.TOTP,
    "hotp": Factor.HOTP,
    "usbkey": Factor.USBKEY,
    "passkey": Factor.PASSKEY,
}
METHOD_LABELS: dict[str, str] = {
    "sms": N_("SMS code to your reserved mobile phone"),
    "totp": N_("E-token code"),
    "hotp": N_("Button token code (counter-based)"),
    "usbkey": N_("USB key (its client software signs)"),
    "passkey": N_("Passkey (fingerprint, face or PIN of this device)"),
}
TOOL_KINDS: dict[str, str] = {
    "totp": N_("E-token (time-based)"),
    "hotp": N_("E-token (counter-based)"),
    "usbkey": N_("USB key"),
    "passkey": N_("Passkey"),
}
LOSABLE_TOOL_STATES = ("active", "disabled")
STRENGTH_LABELS: dict[str, str] = {
    "certificate_plus": N_("USB key and another factor"),
    "two_factor": N_("Two factors, such as an SMS code and the transaction password"),
    "one_factor": N_("One factor"),
}
DONE_MESSAGES: dict[str, str] = {
    "payee_added": N_("The payee was saved."),
    "payee_deleted": N_("The payee was deleted."),
    "device_removed": N_("The device was removed and its sessions ended."),
    "tool_lost": N_(
        "The tool was reported lost and stopped at once. Visit a branch to lift the report or "
        "replace the tool."
    ),
    "recall_requested": N_("Your recall request was received."),
    "passkey_added": N_("The passkey was added. You can now use it to log in and to pay."),
}
OUTCOMES: dict[str, str] = {
    "executed": N_("The payment was made."),
    "held": N_("The payment is held for a security check. The bank will contact you."),
    "blocked": N_("The payment was stopped for your safety."),
    "failed": N_("The payment failed: {reason_msgid}."),
    "voided": N_("The payment was stopped after a security check; the money is yours again."),
    "expired": N_("The payment was stopped: the security check did not finish in time."),
}
FINISHED = ("executed", "held", "blocked", "failed", "voided", "expired")
PASSKEY_ANSWER_MAX = 16_384  # a WebAuthn answer as JSON (attestation objects are the largest)
SIGN_PAYLOAD_MAX = 2_000  # what a USB key signs: the canonical JSON of the linked fields
SIGNATURE_MAX = 512  # a USB key's signature, base64 DER (an ECDSA P-256 one is under 100)
# The USB key's client software puts its signature in the form; none came back.
USBKEY_SILENT = N_(
    "The USB key did not sign. Insert it, check that its client software is running, and try again."
)
FORM_EXPIRED = N_("The form has expired; reload the page and try again.")


# --- helpers ------------------------------------------------------------------------------------


def _message(exc: DomainError | InvalidValue) -> str:
    return gettext(exc.message, **exc.params)


def _safe_next(target: str | None) -> str:
    """Only online-banking paths: the login page must not become an open redirect."""
    if not target or not target.startswith(HOME) or target.startswith("//"):
        return HOME
    parts = urlsplit(target)
    return HOME if parts.scheme or parts.netloc or "\\" in target else target


def _same(expected: str, submitted: str) -> bool:
    return bool(expected) and secrets.compare_digest(expected.encode(), submitted.encode())


def _optional_id(text: str) -> int | None:
    """A form's id field: None when empty or not a usable id."""
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def _page(
    request: Request,
    template: str,
    caller: CustomerSession,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    return render(
        request,
        template,
        status_code=status,
        me=caller,
        csrf_token=request.cookies.get(CSRF_COOKIE, ""),
        **context,
    )


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _done(done: str | None) -> str | None:
    return gettext(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None


# --- login and logout ---------------------------------------------------------------------------


class LoginForm(BaseModel):
    login_name: str = Field("", max_length=64)
    password: str = Field("", max_length=128)
    method: str = Field("sms", max_length=16)
    challenge_id: str = Field("", max_length=64)
    code: str = Field("", max_length=16)
    credential: str = Field("", max_length=PASSKEY_ANSWER_MAX)
    signature: str = Field("", max_length=SIGNATURE_MAX)
    sign_payload: str = Field("", max_length=SIGN_PAYLOAD_MAX)  # shown again, never trusted
    csrf_token: str = Field("", max_length=64)
    next: str = Field(HOME, max_length=256)


BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A short name for the browser ("Chrome · Linux"), as the device list shows it."""
    browser = next((name for token, name in BROWSERS if token in user_agent), "Browser")
    system = next((name for token, name in SYSTEMS if token in user_agent), None)
    return f"{browser} · {system}" if system else browser


def _login_page(
    request: Request,
    rt: Runtime,
    form: LoginForm,
    *,
    error: str | None = None,
    note: str | None = None,
    status: int = 200,
    webauthn: dict[str, Any] | None = None,
    sign_payload: str | None = None,
) -> Response:
    token = secrets.token_urlsafe(24)
    shown = form.model_copy(
        update={
            "password": "",
            "code": "",
            "credential": "",
            "signature": "",
            "next": _safe_next(form.next),
        }
    )
    response = render(
        request,
        "channels/login.html",
        status_code=status,
        me=None,
        csrf_token=token,
        form=shown,
        methods=METHOD_LABELS,
        error=error,
        note=note,
        tip=TIP_NEVER_ASK_CODE,
        webauthn=webauthn,
        sign_payload=sign_payload,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=rt.settings.cookie_secure,
        path=HOME,
    )
    return response


def _login_form_ok(request: Request, form: LoginForm) -> bool:
    return _same(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.csrf_token)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, rt: Rt, next: Annotated[str | None, Query(max_length=256)] = None
) -> Response:
    return _login_page(request, rt, LoginForm(next=_safe_next(next)))


@router.post("/login/code", response_class=HTMLResponse)
def login_code(request: Request, form: Annotated[LoginForm, Form()], rt: Rt) -> Response:
    """The "send code" button: an SMS code for this login name (an e-token needs none)."""
    if not _login_form_ok(request, form):
        return _login_page(request, rt, form, error=gettext(FORM_EXPIRED), status=403)
    if not form.login_name.strip():
        error = gettext("Enter your login name first.")
        return _login_page(request, rt, form, error=error, status=422)
    if form.method not in ("sms", "passkey", "usbkey"):
        note = gettext("Enter the code your e-token shows now.")
        return _login_page(request, rt, form, note=note)
    try:
        issued = auth.request_login_challenge(
            rt, login_name=form.login_name, method=METHODS[form.method]
        )
    except DomainError as exc:
        return _login_page(request, rt, form, error=_message(exc), status=exc.status)
    if form.method == "passkey":
        note = gettext("Enter your login password, then press “Log in” and use your passkey.")
        ready = form.model_copy(update={"challenge_id": issued.id})
        return _login_page(request, rt, ready, note=note, webauthn=issued.webauthn)
    if form.method == "usbkey":
        note = gettext("Insert your USB key, enter your login password and press “Log in”.")
        ready = form.model_copy(update={"challenge_id": issued.id})
        return _login_page(request, rt, ready, note=note, sign_payload=issued.sign_payload)
    minutes = max(1, rt.policy.customer_auth.sms_code_ttl_seconds // 60)
    note = gettext(
        "A code was sent to your reserved mobile phone. It is valid for {minutes} minutes.",
        minutes=minutes,
    )
    sent = form.model_copy(update={"challenge_id": issued.id})
    return _login_page(request, rt, sent, note=note)


def _login_refusal(form: LoginForm) -> str | None:
    """What the form lacks before the service is asked (a missing code is no failed attempt)."""
    factor = METHODS.get(form.method)
    if factor is None:
        return gettext("Choose how to verify: SMS code or e-token code.")
    if factor is Factor.PASSKEY:
        if not form.challenge_id or not form.credential:
            return gettext("Press “Send code” first, then log in with your passkey.")
        if not form.login_name.strip() or not form.password:
            return gettext("Enter your login name and login password.")
        return None
    if factor is Factor.SMS and not form.challenge_id:
        return gettext("Press “Send code” first, then enter the code you receive.")
    if factor is Factor.USBKEY:
        if not form.challenge_id:
            return gettext("Press “Send code” first, then log in with your USB key.")
        if not form.signature.strip():
            return gettext(USBKEY_SILENT)
        if not form.login_name.strip() or not form.password:
            return gettext("Enter your login name and login password.")
        return None
    if not form.login_name.strip() or not form.password or not form.code.strip():
        return gettext("Enter your login name, login password and verification code.")
    return None


def _passkey_answer(text: str) -> dict[str, Any] | None:
    """The browser's WebAuthn answer, or None when it is not a JSON object (a wrong proof)."""
    try:
        answer = json.loads(text) if text else None
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, form: Annotated[LoginForm, Form()], rt: Rt) -> Response:
    if not _login_form_ok(request, form):
        return _login_page(request, rt, form, error=gettext(FORM_EXPIRED), status=403)
    refusal = _login_refusal(form)
    if refusal is not None:
        return _login_page(request, rt, form, error=refusal, status=422)
    factor = METHODS[form.method]
    device = device_ref(request) or secrets.token_urlsafe(24)
    try:
        result = auth.login(
            rt,
            auth.LoginAttempt(
                login_name=form.login_name,
                password=form.password,
                method=factor,
                channel=LOGIN_CHANNEL,
                device_ref=device,
                device_label=device_label(request.headers.get("user-agent", "")),
                challenge_id=form.challenge_id if factor in CHALLENGED else None,
                proof=_proof(form.code, form.credential, factor, form.signature),
                ip=request.client.host if request.client else None,
            ),
        )
    except DomainError as exc:
        # The code may be spent (a right code with a wrong password): a new one is needed, and
        # nothing on the page may tell which element was wrong.
        spent = form.model_copy(update={"challenge_id": ""})
        return _login_page(request, rt, spent, error=_message(exc), status=exc.status)
    response = _see(_safe_next(form.next))
    _start_session(response, rt, result.session.token, result.session.csrf_token, device)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=HOME)
    return response


# factors whose challenge the server issues first
CHALLENGED = (Factor.SMS, Factor.PASSKEY, Factor.USBKEY)


def _proof(code: str, credential: str, factor: Factor, signature: str = "") -> Proof:
    if factor is Factor.PASSKEY:
        return Proof(credential=_passkey_answer(credential) or {})
    if factor is Factor.USBKEY:
        return Proof(signature=signature.strip() or None)
    return Proof(code=code.strip() or None)


def _start_session(response: Response, rt: Runtime, token: str, csrf: str, device: str) -> None:
    secure = rt.settings.cookie_secure
    for name, value in ((SESSION_COOKIE, token), (CSRF_COOKIE, csrf)):
        response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path="/")
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=DEVICE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


def _end_session(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(caller: Customer, rt: Rt) -> Response:
    auth.logout(rt, caller.customer_id, caller.session_id)
    return _end_session(_see(LOGIN_PATH))


# --- accounts -----------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, caller: Customer, rt: Rt) -> Response:
    return _page(
        request,
        "channels/home.html",
        caller,
        customer=customers.get_customer(rt, caller.customer_id),
        accounts=channels.signed_accounts(rt, caller.customer_id, caller.channel),
        recent=payments.list_payments(rt, caller.customer_id, limit=5),
        states=payments.STATE_LABELS,
        zone=rt.policy.zone,
    )


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_id: EntityPath,
    caller: Customer,
    rt: Rt,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """The statement of a signed account: the last 30 days unless dates are given."""
    channels.require_signed(rt, caller.customer_id, caller.channel, account_id, "query")
    end = date_to or rt.local_today()
    start = date_from or end - timedelta(days=STATEMENT_DAYS)
    if (end - start).days > MAX_STATEMENT_DAYS:
        raise Unprocessable(
            "date_range_too_long", "A statement covers at most ten years.", field="to"
        )
    result = ledger.statement(rt, account_id, date_from=start, date_to=end)
    return _page(request, "channels/statement.html", caller, statement=result, zone=rt.policy.zone)


# --- payments -----------------------------------------------------------------------------------


class PayForm(BaseModel):
    request_id: str = Field("", max_length=64)
    from_account_id: str = Field("", max_length=TEXT)
    payee_id: str = Field("", max_length=TEXT)
    payee_account: str = Field("", max_length=TEXT)
    payee_name: str = Field("", max_length=TEXT)
    payee_bank: str = Field("", max_length=TEXT)
    amount: str = Field("", max_length=TEXT)
    purpose: str = Field("", max_length=TEXT)
    method: str = Field("sms", max_length=16)


PAY_FIELDS = frozenset(PayForm.model_fields) - {"request_id"}
SERVICE_FIELDS = {"account_id": "from_account_id"}  # the service's field name → the form's


@dataclass(frozen=True)
class PayChoices:
    accounts: list[ledger.AccountView]
    payees: list[channels.PayeeView]
    methods: dict[str, str]  # the verification methods this customer can use → label msgid


@dataclass(frozen=True)
class ChallengeRef:
    """The challenge a code form answers: carried in the form, never trusted for more."""

    id: str
    method: str
    sent_to: str | None = None
    webauthn: dict[str, Any] | None = None  # a passkey's request options
    sign_payload: str | None = None  # what a USB key signs


def _new_request_id() -> str:
    return f"web-{secrets.token_hex(12)}"


def _methods(rt: Runtime, customer_id: int) -> dict[str, str]:
    kinds = {t.kind for t in auth_tools.list_tools(rt, customer_id) if t.status == "active"}
    return {m: label for m, label in METHOD_LABELS.items() if m == "sms" or m in kinds}


def _pay_choices(rt: Runtime, caller: CustomerSession) -> PayChoices:
    payable = sorted(
        {
            signed.account_id
            for enrolment in channels.enrolments(rt, caller.customer_id)
            if enrolment.channel == caller.channel and enrolment.status == "active"
            for signed in enrolment.accounts
            if signed.can_transfer
        }
    )
    return PayChoices(
        accounts=[ledger.get_account(rt, account_id) for account_id in payable],
        payees=channels.payees(rt, caller.customer_id),
        methods=_methods(rt, caller.customer_id),
    )


def _pay_page(
    request: Request,
    caller: CustomerSession,
    rt: Runtime,
    form: PayForm,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    fresh = form.model_copy(update={"request_id": _new_request_id()})
    return _page(
        request,
        "channels/pay.html",
        caller,
        status=status,
        form=fresh,
        errors=errors or {},
        choices=_pay_choices(rt, caller),
        own_bank=rt.policy.ledger.bank_code,
    )


@router.get("/pay", response_class=HTMLResponse)
def pay_form(
    request: Request,
    caller: Customer,
    rt: Rt,
    payee: Annotated[str, Query(max_length=20)] = "",
    account: Annotated[str, Query(alias="from", max_length=20)] = "",
) -> Response:
    form = PayForm(payee_id=payee, from_account_id=account, payee_bank=rt.policy.ledger.bank_code)
    return _pay_page(request, caller, rt, form)


def _parse_payment(
    form: PayForm, choices: PayChoices
) -> tuple[payments.PaymentInput | None, dict[str, str]]:
    """The payment the form asks for, or the message for each field that is wrong."""
    errors: dict[str, str] = {}
    accounts = {a.id: a for a in choices.accounts}
    account_id = _optional_id(form.from_account_id)
    if account_id not in accounts:
        errors["from_account_id"] = gettext("Choose the account to pay from.")
    payee_id = _optional_id(form.payee_id)
    if form.payee_id.strip() and payee_id is None:
        errors["payee_id"] = gettext("Choose a saved payee or enter a new one.")
    if payee_id is None and not form.payee_account.strip():
        errors["payee_account"] = gettext("Enter the payee's account number.")
    if payee_id is None and not form.payee_name.strip():
        errors["payee_name"] = gettext("Enter the payee's name as the bank knows it.")
    if form.method not in choices.methods:
        errors["method"] = gettext("Choose how to verify: SMS code or e-token code.")
    currency = accounts[account_id].currency if account_id in accounts else "CNY"
    amount = 0
    try:
        amount = parse_major_amount(form.amount, currency)
    except InvalidValue as exc:
        errors["amount"] = _message(exc)
    if errors or account_id is None:
        return None, errors
    new_payee = payee_id is None
    return payments.PaymentInput(
        request_id=form.request_id,
        from_account_id=account_id,
        amount=amount,
        purpose=form.purpose.strip() or None,
        payee_id=payee_id,
        payee_account=form.payee_account if new_payee else None,
        payee_name=form.payee_name if new_payee else None,
        payee_bank=(form.payee_bank.strip() or None) if new_payee else None,
    ), {}


def _field_error(exc: DomainError, fields: frozenset[str]) -> dict[str, str]:
    """The error under its form field, or as the form's own error (key "")."""
    name = SERVICE_FIELDS.get(exc.field or "", exc.field or "")
    return {name if name in fields else "": _message(exc)}


@router.post("/pay", response_class=HTMLResponse)
def pay_submit(
    request: Request, form: Annotated[PayForm, Form()], caller: Customer, rt: Rt
) -> Response:
    """Draft the payment and show its confirmation. Without warnings to confirm, the service
    issues the challenge at once: the code is on its way while the customer reads."""
    data, errors = _parse_payment(form, _pay_choices(rt, caller))
    if data is None:
        return _pay_page(request, caller, rt, form, errors=errors, status=422)
    try:
        view = payments.create_payment(rt, caller, data, method=METHODS[form.method])
    except DomainError as exc:
        errors = _field_error(exc, PAY_FIELDS)
        return _pay_page(request, caller, rt, form, errors=errors, status=exc.status)
    return _payment_page(request, caller, rt, view, challenge=_challenge_of(view.challenge))


def _challenge_of(issued: IssuedChallenge | None) -> ChallengeRef | None:
    if issued is None:
        return None
    return ChallengeRef(
        issued.id, issued.method, issued.sent_to, issued.webauthn, issued.sign_payload
    )


def _outcome(view: payments.PaymentView) -> str | None:
    if view.status == "failed":
        reason = payments.FAILURE_MESSAGES.get(view.failure_code or "", payments.FAILURE_DEFAULT)
        return gettext(OUTCOMES["failed"], reason_msgid=reason)
    return gettext(OUTCOMES[view.status]) if view.status in OUTCOMES else None


def _payment_page(
    request: Request,
    caller: CustomerSession,
    rt: Runtime,
    view: payments.PaymentView,
    *,
    challenge: ChallengeRef | None = None,
    error: str | None = None,
    status: int = 200,
    done: str | None = None,
) -> Response:
    return _page(
        request,
        "channels/payment.html",
        caller,
        status=status,
        payment=view,
        challenge=challenge,
        error=error,
        notice=_done(done),
        outcome=_outcome(view),
        warnings=[payments.WARNING_MESSAGES[w] for w in view.warnings],
        methods=_methods(rt, caller.customer_id),
        states=payments.STATE_LABELS,
        recall_states=payments.RECALL_STATUS_MESSAGES,
        tip=TIP_NEVER_ASK_CODE,
    )


@router.get("/payments", response_class=HTMLResponse)
def payment_list(request: Request, caller: Customer, rt: Rt) -> Response:
    return _page(
        request,
        "channels/payments.html",
        caller,
        payments=payments.list_payments(rt, caller.customer_id),
        states=payments.STATE_LABELS,
        zone=rt.policy.zone,
    )


@router.get("/payments/{payment_id}", response_class=HTMLResponse)
def payment_page(
    request: Request,
    payment_id: PaymentPath,
    caller: Customer,
    rt: Rt,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    view = payments.get_payment(rt, caller.customer_id, payment_id)
    return _payment_page(request, caller, rt, view, done=done)


class ConfirmForm(BaseModel):
    checked: str = Field("", max_length=16)
    method: str = Field("sms", max_length=16)


@router.post("/payments/{payment_id}/confirm", response_class=HTMLResponse)
def payment_confirm(
    request: Request,
    payment_id: PaymentPath,
    form: Annotated[ConfirmForm, Form()],
    caller: Customer,
    rt: Rt,
) -> Response:
    """Confirm what the page showed (ticking "I have checked" when there are warnings) and send
    the code; also sends a new code when the last one expired."""
    view = payments.get_payment(rt, caller.customer_id, payment_id)
    error = None
    if view.status == "draft" and view.warnings and not form.checked:
        error = gettext("Tick “I have checked” to confirm you have checked the payment.")
    elif form.method not in _methods(rt, caller.customer_id):
        error = gettext("Choose how to verify: SMS code or e-token code.")
    if error is not None:
        return _payment_page(request, caller, rt, view, error=error, status=422)
    try:
        view = payments.confirm_payment(
            rt,
            caller,
            payment_id,
            acknowledge_warnings=bool(form.checked),
            method=METHODS[form.method],
        )
    except DomainError as exc:
        view = payments.get_payment(rt, caller.customer_id, payment_id)
        return _payment_page(request, caller, rt, view, error=_message(exc), status=exc.status)
    return _payment_page(request, caller, rt, view, challenge=_challenge_of(view.challenge))


class AuthoriseForm(BaseModel):
    challenge_id: str = Field("", max_length=64)
    challenge_method: str = Field("", max_length=16)
    code: str = Field("", max_length=16)
    credential: str = Field("", max_length=PASSKEY_ANSWER_MAX)
    signature: str = Field("", max_length=SIGNATURE_MAX)
    sign_payload: str = Field("", max_length=SIGN_PAYLOAD_MAX)  # shown again, never trusted
    transaction_password: str = Field("", max_length=128)


def _authorise_refusal(view: payments.PaymentView, form: AuthoriseForm) -> str | None:
    answers = {"passkey": form.credential, "usbkey": form.signature.strip()}
    answered = answers.get(form.challenge_method, form.code.strip())
    if view.exemption is None and form.challenge_method == "usbkey" and not answered:
        return gettext(USBKEY_SILENT)
    if view.exemption is None and not (form.challenge_id and answered):
        return gettext("Enter the verification code.")
    if not form.transaction_password:
        return gettext("Enter your transaction password.")
    return None


@router.post("/payments/{payment_id}/authorise", response_class=HTMLResponse)
def payment_authorise(
    request: Request,
    payment_id: PaymentPath,
    form: Annotated[AuthoriseForm, Form()],
    caller: Customer,
    rt: Rt,
) -> Response:
    """The code and the transaction password: the payment executes, and the result page shows
    how it ended. A wrong element keeps the form, without saying which one was wrong."""
    view = payments.get_payment(rt, caller.customer_id, payment_id)
    method = form.challenge_method if form.challenge_method in METHODS else "sms"
    challenge = (
        ChallengeRef(form.challenge_id, method, sign_payload=form.sign_payload or None)
        if form.challenge_id
        else None
    )
    refusal = _authorise_refusal(view, form)
    if refusal is not None:
        return _payment_page(
            request, caller, rt, view, challenge=challenge, error=refusal, status=422
        )
    authorisation = payments.Authorisation(
        challenge_id=form.challenge_id or None,
        proof=_proof(form.code, form.credential, METHODS[method], form.signature),
        transaction_password=form.transaction_password,
    )
    try:
        payments.authorise_payment(rt, caller, payment_id, authorisation)
    except DomainError as exc:
        view = payments.get_payment(rt, caller.customer_id, payment_id)
        if view.status not in FINISHED:
            return _payment_page(
                request,
                caller,
                rt,
                view,
                challenge=challenge,
                error=_message(exc),
                status=exc.status,
            )
    return _see(f"{HOME}/payments/{quote(payment_id)}")


class RecallForm(BaseModel):
    reason: str = Field("", max_length=TEXT)


@router.post("/payments/{payment_id}/recall", response_class=HTMLResponse)
def payment_recall(
    request: Request,
    payment_id: PaymentPath,
    form: Annotated[RecallForm, Form()],
    caller: Customer,
    rt: Rt,
) -> Response:
    """Ask for an erroneous payment back."""
    try:
        payments.request_recall(rt, caller, payment_id, reason=form.reason)
    except DomainError as exc:
        view = payments.get_payment(rt, caller.customer_id, payment_id)
        return _payment_page(request, caller, rt, view, error=_message(exc), status=exc.status)
    return _see(f"{HOME}/payments/{quote(payment_id)}?done=recall_requested")


# --- payees -------------------------------------------------------------------------------------


class PayeeForm(BaseModel):
    account_number: str = Field("", max_length=TEXT)
    name: str = Field("", max_length=TEXT)
    bank_code: str = Field("", max_length=TEXT)
    nickname: str = Field("", max_length=TEXT)


PAYEE_FIELDS = frozenset(PayeeForm.model_fields)
PAYEE_SERVICE_FIELDS = {"payee_account": "account_number", "payee_name": "name"}


def _payees_page(
    request: Request,
    caller: CustomerSession,
    rt: Runtime,
    form: PayeeForm,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    return _page(
        request,
        "channels/payees.html",
        caller,
        status=status,
        payees=channels.payees(rt, caller.customer_id),
        form=form,
        errors=errors or {},
        notice=notice,
    )


@router.get("/payees", response_class=HTMLResponse)
def payee_list(
    request: Request,
    caller: Customer,
    rt: Rt,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    form = PayeeForm(bank_code=rt.policy.ledger.bank_code)
    return _payees_page(request, caller, rt, form, notice=_done(done))


@router.post("/payees", response_class=HTMLResponse)
def payee_add(
    request: Request, form: Annotated[PayeeForm, Form()], caller: Customer, rt: Rt
) -> Response:
    try:
        channels.add_payee(
            rt,
            caller.customer_id,
            account_number=form.account_number,
            name=form.name,
            bank_code=form.bank_code.strip() or None,
            nickname=form.nickname,
        )
    except DomainError as exc:
        name = PAYEE_SERVICE_FIELDS.get(exc.field or "", exc.field or "")
        errors = {name if name in PAYEE_FIELDS else "": _message(exc)}
        return _payees_page(request, caller, rt, form, errors=errors, status=exc.status)
    return _see(f"{HOME}/payees?done=payee_added")


@router.post("/payees/{payee_id}/delete")
def payee_delete(payee_id: EntityPath, caller: Customer, rt: Rt) -> Response:
    channels.delete_payee(rt, caller.customer_id, payee_id)
    return _see(f"{HOME}/payees?done=payee_deleted")


# --- security centre ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StrengthLimit:
    label: str  # msgid
    by_contract: bool
    per_transaction: int | None
    daily: int | None
    yearly: int | None


def _strength_limits(rt: Runtime) -> list[StrengthLimit]:
    policy = rt.policy
    return [
        StrengthLimit(
            label,
            tier.by_contract,
            policy.to_minor(tier.per_transaction),
            policy.to_minor(tier.daily),
            policy.to_minor(tier.yearly),
        )
        for key, label in STRENGTH_LABELS.items()
        if (tier := policy.channels.limits_by_strength.get(key)) is not None
    ]


@router.get("/security", response_class=HTMLResponse)
def security_page(
    request: Request,
    caller: Customer,
    rt: Rt,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    return security(request, caller, rt, notice=_done(done))


def security(
    request: Request,
    caller: CustomerSession,
    rt: Runtime,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    passkey: dict[str, Any] | None = None,
) -> Response:
    return _page(
        request,
        "channels/security.html",
        caller,
        status=status,
        notice=notice,
        error=error,
        passkey=passkey,
        strong_session=is_strong(caller.factors),
        devices=auth.list_devices(rt, caller.customer_id, caller.device_id),
        tools=auth_tools.list_tools(rt, caller.customer_id),
        enrolments=channels.enrolments(rt, caller.customer_id),
        strengths=_strength_limits(rt),
        currency=rt.policy.currency,
        zone=rt.policy.zone,
        tool_kinds=TOOL_KINDS,
        tool_states=auth_tools.TOOL_STATES,
        losable=LOSABLE_TOOL_STATES,
        channel_labels=channels.CHANNEL_LABELS,
        enrolment_states=channels.ENROLMENT_STATES,
    )


class PasskeyForm(BaseModel):
    challenge_id: str = Field("", max_length=64)
    credential: str = Field("", max_length=PASSKEY_ANSWER_MAX)
    label: str = Field("", max_length=64)


@router.post("/passkeys/options", response_class=HTMLResponse)
def passkey_options(request: Request, caller: Customer, rt: Rt) -> Response:
    """ "Add a passkey": the security centre again, with the browser's part of the ceremony."""
    try:
        auth_tools.require_strong_session(caller.factors)
        challenge_id, options = auth_tools.begin_passkey(
            rt, caller.customer_id, user_name=f"customer-{caller.customer_id}"
        )
    except DomainError as exc:
        return security(request, caller, rt, error=_message(exc), status=exc.status)
    ceremony = {"challenge_id": challenge_id, "options": options}
    return security(request, caller, rt, passkey=ceremony)


@router.post("/passkeys", response_class=HTMLResponse)
def passkey_add(
    request: Request, form: Annotated[PasskeyForm, Form()], caller: Customer, rt: Rt
) -> Response:
    answer = _passkey_answer(form.credential)
    try:
        auth_tools.require_strong_session(caller.factors)
        if answer is None:
            raise Unprocessable(
                "passkey_missing", "Use your passkey when the browser asks.", field="credential"
            )
        auth_tools.finish_passkey(
            rt,
            caller.actor,
            caller.customer_id,
            challenge_id=form.challenge_id,
            credential=answer,
            label=form.label.strip() or None,
        )
    except DomainError as exc:
        return security(request, caller, rt, error=_message(exc), status=exc.status)
    return _see(f"{HOME}/security?done=passkey_added")


@router.post("/devices/{device_id}/revoke")
def device_revoke(device_id: EntityPath, caller: Customer, rt: Rt) -> Response:
    """Remove a device: its sessions end at once (this one too, if it is this browser)."""
    auth.revoke_device(rt, caller.customer_id, device_id)
    if device_id == caller.device_id:
        return _end_session(_see(LOGIN_PATH))
    return _see(f"{HOME}/security?done=device_removed")


@router.post("/tools/{tool_id}/report-lost")
def tool_report_lost(tool_id: EntityPath, caller: Customer, rt: Rt) -> Response:
    """Stops the tool at once; only the counter lifts the report."""
    auth_tools.change_status(rt, caller.actor, caller.customer_id, tool_id, "report_lost")
    return _see(f"{HOME}/security?done=tool_lost")


# --- notifications ------------------------------------------------------------------------------


@router.get("/notifications", response_class=HTMLResponse)
def notifications(request: Request, caller: Customer, rt: Rt) -> Response:
    items = notify.inbox(rt, caller.customer_id, limit=100)
    return _page(request, "channels/notifications.html", caller, items=items, zone=rt.policy.zone)


# --- a form's address typed or reloaded (or its language switched) ----------------------------

GET_FALLBACKS = {
    "/login/code": LOGIN_PATH,
    "/logout": HOME,
    "/payments/{payment_id}/confirm": HOME + "/payments/{payment_id}",
    "/payments/{payment_id}/authorise": HOME + "/payments/{payment_id}",
    "/payments/{payment_id}/recall": HOME + "/payments/{payment_id}",
    "/payees/{payee_id}/delete": HOME + "/payees",
    "/devices/{device_id}/revoke": HOME + "/security",
    "/tools/{tool_id}/report-lost": HOME + "/security",
}


def _back_to(target: str) -> Callable[[Request], RedirectResponse]:
    def redirect(request: Request) -> RedirectResponse:
        params = {key: quote(str(value), safe="") for key, value in request.path_params.items()}
        return _see(target.format(**params))

    return redirect


for _path, _target in GET_FALLBACKS.items():
    router.add_api_route(_path, _back_to(_target), methods=["GET"], include_in_schema=False)
