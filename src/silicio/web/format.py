"""How a page shows a value: one function for tables, headline figures and the tests that read them,
in the reader's language (:mod:`silicio.i18n.formats`); the templates call them as filters. Text
the code computed in English (a hold reason, a note) is shown translated
(:mod:`silicio.i18n.computed`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from silicio.i18n import DEFAULT_LANGUAGE
from silicio.i18n.computed import translate_computed
from silicio.i18n.formats import (
    MISSING,
    format_bool,
    format_date,
    format_datetime,
    format_integer,
    format_money,
    format_number,
    format_percent,
    format_share,
)

__all__ = [
    "format_bool", "format_cell", "format_date", "format_datetime", "format_integer", "format_money",
    "format_number", "format_percent", "format_share", "CAPABILITY_DIGITS",
]  # fmt: skip

#: Significant digits of a capability index (Cpk 1.53): more would claim a precision a few hundred
#: results do not give.
CAPABILITY_DIGITS = 3


def format_cell(value: Any, display: str = "text", language: str = DEFAULT_LANGUAGE) -> str:
    """How a table cell shows a value of a column's display kind (see :mod:`silicio.web.models`)."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return format_bool(value, language)
    if isinstance(value, list | tuple):
        return "; ".join(format_cell(v, display, language) for v in value)
    if display == "percent":
        return format_percent(value, language=language)
    if display == "capability" and isinstance(value, int | float):
        return format_number(value, CAPABILITY_DIGITS, language)
    if display == "money" and isinstance(value, int | float):
        return format_money(value, language=language)
    if display == "integer" and isinstance(value, int | float):
        return format_integer(value, language)
    if isinstance(value, date):
        return format_datetime(value, language)
    if isinstance(value, float):
        # A "number" column, or a measured value in a text column: never 16 digits or 5.519e+04.
        return format_number(value, language=language)
    if display == "number" and isinstance(value, int):
        return format_integer(value, language)
    if isinstance(value, str):
        return translate_computed(value, language)  # a hold reason, a note: computed English
    return str(value)
