"""Languages: zh-CN (default) and English. Messages are English gettext msgids; the Chinese
catalog lives in ``ebank/translations/zh_CN/LC_MESSAGES/messages.po`` and is read at start-up."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

SUPPORTED_LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)

# Babel keyword spec for ``scripts/extract_messages.py``: every call whose argument is a msgid,
# and which (1-based) positional argument it is. Errors carry their English message second.
EXTRACTION_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "gettext": None,
    "N_": None,
    "InvalidValue": (2,),
    "DomainError": (2,),
    "BadRequest": (2,),
    "Unprocessable": (2,),
    "NotAuthenticated": (2,),
    "Forbidden": (2,),
    "NotFound": (2,),
    "Conflict": (2,),
    "Locked": (2,),
    "TooManyRequests": (2,),
    "TransferRefused": (2,),
    "EngineStopped": (2,),
    "ServiceUnavailable": (2,),
    "field_error": (2,),
    "problem": (3,),  # ebank.web.problems.problem(status, code, message)
    "_clean": (4,),  # ebank.common.validators._clean(value, pattern, code, message)
}


def normalize_locale(value: str | None) -> str | None:
    """Map ``zh``, ``zh_CN``, ``zh-Hans-CN``, ``en-GB``… onto a supported locale, or None."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate_locale(
    explicit: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    """Explicit choice (``?lang=``) wins, then the cookie, then Accept-Language by quality."""
    for candidate in (explicit, cookie):
        chosen = normalize_locale(candidate)
        if chosen:
            return chosen
    for tag in _accept_language_tags(accept_language or ""):
        chosen = normalize_locale(tag)
        if chosen:
            return chosen
    return normalize_locale(default) or DEFAULT_LOCALE


def _accept_language_tags(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


@lru_cache(maxsize=4)
def catalog(locale: str) -> dict[str, str]:
    if locale == "en":
        return {}
    folder = locale.replace("-", "_")
    path = TRANSLATIONS_DIR / folder / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=folder)
    return {
        str(message.id): str(message.string)
        for message in po
        if message.id and message.string and not message.fuzzy
    }


def gettext(msgid: str, locale: str | None = None, **params: Any) -> str:
    """The message in ``locale``. A parameter named ``…_msgid`` is itself a msgid (a label such
    as a status or a limit's name) and is translated too."""
    locale = locale or current_locale.get()
    text = catalog(locale).get(msgid, msgid)
    params = {
        key: gettext(value, locale) if key.endswith("_msgid") and isinstance(value, str) else value
        for key, value in params.items()
    }
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return msgid.format(**params)
    return text


_ = gettext


def N_(msgid: str) -> str:
    """Mark a msgid for extraction where it is defined; it is translated where it is shown."""
    return msgid
