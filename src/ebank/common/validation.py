"""Turning a pure validator's InvalidValue into a field error the edge can show."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ebank.common.errors import InvalidValue, Unprocessable

T = TypeVar("T")


def validated(field: str, check: Callable[[str], T], value: str) -> T:
    try:
        return check(value)
    except InvalidValue as exc:
        raise Unprocessable(exc.code, exc.message, field=field, **exc.params) from exc


def require_text(field: str, value: str | None, *, max_length: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Unprocessable("field_required", "This field is required.", field=field)
    if len(text) > max_length:
        raise Unprocessable(
            "too_long",
            "This field is limited to {max_length} characters.",
            field=field,
            max_length=max_length,
        )
    return text
