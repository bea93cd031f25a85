"""Pure validators for the identifiers a bank handles: PRC resident identity card numbers, unified
social credit codes, bank card numbers, mainland mobile numbers, passports and HK/Macao permits.

Every ``normalize_*`` function takes the raw user input, returns the canonical form (spaces removed,
letters uppercased, prefixes dropped) or raises :class:`~ebank.common.errors.InvalidValue` with one
stable code per kind of identifier. Anything that is not a ``str``, or is longer than
:data:`MAX_INPUT_LENGTH` characters, is refused with that same code; no other exception escapes.
Only ASCII digits and letters are ever accepted (``str.isdigit`` would let in "１" or "²").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import Final, Literal

from ebank.common.errors import InvalidValue

__all__ = [
    "COMPANY_DOCUMENT_TYPES",
    "INDIVIDUAL_DOCUMENT_TYPES",
    "MAX_INPUT_LENGTH",
    "DocumentType",
    "is_luhn_valid",
    "luhn_check_digit",
    "normalize_card_number",
    "normalize_document_number",
    "normalize_hk_macao_permit",
    "normalize_mobile",
    "normalize_passport",
    "normalize_resident_id",
    "normalize_uscc",
    "resident_id_birth_date",
    "resident_id_check_char",
    "resident_id_gender",
    "uscc_check_char",
]

MAX_INPUT_LENGTH: Final = 64
"""Raw input longer than this is refused before any other processing."""

_WHITESPACE: Final = re.compile(r"\s+")
_WHITESPACE_OR_HYPHEN: Final = re.compile(r"[\s\-]+")
_DIGITS: Final = re.compile(r"[0-9]+")


def _clean(value: object, pattern: re.Pattern[str], code: str, message: str) -> str:
    """Refuse non-str and over-long input, then delete every match of ``pattern``."""
    if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH:
        raise InvalidValue(code, message)
    return pattern.sub("", value)


# --- PRC resident identity card (GB 11643-1999) ------------------------------------------------

_RESIDENT_ID: Final = "invalid_resident_id"
_RESIDENT_ID_FORMAT: Final = re.compile(r"[0-9]{17}[0-9X]")
_RESIDENT_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK_CHARS: Final = "10X98765432"
_PROVINCE_CODES: Final = frozenset(
    [
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
        83,
        91,
    ]
)
_MIN_BIRTH_YEAR: Final = 1900


def resident_id_check_char(body: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID number."""
    if not isinstance(body, str) or len(body) != 17 or not _DIGITS.fullmatch(body):
        raise InvalidValue(_RESIDENT_ID, "Enter the first 17 digits of the identity card number.")
    total = sum(int(ch) * weight for ch, weight in zip(body, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK_CHARS[total % 11]


def _resident_id_birth_date(number: str) -> date:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidValue(
            _RESIDENT_ID, "The birth date in the identity card number is not valid."
        ) from None
    return born


def normalize_resident_id(value: str, *, today: date | None = None) -> str:
    """Canonical 18-character resident (or temporary) identity card number.

    Spaces are removed and a trailing ``x`` is uppercased. The number must be 17 digits followed
    by a digit or ``X``, start with a known province code, carry a real birth date between
    1900-01-01 and ``today`` (default: the current date) and end with the correct MOD 11-2 check
    character. Legacy 15-digit numbers are refused.
    """
    number = _clean(value, _WHITESPACE, _RESIDENT_ID, "Enter an identity card number.").upper()
    if len(number) == 15 and _DIGITS.fullmatch(number):
        raise InvalidValue(
            _RESIDENT_ID,
            "Old 15-digit identity card numbers are not accepted; enter the 18-character number.",
        )
    if not _RESIDENT_ID_FORMAT.fullmatch(number):
        raise InvalidValue(
            _RESIDENT_ID, "Enter an 18-character identity card number (17 digits and a digit or X)."
        )
    if int(number[:2]) not in _PROVINCE_CODES:
        raise InvalidValue(_RESIDENT_ID, "The identity card number has an unknown region code.")
    born = _resident_id_birth_date(number)
    if born.year < _MIN_BIRTH_YEAR or born > (today if today is not None else date.today()):
        raise InvalidValue(_RESIDENT_ID, "The birth date in the identity card number is not valid.")
    if resident_id_check_char(number[:17]) != number[17]:
        raise InvalidValue(
            _RESIDENT_ID, "The identity card number is not valid: its check character is wrong."
        )
    return number


def resident_id_birth_date(number: str) -> date:
    """Birth date encoded in a resident ID number (checked as by :func:`normalize_resident_id`)."""
    return _resident_id_birth_date(normalize_resident_id(number))


def resident_id_gender(number: str) -> Literal["male", "female"]:
    """Gender encoded in a resident ID number: an odd 17th digit means male, even means female."""
    return "male" if int(normalize_resident_id(number)[16]) % 2 == 1 else "female"


# --- Unified social credit code (GB 32100-2015) ------------------------------------------------

_USCC: Final = "invalid_uscc"
_USCC_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES: Final = {ch: index for index, ch in enumerate(_USCC_CHARSET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(body: str) -> str:
    """GB 32100-2015 check character (MOD 31) for the first 17 characters of a credit code."""
    if not isinstance(body, str) or len(body) != 17 or any(ch not in _USCC_VALUES for ch in body):
        raise InvalidValue(
            _USCC, "Enter the first 17 characters of the unified social credit code."
        )
    total = sum(_USCC_VALUES[ch] * weight for ch, weight in zip(body, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARSET[(31 - total % 31) % 31]


def normalize_uscc(value: str) -> str:
    """Canonical 18-character unified social credit code (spaces removed, letters uppercased).

    Only the GB 32100-2015 character set (digits and uppercase letters except I, O, S, V, Z) is
    allowed, and the last character must be the MOD 31 check character.
    """
    code = _clean(value, _WHITESPACE, _USCC, "Enter a unified social credit code.")
    if not code.isascii():
        raise InvalidValue(_USCC, "Enter an 18-character unified social credit code.")
    code = code.upper()
    if len(code) != 18 or any(ch not in _USCC_VALUES for ch in code):
        raise InvalidValue(_USCC, "Enter an 18-character unified social credit code.")
    if uscc_check_char(code[:17]) != code[17]:
        raise InvalidValue(
            _USCC, "The unified social credit code is not valid: its check character is wrong."
        )
    return code


# --- Bank cards and accounts (Luhn) ------------------------------------------------------------

_CARD: Final = "invalid_card_number"
_CARD_FORMAT: Final = re.compile(r"[0-9]{16,19}")


def luhn_check_digit(payload: str) -> str:
    """The Luhn (mod 10) digit to append to ``payload`` (a non-empty string of digits)."""
    if (
        not isinstance(payload, str)
        or len(payload) > MAX_INPUT_LENGTH
        or not _DIGITS.fullmatch(payload)
    ):
        raise InvalidValue(_CARD, "Enter digits only.")
    total = 0
    for position, ch in enumerate(reversed(payload)):
        digit = int(ch)
        if position % 2 == 0:  # these digits are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_luhn_valid(number: str) -> bool:
    """Whether ``number`` (at least two ASCII digits, nothing else) passes the Luhn check."""
    if (
        not isinstance(number, str)
        or not 2 <= len(number) <= MAX_INPUT_LENGTH
        or not _DIGITS.fullmatch(number)
    ):
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def normalize_card_number(value: str) -> str:
    """Bank card or account number: spaces and hyphens removed, 16 to 19 digits, Luhn valid."""
    number = _clean(value, _WHITESPACE_OR_HYPHEN, _CARD, "Enter a bank card number.")
    if not _CARD_FORMAT.fullmatch(number):
        raise InvalidValue(_CARD, "Enter a bank card number of 16 to 19 digits.")
    if not is_luhn_valid(number):
        raise InvalidValue(_CARD, "The bank card number is not valid; check it for typing errors.")
    return number


# --- Mainland mobile numbers -------------------------------------------------------------------

_MOBILE: Final = "invalid_mobile"
_MOBILE_FORMAT: Final = re.compile(r"1[3-9][0-9]{9}")


def normalize_mobile(value: str) -> str:
    """Mainland China mobile number as 11 digits (``1[3-9]`` and nine more).

    Spaces and hyphens are removed and an optional ``+86``, ``0086`` or ``86`` country prefix is
    dropped.
    """
    number = _clean(value, _WHITESPACE_OR_HYPHEN, _MOBILE, "Enter a mobile phone number.")
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    if not _MOBILE_FORMAT.fullmatch(number):
        raise InvalidValue(_MOBILE, "Enter a valid mainland China mobile phone number.")
    return number


# --- Passports and HK/Macao permits ------------------------------------------------------------

_PASSPORT: Final = "invalid_passport"
_PASSPORT_FORMAT: Final = re.compile(r"[A-Z0-9]{5,17}")
_HK_MACAO: Final = "invalid_hk_macao_permit"
_HK_MACAO_FORMAT: Final = re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?")


def normalize_passport(value: str) -> str:
    """Passport number: spaces removed, uppercased, 5-17 letters and digits, at least one digit."""
    number = _clean(value, _WHITESPACE, _PASSPORT, "Enter a passport number.")
    if not number.isascii():
        raise InvalidValue(_PASSPORT, "Enter a passport number of 5 to 17 letters and digits.")
    number = number.upper()
    if not _PASSPORT_FORMAT.fullmatch(number) or not any(ch.isdigit() for ch in number):
        raise InvalidValue(_PASSPORT, "Enter a passport number of 5 to 17 letters and digits.")
    return number


def normalize_hk_macao_permit(value: str) -> str:
    """Mainland Travel Permit for Hong Kong and Macao Residents: H or M then 8 or 10 digits."""
    number = _clean(value, _WHITESPACE, _HK_MACAO, "Enter a Mainland Travel Permit number.")
    if not number.isascii():
        raise InvalidValue(_HK_MACAO, "Enter a permit number: H or M followed by 8 or 10 digits.")
    number = number.upper()
    if not _HK_MACAO_FORMAT.fullmatch(number):
        raise InvalidValue(_HK_MACAO, "Enter a permit number: H or M followed by 8 or 10 digits.")
    return number


# --- Document types ----------------------------------------------------------------------------


class DocumentType(StrEnum):
    """Kinds of identity document a customer can present."""

    RESIDENT_ID = "resident_id"
    TEMPORARY_ID = "temporary_id"
    PASSPORT = "passport"
    HK_MACAO_PERMIT = "hk_macao_permit"
    USCC = "uscc"


INDIVIDUAL_DOCUMENT_TYPES: Final = frozenset(
    {
        DocumentType.RESIDENT_ID,
        DocumentType.TEMPORARY_ID,
        DocumentType.PASSPORT,
        DocumentType.HK_MACAO_PERMIT,
    }
)
COMPANY_DOCUMENT_TYPES: Final = frozenset({DocumentType.USCC})

_NORMALIZERS: Final[dict[DocumentType, Callable[[str], str]]] = {
    DocumentType.RESIDENT_ID: normalize_resident_id,
    DocumentType.TEMPORARY_ID: normalize_resident_id,  # same number as the resident ID card
    DocumentType.PASSPORT: normalize_passport,
    DocumentType.HK_MACAO_PERMIT: normalize_hk_macao_permit,
    DocumentType.USCC: normalize_uscc,
}


def normalize_document_number(doc_type: DocumentType, value: str) -> str:
    """Normalize ``value`` with the rules of ``doc_type`` (a :class:`DocumentType` or its value).

    An unknown document type raises ``InvalidValue("invalid_document_type", ...)``.
    """
    try:
        kind = DocumentType(doc_type)
    except (ValueError, TypeError):
        raise InvalidValue("invalid_document_type", "Choose a valid document type.") from None
    return _NORMALIZERS[kind](value)
