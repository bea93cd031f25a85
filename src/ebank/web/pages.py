"""The public pages: the landing page that says what the bank is and how to try the demo."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ebank.common.i18n import N_
from ebank.common.masking import mask_id_number, mask_mobile, mask_name
from ebank.sim.demo import DEMO_COMPANY, DEMO_INDIVIDUAL, DEMO_STAFF, DEMO_STAFF_PASSWORD
from ebank.staff.permissions import Role
from ebank.web.templating import render

router = APIRouter(include_in_schema=False)

ROLE_NAMES: dict[str, str] = {
    Role.TELLER: N_("Teller"),
    Role.SUPERVISOR: N_("Branch supervisor"),
    Role.RISK_ANALYST: N_("Fraud / risk analyst"),
    Role.AML_OFFICER: N_("AML compliance officer"),
    Role.DISPUTE_OFFICER: N_("Dispute officer"),
    Role.ADMIN: N_("Administrator"),
    Role.AUDITOR: N_("Auditor"),
}
CUSTOMER_KINDS: dict[str, str] = {"individual": N_("Individual"), "company": N_("Company")}


@dataclass(frozen=True)
class _ShownCustomer:
    kind: str
    name_masked: str
    document_masked: str
    mobile_masked: str


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    shown = [
        _ShownCustomer(
            CUSTOMER_KINDS[c.kind],
            mask_name(c.name),
            mask_id_number(c.document_number),
            mask_mobile(c.mobile),
        )
        for c in (DEMO_INDIVIDUAL, DEMO_COMPANY)
    ]
    return render(
        request,
        "landing.html",
        demo_staff=DEMO_STAFF,
        demo_password=DEMO_STAFF_PASSWORD,
        demo_customers=shown,
        role_names=ROLE_NAMES,
    )
