"""Masking of personal data for display, logs and notifications.

Every mask replaces characters with ``*`` one for one (except :func:`mask_card_number`, which has a
fixed layout) and never returns the whole input: when a value is too short to keep what a mask
would keep, more of it (or all of it) is hidden instead. Empty input gives ``""``.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["mask_card_number", "mask_id_number", "mask_mobile", "mask_name", "mask_text"]

MASK_CHAR: Final = "*"

_WHITESPACE: Final = re.compile(r"\s+")
_WHITESPACE_OR_HYPHEN: Final = re.compile(r"[\s\-]+")
# CJK Unified Ideographs and extensions A-F, compatibility ideographs, and the supplement.
_CJK: Final = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U0002f800-\U0002fa1f]"
)


def mask_text(value: str, keep_start: int, keep_end: int) -> str:
    """Keep ``keep_start`` leading and ``keep_end`` trailing characters, ``*`` for the rest.

    If that would keep every character (``len(value) <= keep_start + keep_end``), everything is
    masked instead, so the full value is never returned.
    """
    if keep_start < 0 or keep_end < 0:
        raise ValueError("keep_start and keep_end must not be negative")
    length = len(value)
    if length <= keep_start + keep_end:
        return MASK_CHAR * length
    return (
        value[:keep_start]
        + MASK_CHAR * (length - keep_start - keep_end)
        + value[length - keep_end :]
    )


def mask_mobile(value: str) -> str:
    """``"13400000001"`` → ``"134****0001"``: first 3 and last 4 kept when 8 or more characters."""
    number = _WHITESPACE_OR_HYPHEN.sub("", value)
    if len(number) < 8:
        return MASK_CHAR * len(number)
    return mask_text(number, 3, 4)


def mask_id_number(value: str) -> str:
    """Identity document number: ``"11010519491231002X"`` → ``"1101**********002X"``.

    Values of 9 characters or more keep their first 4 and last 4; shorter ones keep the first
    and last character (and are masked entirely at 2 characters or fewer).
    """
    number = _WHITESPACE.sub("", value)
    if len(number) >= 9:
        return mask_text(number, 4, 4)
    return mask_text(number, 1, 1)


def mask_card_number(value: str) -> str:
    """Bank card: ``"6222020200112345678"`` → ``"6222 **** **** 5678"``.

    Spaces and hyphens are ignored. Numbers under 9 characters show only their last 4 (or nothing
    when 4 characters or fewer).
    """
    number = _WHITESPACE_OR_HYPHEN.sub("", value)
    if len(number) >= 9:
        return f"{number[:4]} {MASK_CHAR * 4} {MASK_CHAR * 4} {number[-4:]}"
    return mask_text(number, 0, 4)


def mask_name(value: str) -> str:
    """Person's name: ``"张三"`` → ``"*三"``, ``"欧阳小明"`` → ``"***明"``, ``"John Smith"`` →
    ``"J*** S****"``.

    A name containing any CJK character keeps only its last character (a one-character name is
    fully masked). Other names keep the first letter of each whitespace-separated word; one-letter
    words are masked entirely. Whitespace is collapsed (and dropped from CJK names).
    """
    name = " ".join(value.split())
    if not name:
        return ""
    if _CJK.search(name):
        return mask_text(name.replace(" ", ""), 0, 1)
    return " ".join(mask_text(word, 1, 0) for word in name.split(" "))
