"""Money helpers. Amounts are always ``int`` counts of the currency's minor unit (fen for CNY,
cents for USD, yen for JPY); text is parsed and formatted through :class:`decimal.Decimal`, never
``float``. Currency codes and their minor-unit digits come from Babel (CLDR data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import cache, lru_cache
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberPattern, get_currency_precision, list_currencies

from ebank.common.errors import InvalidValue

__all__ = [
    "MAX_CAPITALS_MINOR",
    "MAX_MINOR_DIGITS",
    "amount_in_chinese_capitals",
    "currency_exponent",
    "format_amount",
    "minor_to_major_text",
    "normalize_currency",
    "parse_major_amount",
]

MAX_MINOR_DIGITS: Final = 18
"""An amount may have at most this many digits once expressed in minor units (fits a BIGINT)."""

_AMOUNT_TEXT: Final = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?")
_CURRENCY_CODE: Final = re.compile(r"[A-Z]{3}")
_MAX_TEXT_LENGTH: Final = 64


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def normalize_currency(code: str) -> str:
    """Uppercase ISO 4217 code known to Babel (``" cny "`` → ``"CNY"``) or ``invalid_currency``."""
    if not isinstance(code, str) or len(code) > _MAX_TEXT_LENGTH:
        raise InvalidValue("invalid_currency", "Choose a valid currency.")
    normalized = code.strip().upper()
    if not _CURRENCY_CODE.fullmatch(normalized) or normalized not in _known_currencies():
        raise InvalidValue("invalid_currency", "{currency} is not a known currency.", currency=code)
    return normalized


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` per Babel: CNY, USD, EUR → 2; JPY → 0."""
    return int(get_currency_precision(normalize_currency(currency)))


def _invalid_amount() -> InvalidValue:
    return InvalidValue("invalid_amount", "Enter the amount as a number, such as 1234.50.")


def parse_major_amount(text: str, currency: str) -> int:
    """Strict decimal text in major units → positive minor units (``"1234.5"`` CNY → ``123450``).

    Accepted: ASCII digits with an optional ``.`` and fraction of at most the currency's exponent
    digits (``"12"``, ``"12.3"``, ``"0.05"``; surrounding whitespace is ignored). Refused with
    ``invalid_amount``: non-str input (floats, bools, ints), empty text, ``+`` signs, exponents,
    thousands separators, ``NaN``/``Infinity``, ``".5"``/``"5."`` and too many decimals.
    Negative or zero amounts raise ``amount_not_positive``; amounts with more than
    :data:`MAX_MINOR_DIGITS` digits in minor units raise ``amount_too_large``.
    """
    exponent = currency_exponent(currency)
    if not isinstance(text, str):
        raise _invalid_amount()
    match = _AMOUNT_TEXT.fullmatch(text.strip())
    if match is None:
        raise _invalid_amount()
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if sign == "+":
        raise _invalid_amount()
    if sign == "-":
        raise InvalidValue("amount_not_positive", "The amount must be greater than zero.")
    if len(fraction) > exponent:
        raise InvalidValue(
            "invalid_amount",
            "Enter at most {digits} decimal places for {currency}.",
            digits=exponent,
            currency=normalize_currency(currency),
        )
    whole = whole.lstrip("0") or "0"
    if len(whole) + exponent > MAX_MINOR_DIGITS:
        raise InvalidValue("amount_too_large", "The amount is too large.")
    minor = Decimal(f"{whole}.{fraction or '0'}").scaleb(exponent)  # at most 18 digits: exact
    if minor == 0:
        raise InvalidValue("amount_not_positive", "The amount must be greater than zero.")
    return int(minor)


def _check_minor(minor: int) -> None:
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise InvalidValue("invalid_amount", "The amount must be a whole number of minor units.")


def minor_to_major_text(minor: int, currency: str) -> str:
    """Major-unit text: ``123450, "CNY"`` → ``"1234.50"``; ``-5, "USD"`` → ``"-0.05"``;
    ``1234, "JPY"`` → ``"1234"``."""
    _check_minor(minor)
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"


@lru_cache(maxsize=16)
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError, AttributeError):
        raise InvalidValue("invalid_locale", "Choose a supported language.") from None


@lru_cache(maxsize=16)
def _currency_pattern(locale: Locale) -> NumberPattern:
    pattern: NumberPattern = locale.currency_formats["standard"]
    return pattern


def format_amount(minor: int, currency: str, locale: str) -> str:
    """Locale-aware currency text via Babel, e.g. ``123450, "CNY", "zh-CN"`` → ``"¥1,234.50"``.

    ``locale`` may use ``-`` or ``_`` (``"zh-CN"``, ``"zh_CN"``, ``"en"``); an unknown locale
    raises ``invalid_locale``.
    """
    _check_minor(minor)
    layout = _layout(currency, locale)
    if layout is None:
        return _babel_amount(minor, normalize_currency(currency), locale)
    return layout.render(minor)


@dataclass(frozen=True)
class _AmountLayout:
    """How Babel writes amounts of one currency in one locale, when it is the plain layout:
    digits in groups of three, a fixed text before and after the number for each sign. Writing
    by it gives Babel's text at a fraction of the cost (every payment shown is formatted)."""

    positive: tuple[str, str]
    negative: tuple[str, str]
    group: str
    decimal: str
    exponent: int

    def render(self, minor: int) -> str:
        whole, fraction = divmod(abs(minor), 10**self.exponent)
        number = f"{whole:,}".replace(",", self.group)
        if self.exponent:
            number += f"{self.decimal}{fraction:0{self.exponent}d}"
        before, after = self.negative if minor < 0 else self.positive
        return f"{before}{number}{after}"


_LAYOUT_PROBE: Final = re.compile(
    r"(?P<before>.*?)1(?P<group>\D*)234(?P=group)567(?:(?P<decimal>\D+)\d+)?(?P<after>\D*)",
    re.DOTALL,
)
_LAYOUT_CHECKS: Final = (
    0,
    1,
    5,
    99,
    100,
    1_234,
    12_345,
    123_456,
    10**6,
    987_654_321_012,
    -1,
    -1_234,
)


@lru_cache(maxsize=64)
def _layout(currency: str, locale: str) -> _AmountLayout | None:
    """The plain layout Babel uses for ``currency`` in ``locale``, read off a sample amount and
    checked against Babel on others; None where Babel does something else (Indian grouping,
    say), and :func:`format_amount` then asks Babel each time."""
    code = normalize_currency(currency)
    exponent = currency_exponent(code)
    sample = 1_234_567 * 10**exponent + (10**exponent - 1) // 9 * 8  # 1,234,567.88
    positive = _LAYOUT_PROBE.fullmatch(_babel_amount(sample, code, locale))
    negative = _LAYOUT_PROBE.fullmatch(_babel_amount(-sample, code, locale))
    if positive is None or negative is None:
        return None
    layout = _AmountLayout(
        positive=(positive["before"], positive["after"]),
        negative=(negative["before"], negative["after"]),
        group=positive["group"],
        decimal=positive["decimal"] or "",
        exponent=exponent,
    )
    if any(layout.render(m) != _babel_amount(m, code, locale) for m in _LAYOUT_CHECKS):
        return None
    return layout


def _babel_amount(minor: int, code: str, locale: str) -> str:
    parsed = _babel_locale(locale)
    digits = Decimal(minor).as_tuple()
    amount = Decimal((digits.sign, digits.digits, -currency_exponent(code)))  # exact, any size
    with localcontext() as context:  # Babel quantizes in the current context: keep every digit
        context.prec = max(context.prec, len(digits.digits) + 2)
        # format_currency's own work, less parsing its arguments again on every call
        text: str = _currency_pattern(parsed).apply(
            amount, parsed, currency=code, currency_digits=True
        )
        return text


# --- Chinese financial capitals (大写金额) -----------------------------------------------------

MAX_CAPITALS_MINOR: Final = 99_999_999_999_999
"""Largest amount (in fen) :func:`amount_in_chinese_capitals` writes: 9999亿9999万9999元9角9分."""

_DIGIT_CAPITALS: Final = "零壹贰叁肆伍陆柒捌玖"
_SECTION_UNITS: Final = ("仟", "佰", "拾", "")
_GROUP_UNITS: Final = ("亿", "万", "")


def _section_capitals(section: int) -> str:
    """Capitals for 1..9999 without leading or trailing zeros; inner zero runs become one 零."""
    text = ""
    pending_zero = False
    for digit_char, unit in zip(f"{section:04d}", _SECTION_UNITS, strict=True):
        digit = int(digit_char)
        if digit == 0:
            pending_zero = bool(text)
            continue
        if pending_zero:
            text += "零"
            pending_zero = False
        text += _DIGIT_CAPITALS[digit] + unit
    return text


def _integer_capitals(yuan: int) -> str:
    """Capitals for 1..999_999_999_999 yuan, grouped by 亿 and 万 as in spoken Chinese."""
    text = ""
    pending_zero = False
    for index, unit in enumerate(_GROUP_UNITS):
        section = yuan // 10 ** (4 * (len(_GROUP_UNITS) - 1 - index)) % 10_000
        if section == 0:
            pending_zero = bool(text)  # a skipped whole group reads as one 零 before what follows
            continue
        if text and (pending_zero or section < 1000):
            text += "零"
        text += _section_capitals(section) + unit
        pending_zero = False
    return text


def amount_in_chinese_capitals(minor: int) -> str:
    """A CNY amount (in fen) in Chinese financial capital numerals, as written on cheques.

    Follows the PBoC rules for filling in bills and settlement vouchers (《正确填写票据和结算凭证的
    基本规定》), choosing one convention where they allow two:

    * An amount ending at 元 ends with 整: 100 → 壹元整, 500000 → 伍仟元整, 0 → 零元整.
    * An amount ending at 角 also ends with 整 (the rules make it optional; writing it leaves no
      room to append a 分 digit): 1230 → 壹拾贰元叁角整, 50 → 伍角整.
    * Nothing follows 分: 123456 → 壹仟贰佰叁拾肆元伍角陆分.
    * Amounts under one yuan start at 角 or 分, without 零元: 5 → 伍分, 55 → 伍角伍分.
    * Zero 角 with non-zero 分 writes 零 after 元: 1205 → 壹拾贰元零伍分.
    * Zeros inside the integer part follow spoken Chinese: a run of zeros between digits is one
      零 (100500 → 壹仟零伍元整, 10010000 → 壹拾万零壹佰元整, 10001000000 → 壹亿零壹万元整);
      zeros at the end of a 万/亿 group are not read (10700000 → 壹拾万柒仟元整) and a zero
      元 digit before a non-zero 角 writes no 零 (168032 → 壹仟陆佰捌拾元叁角贰分) — both are the
      "may omit 零" alternatives the rules allow.
    * 拾 is always preceded by its digit: 1000 → 壹拾元整, 100000000000 → 壹拾亿元整.

    Negative amounts or non-integers raise ``invalid_amount``; amounts above
    :data:`MAX_CAPITALS_MINOR` (9999亿…) raise ``amount_too_large``.
    """
    _check_minor(minor)
    if minor < 0:
        raise InvalidValue("invalid_amount", "The amount must not be negative.")
    if minor > MAX_CAPITALS_MINOR:
        raise InvalidValue("amount_too_large", "The amount is too large.")
    yuan, cents = divmod(minor, 100)
    jiao, fen = divmod(cents, 10)
    if minor == 0:
        return "零元整"
    text = (_integer_capitals(yuan) + "元") if yuan else ""
    if jiao == 0 and fen == 0:
        return text + "整"
    if jiao:
        text += _DIGIT_CAPITALS[jiao] + "角"
    elif yuan:
        text += "零"
    if fen == 0:
        return text + "整"
    return text + _DIGIT_CAPITALS[fen] + "分"
