"""The Chinese catalog is complete and current, and every answer speaks the caller's language.

The msgids are extracted from the sources exactly as ``scripts/extract_messages.py`` does, so a
new message anywhere in ``src/`` fails here until it has a Chinese translation (run the script,
then translate the empty ``msgstr``)."""

from __future__ import annotations

import importlib.util
import re
import string
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog
from fastapi.testclient import TestClient

from ebank.common.i18n import catalog as runtime_catalog
from ebank.web.middleware import LANG_COOKIE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "scripts" / "extract_messages.py"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extract_messages", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


extractor = _load_script()


@pytest.fixture(scope="module")
def extracted() -> dict[str, set[str]]:
    messages: dict[str, set[str]] = extractor.extract_messages()
    return messages


@pytest.fixture(scope="module")
def po() -> Catalog:
    result: Catalog = extractor.read_catalog()
    return result


def _translations(po: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string or "") for m in po if m.id}


def _placeholders(text: str) -> Counter[str]:
    """The ``{name}`` fields of a str.format template (``{{`` escapes are not fields)."""
    return Counter(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def test_extraction_finds_messages_of_every_kind(extracted: dict[str, set[str]]) -> None:
    """A broken keyword list or mapping would silently extract nothing: sample each source."""
    samples = {
        "Teller": "ebank/web/labels.py",  # N_()
        "Staff login": "ebank/staff/templates/staff/login.html",  # _() in a template
        "The request cannot be completed": "ebank/web/problems.py",  # gettext()
        "No such customer.": "ebank/customers/service.py",  # NotFound(code, message)
        "Enter a whole number.": "ebank/web/problems.py:PYDANTIC_ERRORS",
        "The available balance is not enough for this amount.": (
            "ebank/ledger/service.py:TRANSFER_MESSAGES"
        ),
        "The amount must be greater than zero.": "ebank/web/fields.py",  # field_error()
        "Enter a mobile phone number.": "ebank/common/validators.py",  # _clean(..., message)
        "Something went wrong on our side; please try again.": "ebank/web/problems.py",
    }
    for msgid, place in samples.items():
        assert place in extracted.get(msgid, set()), (msgid, extracted.get(msgid))
    assert not [m for m in extracted if not m.strip()], "empty msgid extracted"


def test_every_message_has_a_chinese_translation(
    extracted: dict[str, set[str]], po: Catalog
) -> None:
    missing = []
    for msgid in sorted(extracted):
        message = po.get(msgid)
        if message is None or not message.string or message.fuzzy:
            missing.append(msgid)
    assert not missing, (
        "untranslated (run scripts/extract_messages.py, then translate in messages.po): "
        + repr(missing)
    )


def test_translations_are_chinese(po: Catalog) -> None:
    """Only the brand's own name may stay as it is; everything else is written in Chinese."""
    not_chinese = [m for m, t in _translations(po).items() if t and not HAN.search(t)]
    assert not not_chinese


def test_translations_keep_the_placeholders(po: Catalog) -> None:
    wrong = []
    for msgid, text in _translations(po).items():
        if not text:
            continue
        try:
            same = _placeholders(text) == _placeholders(msgid)
        except ValueError:  # an unbalanced brace: str.format would fail at run time
            same = False
        if not same:
            wrong.append((msgid, text))
    assert not wrong


def test_translations_format_with_their_parameters(po: Catalog) -> None:
    for msgid, text in _translations(po).items():
        params = dict.fromkeys(_placeholders(msgid), "X")
        if params and text:
            assert "X" in text.format(**params), msgid


def test_catalog_has_no_obsolete_messages(extracted: dict[str, set[str]], po: Catalog) -> None:
    obsolete = sorted(set(_translations(po)) - set(extracted))
    assert not obsolete, f"no longer used anywhere (run scripts/extract_messages.py): {obsolete}"
    assert not po.obsolete, "the catalog keeps #~ obsolete entries"


def test_catalog_file_is_sorted_and_current(extracted: dict[str, set[str]], po: Catalog) -> None:
    """messages.po is exactly what the script writes: sorted, current references, no drift."""
    expected, _dropped = extractor.updated_catalog(extracted, po)
    assert extractor.render_catalog(expected) == extractor.CATALOG_FILE.read_bytes(), (
        "messages.po is out of date: run scripts/extract_messages.py"
    )


def test_the_application_reads_every_translation(po: Catalog) -> None:
    runtime_catalog.cache_clear()
    loaded = runtime_catalog("zh-CN")
    assert loaded == {m: t for m, t in _translations(po).items() if t}
    assert loaded["ebank"] == "易银行"
    assert runtime_catalog("en") == {}


# --- the language of answers ----------------------------------------------------------------

NOT_LOGGED_IN = "Please log in: the session is missing, has expired or was ended."


def test_api_error_in_chinese(client: TestClient, po: Catalog) -> None:
    chinese = _translations(po)[NOT_LOGGED_IN]
    response = client.get("/api/v1/staff/me", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 401
    assert response.headers["content-language"] == "zh-CN"
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["detail"] == chinese
    assert body["title"] == chinese
    assert HAN.search(chinese)


def test_api_error_in_english(client: TestClient) -> None:
    response = client.get("/api/v1/staff/me", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert response.status_code == 401
    assert response.headers["content-language"] == "en"
    assert response.json()["detail"] == NOT_LOGGED_IN


def test_api_error_defaults_to_chinese(client: TestClient, po: Catalog) -> None:
    response = client.get("/api/v1/staff/me", headers={"Accept-Language": "fr-FR"})
    assert response.headers["content-language"] == "zh-CN"
    assert response.json()["detail"] == _translations(po)[NOT_LOGGED_IN]


def test_validation_errors_are_translated_per_field(client: TestClient, po: Catalog) -> None:
    required = _translations(po)["This field is required."]
    response = client.post(
        "/api/v1/staff/sessions", json={"username": "teller"}, headers={"Accept-Language": "zh-CN"}
    )
    assert response.status_code == 422
    body = response.json()
    assert [(e["field"], e["message"]) for e in body["errors"]] == [("password", required)]
    assert body["detail"] == required

    response = client.post(
        "/api/v1/staff/sessions", json={"username": "teller"}, headers={"Accept-Language": "en"}
    )
    assert response.json()["errors"][0]["message"] == "This field is required."
    assert response.json()["detail"] == "This field is required."


def test_summary_of_several_validation_errors_is_chinese(client: TestClient) -> None:
    response = client.post("/api/v1/staff/sessions", json={}, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 422
    assert len(response.json()["errors"]) == 2
    assert HAN.search(response.json()["detail"])


def test_pages_default_to_chinese_and_lang_query_sets_the_cookie(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-language"] == "zh-CN"
    assert '<html lang="zh-CN">' in page.text
    assert "员工登录" in page.text
    assert "Staff login" not in page.text

    switched = client.get("/?lang=en")
    assert switched.status_code == 200
    assert f"{LANG_COOKIE}=en" in switched.headers["set-cookie"]
    assert '<html lang="en">' in switched.text
    assert "Staff login" in switched.text
    assert "员工登录" not in switched.text

    # The cookie holds the choice on the next page, whatever the browser's language.
    later = client.get("/staff/login", headers={"Accept-Language": "zh-CN"})
    assert later.headers["content-language"] == "en"
    assert "<h1>Staff login</h1>" in later.text
    assert "set-cookie" not in later.headers or LANG_COOKIE not in later.headers["set-cookie"]

    back = client.get("/staff/login?lang=zh-CN")
    assert f"{LANG_COOKIE}=zh-CN" in back.headers["set-cookie"]
    assert "<h1>员工登录</h1>" in back.text


def test_page_follows_accept_language_without_a_cookie(client: TestClient) -> None:
    page = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert page.headers["content-language"] == "en"
    assert "Try the demo bank" in page.text


def test_not_found_page_is_fully_chinese(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 404
    assert "There is nothing here." not in page.text
