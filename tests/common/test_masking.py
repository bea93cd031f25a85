"""Tests for ebank.common.masking."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebank.common.masking import (
    mask_card_number,
    mask_id_number,
    mask_mobile,
    mask_name,
    mask_text,
)

ALL_MASKS: list[Callable[[str], str]] = [
    mask_mobile,
    mask_id_number,
    mask_card_number,
    mask_name,
]


@pytest.mark.parametrize(
    ("value", "keep_start", "keep_end", "expected"),
    [
        ("abcdefgh", 2, 2, "ab****gh"),
        ("abcdefgh", 0, 3, "*****fgh"),
        ("abcdefgh", 3, 0, "abc*****"),
        ("abcdefgh", 0, 0, "********"),
        ("abcde", 2, 2, "ab*de"),
        ("abcd", 2, 2, "****"),  # would keep everything: mask everything instead
        ("abc", 2, 2, "***"),
        ("", 2, 2, ""),
        ("张三丰", 0, 1, "**丰"),
    ],
)
def test_mask_text(value: str, keep_start: int, keep_end: int, expected: str) -> None:
    assert mask_text(value, keep_start, keep_end) == expected


def test_mask_text_refuses_negative_keep() -> None:
    with pytest.raises(ValueError, match="negative"):
        mask_text("abcdef", -1, 2)
    with pytest.raises(ValueError, match="negative"):
        mask_text("abcdef", 1, -2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13400000001", "134****0001"),
        ("134 0000 0001", "134****0001"),
        ("134-0000-0001", "134****0001"),
        ("8613400000001", "861******0001"),
        ("12345678", "123*5678"),
        ("1234567", "*******"),
        ("123", "***"),
        ("", ""),
    ],
)
def test_mask_mobile(value: str, expected: str) -> None:
    assert mask_mobile(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("110105194912310123", "1101**********0123"),
        ("E12345678", "E123*5678"),
        ("H1234567890", "H123***7890"),
        ("12345678", "1******8"),
        ("123", "1*3"),
        ("12", "**"),
        ("1", "*"),
        ("", ""),
        ("1101 0519 4912 3100 2X", "1101**********002X"),
    ],
)
def test_mask_id_number(value: str, expected: str) -> None:
    assert mask_id_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6222020200110123", "6222 **** **** 0123"),
        ("6222020200112345679", "6222 **** **** 5679"),
        ("6222 0202 0011 0123", "6222 **** **** 0123"),
        ("6222-0202-0011-0123", "6222 **** **** 0123"),
        ("123456789", "1234 **** **** 6789"),
        ("12345678", "****5678"),
        ("12345", "*2345"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_card_number(value: str, expected: str) -> None:
    assert mask_card_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张三", "*三"),
        ("欧阳小明", "***明"),
        ("王", "*"),
        ("张 三", "*三"),
        ("阿沛·阿旺晋美", "******美"),
        ("李John", "****n"),  # any CJK character makes it a Chinese-style name
        ("John Smith", "J*** S****"),
        ("  John   Smith ", "J*** S****"),
        ("Mary-Jane O'Neil", "M******** O*****"),
        ("John F Kennedy", "J*** * K******"),
        ("J", "*"),
        ("Al", "A*"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_mask_name(value: str, expected: str) -> None:
    assert mask_name(value) == expected


@pytest.mark.parametrize("mask", ALL_MASKS)
def test_empty_input_gives_empty_output(mask: Callable[[str], str]) -> None:
    assert mask("") == ""


no_star_text = st.text(alphabet=st.characters(exclude_characters="*"), min_size=1)


@pytest.mark.parametrize("mask", ALL_MASKS)
@given(value=no_star_text)
def test_property_never_returns_the_input(mask: Callable[[str], str], value: str) -> None:
    if not value.split():
        return  # whitespace only: masks collapse it to nothing
    assert mask(value) != value


@given(value=st.text(min_size=1), keep_start=st.integers(0, 10), keep_end=st.integers(0, 10))
def test_property_mask_text_hides_the_middle(value: str, keep_start: int, keep_end: int) -> None:
    masked = mask_text(value, keep_start, keep_end)
    assert len(masked) == len(value)
    if len(value) <= keep_start + keep_end:
        assert set(masked) == {"*"}
    else:
        assert masked[:keep_start] == value[:keep_start]
        assert masked[len(value) - keep_end :] == value[len(value) - keep_end :]
        assert set(masked[keep_start : len(value) - keep_end]) == {"*"}


digits = st.text(alphabet="0123456789", min_size=9, max_size=30)


@given(digits)
def test_property_card_mask_shows_only_ends(number: str) -> None:
    masked = mask_card_number(number)
    assert masked == f"{number[:4]} **** **** {number[-4:]}"
    assert sum(ch.isdigit() for ch in masked) == 8


@given(st.text(alphabet="0123456789X", min_size=9, max_size=30))
def test_property_id_mask_hides_the_middle(number: str) -> None:
    masked = mask_id_number(number)
    assert masked[:4] == number[:4]
    assert masked[-4:] == number[-4:]
    assert set(masked[4:-4]) == {"*"}


@given(st.text(alphabet="0123456789", min_size=8, max_size=15))
def test_property_mobile_mask_hides_the_middle(number: str) -> None:
    masked = mask_mobile(number)
    assert masked[:3] == number[:3]
    assert masked[-4:] == number[-4:]
    assert set(masked[3:-4]) == {"*"}


@given(st.text(alphabet="张王李赵欧阳小明丰", min_size=1, max_size=6))
def test_property_chinese_name_keeps_only_last_character(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)
    if len(name) == 1:
        assert masked == "*"
    else:
        assert masked == "*" * (len(name) - 1) + name[-1]
