"""Text the code computes, in the reader's language: hold and screening reasons, notes, alert
titles, signature meanings, the lot report's sentences.

Such text is made in English from a template marked with :func:`silicio.i18n.C_` and its
parameters, ``C_("final yield %(value)s < %(limit)s") % {"value": "93.75%", "limit": "95.00%"}``,
and stored, logged and exported as that English (an alert's title, a hold record, a CSV). Where it
is shown, :func:`translate_computed` finds the template the English was made from (the catalog's
entries flagged ``#, computed``), reads the parameters back out of it and fills the translated
template with them. Parameters named in :data:`NESTED` are computed text themselves and are
translated in turn; the others (lot ids, test names, numbers) are kept as written: numbers were
formatted in English, which es-MX writes the same way (CLDR: "." for decimals, "," for
thousands; :mod:`silicio.i18n.formats`).

>>> translate_computed("final yield 93.75% < 95.00%", "es")
'rendimiento final 93.75% < 95.00%'

Text no template matches is shown as it is (a reason a plugin wrote, a message of the operator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from . import DEFAULT_LANGUAGE, translation

#: Parameters that hold computed text themselves (a reason inside an alert title, a note inside
#: "product: note"): translated in turn.
NESTED = frozenset({"reason", "what", "note", "basis", "why"})
#: How deep computed text nests at most (a note inside a note inside an alert title).
MAX_DEPTH = 4
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class _Template:
    msgid: str
    prefix: str  # the literal text before the first parameter
    pattern: re.Pattern
    literal: int  # characters of literal text: the more, the more specific


def _compiled(msgid: str) -> _Template:
    parts, names, last = [], set(), 0
    for match in _PLACEHOLDER.finditer(msgid):
        parts.append(re.escape(msgid[last : match.start()].replace("%%", "%")))
        name = match.group(1)
        # A parameter used twice must read the same both times.
        parts.append(f"(?P={name})" if name in names else f"(?P<{name}>.+?)")
        names.add(name)
        last = match.end()
    parts.append(re.escape(msgid[last:].replace("%%", "%")))
    literal = len(_PLACEHOLDER.sub("", msgid))
    first = _PLACEHOLDER.search(msgid)
    prefix = msgid[: first.start()] if first else msgid
    return _Template(msgid, prefix.replace("%%", "%"), re.compile("".join(parts), re.S), literal)


@cache
def _templates(language: str) -> tuple[_Template, ...]:
    """The computed-text templates the catalog of ``language`` translates, most specific first."""
    computed = translation(language).catalog.computed
    return tuple(sorted((_compiled(m) for m in computed), key=lambda t: (-t.literal, t.msgid)))


def parse_computed(text: str, language: str) -> tuple[str, dict[str, str]] | None:
    """(the template ``text`` was made from, its parameters), None when no template of
    ``language``'s catalog matches it whole."""
    for template in _templates(language):
        if text.startswith(template.prefix):
            found = template.pattern.fullmatch(text)
            if found is not None:
                return template.msgid, found.groupdict()
    return None


def translate_computed(text: str, language: str = DEFAULT_LANGUAGE) -> str:
    """``text`` (computed English) in ``language``; unchanged when no template matches it."""
    if language == DEFAULT_LANGUAGE or not text:
        return text
    return _translated(text, language, 0)


# A table repeats its texts (verdicts, insertion kinds, a lot's reasons): each is matched once.
@lru_cache(maxsize=8192)
def _translated(text: str, language: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        return text
    parsed = parse_computed(text, language)
    if parsed is None:
        return text
    msgid, params = parsed
    filled = {k: _translated(v, language, depth + 1) if k in NESTED else v for k, v in params.items()}
    return translation(language).gettext(msgid) % filled
