"""Languages: English (the source) and Mexican Spanish, for the dashboard, the lot report and the
certificates.

Messages are the English text itself (gettext's convention: the English is the key, so an
untranslated message still reads). The Spanish catalog is ``es_MX.po`` beside this module, in
the GNU gettext PO format (translators' tools open it), read by :func:`read_po` at first use: no
compiled ``.mo`` to keep in step. The few PO features silicio uses are read; anything else is an
error naming the file and line.

>>> from silicio.i18n import translation
>>> translation("es").gettext("Final yield")
'Rendimiento final'

Numbers, money, percentages and dates are :mod:`silicio.i18n.formats`' (Mexico writes numbers
as the United States do: CLDR es-MX has "." for decimals and "," for thousands).

The package sits below the areas and imports none of them, so the reports of
:mod:`silicio.yields`, the certificates of :mod:`silicio.origin` and the dashboard use one catalog.
"""

from __future__ import annotations

import ast
import importlib.resources
from dataclasses import dataclass, field
from functools import cache

#: The languages, by the code ``?lang=`` takes, and the BCP 47 tag of each (``<html lang>``).
LANGUAGES: dict[str, str] = {"en": "en", "es": "es-MX"}
#: What each language calls itself (the language switch).
NATIVE_NAMES: dict[str, str] = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
#: The catalog file of each language but English (the source).
CATALOG_FILES: dict[str, str] = {"es": "es_MX.po"}


@dataclass
class Catalog:
    """A PO file's messages: ``messages`` msgid -> msgstr; ``plurals`` msgid -> (msgid_plural,
    [msgstr[0], msgstr[1], ...]). Entries with an empty msgstr (untranslated) are kept: the
    completeness test finds them."""

    messages: dict[str, str] = field(default_factory=dict)
    plurals: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: Messages flagged ``#, computed``: templates of text the code computes (:mod:`.computed`).
    computed: set[str] = field(default_factory=set)

    def msgids(self) -> set[str]:
        """Every message it translates, the plural forms' English included."""
        return set(self.messages) | set(self.plurals) | {plural for plural, _ in self.plurals.values()}


def _po_string(text: str, source: str, line: int) -> str:
    """A PO quoted string's value (C escapes, as Python's literal syntax reads them)."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"{source}, line {line}: expected a quoted string, got {text[:40]!r}")
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError):
        raise ValueError(f"{source}, line {line}: bad string {text[:40]!r}") from None


def read_po(text: str, source: str = "catalog") -> Catalog:
    """The messages of a PO file's text: ``msgid``, ``msgid_plural``, ``msgstr`` and ``msgstr[n]``,
    strings continued on the following lines, ``#`` comments. The header entry (empty msgid) is
    left out. A ``#, computed`` flag marks a template of computed text (:mod:`.computed`). A
    keyword it does not know (``msgctxt``), a message twice or a string outside an entry is a
    ValueError naming ``source`` and the line."""
    catalog = Catalog()
    entry: dict[str, str] = {}
    current: str | None = None
    start = 0
    flagged = False

    def close() -> None:
        nonlocal entry, current, flagged
        if entry and flagged and entry.get("msgid"):
            catalog.computed.add(entry["msgid"])
        flagged = False
        if entry:
            msgid = entry.get("msgid")
            if msgid is None:
                raise ValueError(f"{source}, line {start}: an entry without msgid")
            if msgid in catalog.messages or msgid in catalog.plurals:
                raise ValueError(f"{source}, line {start}: message {msgid[:60]!r} twice")
            if "msgid_plural" in entry:
                forms = [entry[k] for k in sorted(k for k in entry if k.startswith("msgstr["))]
                catalog.plurals[msgid] = (entry["msgid_plural"], forms)
            elif msgid:
                if "msgstr" not in entry:
                    raise ValueError(f"{source}, line {start}: message {msgid[:60]!r} has no msgstr")
                catalog.messages[msgid] = entry["msgstr"]
        entry, current = {}, None

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            close()
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "computed" in (f.strip() for f in line[2:].split(",")):
                if entry:  # a flag opens the next entry
                    close()
                flagged = True
            continue
        if line.startswith('"'):
            if current is None:
                raise ValueError(f"{source}, line {number}: a string outside an entry")
            entry[current] += _po_string(line, source, number)
            continue
        keyword, _, rest = line.partition(" ")
        if not (keyword in ("msgid", "msgid_plural", "msgstr") or
                (keyword.startswith("msgstr[") and keyword.endswith("]") and keyword[7:-1].isdigit())):  # fmt: skip
            raise ValueError(
                f"{source}, line {number}: expected msgid, msgid_plural or msgstr, got {keyword!r}"
            )
        if keyword == "msgid" and entry:
            close()
        if not entry:
            start = number
        if keyword in entry:
            raise ValueError(f"{source}, line {number}: {keyword} twice in one entry")
        entry[keyword] = _po_string(rest.strip(), source, number)
        current = keyword
    close()
    return catalog


def spanish_plural(n: int) -> int:
    """Plural form index of Spanish and English alike (``nplurals=2; plural=(n != 1)``)."""
    return 0 if n == 1 else 1


class Translation:
    """One language's messages: :meth:`gettext` and :meth:`ngettext`, falling back to the
    English source for a message the catalog lacks or leaves empty."""

    def __init__(self, language: str, catalog: Catalog | None = None):
        self.language = language
        self.tag = LANGUAGES[language]
        self.catalog = catalog or Catalog()

    def gettext(self, message: str) -> str:
        return self.catalog.messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        entry = self.catalog.plurals.get(singular)
        index = spanish_plural(n)
        if entry is not None and index < len(entry[1]) and entry[1][index]:
            return entry[1][index]
        return singular if index == 0 else plural


def catalog_text(language: str) -> tuple[str, str]:
    """(the text of ``language``'s PO file, its name)."""
    name = CATALOG_FILES[language]
    return (importlib.resources.files(__name__) / name).read_text(encoding="utf-8"), name


@cache
def translation(language: str) -> Translation:
    """The messages of ``language`` (a key of :data:`LANGUAGES`); English is the source itself."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if language not in CATALOG_FILES:
        return Translation(language)
    text, name = catalog_text(language)
    return Translation(language, read_po(text, name))


def gettext(message: str, language: str = DEFAULT_LANGUAGE) -> str:
    return translation(language).gettext(message)


def language_code(value: str | None) -> str | None:
    """The language of a code or tag (``es``, ``es-MX``, ``ES_mx``, ``en-GB``), None for one we lack."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def negotiate(accept_language: str | None) -> str | None:
    """The language a browser's ``Accept-Language`` prefers among ours (highest q, then order;
    RFC 9110 12.5.4), None when it names none of them."""
    best: tuple[float, int, str] | None = None
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = language_code(tag)
        if code is None or quality <= 0:
            continue
        if best is None or (quality, -position) > (best[0], best[1]):
            best = (quality, -position, code)
    return best[2] if best else None


def choose_language(asked: str | None, remembered: str | None, accept_language: str | None,
                    account: str | None = None) -> str:  # fmt: skip
    """The language of a request: the one asked for (``?lang=``), else the signed-in account's
    preference, else the one remembered (the cookie a past ``?lang=`` set), else the browser's
    preference, else English."""
    return (language_code(asked) or language_code(account) or language_code(remembered)
            or negotiate(accept_language) or DEFAULT_LANGUAGE)  # fmt: skip


def N_(message: str) -> str:
    """Marks ``message`` for the catalog where it is written; it is translated where it is shown."""
    return message


def C_(template: str) -> str:
    """Marks a template of computed text (a hold reason, a note, an alert title): the English is
    ``C_("final yield %(value)s < %(limit)s") % params``; where it is shown,
    :func:`silicio.i18n.computed.translate_computed` reads the parameters back out of the English
    and fills the translated template. Its catalog entry is flagged ``#, computed``."""
    return template
