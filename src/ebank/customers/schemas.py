from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from ebank.common.validators import DocumentType
from ebank.web.fields import LongText, Name, OptionalAmount, Reason, ShortText


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentIn(_Request):
    doc_type: DocumentType
    number: str = Field(min_length=1, max_length=64)
    issuing_country: str = Field(default="CHN", min_length=3, max_length=3)
    expires_on: date | None = None


class IndividualCreate(_Request):
    name: Name
    document: DocumentIn
    mobile: str = Field(min_length=1, max_length=32)
    occupation: ShortText | None = None
    expected_monthly_turnover: OptionalAmount = None
    vulnerable: bool = False
    vulnerable_reason: Reason | None = None


class CompanyCreate(_Request):
    name: Name
    document: DocumentIn
    mobile: str = Field(min_length=1, max_length=32)
    legal_representative: Name
    business_scope: LongText
    registered_capital: OptionalAmount = None
    expected_monthly_turnover: OptionalAmount = None


class CustomerUpdate(_Request):
    occupation: ShortText | None = None
    business_scope: LongText | None = None
    registered_capital: OptionalAmount = None
    expected_monthly_turnover: OptionalAmount = None
    vulnerable: bool | None = None
    vulnerable_reason: Reason | None = None
    risk_rating: str | None = Field(default=None, pattern="^(low|medium|high)$")
