"""The alert rule interface (:class:`AlertRule`), what a rule finds (:class:`Finding`) and what it
looks at (:class:`AlertContext`: the lots and files one ingest brought in, with the facts several
rules share computed once, when the first rule asks)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = ["AlertContext", "AlertRule", "Finding", "QuarantinedFile"]


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: ``subject`` says what it is about (a lot, a wafer, a file, a
    site: the alert fires once per rule and subject), ``title`` one line for people, ``detail``
    the evidence as plain JSON (its digest tells a changed condition from the same one)."""

    subject: str
    title: str
    detail: dict[str, Any]
    product: str | None = None
    lot: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class QuarantinedFile:
    """A file an ingest quarantined: where it was, its content hash and why."""

    path: str
    sha256: str | None
    reason: str


class AlertRule(ABC):
    """A rule on the ingested data; see :mod:`silicio.alerts` for registering one.

    ``parameters`` holds each threshold and its default; the configuration file may set them
    (of the same type: an integer where a number is expected is taken) and nothing else.
    :meth:`check` adds the rule's own checks of their values."""

    #: The entry point's name and the ``kind`` of a rule in the configuration file.
    name: str = ""
    #: One line for people.
    title: str = ""
    #: parameter -> default.
    parameters: dict[str, Any] = {}

    def check(self, params: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Raise ValueError (the message says which parameter and what is expected) for values
        the types alone do not rule out."""

    @abstractmethod
    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        """What the rule finds in the lots and files of ``context``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@dataclass
class AlertContext:
    """What one ingest brought in, and the lake it went into.

    ``lots``: product, lot, stage of each lot a file of the ingest belongs to; ``quarantined``:
    the files it quarantined. The shared facts (:meth:`holds`, :meth:`lot_parts`) are computed
    on first use and kept, so rules that read the same thing pay once.
    """

    lake: Any
    lots: pl.DataFrame
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def lot_keys(self, stage: str | None = None) -> list[tuple[str | None, str, str]]:
        """(product, lot, stage) of the ingested lots (at ``stage``, when given)."""
        return [(r["product"], r["lot"], r["stage"]) for r in self.lots.iter_rows(named=True)
                if stage is None or r["stage"] == stage]  # fmt: skip

    def lot_parts(self, lot: str, stage: str) -> pl.DataFrame:
        """The parts of ``lot`` at ``stage`` in test order (:func:`silicio.lake.queries.lot_parts`)."""
        key = ("parts", lot, stage)
        if key not in self._cache:
            from silicio.lake import queries

            self._cache[key] = pl.from_arrow(queries.lot_parts(self.lake, lot, stage))
        return self._cache[key]

    def holds(self):
        """The disposition rules' holds of the ingested lots (:mod:`silicio.yields.disposition`:
        final yield, AEC-Q002 SYL / SBL against the lots tested before each; PAT and parametric
        shifts are the PAT rule's and not judged here), a :class:`~silicio.yields.disposition.Disposition`."""
        if "holds" not in self._cache:
            self._cache["holds"] = _holds_of(self)
        return self._cache["holds"]


def _holds_of(context: AlertContext):
    from silicio.lake import queries
    from silicio.yields import disposition as rules

    keys = context.lot_keys()
    if not keys:
        return rules.Disposition(holds=())
    recipe = rules.default_recipe()
    wanted = pl.DataFrame(keys, schema=["product", "lot", "stage"], orient="row")
    index = queries.lot_index(context.lake).join(wanted, on=["product", "lot", "stage"], nulls_equal=True)
    frames = []
    for product, lot, stage in keys:
        parts = context.lot_parts(lot, stage)
        if parts.height:
            frames.append(parts.select("lot_id", "wafer_id", "die_key", "passed", "soft_bin", "hard_bin")
                          .with_columns(pl.lit(product, pl.String).alias("product"),
                                        pl.lit(stage, pl.String).alias("stage")))  # fmt: skip
    if not frames:
        return rules.Disposition(holds=())
    parts = pl.concat(frames, how="vertical_relaxed")
    history = rules.lake_history(context.lake, index, rules.HoldRules(), recipe)
    return rules.judge(parts, index, None, rules.HoldRules(), recipe, history=history)


def plain(value: Any) -> Any:
    """``value`` as plain JSON: NaN and infinities as null, tuples as lists, numpy scalars as numbers."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
