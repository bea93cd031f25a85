"""Request bodies and raw-row helpers shared by the customer, staff and audit tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from tests.factories import mobile, resident_id, uscc

from ebank.runtime import Runtime

API = "/api/v1"


def individual_body(
    n: int = 1, *, name: str = "王小明", doc_type: str = "resident_id", **extra: Any
) -> dict[str, Any]:
    """An individual's onboarding body with a checksum-correct resident ID number."""
    body: dict[str, Any] = {
        "name": name,
        "document": {"doc_type": doc_type, "number": resident_id(n)},
        "mobile": mobile(n),
        "occupation": "engineer",
    }
    body.update(extra)
    return body


def company_body(n: int = 1, *, name: str = "星河贸易有限公司", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "document": {"doc_type": "uscc", "number": uscc(n)},
        "mobile": mobile(50_000 + n),
        "legal_representative": "赵大海",
        "business_scope": "wholesale of tea",
        "registered_capital": 10_000_000,
    }
    body.update(extra)
    return body


def count_rows(rt: Runtime, table: str) -> int:
    with rt.db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608


def raw_rows(rt: Runtime, table: str) -> list[dict[str, Any]]:
    with rt.db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(f"SELECT * FROM {table}")).mappings()]  # noqa: S608


def as_bytes(value: object) -> bytes:
    """A column value as the bytes a reader of the raw table would see."""
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def rows_containing(rows: list[dict[str, Any]], needles: list[str]) -> list[tuple[str, str]]:
    """(column, needle) for every column of ``rows`` holding any needle's UTF-8 bytes."""
    found = []
    for row in rows:
        for column, value in row.items():
            data = as_bytes(value)
            for needle in needles:
                if needle.encode() in data:
                    found.append((column, needle))
    return found
