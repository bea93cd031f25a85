"""The check behind ``invalid_text``: where in a JSON-shaped value the first NUL or unpaired
surrogate is, however deep."""

from __future__ import annotations

from typing import Any

import pytest

from ebank.web.text import SUSPECT_ESCAPE, first_unreadable


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"name": "王五", "purpose": "rent"}, None),
        ({"name": "王\x00五"}, "name"),
        ({"payee": {"name": "ok", "bank": "\ud800"}}, "payee.bank"),
        ({"items": ["a", "b\x00"]}, "items.1"),
        ({"bad\x00key": 1}, "bad\x00key"),
        ({"emoji": "付款 😀"}, None),  # a surrogate pair decoded is one real character
        ("\udfff", ""),
        (12, None),
    ],
)
def test_the_first_unreadable_string_is_named_by_its_path(value: Any, path: str | None) -> None:
    assert first_unreadable(value) == path


def test_a_deeply_nested_value_is_walked_without_recursion() -> None:
    value: Any = "\x00"
    for _ in range(5_000):
        value = [value]
    assert first_unreadable(value) == ".".join(["0"] * 5_000)


@pytest.mark.parametrize(
    ("body", "suspect"),
    [
        (b'{"name": "\\u0000"}', True),
        (b'{"name": "\\ud800"}', True),
        (b'{"name": "\\uDFFF"}', True),
        (b'{"name": "\\u738b\\u4e94", "amount": 100}', False),  # escaped Chinese: not parsed again
        (b'{"amount": 100}', False),
    ],
)
def test_only_a_body_that_may_hold_such_a_character_is_parsed_again(
    body: bytes, suspect: bool
) -> None:
    assert bool(SUSPECT_ESCAPE.search(body)) is suspect
