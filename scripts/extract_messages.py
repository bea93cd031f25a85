"""Extract every message users can see and bring the Chinese catalog up to date.

Usage, from the project root::

    .venv/bin/python scripts/extract_messages.py           # update messages.po in place
    .venv/bin/python scripts/extract_messages.py --check   # exit 1 if messages.po is out of date
    .venv/bin/python scripts/extract_messages.py --list    # print each msgid and where it is used

Then translate every entry whose ``msgstr`` is empty (keep the ``{placeholders}`` as they are) and
run ``.venv/bin/pytest tests/web/test_translations.py``, which fails while a msgid is untranslated,
fuzzy or obsolete.

Where the msgids come from:

* Python and Jinja2 sources under ``src/``, mapped by ``babel.cfg`` (paths in it are relative to
  ``src/``), with the calls listed in :data:`ebank.common.i18n.EXTRACTION_KEYWORDS`: ``_()``,
  ``gettext()``, ``N_()``, the English message of the error constructors (``InvalidValue``,
  ``DomainError`` and its subclasses, ``field_error``…) and ``problem()``;
* the message tables that hold msgids as data: ``ebank.ledger.service.TRANSFER_MESSAGES`` and
  ``ebank.web.problems.PYDANTIC_ERRORS`` (imported, not parsed).

The catalog is rewritten sorted by msgid with file references but no line numbers, so running the
script twice, or after code merely moves, changes nothing. Existing translations, their fuzzy flags
and translator comments are kept; msgids no longer used anywhere are dropped (and listed).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SRC = PROJECT_ROOT / "src"
MAPPING_FILE = PROJECT_ROOT / "babel.cfg"
CATALOG_FILE = SRC / "ebank" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
CATALOG_LOCALE = "zh_CN"

if str(SRC) not in sys.path:  # run without an installed ebank, too
    sys.path.insert(0, str(SRC))

HEADER = """\
# Chinese (Simplified) translations for ebank.
# Kept sorted and complete by scripts/extract_messages.py; translate every empty msgstr.
msgid ""
msgstr ""
"Project-Id-Version: ebank\\n"
"Language: zh_CN\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: nplurals=1; plural=0;\\n"

"""

Messages = dict[str, set[str]]
"""msgid → the places it is used (``ebank/web/pages.py``, ``…:TRANSFER_MESSAGES``)."""


def _add(messages: Messages, msgid: str, where: str) -> None:
    messages.setdefault(msgid, set()).add(where)


def source_messages() -> Messages:
    """The msgids marked in Python and template sources under ``src/``."""
    from ebank.common.i18n import EXTRACTION_KEYWORDS

    with MAPPING_FILE.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(MAPPING_FILE))  # type: ignore[no-untyped-call]
    messages: Messages = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        SRC,
        method_map,
        options_map,
        keywords=EXTRACTION_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            _add(messages, msgid, Path(filename).as_posix())
    return messages


def table_messages() -> Messages:
    """The msgids held as data in the message tables (tuples, not calls)."""
    from ebank.ledger.service import TRANSFER_MESSAGES
    from ebank.web.problems import PYDANTIC_ERRORS

    messages: Messages = {}
    for _status, msgid in TRANSFER_MESSAGES.values():
        _add(messages, msgid, "ebank/ledger/service.py:TRANSFER_MESSAGES")
    for _code, msgid in PYDANTIC_ERRORS.values():
        _add(messages, msgid, "ebank/web/problems.py:PYDANTIC_ERRORS")
    return messages


def extract_messages() -> Messages:
    """Every msgid the application can show, with where each one is used."""
    messages = source_messages()
    for msgid, places in table_messages().items():
        messages.setdefault(msgid, set()).update(places)
    return messages


def read_catalog(path: Path = CATALOG_FILE) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=CATALOG_LOCALE)


def updated_catalog(messages: Messages, existing: Catalog) -> tuple[Catalog, list[str]]:
    """The catalog for ``messages``, keeping ``existing`` translations; also the dropped msgids."""
    catalog = Catalog(locale=CATALOG_LOCALE, project="ebank", charset="utf-8", fuzzy=False)
    for msgid in sorted(messages):
        old = existing.get(msgid)
        # No line numbers: moving code must not churn the catalog.
        locations: list[tuple[str, Any]] = [(place, None) for place in sorted(messages[msgid])]
        catalog.add(
            msgid,
            string=str(old.string) if old is not None and old.string else "",
            locations=locations,
            flags=(set(old.flags) & {"fuzzy"}) if old is not None else (),
            user_comments=list(old.user_comments) if old is not None else (),
        )
    dropped = sorted(str(m.id) for m in existing if m.id and str(m.id) not in messages)
    return catalog, dropped


def render_catalog(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=True, sort_output=True, include_lineno=False)
    return HEADER.encode("utf-8") + buffer.getvalue().lstrip(b"\n")


def untranslated(catalog: Catalog) -> Iterable[str]:
    return (str(m.id) for m in catalog if m.id and (not m.string or m.fuzzy))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    mode.add_argument("--list", action="store_true", help="print every msgid and its places")
    args = parser.parse_args(argv)

    messages = extract_messages()
    if args.list:
        for msgid in sorted(messages):
            print(f"{msgid!r}  <- {', '.join(sorted(messages[msgid]))}")
        return 0

    catalog, dropped = updated_catalog(messages, read_catalog())
    rendered = render_catalog(catalog)
    current = CATALOG_FILE.read_bytes()
    todo = sorted(untranslated(catalog))
    if args.check:
        stale = rendered != current
        if stale:
            print(f"{CATALOG_FILE} is out of date: run {Path(__file__).name}", file=sys.stderr)
        for msgid in todo:
            print(f"untranslated: {msgid!r}", file=sys.stderr)
        return 1 if stale or todo else 0

    if rendered != current:
        CATALOG_FILE.write_bytes(rendered)
    for msgid in dropped:
        print(f"dropped obsolete msgid: {msgid!r}", file=sys.stderr)
    print(
        f"{CATALOG_FILE.relative_to(PROJECT_ROOT)}: {len(messages)} msgids, "
        f"{len(todo)} to translate, {len(dropped)} dropped",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
