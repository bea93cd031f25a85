"""Tests for ebank.common.validators: table-driven cases plus hypothesis properties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebank.common.errors import InvalidValue
from ebank.common.validators import (
    COMPANY_DOCUMENT_TYPES,
    INDIVIDUAL_DOCUMENT_TYPES,
    MAX_INPUT_LENGTH,
    DocumentType,
    is_luhn_valid,
    luhn_check_digit,
    normalize_card_number,
    normalize_document_number,
    normalize_hk_macao_permit,
    normalize_mobile,
    normalize_passport,
    normalize_resident_id,
    normalize_uscc,
    resident_id_birth_date,
    resident_id_check_char,
    resident_id_gender,
    uscc_check_char,
)

TODAY = date(2025, 6, 15)

PROVINCES = [
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

# --- independent reference implementations (deliberately not reusing the module's code) ---------


def ref_resident_check(body: str) -> str:
    """ISO 7064 MOD 11-2 from its definition: weight of position i (from the right) is 2^(i-1)."""
    total = sum(int(ch) * pow(2, 17 - index, 11) for index, ch in enumerate(body))
    return "10X98765432"[total % 11]


def make_resident_id(
    province: int = 11, area: str = "0105", born: date = date(1990, 3, 7), seq: int = 123
) -> str:
    body = f"{province:02d}{area}{born:%Y%m%d}{seq:03d}"
    return body + ref_resident_check(body)


USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def ref_uscc_check(body: str) -> str:
    """GB 32100-2015: weights are 3^(i-1) mod 31."""
    total = sum(USCC_CHARSET.index(ch) * pow(3, index, 31) for index, ch in enumerate(body))
    return USCC_CHARSET[(31 - total % 31) % 31]


def ref_luhn_valid(number: str) -> bool:
    digits = [int(ch) for ch in reversed(number)]
    odd = sum(digits[0::2])
    even = sum(sum(divmod(2 * digit, 10)) for digit in digits[1::2])
    return (odd + even) % 10 == 0


def code_of(func: Callable[[], object]) -> str:
    with pytest.raises(InvalidValue) as info:
        func()
    return info.value.code


# --- resident identity card ----------------------------------------------------------------------


def test_reference_check_matches_module() -> None:
    assert resident_id_check_char("11010519491231002") == "X"
    assert ref_resident_check("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002x ", "11010519491231002X"),
        ("110105\u300019491231002X", "11010519491231002X"),  # full-width space
        (
            make_resident_id(44, "0304", date(2000, 2, 29), 1),
            make_resident_id(44, "0304", date(2000, 2, 29), 1),
        ),
        (make_resident_id(91, born=date(1900, 1, 1)), make_resident_id(91, born=date(1900, 1, 1))),
        (make_resident_id(83, born=TODAY), make_resident_id(83, born=TODAY)),
    ],
)
def test_normalize_resident_id_valid(raw: str, expected: str) -> None:
    assert normalize_resident_id(raw, today=TODAY) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "110105194912310021",  # wrong check digit
        "11010519491231002Y",
        "1101051949123100X2",  # X not in last place
        "11010519491231002",  # 17 chars
        "11010519491231002X0",  # 19 chars
        "110105491231002",  # legacy 15-digit number
        "440524188001010014",  # GB 11643 example: checksum fine but born 1880
        make_resident_id(province=10),
        make_resident_id(province=16),
        make_resident_id(province=72),
        make_resident_id(province=99),
        make_resident_id(province=0),
        make_resident_id(born=date(1899, 12, 31)),
        make_resident_id(born=date(2025, 6, 16)),  # after TODAY
        "110105" + "19990229" + "123" + "0",  # no 29 February in 1999 (check irrelevant)
        "110105" + "19901301" + "123" + "0",
        "110105" + "19900100" + "123" + "0",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
        "11010519491231002\u0661",  # Arabic-Indic digit
        "11010519-491231002X",
    ],
)
def test_normalize_resident_id_invalid(raw: str) -> None:
    assert code_of(lambda: normalize_resident_id(raw, today=TODAY)) == "invalid_resident_id"


def test_resident_id_default_today_is_real_today() -> None:
    tomorrow = date.fromordinal(date.today().toordinal() + 1)
    assert code_of(lambda: normalize_resident_id(make_resident_id(born=tomorrow))) == (
        "invalid_resident_id"
    )
    assert normalize_resident_id(make_resident_id(born=date.today())) == make_resident_id(
        born=date.today()
    )


def test_resident_id_invalid_dates_raise_invalid_value_even_with_fixed_checksum() -> None:
    for born_text in ["19990229", "19901301", "19900100", "19900431", "00000000"]:
        body = f"110105{born_text}123"
        with pytest.raises(InvalidValue, match="birth date"):
            normalize_resident_id(body + ref_resident_check(body), today=TODAY)


def test_birth_date_and_gender() -> None:
    assert resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert resident_id_gender("11010519491231002X") == "female"  # 17th digit 2
    male = make_resident_id(born=date(1985, 7, 1), seq=457)
    assert resident_id_gender(male) == "male"
    assert resident_id_birth_date(male) == date(1985, 7, 1)
    assert resident_id_gender(make_resident_id(seq=450)) == "female"


def test_birth_date_and_gender_refuse_garbage() -> None:
    assert code_of(lambda: resident_id_birth_date("not an id")) == "invalid_resident_id"
    assert code_of(lambda: resident_id_gender("110105194912310021")) == "invalid_resident_id"


@pytest.mark.parametrize(
    "body", ["", "1234", "1101051949123100X", "１１０１０５１９４９１２３１００２"]
)
def test_resident_id_check_char_refuses_bad_body(body: str) -> None:
    assert code_of(lambda: resident_id_check_char(body)) == "invalid_resident_id"


valid_bodies = st.builds(
    lambda province, area, born, seq: f"{province:02d}{area:04d}{born:%Y%m%d}{seq:03d}",
    st.sampled_from(PROVINCES),
    st.integers(0, 9999),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)


@given(valid_bodies)
def test_property_any_correct_resident_id_passes(body: str) -> None:
    number = body + ref_resident_check(body)
    assert normalize_resident_id(number, today=TODAY) == number
    assert normalize_resident_id(number.lower(), today=TODAY) == number
    assert resident_id_gender(number) == ("male" if int(number[16]) % 2 else "female")


@given(valid_bodies, st.integers(0, 17), st.data())
def test_property_changing_one_character_fails(
    body: str, position: int, data: st.DataObject
) -> None:
    number = body + ref_resident_check(body)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([ch for ch in alphabet if ch != number[position]]))
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(InvalidValue) as info:
        normalize_resident_id(changed, today=TODAY)
    assert info.value.code == "invalid_resident_id"


# --- unified social credit code ------------------------------------------------------------------

# The GB 32100-2015 example and codes of well-known companies published on their licences.
KNOWN_VALID_USCC = [
    "91350100M000100Y43",  # GB 32100-2015 example
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91330100716105852F",  # 阿里巴巴(中国)有限公司
    "914403001922038216",  # 华为技术有限公司
    "911000001000013428",  # 中国银行股份有限公司
    "91100000100003962T",  # 中国工商银行股份有限公司
    "91110000802100433B",  # 北京百度网讯科技有限公司
]


@pytest.mark.parametrize("code", KNOWN_VALID_USCC)
def test_known_uscc_are_valid(code: str) -> None:
    assert normalize_uscc(code) == code
    assert ref_uscc_check(code[:17]) == code[17]
    assert uscc_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91350100m000100y43", "91350100M000100Y43"),
        (" 9135 0100 M000 100Y 43 ", "91350100M000100Y43"),
    ],
)
def test_normalize_uscc_valid(raw: str, expected: str) -> None:
    assert normalize_uscc(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 chars
        "91350100M000100Y430",  # 19 chars
        "91350100I000100Y43",  # I is not in the charset
        "91350100O000100Y43",
        "91350100Z000100Y43",
        "91350100S000100Y43",
        "91350100V000100Y43",
        "91350100M000100Y4-",
        "９1350100M000100Y43",  # full-width digit
        "91350100M000100Y4ı",  # dotless i uppercases to I
    ],
)
def test_normalize_uscc_invalid(raw: str) -> None:
    assert code_of(lambda: normalize_uscc(raw)) == "invalid_uscc"


uscc_bodies = st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17)


@given(uscc_bodies)
def test_property_uscc_with_check_char_passes(body: str) -> None:
    code = body + ref_uscc_check(body)
    assert normalize_uscc(code.lower()) == code


@given(uscc_bodies, st.integers(0, 17), st.data())
def test_property_uscc_single_substitution_fails(
    body: str, position: int, data: st.DataObject
) -> None:
    code = body + ref_uscc_check(body)
    replacement = data.draw(st.sampled_from([ch for ch in USCC_CHARSET if ch != code[position]]))
    changed = code[:position] + replacement + code[position + 1 :]
    assert code_of(lambda: normalize_uscc(changed)) == "invalid_uscc"


# --- Luhn and card numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "digit"),
    [("7992739871", "3"), ("0", "0"), ("1", "8"), ("411111111111111", "1")],
)
def test_luhn_check_digit(payload: str, digit: str) -> None:
    assert luhn_check_digit(payload) == digit


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("79927398713", True),
        ("79927398710", False),
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("00", True),
        ("0", False),
        ("", False),
        ("4111 1111 1111 1111", False),  # is_luhn_valid takes digits only
        ("４１１１１１１１１１１１１１１１", False),
        ("1" * 65, False),
    ],
)
def test_is_luhn_valid(number: str, valid: bool) -> None:
    assert is_luhn_valid(number) is valid


@pytest.mark.parametrize("bad", [None, 42, 4111111111111111, b"4111111111111111"])
def test_is_luhn_valid_non_str_is_false(bad: Any) -> None:
    assert is_luhn_valid(bad) is False


@pytest.mark.parametrize("payload", ["", "12a", "1 2", "１２", "1" * 65])
def test_luhn_check_digit_refuses_non_digits(payload: str) -> None:
    assert code_of(lambda: luhn_check_digit(payload)) == "invalid_card_number"


@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_property_luhn_appending_check_digit_validates(payload: str) -> None:
    number = payload + luhn_check_digit(payload)
    assert is_luhn_valid(number)
    assert ref_luhn_valid(number)


@given(st.text(alphabet="0123456789", min_size=2, max_size=40), st.data())
def test_property_luhn_single_digit_change_fails(payload: str, data: st.DataObject) -> None:
    number = payload + luhn_check_digit(payload)
    position = data.draw(st.integers(0, len(number) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    assert not is_luhn_valid(number[:position] + replacement + number[position + 1 :])


@given(st.text(alphabet="0123456789", min_size=2, max_size=40))
def test_property_luhn_matches_reference(number: str) -> None:
    assert is_luhn_valid(number) is ref_luhn_valid(number)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4111111111111111", "4111111111111111"),
        ("4111 1111 1111 1111", "4111111111111111"),
        ("4111-1111-1111-1111", "4111111111111111"),
        ("6200000000000005", "6200000000000005"),  # UnionPay test card, 16 digits
        ("6205 5000 0000 0000 004", "6205500000000000004"),  # UnionPay test card, 19 digits
        ("6222 0202 0011 2345 679", "6222020200112345679"),
    ],
)
def test_normalize_card_number_valid(raw: str, expected: str) -> None:
    assert normalize_card_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "4111111111111112",  # Luhn fails
        "378282246310005",  # Luhn valid but 15 digits
        "41111111111111111111111111",  # too long
        "6205500000000000004" + "0",  # 20 digits
        "4111_1111_1111_1111",
        "4111.1111.1111.1111",
        "４１１１１１１１１１１１１１１１",
        "411111111111111a",
    ],
)
def test_normalize_card_number_invalid(raw: str) -> None:
    assert code_of(lambda: normalize_card_number(raw)) == "invalid_card_number"


# --- mobile --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("0086-138-0013-8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("16612345678", "16612345678"),
    ],
)
def test_normalize_mobile_valid(raw: str, expected: str) -> None:
    assert normalize_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12800138000",  # second digit 2
        "10800138000",
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "+85213800138000",
        "+1 13800138000",
        "86 1380013800",  # 86 + 10 digits
        "+86+8613800138000",
        "(+86)13800138000",
        "１３８００１３８０００",
        "1380013800a",
    ],
)
def test_normalize_mobile_invalid(raw: str) -> None:
    assert code_of(lambda: normalize_mobile(raw)) == "invalid_mobile"


# --- passport and HK/Macao permit ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("E12345678", "E12345678"),
        ("e1234 5678", "E12345678"),
        ("12345", "12345"),
        ("AB1234567890CDEFG", "AB1234567890CDEFG"),  # 17 chars
    ],
)
def test_normalize_passport_valid(raw: str, expected: str) -> None:
    assert normalize_passport(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ABCDEFG",
        "E123",
        "AB1234567890CDEFGH",
        "E1234-5678",
        "É12345678",
        "ı12345678",
        "E１２３４５",
    ],
)
def test_normalize_passport_invalid(raw: str) -> None:
    assert code_of(lambda: normalize_passport(raw)) == "invalid_passport"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("H12345678", "H12345678"),
        ("m12345678", "M12345678"),
        ("H 1234 5678 90", "H1234567890"),
    ],
)
def test_normalize_hk_macao_permit_valid(raw: str, expected: str) -> None:
    assert normalize_hk_macao_permit(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "A12345678",
        "H1234567",
        "H123456789",
        "H123456789012",
        "12345678",
        "HM1234567",
        "H１２３４５６７８",
    ],
)
def test_normalize_hk_macao_permit_invalid(raw: str) -> None:
    assert code_of(lambda: normalize_hk_macao_permit(raw)) == "invalid_hk_macao_permit"


# --- document types ------------------------------------------------------------------------------


def test_document_type_sets() -> None:
    assert {t.value for t in DocumentType} == {
        "resident_id",
        "temporary_id",
        "passport",
        "hk_macao_permit",
        "uscc",
    }
    assert INDIVIDUAL_DOCUMENT_TYPES.isdisjoint(COMPANY_DOCUMENT_TYPES)
    assert set(DocumentType) == INDIVIDUAL_DOCUMENT_TYPES | COMPANY_DOCUMENT_TYPES
    assert {DocumentType.USCC} == COMPANY_DOCUMENT_TYPES


@pytest.mark.parametrize(
    ("doc_type", "raw", "expected"),
    [
        (DocumentType.RESIDENT_ID, "11010519491231002x", "11010519491231002X"),
        (DocumentType.TEMPORARY_ID, "11010519491231002x", "11010519491231002X"),
        (DocumentType.PASSPORT, "e12345678", "E12345678"),
        (DocumentType.HK_MACAO_PERMIT, "h12345678", "H12345678"),
        (DocumentType.USCC, "91350100m000100y43", "91350100M000100Y43"),
        ("passport", "e12345678", "E12345678"),  # the plain value works too
    ],
)
def test_normalize_document_number(doc_type: DocumentType, raw: str, expected: str) -> None:
    assert normalize_document_number(doc_type, raw) == expected


@pytest.mark.parametrize(
    ("doc_type", "raw", "code"),
    [
        (DocumentType.RESIDENT_ID, "110105194912310021", "invalid_resident_id"),
        (DocumentType.TEMPORARY_ID, "110105491231002", "invalid_resident_id"),
        (DocumentType.PASSPORT, "ABCDE", "invalid_passport"),
        (DocumentType.HK_MACAO_PERMIT, "X12345678", "invalid_hk_macao_permit"),
        (DocumentType.USCC, "91350100M000100Y44", "invalid_uscc"),
        ("driving_licence", "12345", "invalid_document_type"),
        (None, "12345", "invalid_document_type"),
        (["passport"], "12345", "invalid_document_type"),
    ],
)
def test_normalize_document_number_invalid(doc_type: Any, raw: str, code: str) -> None:
    assert code_of(lambda: normalize_document_number(doc_type, raw)) == code


# --- robustness: wrong types and over-long input -------------------------------------------------

NORMALIZERS: list[tuple[Callable[[Any], object], str]] = [
    (normalize_resident_id, "invalid_resident_id"),
    (resident_id_birth_date, "invalid_resident_id"),
    (resident_id_gender, "invalid_resident_id"),
    (resident_id_check_char, "invalid_resident_id"),
    (normalize_uscc, "invalid_uscc"),
    (uscc_check_char, "invalid_uscc"),
    (normalize_card_number, "invalid_card_number"),
    (luhn_check_digit, "invalid_card_number"),
    (normalize_mobile, "invalid_mobile"),
    (normalize_passport, "invalid_passport"),
    (normalize_hk_macao_permit, "invalid_hk_macao_permit"),
]

BAD_INPUTS: list[Any] = [
    None,
    123456789012345678,
    12.5,
    True,
    b"11010519491231002X",
    ["11010519491231002X"],
    {"x": 1},
    "1" * (MAX_INPUT_LENGTH + 1),
    " " * (MAX_INPUT_LENGTH + 1) + "E12345678",
]


@pytest.mark.parametrize(("func", "code"), NORMALIZERS)
@pytest.mark.parametrize("bad", BAD_INPUTS)
def test_bad_types_and_long_input_raise_the_same_code(
    func: Callable[[Any], object], code: str, bad: Any
) -> None:
    assert code_of(lambda: func(bad)) == code


@pytest.mark.parametrize(("func", "code"), NORMALIZERS)
@given(
    value=st.one_of(
        st.text(max_size=80),
        st.text(alphabet="0123456789Xx +-HMEhm", max_size=25),
        st.integers(),
        st.none(),
        st.binary(max_size=20),
        st.floats(),
    )
)
def test_property_never_crash_with_another_exception(
    func: Callable[[Any], object], code: str, value: Any
) -> None:
    error: InvalidValue | None = None
    try:
        func(value)
    except InvalidValue as exc:
        error = exc
    if error is not None:
        assert error.code == code
        assert str(error)
