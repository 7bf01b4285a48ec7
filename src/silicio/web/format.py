"""How a page shows a value: one function for tables, headline figures and the tests that read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def format_cell(value: Any, display: str = "text") -> str:
    """How a table cell shows a value of a column's display kind (see :mod:`silicio.web.models`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(map(str, value))
    if display == "percent":
        return f"{value * 100:.2f}%"
    if display == "number" and isinstance(value, int | float):
        return f"{value:.4g}"
    if display == "integer" and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
