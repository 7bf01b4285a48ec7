"""Wafer maps as data: die coordinates and one value per die (a bin, a measurement, a fail
fraction) for one wafer, or stacked over the wafers of a lot.

Coordinates are the prober's PRR X_COORD / Y_COORD as written; which way they grow on a drawing
is :class:`silicio.yields.wafermap.Orientation`'s business, not the map's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from ..yield_ import as_frame, check_choice, with_test_order

__all__ = ["WaferMap", "bin_map", "parametric_map", "stacked_fail_map"]


@dataclass(frozen=True)
class WaferMap:
    """Die coordinates (``x``, ``y``) and one ``value`` per die, with what the value means.

    ``kind`` is "bin" (integer bin codes, ``good`` flags which dies passed), "parametric" or
    "fail_fraction" (``count`` the dies stacked at each position).
    """

    x: np.ndarray
    y: np.ndarray
    value: np.ndarray
    kind: str
    lot_id: str | None = None
    wafer_id: str | None = None
    label: str | None = None
    good: np.ndarray | None = None
    count: np.ndarray | None = None

    def grid(self, fill: float = np.nan) -> np.ndarray:
        """Values as a rows x columns array (row 0 the smallest Y, column 0 the smallest X)."""
        rows, cols = self.shape
        out = np.full((rows, cols), fill, dtype=float)
        out[self.y - self.y.min(), self.x - self.x.min()] = self.value
        return out

    @property
    def shape(self) -> tuple[int, int]:
        if self.x.size == 0:
            return 0, 0
        return int(self.y.max() - self.y.min() + 1), int(self.x.max() - self.x.min() + 1)


def _one_wafer(frame: pl.DataFrame, lot_id: str | None, wafer_id: str | None, what: str) -> pl.DataFrame:
    """Rows of the wafer asked for, or of the only wafer present; ValueError otherwise."""
    if lot_id is not None:
        frame = frame.filter(pl.col("lot_id") == lot_id)
    if wafer_id is not None:
        frame = frame.filter(pl.col("wafer_id") == wafer_id)
    frame = frame.filter(pl.col("x").is_not_null() & pl.col("y").is_not_null())
    wafers = frame.select("lot_id", "wafer_id").unique().sort(["lot_id", "wafer_id"], nulls_last=True)
    if wafers.height != 1:
        found = [tuple(r) for r in wafers.iter_rows()]
        raise ValueError(
            f"{what} maps one wafer: give lot_id / wafer_id to pick one of {found}"
            if found
            else f"{what}: no dies with X/Y coordinates for lot_id={lot_id!r}, wafer_id={wafer_id!r}"
        )
    return frame


def _coords(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return frame.get_column("x").to_numpy().astype(np.int64), frame.get_column("y").to_numpy().astype(
        np.int64
    )


def bin_map(
    parts: pa.Table | pl.DataFrame,
    kind: str = "hard",
    lot_id: str | None = None,
    wafer_id: str | None = None,
    tests: str = "final",
    order_by: Sequence[str] | str | None = None,
) -> WaferMap:
    """Bin of each die of one wafer: its last test (``tests="final"``) or its first ("first").

    ``parts`` is a parts table (:func:`silicio.stdf.parts.parts`); pass ``lot_id`` /
    ``wafer_id`` when it holds several wafers. Dies without coordinates are not mapped.
    """
    check_choice("kind", kind, ("hard", "soft"))
    check_choice("tests", tests, ("final", "first"))
    column = f"{kind}_bin"
    frame = as_frame(parts, ["lot_id", "wafer_id", "x", "y", "die_key", "passed", column], "bin_map")
    frame = with_test_order(frame, order_by).filter(
        pl.col("is_last_test" if tests == "final" else "is_first_test")
    )
    frame = _one_wafer(frame, lot_id, wafer_id, "bin_map")
    # One value per position: a die retested under another key (no trusted X/Y) keeps its last.
    frame = frame.unique(["x", "y"], keep="last", maintain_order=True)
    x, y = _coords(frame)
    row = frame.row(0, named=True)
    return WaferMap(x, y, frame.get_column(column).fill_null(-1).to_numpy().astype(np.int64), "bin",
                    row["lot_id"], row["wafer_id"], f"{kind} bin",
                    good=frame.get_column("passed").fill_null(False).to_numpy())  # fmt: skip


def parametric_map(
    tidy: pa.Table | pl.DataFrame,
    test_num: int,
    test_name: str | None = None,
    lot_id: str | None = None,
    wafer_id: str | None = None,
    tests: str = "final",
) -> WaferMap:
    """Result of one test on each die of one wafer, from a tidy table (:func:`silicio.stdf.tidy`).

    The test is ``test_num`` (and ``test_name`` when numbers are shared); each die shows its
    result in its last insertion (``tests="final"``, ``is_last_test``: a die whose retest did
    not run the test is not mapped) or its first ("first", ``is_first_test``, which
    :func:`silicio.yields.consolidate_retests_tidy` adds). An MPR test maps its first pin
    unless the table is filtered to one pin first.
    """
    check_choice("tests", tests, ("final", "first"))
    chosen = "is_last_test" if tests == "final" else "is_first_test"
    frame = as_frame(tidy, ["lot_id", "wafer_id", "x", "y", "test_num", "test_name", "result", chosen],
                     "parametric_map")  # fmt: skip
    frame = frame.filter((pl.col("test_num") == test_num) & pl.col(chosen) & pl.col("result").is_not_null())
    if test_name is not None:
        frame = frame.filter(pl.col("test_name") == test_name)
    frame = _one_wafer(frame, lot_id, wafer_id, "parametric_map")
    frame = frame.unique(["x", "y"], keep="first", maintain_order=True)
    x, y = _coords(frame)
    row = frame.row(0, named=True)
    units = frame.get_column("units").drop_nulls().first() if "units" in frame.columns else None
    label = f"{row['test_name'] or f'test {test_num}'}" + (f" [{units}]" if units else "")
    return WaferMap(x, y, frame.get_column("result").to_numpy().astype(float), "parametric", row["lot_id"],
                    row["wafer_id"], label)  # fmt: skip


def stacked_fail_map(
    parts: pa.Table | pl.DataFrame, lot_id: str | None = None, order_by: Sequence[str] | str | None = None
) -> WaferMap:
    """Fraction of failing dies at each X/Y across the wafers of a lot (final test of each die).

    Systematic patterns (edge rings, a probe-card site, a reticle position) stand out when
    wafers are stacked. ``count`` is how many wafers had a die with a verdict at the position.
    """
    frame = as_frame(parts, ["lot_id", "wafer_id", "x", "y", "die_key", "passed"], "stacked_fail_map")
    frame = with_test_order(frame, order_by).filter(
        pl.col("is_last_test")
        & pl.col("passed").is_not_null()
        & pl.col("x").is_not_null()
        & pl.col("y").is_not_null()
    )
    if lot_id is not None:
        frame = frame.filter(pl.col("lot_id") == lot_id)
    lots = frame.get_column("lot_id").unique().to_list()
    if len(lots) != 1:
        raise ValueError(
            f"stacked_fail_map stacks the wafers of one lot: give lot_id, one of {sorted(map(str, lots))}"
        )
    stacked = (
        frame.group_by(["x", "y"])
        .agg(pl.len().alias("count"), (~pl.col("passed")).mean().alias("fail_fraction"))
        .sort(["y", "x"])
    )
    x, y = _coords(stacked)
    return WaferMap(x, y, stacked.get_column("fail_fraction").to_numpy(), "fail_fraction", lots[0], None,
                    "fail fraction", count=stacked.get_column("count").to_numpy())  # fmt: skip
