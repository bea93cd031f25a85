"""The public pages: the landing page that says what the bank is and how to try the demo."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ebank.common.masking import mask_id_number, mask_mobile, mask_name
from ebank.sim.demo import DEMO_COMPANY, DEMO_INDIVIDUAL, DEMO_STAFF, DEMO_STAFF_PASSWORD
from ebank.web.labels import CUSTOMER_KINDS
from ebank.web.templating import render

router = APIRouter(include_in_schema=False)


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
    )
