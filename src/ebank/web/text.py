"""Characters no person types are refused at the door: a NUL, which PostgreSQL cannot store
(and SQLite would keep, invisible), and an unpaired UTF-16 surrogate, which is no character at
all and cannot be encoded. One check for every route — JSON bodies, forms, query and path — so no
such value reaches a use case, a log line or the database."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request

from ebank.common.errors import Unprocessable
from ebank.common.i18n import N_

UNREADABLE = re.compile("[\x00\ud800-\udfff]")
# What such a character looks like escaped in JSON (a valid pair, an emoji, also matches, and is
# then parsed and passes): most bodies are never parsed twice.
SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
NOT_TEXT = N_("This field contains characters that are not text.")


def first_unreadable(value: Any) -> str | None:
    """The dotted path of the first string in ``value`` (JSON-shaped) holding a NUL or an
    unpaired surrogate ("" for ``value`` itself), or None."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if UNREADABLE.search(item):
                return path
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                child_path = f"{path}.{key}" if path else str(key)
                if UNREADABLE.search(str(key)):
                    return child_path
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend(
                (f"{path}.{i}" if path else str(i), c) for i, c in reversed(list(enumerate(item)))
            )
    return None


async def refuse_unreadable_text(request: Request) -> None:
    """A dependency of every route: the request's text, wherever it is, is text."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if isinstance(value, str) and UNREADABLE.search(value):
            raise Unprocessable("invalid_text", NOT_TEXT, field=name)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if not SUSPECT_ESCAPE.search(body):  # a NUL or a surrogate in JSON is always an escape
            return
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            return  # the route's own parsing says what is wrong
        field = first_unreadable(parsed)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        field = next(
            (
                key
                for key, value in form.multi_items()
                if UNREADABLE.search(key) or (isinstance(value, str) and UNREADABLE.search(value))
            ),
            None,
        )
    else:
        return
    if field is not None:
        raise Unprocessable("invalid_text", NOT_TEXT, field=field or None)
