"""The page shell: one Jinja2 environment over every capability's ``templates/`` folder, with the
translation function, money and time formatting, and the language switch."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ebank.common.i18n import current_locale, gettext
from ebank.common.money import amount_in_chinese_capitals, format_amount
from ebank.web.labels import LABELS

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[str]:
    return sorted(str(p) for p in PACKAGE_DIR.glob("*/templates") if p.is_dir())


def _money(minor: int, currency: str) -> str:
    return format_amount(minor, currency, current_locale.get())


def _when(value: datetime | None, zone: Any = None) -> str:
    if value is None:
        return ""
    return (value.astimezone(zone) if zone else value).strftime("%Y-%m-%d %H:%M:%S")


environment = Environment(
    loader=FileSystemLoader(_template_dirs()),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["_"] = gettext
environment.globals["labels"] = LABELS
environment.filters["money"] = _money
environment.filters["capitals"] = amount_in_chinese_capitals
environment.filters["when"] = _when


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    locale = current_locale.get()
    page = environment.get_template(template).render(
        request=request,
        locale=locale,
        html_lang="zh-CN" if locale == "zh-CN" else "en",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)
