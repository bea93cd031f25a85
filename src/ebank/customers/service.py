"""Customer use cases: onboarding individuals and companies, ID documents, KYC, lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, NotFound, Unprocessable
from ebank.common.masking import mask_id_number, mask_mobile, mask_name
from ebank.common.money import normalize_currency
from ebank.common.validation import require_text, validated
from ebank.common.validators import (
    COMPANY_DOCUMENT_TYPES,
    INDIVIDUAL_DOCUMENT_TYPES,
    DocumentType,
    normalize_document_number,
    normalize_mobile,
    resident_id_birth_date,
    resident_id_gender,
)
from ebank.customers.models import Customer, CustomerDocument, CustomerIdentity
from ebank.runtime import Runtime

NAME_PURPOSE = "customer.name"
MOBILE_PURPOSE = "customer.mobile"
DOCUMENT_PURPOSE = "document.number"
IDENTITY_PURPOSE = "document.identity"
VULNERABILITY_PURPOSE = "customer.vulnerability"
MAX_AMOUNT = 10**15


@dataclass(frozen=True)
class DocumentInput:
    doc_type: DocumentType
    number: str
    issuing_country: str = "CHN"
    expires_on: date | None = None


@dataclass(frozen=True)
class KycInput:
    occupation: str | None = None
    business_scope: str | None = None
    registered_capital: int | None = None
    expected_monthly_turnover: int | None = None


@dataclass(frozen=True)
class DocumentView:
    id: int
    doc_type: str
    number_masked: str
    issuing_country: str
    expires_on: date | None
    status: str


@dataclass(frozen=True)
class CustomerView:
    id: int
    kind: str
    name_masked: str
    gender: str | None
    mobile_masked: str
    occupation: str | None
    business_scope: str | None
    registered_capital: int | None
    expected_monthly_turnover: int | None
    kyc_currency: str
    legal_representative_masked: str | None
    vulnerable: bool
    vulnerable_reason: str | None
    risk_rating: str
    status: str
    created_with_document_id: int | None
    created_at: datetime
    documents: list[DocumentView] = field(default_factory=list)


def _document_view(doc: CustomerDocument) -> DocumentView:
    return DocumentView(
        doc.id, doc.doc_type, doc.number_masked, doc.issuing_country, doc.expires_on, doc.status
    )


def _view(customer: Customer, documents: list[CustomerDocument], rt: Runtime) -> CustomerView:
    return CustomerView(
        id=customer.id,
        kind=customer.kind,
        name_masked=customer.name_masked,
        gender=customer.gender,
        mobile_masked=customer.mobile_masked,
        occupation=customer.occupation,
        business_scope=customer.business_scope,
        registered_capital=customer.registered_capital,
        expected_monthly_turnover=customer.expected_monthly_turnover,
        kyc_currency=customer.kyc_currency,
        legal_representative_masked=customer.legal_representative_masked,
        vulnerable=customer.vulnerable,
        vulnerable_reason=_reason(rt, customer),
        risk_rating=customer.risk_rating,
        status=customer.status,
        created_with_document_id=customer.created_with_document_id,
        created_at=customer.created_at,
        documents=[_document_view(d) for d in documents],
    )


def _sealed_reason(rt: Runtime, reason: str | None) -> bytes | None:
    """Why a customer is vulnerable (often health) is sensitive: stored encrypted, never audited."""
    text = require_text("vulnerable_reason", reason, max_length=200, required=False)
    return rt.cipher.encrypt(text, purpose=VULNERABILITY_PURPOSE) if text else None


def _reason(rt: Runtime, customer: Customer) -> str | None:
    if customer.vulnerable_reason_enc is None:
        return None
    return rt.cipher.decrypt(customer.vulnerable_reason_enc, purpose=VULNERABILITY_PURPOSE)


def audit_state(customer: Customer) -> dict[str, Any]:
    """What the audit trail keeps of a customer: masked personal data only."""
    return {
        "kind": customer.kind,
        "name": customer.name_masked,
        "mobile": customer.mobile_masked,
        "occupation": customer.occupation,
        "business_scope": customer.business_scope,
        "registered_capital": customer.registered_capital,
        "expected_monthly_turnover": customer.expected_monthly_turnover,
        "vulnerable": customer.vulnerable,
        "vulnerable_reason_recorded": customer.vulnerable_reason_enc is not None,
        "risk_rating": customer.risk_rating,
        "status": customer.status,
    }


def _check_amount(field_name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_AMOUNT:
        raise Unprocessable(
            "invalid_amount",
            "Amounts are whole numbers of minor units, not negative.",
            field=field_name,
        )
    return value


def _normalized_document(doc: DocumentInput, allowed: frozenset[DocumentType]) -> str:
    if doc.doc_type not in allowed:
        raise Unprocessable(
            "document_type_not_allowed",
            "This kind of customer cannot be identified with this document type.",
            field="document.doc_type",
        )
    return validated(
        "document.number", lambda v: normalize_document_number(doc.doc_type, v), doc.number
    )


def create_individual(
    rt: Runtime,
    actor: Actor,
    *,
    name: str,
    document: DocumentInput,
    mobile: str,
    kyc: KycInput,
    vulnerable: bool = False,
    vulnerable_reason: str | None = None,
) -> CustomerView:
    name = require_text("name", name, max_length=64)
    number = _normalized_document(document, INDIVIDUAL_DOCUMENT_TYPES)
    gender: str | None = None
    birth: date | None = None
    if document.doc_type in (DocumentType.RESIDENT_ID, DocumentType.TEMPORARY_ID):
        gender, birth = resident_id_gender(number), resident_id_birth_date(number)
    occupation = require_text("occupation", kyc.occupation, max_length=100, required=False)
    return _create(
        rt,
        actor,
        kind="individual",
        name=name,
        document=document,
        number=number,
        mobile=mobile,
        extra={
            "gender": gender,
            "birth_date_enc": rt.cipher.encrypt(birth.isoformat(), purpose="customer.birth_date")
            if birth
            else None,
            "occupation": occupation or None,
            "expected_monthly_turnover": _check_amount(
                "expected_monthly_turnover", kyc.expected_monthly_turnover
            ),
            "vulnerable": vulnerable,
            "vulnerable_reason_enc": _sealed_reason(rt, vulnerable_reason),
        },
    )


def create_company(
    rt: Runtime,
    actor: Actor,
    *,
    name: str,
    document: DocumentInput,
    mobile: str,
    legal_representative: str,
    kyc: KycInput,
) -> CustomerView:
    name = require_text("name", name, max_length=64)
    number = _normalized_document(document, COMPANY_DOCUMENT_TYPES)
    representative = require_text("legal_representative", legal_representative, max_length=64)
    scope = require_text("business_scope", kyc.business_scope, max_length=500)
    return _create(
        rt,
        actor,
        kind="company",
        name=name,
        document=document,
        number=number,
        mobile=mobile,
        extra={
            "business_scope": scope,
            "registered_capital": _check_amount("registered_capital", kyc.registered_capital),
            "expected_monthly_turnover": _check_amount(
                "expected_monthly_turnover", kyc.expected_monthly_turnover
            ),
            "legal_representative_enc": rt.cipher.encrypt(
                representative, purpose="customer.legal_representative"
            ),
            "legal_representative_masked": mask_name(representative),
        },
    )


def _create(
    rt: Runtime,
    actor: Actor,
    *,
    kind: str,
    name: str,
    document: DocumentInput,
    number: str,
    mobile: str,
    extra: dict[str, Any],
) -> CustomerView:
    mobile = validated("mobile", normalize_mobile, mobile)
    country = validated("document.issuing_country", _country, document.issuing_country)
    now = rt.clock.now()
    cipher = rt.cipher
    try:
        with rt.db.write() as session:
            _refuse_known_document(
                session, rt, doc_type=document.doc_type, number=number, country=country
            )
            customer = Customer(
                kind=kind,
                name_enc=cipher.encrypt(name, purpose=NAME_PURPOSE),
                name_hash=cipher.lookup_hash(name, purpose=NAME_PURPOSE),
                name_masked=mask_name(name),
                mobile_enc=cipher.encrypt(mobile, purpose=MOBILE_PURPOSE),
                mobile_hash=cipher.lookup_hash(mobile, purpose=MOBILE_PURPOSE),
                mobile_masked=mask_mobile(mobile),
                kyc_currency=normalize_currency(rt.policy.currency),
                risk_rating="low",
                status="active",
                created_at=now,
                updated_at=now,
                version=1,
                **extra,
            )
            session.add(customer)
            session.flush()
            doc = _add_document(
                session,
                rt,
                actor=actor,
                customer=customer,
                document=document,
                number=number,
                country=country,
                now=now,
            )
            customer.created_with_document_id = doc.id
            after = {**audit_state(customer), "document": _document_audit(doc)}
            audit.record(
                session,
                AuditEntry(actor, "customer.create", "customer", str(customer.id), None, after),
                now,
            )
            return _view(customer, [doc], rt)
    except IntegrityError as exc:  # a concurrent onboarding with the same document
        raise _document_taken() from exc


def _country(value: str) -> str:
    from ebank.common.errors import InvalidValue

    code = (value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise InvalidValue("invalid_country", "Countries are ISO 3166 three-letter codes.")
    return code


def _document_taken() -> Conflict:
    return Conflict(
        "document_already_registered",
        "This identity document already belongs to a customer.",
        field="document.number",
    )


def _identity_hash(rt: Runtime, doc_type: str, number: str, country: str) -> str:
    family = {
        DocumentType.RESIDENT_ID.value: "cn-resident",
        DocumentType.TEMPORARY_ID.value: "cn-resident",
    }.get(doc_type, doc_type)
    scope = country if doc_type == DocumentType.PASSPORT.value else ""
    return rt.cipher.lookup_hash(f"{family}|{scope}|{number}", purpose=IDENTITY_PURPOSE)


def _refuse_known_document(
    session: Session,
    rt: Runtime,
    *,
    doc_type: str,
    number: str,
    country: str,
    customer_id: int | None = None,
) -> None:
    """Refuse a document already on file, or an identity number that is another customer's."""
    number_hash = rt.cipher.lookup_hash(number, purpose=DOCUMENT_PURPOSE)
    exists = session.execute(
        select(CustomerDocument.id).where(
            CustomerDocument.doc_type == doc_type, CustomerDocument.number_hash == number_hash
        )
    ).first()
    owner = session.get(CustomerIdentity, _identity_hash(rt, doc_type, number, country))
    if exists or (owner is not None and owner.customer_id != customer_id):
        raise _document_taken()


def _add_document(
    session: Session,
    rt: Runtime,
    *,
    actor: Actor,
    customer: Customer,
    document: DocumentInput,
    number: str,
    country: str,
    now: datetime,
) -> CustomerDocument:
    if (
        document.expires_on is not None
        and document.expires_on < now.astimezone(rt.policy.zone).date()
    ):
        raise Unprocessable(
            "document_expired", "This identity document has expired.", field="document.expires_on"
        )
    doc = CustomerDocument(
        customer_id=customer.id,
        doc_type=document.doc_type.value,
        number_enc=rt.cipher.encrypt(number, purpose=DOCUMENT_PURPOSE),
        number_hash=rt.cipher.lookup_hash(number, purpose=DOCUMENT_PURPOSE),
        number_masked=mask_id_number(number),
        issuing_country=country,
        expires_on=document.expires_on,
        status="active",
        verified_by=actor.ref,
        created_at=now,
    )
    session.add(doc)
    identity = _identity_hash(rt, doc.doc_type, number, country)
    if session.get(CustomerIdentity, identity) is None:
        session.add(
            CustomerIdentity(identity_hash=identity, customer_id=customer.id, created_at=now)
        )
    session.flush()
    return doc


def _document_audit(doc: CustomerDocument) -> dict[str, Any]:
    return {"id": doc.id, "type": doc.doc_type, "number": doc.number_masked}


def add_document(
    rt: Runtime, actor: Actor, customer_id: int, document: DocumentInput
) -> DocumentView:
    """Link another identity document, seen and verified by the acting teller."""
    now = rt.clock.now()
    try:
        with rt.db.write() as session:
            customer = _get_for_update(session, customer_id)
            allowed = (
                INDIVIDUAL_DOCUMENT_TYPES
                if customer.kind == "individual"
                else COMPANY_DOCUMENT_TYPES
            )
            number = _normalized_document(document, allowed)
            country = validated("document.issuing_country", _country, document.issuing_country)
            _refuse_known_document(
                session,
                rt,
                doc_type=document.doc_type,
                number=number,
                country=country,
                customer_id=customer.id,
            )
            doc = _add_document(
                session,
                rt,
                actor=actor,
                customer=customer,
                document=document,
                number=number,
                country=country,
                now=now,
            )
            audit.record(
                session,
                AuditEntry(
                    actor,
                    "customer.document_add",
                    "customer",
                    str(customer.id),
                    None,
                    _document_audit(doc),
                ),
                now,
            )
            return _document_view(doc)
    except IntegrityError as exc:
        raise _document_taken() from exc


def _get_for_update(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update={"key_share": True})
    if customer is None:
        raise NotFound("customer_not_found", "No such customer.", field="customer_id")
    return customer


def update_kyc(
    rt: Runtime,
    actor: Actor,
    customer_id: int,
    *,
    kyc: KycInput,
    vulnerable: bool | None = None,
    vulnerable_reason: str | None = None,
    risk_rating: str | None = None,
) -> CustomerView:
    now = rt.clock.now()
    with rt.db.write() as session:
        customer = _get_for_update(session, customer_id)
        before = audit_state(customer)
        if kyc.occupation is not None:
            customer.occupation = require_text("occupation", kyc.occupation, max_length=100) or None
        if kyc.business_scope is not None:
            customer.business_scope = require_text(
                "business_scope", kyc.business_scope, max_length=500
            )
        if kyc.registered_capital is not None:
            customer.registered_capital = _check_amount(
                "registered_capital", kyc.registered_capital
            )
        if kyc.expected_monthly_turnover is not None:
            customer.expected_monthly_turnover = _check_amount(
                "expected_monthly_turnover", kyc.expected_monthly_turnover
            )
        if vulnerable is not None:
            customer.vulnerable = vulnerable
            customer.vulnerable_reason_enc = (
                _sealed_reason(rt, vulnerable_reason) if vulnerable else None
            )
        if risk_rating is not None:
            if risk_rating not in ("low", "medium", "high"):
                raise Unprocessable(
                    "invalid_risk_rating",
                    "The risk rating is low, medium or high.",
                    field="risk_rating",
                )
            customer.risk_rating = risk_rating
        customer.updated_at = now
        customer.version += 1
        audit.record(
            session,
            AuditEntry(
                actor,
                "customer.update",
                "customer",
                str(customer.id),
                before,
                audit_state(customer),
            ),
            now,
        )
        return _view(customer, _documents(session, customer.id), rt)


def _documents(session: Session, customer_id: int) -> list[CustomerDocument]:
    return list(
        session.execute(
            select(CustomerDocument)
            .where(CustomerDocument.customer_id == customer_id)
            .order_by(CustomerDocument.id)
        ).scalars()
    )


def get_customer(rt: Runtime, customer_id: int) -> CustomerView:
    with rt.db.read() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer_not_found", "No such customer.", field="customer_id")
        return _view(customer, _documents(session, customer.id), rt)


def find_customers(
    rt: Runtime,
    *,
    document_number: str | None = None,
    mobile: str | None = None,
    name: str | None = None,
    limit: int = 50,
) -> list[CustomerView]:
    """Exact-match lookups through the keyed hashes; personal data is never decrypted to search."""
    cipher = rt.cipher
    query = select(Customer)
    if document_number:
        number = document_number.strip().upper().replace(" ", "")
        number_hash = cipher.lookup_hash(number, purpose=DOCUMENT_PURPOSE)
        query = query.join(CustomerDocument, CustomerDocument.customer_id == Customer.id).where(
            CustomerDocument.number_hash == number_hash
        )
    if mobile:
        normalized = validated("mobile", normalize_mobile, mobile)
        query = query.where(
            Customer.mobile_hash == cipher.lookup_hash(normalized, purpose=MOBILE_PURPOSE)
        )
    if name:
        query = query.where(
            Customer.name_hash == cipher.lookup_hash(name.strip(), purpose=NAME_PURPOSE)
        )
    if not (document_number or mobile or name):
        raise Unprocessable(
            "search_criteria_required",
            "Give an ID document number, a mobile number or a full name.",
            field="document_number",
        )
    with rt.db.read() as session:
        customers = (
            session.execute(query.distinct().order_by(Customer.id).limit(limit)).scalars().all()
        )
        return [_view(c, _documents(session, c.id), rt) for c in customers]


def reveal_name(rt: Runtime, customer_id: int) -> str:
    """The full name, for documents the customer signs (receipts); never for lists or logs."""
    with rt.db.read() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer_not_found", "No such customer.", field="customer_id")
        return rt.cipher.decrypt(customer.name_enc, purpose=NAME_PURPOSE)
