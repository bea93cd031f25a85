"""Request bodies of the channel API (responses are the service's views)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ebank.auth.schemas import ChallengeOut, Method
from ebank.channels.payments import Confirmation
from ebank.web.fields import Amount, EntityId, Name, OptionalAmount, Purpose, Reason

Channel = Literal["online", "mobile", "phone", "tv"]
Function = Literal["query", "transfer", "payment"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelfRegistrationIn(_Request):
    card_number: str = Field(max_length=32)
    pin: str = Field(max_length=16)
    name: Name
    id_number: str = Field(max_length=32)
    login_name: str = Field(max_length=64)
    login_password: str = Field(max_length=128)
    transaction_password: str = Field(max_length=128)
    channel: Literal["online", "mobile"] = "online"


class CounterRegistrationIn(_Request):
    channel: Channel
    account_ids: list[EntityId] = Field(min_length=1, max_length=20)
    functions: list[Function] = Field(default=["query", "transfer", "payment"], min_length=1)
    login_name: str | None = Field(default=None, max_length=64)
    login_password: str | None = Field(default=None, max_length=128)
    transaction_password: str | None = Field(default=None, max_length=128)


class EnrolmentStatusIn(_Request):
    reason: Reason


class LimitsIn(_Request):
    per_transaction: OptionalAmount = None
    daily: OptionalAmount = None
    yearly: OptionalAmount = None


class PayeeIn(_Request):
    account_number: str = Field(max_length=40)
    name: Name
    bank_code: str | None = Field(default=None, max_length=64)
    nickname: str | None = Field(default=None, max_length=40)


class PaymentIn(_Request):
    request_id: str = Field(max_length=64)
    from_account_id: EntityId
    amount: Amount
    purpose: Purpose | None = None
    payee_id: EntityId | None = None
    payee_account: str | None = Field(default=None, max_length=40)
    payee_name: Name | None = None
    payee_bank: str | None = Field(default=None, max_length=64)
    method: Method | None = None


class PaymentChangeIn(_Request):
    amount: OptionalAmount = None
    purpose: Purpose | None = None
    payee_id: EntityId | None = None
    payee_account: str | None = Field(default=None, max_length=40)
    payee_name: Name | None = None
    payee_bank: str | None = Field(default=None, max_length=64)


class ConfirmIn(_Request):
    acknowledge_warnings: bool = False
    method: Method | None = None


class AuthoriseIn(_Request):
    challenge_id: str | None = Field(default=None, max_length=64)
    code: str | None = Field(default=None, max_length=16)
    signature: str | None = Field(default=None, max_length=512)
    credential: dict[str, object] | None = None
    transaction_password: str | None = Field(default=None, max_length=128)


class RecallIn(_Request):
    reason: Reason


class ServiceOpenIn(_Request):
    parent_account_id: EntityId


class WarningOut(BaseModel):
    code: str
    message: str


class PaymentOut(BaseModel):
    id: str
    request_id: str
    status: str
    version: int
    channel: str
    amount: int
    currency: str
    purpose: str | None
    confirmation: Confirmation
    amount_text: str
    warnings: list[WarningOut]
    needs_confirmation: bool
    exemption: str | None
    risk_outcome: str | None
    strength: str | None
    factors: list[str]
    transfer_id: str | None
    failure_code: str | None
    recall_status: str | None
    challenge: ChallengeOut | None
    tip: str
