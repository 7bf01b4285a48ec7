"""Spanish (es-MX) and English: the catalog has every message the dashboard, the lot report and
the certificates use, and nothing else; a request gets the language it asks for, remembers it,
or the browser's; the pages say which language they are in and offer the other."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import silicio
from silicio import i18n
from silicio.i18n import choose_language, negotiate, read_po, translation
from silicio.web import models as m
from silicio.web.app import PAGES
from silicio.web.i18n import CHART_TEXT, LANGUAGE_COOKIE, SHOWN_VALUES

SOURCE = Path(silicio.__file__).resolve().parent
TEMPLATES = SOURCE / "web" / "templates"
# A Jinja string literal: "..." or '...' (the templates use no escapes inside them).
_LITERAL = r"""(?:"([^"]*)"|'([^']*)')"""
_GETTEXT = re.compile(r"\b_\(\s*" + _LITERAL)
_NGETTEXT = re.compile(r"\bngettext\(\s*" + _LITERAL + r"\s*,\s*" + _LITERAL)
#: Python calls whose string arguments are messages: gettext itself, N_ (marked, translated later)
#: and C_ (templates of computed text, translated where shown: silicio.i18n.computed).
_PYTHON_MARKERS = {"_", "gettext", "ngettext", "N_", "C_"}


def _literal(match: re.Match, first: int) -> str:
    return match.group(first) if match.group(first) is not None else match.group(first + 1)


def template_messages() -> dict[str, set[str]]:
    """msgid -> the templates that use it (``_("...")`` and both forms of ``ngettext``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in _GETTEXT.finditer(text):
            found.setdefault(_literal(match, 1), set()).add(path.name)
        for match in _NGETTEXT.finditer(text):
            for first in (1, 3):
                found.setdefault(_literal(match, first), set()).add(path.name)
    return found


def python_messages(markers: set[str] = _PYTHON_MARKERS) -> dict[str, set[str]]:
    """msgid -> modules: the string constants in the arguments of gettext calls and N_ / C_ marks."""
    found: dict[str, set[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in markers:
                continue
            for argument in node.args:
                for inner in ast.walk(argument):
                    if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                        found.setdefault(inner.value, set()).add(str(path.relative_to(SOURCE)))
    return found


def declared_messages() -> dict[str, set[str]]:
    """The page declarations' navigation titles and the column titles of every table a page shows."""
    found: dict[str, set[str]] = {}
    for page in PAGES:
        if page.nav is not None:
            found.setdefault(page.nav.title, set()).add(f"nav of {page.path}")
        for table in page.tables:
            row = page.model.model_fields[table].annotation.__args__[0]
            for column in m.columns_of(row):
                found.setdefault(column.title, set()).add(f"{row.__name__}.{column.key}")
    for text in (*CHART_TEXT, *SHOWN_VALUES):
        found.setdefault(text, set()).add("silicio.web.i18n")
    return found


def used_messages() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for part in (template_messages(), python_messages(), declared_messages()):
        for msgid, places in part.items():
            found.setdefault(msgid, set()).update(places)
    return found


@pytest.fixture(scope="module")
def catalog() -> i18n.Catalog:
    text, name = i18n.catalog_text("es")
    return read_po(text, name)


def test_the_extraction_finds_the_messages_of_each_kind():
    # The extraction itself, on messages known to be there: a template, a plural, a column, a nav title.
    used = used_messages()
    assert "base.html" in used["Sign out"] and "overview.html" in used["Final yield by lot, per product"]
    assert "_macros.html" in used["%(num)s row"] and "_macros.html" in used["%(num)s rows"]
    assert "LotYield.first_pass_yield" in used["First-pass yield"]
    assert "nav of /" in used["Overview"]
    assert len(template_messages()) > 250


def test_every_message_used_has_its_spanish(catalog):
    used = used_messages()
    missing = sorted(msgid for msgid in used if msgid not in catalog.msgids())
    assert missing == [], "no es-MX translation in es_MX.po for:\n" + "\n".join(
        f"{msgid!r} ({', '.join(sorted(used[msgid]))})" for msgid in missing
    )
    empty = sorted(k for k, v in catalog.messages.items() if not v.strip())
    empty += sorted(k for k, (_, forms) in catalog.plurals.items() if len(forms) != 2 or not all(forms))
    assert empty == [], f"untranslated entries in es_MX.po: {empty}"


def test_the_catalog_has_no_stale_entries(catalog):
    used = used_messages()
    stale = sorted(msgid for msgid in catalog.msgids() if msgid not in used)
    assert stale == [], "es_MX.po has messages nothing uses (remove them):\n" + "\n".join(map(repr, stale))


def test_the_computed_text_templates_are_flagged_computed_and_only_they(catalog):
    # translate_computed matches the English against the flagged entries only: a C_ template
    # without the flag would stay English, a flag on anything else would rewrite unrelated text.
    marked = set(python_messages({"C_"}))
    assert len(marked) > 40
    assert sorted(marked - catalog.computed) == [] and sorted(catalog.computed - marked) == []


def test_translations_keep_their_placeholders(catalog):
    # "%(lot)s" in the English must be in the Spanish: a lost one raises at render, a new one too.
    placeholder = re.compile(r"%(?:\(\w+\))?[sd%]")
    wrong = []
    for msgid, msgstr in catalog.messages.items():
        if sorted(placeholder.findall(msgid)) != sorted(placeholder.findall(msgstr)):
            wrong.append(msgid)
    for msgid, (plural, forms) in catalog.plurals.items():
        if any(sorted(placeholder.findall(f)) != sorted(placeholder.findall(plural)) for f in forms):
            wrong.append(msgid)
    assert wrong == []


def test_po_reader_reads_continuations_plurals_and_names_bad_lines():
    text = (
        '# comment\nmsgid ""\nmsgstr ""\n"Language: es_MX\\n"\n\n'
        'msgid "Final "\n"yield"\nmsgstr "Rendimiento "\n"final"\n\n'
        'msgid "%(num)s lot"\nmsgid_plural "%(num)s lots"\nmsgstr[0] "%(num)s lote"\nmsgstr[1] "%(num)s lotes"\n'
    )
    catalog = read_po(text, "t.po")
    assert catalog.messages == {"Final yield": "Rendimiento final"}
    assert catalog.plurals == {"%(num)s lot": ("%(num)s lots", ["%(num)s lote", "%(num)s lotes"])}
    with pytest.raises(
        ValueError, match=r"t.po, line 2: expected msgid, msgid_plural or msgstr, got 'msgctxt'"
    ):
        read_po('msgid "a"\nmsgctxt "b"\nmsgstr "c"\n', "t.po")
    with pytest.raises(ValueError, match=r"t.po, line 4: message 'a' twice"):
        read_po('msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n', "t.po")


def test_translation_falls_back_to_the_english_source():
    spanish = translation("es")
    assert spanish.gettext("Final yield") == "Rendimiento final"
    assert spanish.gettext("a message nobody wrote") == "a message nobody wrote"
    assert spanish.ngettext("%(num)s lot", "%(num)s lots", 1) == "%(num)s lote"
    assert spanish.ngettext("%(num)s lot", "%(num)s lots", 0) == "%(num)s lotes"
    assert translation("en").gettext("Final yield") == "Final yield"
    with pytest.raises(ValueError, match="language 'fr': expected one of en, es"):
        translation("fr")


@pytest.mark.parametrize(
    "header, expected",
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5,en;q=0.4", "es"),
        ("de, en;q=0.1, es;q=0", "en"),  # q=0: not acceptable
        ("fr", None),
        ("", None),
        ("es;q=abc, en", "en"),  # an unreadable q counts as 0
    ],
)
def test_accept_language_is_negotiated(header, expected):
    assert negotiate(header) == expected


def test_asked_then_remembered_then_browser_then_english():
    assert choose_language("es", "en", "en") == "es"
    assert choose_language(None, "es", "en") == "es"
    assert choose_language("xx", None, "es-MX") == "es"
    assert choose_language(None, None, None) == "en"


def test_a_page_in_each_language(client):
    english = client.get("/", headers={"Accept-Language": "en-US"})
    assert '<html lang="en">' in english.text and "Final yield by lot, per product" in english.text
    spanish = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert '<html lang="es-MX">' in spanish.text
    assert "Rendimiento final por lote, por producto" in spanish.text
    assert ">Resumen</a>" in spanish.text  # the navigation title of the overview's declaration
    # A column title (inside the header's sort link).
    assert re.search(
        r'data-column="first_pass_yield"[^>]*><a class="sort"[^>]*>Rendimiento a la primera', spanish.text
    )
    assert "Vary" in spanish.headers and "Accept-Language" in spanish.headers["Vary"]


def test_lang_parameter_is_remembered_in_a_cookie(client):
    client.cookies.clear()
    asked = client.get("/files?lang=es", headers={"Accept-Language": "en"})
    assert '<html lang="es-MX">' in asked.text and asked.cookies.get(LANGUAGE_COOKIE) == "es"
    later = client.get("/files", headers={"Accept-Language": "en"})
    assert '<html lang="es-MX">' in later.text  # the cookie, over the browser's English
    back = client.get("/files?lang=en")
    assert '<html lang="en">' in back.text
    client.cookies.clear()


def test_the_language_switch_is_in_the_navigation_and_keeps_the_query(client):
    client.cookies.clear()
    page = client.get("/search?q=TK", headers={"Accept-Language": "en"}).text
    switch = re.search(r'<span class="languages" data-languages>(.*?)</span>', page, re.S).group(1)
    assert '<a href="/search?q=TK&amp;lang=es" lang="es"' in switch
    assert '<strong lang="en" aria-current="true">English</strong>' in switch


def test_a_cached_page_is_not_served_in_the_other_language(client):
    client.cookies.clear()
    first = client.get("/pat", headers={"Accept-Language": "es"}).text
    second = client.get("/pat", headers={"Accept-Language": "en"}).text
    assert "Tamizado" in first and "Tamizado" not in second and "Screening" in second
