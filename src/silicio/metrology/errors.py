"""The one error the metrology package raises for input it cannot use."""

from __future__ import annotations

__all__ = ["MetrologyError"]


class MetrologyError(ValueError):
    """Input that cannot be analysed: its text says what is wrong and where (file, row, column)."""
