"""Customer API for staff: onboarding, documents, KYC, lookups. Personal data leaves masked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from ebank.customers import service
from ebank.customers.schemas import (
    CompanyCreate,
    CustomerUpdate,
    DocumentIn,
    IndividualCreate,
)
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, require, runtime

router = APIRouter(prefix="/customers", tags=["customers"])
CustomerId = Annotated[int, Path(ge=1, le=MAX_ID)]
READ = Depends(require(Permission.CUSTOMERS_READ))
WRITE = Depends(require(Permission.CUSTOMERS_WRITE))


def _document(body: DocumentIn) -> service.DocumentInput:
    return service.DocumentInput(body.doc_type, body.number, body.issuing_country, body.expires_on)


@router.post(
    "/individuals", response_model=service.CustomerView, status_code=status.HTTP_201_CREATED
)
def create_individual(
    body: IndividualCreate, principal: StaffPrincipal = WRITE, rt: Runtime = Depends(runtime)
) -> service.CustomerView:
    return service.create_individual(
        rt,
        principal.actor,
        name=body.name,
        document=_document(body.document),
        mobile=body.mobile,
        kyc=service.KycInput(
            occupation=body.occupation, expected_monthly_turnover=body.expected_monthly_turnover
        ),
        vulnerable=body.vulnerable,
        vulnerable_reason=body.vulnerable_reason,
    )


@router.post("/companies", response_model=service.CustomerView, status_code=status.HTTP_201_CREATED)
def create_company(
    body: CompanyCreate, principal: StaffPrincipal = WRITE, rt: Runtime = Depends(runtime)
) -> service.CustomerView:
    return service.create_company(
        rt,
        principal.actor,
        name=body.name,
        document=_document(body.document),
        mobile=body.mobile,
        legal_representative=body.legal_representative,
        kyc=service.KycInput(
            business_scope=body.business_scope,
            registered_capital=body.registered_capital,
            expected_monthly_turnover=body.expected_monthly_turnover,
        ),
    )


@router.get("", response_model=list[service.CustomerView])
def search(
    document_number: Annotated[str | None, Query(max_length=64)] = None,
    mobile: Annotated[str | None, Query(max_length=32)] = None,
    name: Annotated[str | None, Query(max_length=64)] = None,
    _: StaffPrincipal = READ,
    rt: Runtime = Depends(runtime),
) -> list[service.CustomerView]:
    """Exact matches by ID document number, reserved mobile number or full name."""
    return service.find_customers(rt, document_number=document_number, mobile=mobile, name=name)


@router.get("/{customer_id}", response_model=service.CustomerView)
def get_customer(
    customer_id: CustomerId, _: StaffPrincipal = READ, rt: Runtime = Depends(runtime)
) -> service.CustomerView:
    return service.get_customer(rt, customer_id)


@router.patch("/{customer_id}", response_model=service.CustomerView)
def update_customer(
    customer_id: CustomerId,
    body: CustomerUpdate,
    principal: StaffPrincipal = WRITE,
    rt: Runtime = Depends(runtime),
) -> service.CustomerView:
    return service.update_kyc(
        rt,
        principal.actor,
        customer_id,
        kyc=service.KycInput(
            occupation=body.occupation,
            business_scope=body.business_scope,
            registered_capital=body.registered_capital,
            expected_monthly_turnover=body.expected_monthly_turnover,
        ),
        vulnerable=body.vulnerable,
        vulnerable_reason=body.vulnerable_reason,
        risk_rating=body.risk_rating,
    )


@router.post(
    "/{customer_id}/documents",
    response_model=service.DocumentView,
    status_code=status.HTTP_201_CREATED,
)
def add_document(
    customer_id: CustomerId,
    body: DocumentIn,
    principal: StaffPrincipal = WRITE,
    rt: Runtime = Depends(runtime),
) -> service.DocumentView:
    """Link another identity document the teller has seen and verified."""
    return service.add_document(rt, principal.actor, customer_id, _document(body))
