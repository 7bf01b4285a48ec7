"""How a value is written for a reader: numbers to the significant digits the data carry, counts
with thousands separators, money with its currency, fractions as percentages, dates, yes and no;
never scientific notation, never Python's ``None``, ``True``, ``nan`` or ``inf``.

Separators follow CLDR: ``en`` and ``es-MX`` both write 1,234.5 (Mexico uses the point for
decimals and the comma for thousands, unlike Spain). Money names its currency after the number
(``55,190 USD``): in Mexico ``$`` alone means pesos. Dates in tables are ISO 8601 (2026-12-02,
the same in both languages and sortable); :func:`format_date` with ``long=True`` writes the
locale's long form (2 de diciembre de 2026, December 2, 2026).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from . import DEFAULT_LANGUAGE, translation

#: What stands for a missing value (None, NaN) in every language.
MISSING = "—"
#: Decimal and grouping separators of each language (CLDR en, es-MX).
SEPARATORS: dict[str, tuple[str, str]] = {"en": (".", ","), "es": (".", ",")}
#: Most decimals a number is written with: below 10**-MAX_DECIMALS it is 0.
MAX_DECIMALS = 15
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"),
}  # fmt: skip


def _localized(text: str, language: str) -> str:
    """``text`` written with "." and "," in ``language``'s separators."""
    decimal, group = SEPARATORS.get(language, SEPARATORS[DEFAULT_LANGUAGE])
    if (decimal, group) == (".", ","):
        return text
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def _not_finite(value: float) -> str:
    if math.isnan(value):
        return MISSING
    return "∞" if value > 0 else "−∞"


def _fixed(value: float | int | Decimal, decimals: int) -> str:
    """``value`` rounded half up (as people round) to ``decimals`` places, grouped, never in exponent form (Decimal
    of the float's repr: 0.125 stays 0.125, not 0.12499...)."""
    number = (
        value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    )
    with localcontext() as context:
        context.prec = max(28, number.adjusted() + decimals + 3)  # every digit of 1e30 kept
        rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}"
    return "0" + text[2:] if text.startswith("-0") and not rounded else text  # no "-0"


def _strip_zeros(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_number(value: Any, digits: int = 4, language: str = DEFAULT_LANGUAGE) -> str:
    """A measured value to ``digits`` significant digits, trailing zeros dropped (1.5, 0.001234,
    12.35); a value of ``digits`` integer digits or more as a grouped whole number (55,190),
    never in exponent form."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return format_bool(value, language)
    value = float(value) if not isinstance(value, int) else value
    if isinstance(value, float) and not math.isfinite(value):
        return _not_finite(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = min(MAX_DECIMALS, max(0, digits - 1 - magnitude))
    return _localized(_strip_zeros(_fixed(value, decimals)), language)


def format_integer(value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """A count, grouped (12,345); a float is rounded to the nearest whole number."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return format_bool(value, language)
    if isinstance(value, float):
        if not math.isfinite(value):
            return _not_finite(value)
        value = round(value)
    return _localized(f"{int(value):,}", language)


def format_percent(fraction: Any, decimals: int = 2, language: str = DEFAULT_LANGUAGE) -> str:
    """A fraction as a percentage with ``decimals`` decimals (0.95031 -> 95.03%; CLDR en and es-MX
    both write the sign right after the number)."""
    if fraction is None:
        return MISSING
    fraction = float(fraction)
    if not math.isfinite(fraction):
        return _not_finite(fraction)
    return _localized(_fixed(Decimal(repr(fraction)) * 100, decimals), language) + "%"


def format_share(percent: Any, decimals: int = 1, language: str = DEFAULT_LANGUAGE) -> str:
    """A value already in percent (national content 62.4) as 62.4 %."""
    if percent is None:
        return MISSING
    percent = float(percent)
    if not math.isfinite(percent):
        return _not_finite(percent)
    return _localized(_fixed(percent, decimals), language) + " %"


def format_money(value: Any, currency: str = "USD", language: str = DEFAULT_LANGUAGE) -> str:
    """An amount with its currency after it: whole units from 1,000 up (55,190 USD), cents below
    (12.35 USD, 0.50 USD), three significant digits under ten cents (0.0123 USD)."""
    if value is None:
        return MISSING
    value = float(value)
    if not math.isfinite(value):
        return _not_finite(value)
    size = abs(value)
    if size >= 1000 or value == 0:
        text = _fixed(value, 0)
    elif size >= 0.1:
        text = _fixed(value, 2)
    else:
        text = _fixed(value, min(MAX_DECIMALS, max(2, 2 - math.floor(math.log10(size)))))
    return f"{_localized(text, language)} {currency}"


def _as_datetime(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def format_date(value: Any, language: str = DEFAULT_LANGUAGE, *, long: bool = False) -> str:
    """A date: ISO 8601 (2026-12-02), or the locale's long form (2 de diciembre de 2026). Text
    that is no ISO date is returned as it is."""
    if value is None:
        return MISSING
    moment = _as_datetime(value)
    if moment is None:
        return str(value)
    if not long:
        return moment.strftime("%Y-%m-%d")
    month = _MONTHS.get(language, _MONTHS[DEFAULT_LANGUAGE])[moment.month - 1]
    if language == "es":
        return f"{moment.day} de {month} de {moment.year}"
    return f"{month} {moment.day}, {moment.year}"


def format_datetime(value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """A time to the minute, ISO 8601 with a space (2026-12-02 14:05), UTC offset when it has one."""
    if value is None:
        return MISSING
    moment = _as_datetime(value)
    if moment is None:
        return str(value)
    if not isinstance(moment, datetime):
        return format_date(moment, language)
    text = moment.strftime("%Y-%m-%d %H:%M")
    offset = moment.utcoffset()
    if offset is not None:
        text += " UTC" if not offset else moment.strftime(" %z")
    return text


def format_bool(value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """yes / no (sí / no)."""
    if value is None:
        return MISSING
    return translation(language).gettext("yes" if value else "no")
