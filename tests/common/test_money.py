"""Tests for ebank.common.money."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from ebank.common.errors import InvalidValue
from ebank.common.money import (
    MAX_CAPITALS_MINOR,
    amount_in_chinese_capitals,
    currency_exponent,
    format_amount,
    minor_to_major_text,
    normalize_currency,
    parse_major_amount,
)


def code_of(func: Any) -> str:
    with pytest.raises(InvalidValue) as info:
        func()
    return info.value.code


# --- currencies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CNY", "CNY"),
        ("cny", "CNY"),
        (" usd ", "USD"),
        ("Eur", "EUR"),
        ("JPY", "JPY"),
        ("HKD", "HKD"),
    ],
)
def test_normalize_currency(raw: str, expected: str) -> None:
    assert normalize_currency(raw) == expected


@pytest.mark.parametrize("raw", ["", "ZZZ", "RMB", "CN", "CNYY", "C N Y", "¥", "ＣＮＹ", "x" * 100])
def test_normalize_currency_invalid(raw: str) -> None:
    assert code_of(lambda: normalize_currency(raw)) == "invalid_currency"


@pytest.mark.parametrize("raw", [None, 156, b"CNY", ["CNY"]])
def test_normalize_currency_non_str(raw: Any) -> None:
    assert code_of(lambda: normalize_currency(raw)) == "invalid_currency"


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("CNY", 2),
        ("USD", 2),
        ("EUR", 2),
        ("HKD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("BHD", 3),
        ("jpy", 0),
    ],
)
def test_currency_exponent(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_currency_exponent_unknown() -> None:
    assert code_of(lambda: currency_exponent("ZZZ")) == "invalid_currency"


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1234.5", "CNY", 123450),
        ("1234.50", "CNY", 123450),
        ("12", "CNY", 1200),
        ("0.01", "CNY", 1),
        ("0.1", "CNY", 10),
        ("00012.30", "CNY", 1230),
        (" 12.30 ", "CNY", 1230),
        ("1234", "JPY", 1234),
        ("1.234", "BHD", 1234),
        ("9999999999999999.99", "CNY", 999_999_999_999_999_999),
        ("999999999999999999", "JPY", 999_999_999_999_999_999),
        ("12.5", "usd", 1250),
    ],
)
def test_parse_major_amount(text: str, currency: str, minor: int) -> None:
    assert parse_major_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("", "CNY"),
        ("   ", "CNY"),
        ("abc", "CNY"),
        ("1,234.50", "CNY"),  # thousands separator
        ("1 234.50", "CNY"),
        ("1_234.50", "CNY"),  # Decimal would accept this
        ("1e3", "CNY"),
        ("1E3", "CNY"),
        ("1.5e1", "CNY"),
        ("NaN", "CNY"),
        ("nan", "CNY"),
        ("inf", "CNY"),
        ("Infinity", "CNY"),
        ("-Infinity", "CNY"),
        ("+12", "CNY"),
        (".5", "CNY"),
        ("5.", "CNY"),
        ("1.2.3", "CNY"),
        ("12.345", "CNY"),  # more decimals than CNY has
        ("12.340", "CNY"),
        ("12.5", "JPY"),
        ("12.0", "JPY"),
        ("1.2345", "BHD"),
        ("０.５", "CNY"),  # full-width digits
        ("١٢", "CNY"),  # Arabic-Indic digits
        ("¥12", "CNY"),
        ("12元", "CNY"),
        ("0x10", "CNY"),
    ],
)
def test_parse_major_amount_invalid(text: str, currency: str) -> None:
    assert code_of(lambda: parse_major_amount(text, currency)) == "invalid_amount"


@pytest.mark.parametrize(
    "text", ["0", "0.00", "000", "0.0", "-1", "-0", "-0.01", "-12.30", "-999.99"]
)
def test_parse_major_amount_not_positive(text: str) -> None:
    assert code_of(lambda: parse_major_amount(text, "CNY")) == "amount_not_positive"


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("10000000000000000", "CNY"),  # 1e16 yuan = 1e18 fen: 19 digits
        ("99999999999999999.99", "CNY"),
        ("1000000000000000000", "JPY"),
        ("9" * 1000, "CNY"),
        ("1" + "0" * 5000 + ".00", "CNY"),
    ],
)
def test_parse_major_amount_too_large(text: str, currency: str) -> None:
    assert code_of(lambda: parse_major_amount(text, currency)) == "amount_too_large"


def test_parse_major_amount_leading_zeros_do_not_count() -> None:
    assert parse_major_amount("0" * 5000 + "1.00", "CNY") == 100


@pytest.mark.parametrize("value", [12.5, 12, True, None, Decimal("12.50"), b"12.50"])
def test_parse_major_amount_refuses_non_str(value: Any) -> None:
    assert code_of(lambda: parse_major_amount(value, "CNY")) == "invalid_amount"


def test_parse_major_amount_unknown_currency() -> None:
    assert code_of(lambda: parse_major_amount("12", "XYZ")) == "invalid_currency"


# --- major text and formatting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123450, "CNY", "1234.50"),
        (1, "CNY", "0.01"),
        (0, "CNY", "0.00"),
        (-5, "USD", "-0.05"),
        (-123450, "CNY", "-1234.50"),
        (1234, "JPY", "1234"),
        (-1234, "JPY", "-1234"),
        (1234, "BHD", "1.234"),
        (10**20, "CNY", "1000000000000000000.00"),
    ],
)
def test_minor_to_major_text(minor: int, currency: str, text: str) -> None:
    assert minor_to_major_text(minor, currency) == text


@pytest.mark.parametrize("value", [1.5, True, "100", None, Decimal(100)])
def test_minor_functions_refuse_non_int(value: Any) -> None:
    assert code_of(lambda: minor_to_major_text(value, "CNY")) == "invalid_amount"
    assert code_of(lambda: format_amount(value, "CNY", "en")) == "invalid_amount"
    assert code_of(lambda: amount_in_chinese_capitals(value)) == "invalid_amount"


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (123450, "CNY", "zh-CN", "¥1,234.50"),
        (123450, "CNY", "zh_CN", "¥1,234.50"),
        (123450, "CNY", "en", "CN¥1,234.50"),
        (-123450, "CNY", "zh_CN", "-¥1,234.50"),
        (5, "USD", "en", "$0.05"),
        (1234, "JPY", "en", "¥1,234"),
        (1234, "JPY", "zh-CN", "JP¥1,234"),
        (10**30 + 1, "CNY", "en", "CN¥10,000,000,000,000,000,000,000,000,000.01"),
    ],
)
def test_format_amount(minor: int, currency: str, locale: str, text: str) -> None:
    assert format_amount(minor, currency, locale) == text


def babel_format_currency(minor: int, currency: str, locale: str) -> str:
    """Babel's own ``format_currency``, the reference :func:`format_amount` must agree with."""
    exponent = currency_exponent(currency)
    amount = Decimal(minor).scaleb(-exponent)
    with localcontext() as context:
        context.prec = 60
        text: str = format_currency(amount, currency, locale=locale.replace("-", "_"))
        return text


@given(
    minor=st.integers(min_value=-(10**20), max_value=10**20),
    currency=st.sampled_from(["CNY", "USD", "JPY", "KWD", "EUR"]),
    locale=st.sampled_from(["zh-CN", "en", "de", "fr", "ar", "en_IN", "hi", "de_CH"]),
)
def test_format_amount_is_babels_text(minor: int, currency: str, locale: str) -> None:
    """The plain layouts are written without Babel; every locale, plain or not (Indian grouping,
    Swiss signs), still reads as Babel writes it."""
    assert format_amount(minor, currency, locale) == babel_format_currency(minor, currency, locale)


@pytest.mark.parametrize("locale", ["xx-YY", "", "not a locale"])
def test_format_amount_unknown_locale(locale: str) -> None:
    assert code_of(lambda: format_amount(100, "CNY", locale)) == "invalid_locale"


# --- Chinese capitals ----------------------------------------------------------------------------

CAPITALS = [
    # whole yuan
    (0, "零元整"),
    (100, "壹元整"),
    (1000, "壹拾元整"),
    (1100, "壹拾壹元整"),
    (2000, "贰拾元整"),
    (10000, "壹佰元整"),
    (10100, "壹佰零壹元整"),
    (11000, "壹佰壹拾元整"),
    (50000, "伍佰元整"),
    (500000, "伍仟元整"),
    (110000, "壹仟壹佰元整"),
    (100500, "壹仟零伍元整"),
    (101000, "壹仟零壹拾元整"),
    (100000, "壹仟元整"),
    (600700, "陆仟零柒元整"),
    (10_0000_00, "壹拾万元整"),
    (10_0100_00, "壹拾万零壹佰元整"),
    (10_7000_00, "壹拾万柒仟元整"),
    (10_0001_00, "壹拾万零壹元整"),
    (1_0000_00, "壹万元整"),
    (1_0001_00, "壹万零壹元整"),
    (1_1000_00, "壹万壹仟元整"),
    (2_0000_0500, "贰佰万零伍元整"),
    (1000_0000_00, "壹仟万元整"),
    (1001_0000_00, "壹仟零壹万元整"),
    (1_0000_0000_00, "壹亿元整"),
    (1_0001_0000_00, "壹亿零壹万元整"),
    (1_0000_1000_00, "壹亿零壹仟元整"),
    (1_0000_0001_00, "壹亿零壹元整"),
    (1_1000_1000_00, "壹亿壹仟万壹仟元整"),
    (1_0100_0000_00, "壹亿零壹佰万元整"),
    (10_0000_0000_00, "壹拾亿元整"),
    (1234_5678_9012_00, "壹仟贰佰叁拾肆亿伍仟陆佰柒拾捌万玖仟零壹拾贰元整"),
    (9999_9999_9999_00, "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元整"),
    # with 角 and 分
    (123456, "壹仟贰佰叁拾肆元伍角陆分"),
    (1230, "壹拾贰元叁角整"),
    (1205, "壹拾贰元零伍分"),
    (101, "壹元零壹分"),
    (1010, "壹拾元壹角整"),
    (140950, "壹仟肆佰零玖元伍角整"),  # PBoC example ¥1,409.50
    (600714, "陆仟零柒元壹角肆分"),  # PBoC example ¥6,007.14
    (168032, "壹仟陆佰捌拾元叁角贰分"),  # PBoC example ¥1,680.32 (零 after 元 omitted)
    (10700053, "壹拾万柒仟元伍角叁分"),  # PBoC example ¥107,000.53 (零 omitted)
    (1640902, "壹万陆仟肆佰零玖元零贰分"),  # PBoC example ¥16,409.02
    (32504, "叁佰贰拾伍元零肆分"),  # PBoC example ¥325.04
    (1_0000_0000_01, "壹亿元零壹分"),
    (9999_9999_9999_99, "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    # under one yuan: no 零元
    (1, "壹分"),
    (5, "伍分"),
    (50, "伍角整"),
    (55, "伍角伍分"),
    (99, "玖角玖分"),
    (10, "壹角整"),
]


@pytest.mark.parametrize(("minor", "expected"), CAPITALS)
def test_amount_in_chinese_capitals(minor: int, expected: str) -> None:
    assert amount_in_chinese_capitals(minor) == expected


def test_capitals_table_has_no_duplicates() -> None:
    assert len({minor for minor, _ in CAPITALS}) == len(CAPITALS)
    assert len({text for _, text in CAPITALS}) == len(CAPITALS)


@pytest.mark.parametrize("minor", [-1, -100, -(10**20)])
def test_capitals_refuse_negative(minor: int) -> None:
    assert code_of(lambda: amount_in_chinese_capitals(minor)) == "invalid_amount"


def test_capitals_refuse_above_9999_yi() -> None:
    assert amount_in_chinese_capitals(MAX_CAPITALS_MINOR).startswith("玖仟玖佰玖拾玖亿")
    assert code_of(lambda: amount_in_chinese_capitals(MAX_CAPITALS_MINOR + 1)) == (
        "amount_too_large"
    )


_DIGIT_VALUES = {ch: value for value, ch in enumerate("零壹贰叁肆伍陆柒捌玖")}
_SECTION_UNITS = {"仟": 1000, "佰": 100, "拾": 10}


def _parse_section(text: str) -> int:
    total = 0
    digit = 0
    for ch in text:
        if ch in _DIGIT_VALUES:
            digit = _DIGIT_VALUES[ch]
        else:
            total += digit * _SECTION_UNITS[ch]
            digit = 0
    return total + digit


def capitals_to_minor(text: str) -> int:
    """An independent reader of capital amounts, used to check the writer round-trips."""
    body = text.removesuffix("整")
    yuan_text, _, fraction = body.rpartition("元")
    yi_text, _, rest = yuan_text.rpartition("亿")
    wan_text, _, low_text = rest.rpartition("万")
    yuan = (
        _parse_section(yi_text) * 10**8
        + _parse_section(wan_text) * 10**4
        + _parse_section(low_text)
    )
    jiao = fen = 0
    match = re.fullmatch(r"零?(?:(.)角)?(?:(.)分)?", fraction)
    assert match is not None, text
    if match.group(1):
        jiao = _DIGIT_VALUES[match.group(1)]
    if match.group(2):
        fen = _DIGIT_VALUES[match.group(2)]
    return yuan * 100 + jiao * 10 + fen


amounts = st.one_of(
    st.integers(0, MAX_CAPITALS_MINOR),
    st.integers(0, 10**6),
    # sparse amounts: a few non-zero digits in a sea of zeros
    st.lists(st.tuples(st.integers(0, 13), st.integers(1, 9)), min_size=1, max_size=4).map(
        lambda pairs: min(
            sum(digit * 10**position for position, digit in pairs), MAX_CAPITALS_MINOR
        )
    ),
)


@given(amounts)
def test_property_capitals_round_trip(minor: int) -> None:
    text = amount_in_chinese_capitals(minor)
    assert capitals_to_minor(text) == minor


@given(amounts)
def test_property_capitals_shape(minor: int) -> None:
    text = amount_in_chinese_capitals(minor)
    assert set(text) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    assert "零零" not in text
    assert text.endswith(("整", "分"))
    assert not text.endswith("分整")
    assert text.count("整") <= 1
    if minor:
        assert not text.startswith("零")
        assert "零元" not in text
    for index, ch in enumerate(text):
        if ch in "拾佰仟":  # every unit is preceded by the digit it counts
            assert text[index - 1] in "壹贰叁肆伍陆柒捌玖"
    if minor >= 100:
        assert "元" in text
    if minor % 100 == 0:
        assert text.endswith("元整")


# --- round trips ---------------------------------------------------------------------------------


@given(st.integers(1, 10**18 - 1), st.sampled_from(["CNY", "USD", "JPY", "BHD", "EUR"]))
def test_property_parse_text_round_trip(minor: int, currency: str) -> None:
    text = minor_to_major_text(minor, currency)
    assert parse_major_amount(text, currency) == minor


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e15"), places=2))
def test_property_parse_matches_decimal(amount: Decimal) -> None:
    assert parse_major_amount(f"{amount:f}", "CNY") == int(amount * 100)


@given(st.integers(-(10**18), 10**18))
def test_property_format_amount_contains_the_digits(minor: int) -> None:
    text = format_amount(minor, "CNY", "en")
    assert re.sub(r"[^0-9.-]", "", text) == minor_to_major_text(minor, "CNY")
