"""One die across its insertions (the dashboard's die page): every time the tester saw it at a stage,
what it binned, and each result against its limits; the files in test order, so the first row is the
first pass and the last the final insertion (:mod:`silicio.lake.queries.insertions`' rule). A
packaged unit has no wafer coordinates: :func:`unit_insertions` and :func:`unit_results` find it by
its part id (PRR PART_ID) in its lot instead."""

from __future__ import annotations

import polars as pl

from ..layout import partition_value
from ..query import Lake
from . import test_order

__all__ = ["die_insertions", "die_results", "unit_insertions", "unit_results"]

# One die of one lot at one stage, for rows of view {x} joined to ``files f``: the partition first.
_ONE_DIE = (
    "{x}.lot = $partition AND {x}.lot_id = $lot AND f.stage = $stage AND {x}.wafer_id = $wafer "
    "AND {x}.x = $x AND {x}.y = $y"
)


def _params(lot_id: str, stage: str, wafer_id: str, x: int, y: int) -> dict:
    return {
        "partition": partition_value(lot_id),
        "lot": lot_id,
        "stage": stage,
        "wafer": wafer_id,
        "x": x,
        "y": y,
    }


def die_insertions(lake: Lake, lot_id: str, stage: str, wafer_id: str, x: int, y: int) -> pl.DataFrame:
    """The parts rows of die (``wafer_id``, ``x``, ``y``) of lot ``lot_id`` at ``stage``, in test
    order: file_sha256, path, started (the file's), part_index, part_id, site, hard_bin, soft_bin,
    passed, test_t (ms), num_tests. Empty when the lake never saw the die."""
    return lake.polars(
        "SELECT p.file_sha256, f.path, f.started, p.part_index, p.part_id, p.site, p.hard_bin, p.soft_bin, "
        "p.passed, p.test_t, p.num_tests FROM parts p JOIN files f ON f.sha256 = p.file_sha256 "
        f"WHERE {_ONE_DIE.format(x='p')} ORDER BY {test_order('p')}",
        _params(lot_id, stage, wafer_id, x, y),
    )


def die_results(lake: Lake, lot_id: str, stage: str, wafer_id: str, x: int, y: int) -> pl.DataFrame:
    """Every test result of that die, insertion by insertion in test order: file_sha256,
    part_index, test_num, test_name, test_type, pin, units, lo_limit, result, hi_limit, passed,
    test_flg, parm_flg (STDF V4 PTR / MPR / FTR flags as recorded)."""
    return lake.polars(
        "SELECT t.file_sha256, t.part_index, t.test_num, t.test_name, t.test_type, t.pin, t.units, "
        "t.lo_limit, t.result, t.hi_limit, t.passed, t.test_flg, t.parm_flg "
        f"FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 WHERE {_ONE_DIE.format(x='t')} "
        f"ORDER BY {test_order('t')}",
        _params(lot_id, stage, wafer_id, x, y),
    )


# One part of one lot at one stage by its PRR PART_ID (a final-test unit: no wafer coordinates).
_ONE_UNIT = "{x}.lot = $partition AND {x}.lot_id = $lot AND f.stage = $stage AND {x}.part_id = $part"


def _unit_params(lot_id: str, stage: str, part_id: str) -> dict:
    return {"partition": partition_value(lot_id), "lot": lot_id, "stage": stage, "part": part_id}


def unit_insertions(lake: Lake, lot_id: str, stage: str, part_id: str) -> pl.DataFrame:
    """The parts rows of part ``part_id`` of lot ``lot_id`` at ``stage``, in test order, with the
    columns of :func:`die_insertions` (and wafer_id, x, y, null for a packaged unit). Empty when
    the lake never saw it."""
    return lake.polars(
        "SELECT p.file_sha256, f.path, f.started, p.part_index, p.part_id, p.site, p.hard_bin, p.soft_bin, "
        "p.passed, p.test_t, p.num_tests, p.wafer_id, p.x, p.y FROM parts p "
        f"JOIN files f ON f.sha256 = p.file_sha256 WHERE {_ONE_UNIT.format(x='p')} ORDER BY {test_order('p')}",
        _unit_params(lot_id, stage, part_id),
    )


def unit_results(lake: Lake, lot_id: str, stage: str, part_id: str) -> pl.DataFrame:
    """Every test result of that part, insertion by insertion in test order, with the columns of
    :func:`die_results`."""
    return lake.polars(
        "SELECT t.file_sha256, t.part_index, t.test_num, t.test_name, t.test_type, t.pin, t.units, "
        "t.lo_limit, t.result, t.hi_limit, t.passed, t.test_flg, t.parm_flg "
        f"FROM tidy t JOIN files f ON f.sha256 = t.file_sha256 WHERE {_ONE_UNIT.format(x='t')} "
        f"ORDER BY {test_order('t')}",
        _unit_params(lot_id, stage, part_id),
    )
