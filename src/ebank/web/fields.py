"""Field types for request schemas, each failing with a stable code of our own."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from ebank.common.errors import InvalidValue
from ebank.common.money import normalize_currency
from ebank.ledger.posting import MAX_AMOUNT

_TRANSFER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def field_error(code: str, message: str, **params: Any) -> PydanticCustomError:
    return PydanticCustomError(code, message, {"ebank_message": message, **params})


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(
            "invalid_amount", "Amounts are whole numbers of minor units (fen, cents), e.g. 12345."
        )
    if value <= 0:
        raise field_error("amount_not_positive", "The amount must be greater than zero.")
    if value > MAX_AMOUNT:
        raise field_error("amount_too_large", "The amount is too large.")
    return value


def _optional_amount(value: Any) -> int | None:
    return None if value is None else _amount(value)


def _currency(value: Any) -> str:
    if not isinstance(value, str):
        raise field_error("invalid_currency", "Give the currency as an ISO 4217 code, e.g. CNY.")
    try:
        return normalize_currency(value)
    except InvalidValue as exc:
        raise field_error(exc.code, exc.message) from exc


def _transfer_id(value: Any) -> str:
    if not isinstance(value, str) or not _TRANSFER_ID.match(value) or value.startswith("sys:"):
        raise field_error(
            "invalid_transfer_id",
            "A transfer id is 1-64 letters, digits, '.', '_', ':' or '-', not starting with "
            "'sys:' (a UUID works well).",
        )
    return value


def _text(max_length: int) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise field_error("not_a_string", "Enter text.")
        text = value.strip()
        if len(text) > max_length:
            raise field_error(
                "too_long",
                "This field is limited to {max_length} characters.",
                max_length=max_length,
            )
        return text

    return BeforeValidator(check)


Amount = Annotated[int, BeforeValidator(_amount)]
OptionalAmount = Annotated[int | None, BeforeValidator(_optional_amount)]
Currency = Annotated[str, BeforeValidator(_currency)]
TransferId = Annotated[str, BeforeValidator(_transfer_id)]
Purpose = Annotated[str, _text(140)]
Reason = Annotated[str, _text(200)]
Name = Annotated[str, _text(64)]
ShortText = Annotated[str, _text(100)]
LongText = Annotated[str, _text(500)]
NoteText = Annotated[str, _text(4000)]
Narrative = Annotated[str, _text(20_000)]
Code64 = Annotated[str, _text(64)]

MAX_ID = 2**63 - 1
# Path and query ids: positive and within a 64-bit column, so no id ever reaches the database
# that it cannot hold.
EntityId = Annotated[int, Field(ge=1, le=MAX_ID)]
