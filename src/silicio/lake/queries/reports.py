"""What the lot report (:func:`silicio.yields.report.lot_report`) reads of one lot at one stage:
its files in test order, its parts and test results, and each file's tester bin summaries.

A lot here is matched on the parts' ``lot_id`` (None matches parts without one) and the stage on
the partition column; the partition filter on ``lot`` lets DuckDB read only the lot's folders.
"""

from __future__ import annotations

import polars as pl

from ..layout import partition_value
from ..query import Lake
from . import test_order

__all__ = ["lot_bin_summaries", "lot_files", "lot_ids", "lot_rows", "lot_stages"]

_LOT = "lot = $partition AND lot_id IS NOT DISTINCT FROM $lot"


def _params(lot_id: str | None, **more) -> dict:
    return {"partition": partition_value(lot_id), "lot": lot_id, **more}


def lot_ids(lake: Lake) -> list:
    """The lot ids the parts hold (None for parts without one)."""
    return [row[0] for row in lake.rows("SELECT DISTINCT lot_id FROM parts")]


def lot_stages(lake: Lake, lot_id: str | None) -> list[str]:
    """The stages lot ``lot_id`` was tested at, sorted."""
    return sorted(
        row[0] for row in lake.rows(f"SELECT DISTINCT stage FROM parts WHERE {_LOT}", _params(lot_id))
    )


def lot_files(lake: Lake, lot_id: str | None, stage: str) -> list[tuple[str, str | None, object]]:
    """(sha256, path, started) of the files holding the lot's parts at ``stage``, in test order
    (:func:`silicio.lake.queries.test_order`: start time, files without one last, then content
    hash)."""
    return lake.rows(
        f"SELECT p.file_sha256, f.path, f.started "
        f"FROM (SELECT file_sha256, min(seq) AS seq FROM parts WHERE {_LOT} AND stage = $stage "
        f"GROUP BY file_sha256) p LEFT JOIN files f ON f.sha256 = p.file_sha256 ORDER BY {test_order('p')}",
        _params(lot_id, stage=stage),
    )


def lot_rows(lake: Lake, view: str, lot_id: str | None, stage: str) -> pl.DataFrame:
    """Every row (all columns, ``file_sha256`` and ``seq`` included) of view ``parts`` or
    ``tidy`` for the lot at ``stage``, in no particular order."""
    if view not in ("parts", "tidy"):
        raise ValueError(f"lot_rows reads the parts or tidy view, not {view!r}")
    return lake.polars(f"SELECT * FROM {view} WHERE {_LOT} AND stage = $stage", _params(lot_id, stage=stage))


def lot_bin_summaries(lake: Lake, view: str, lot_id: str | None, stage: str) -> pl.DataFrame:
    """The ``HBR`` or ``SBR`` records of the files holding the lot's parts at ``stage``."""
    if view not in ("HBR", "SBR"):
        raise ValueError(f"lot_bin_summaries reads HBR or SBR, not {view!r}")
    return lake.polars(
        f'SELECT * FROM "{view}" WHERE lot = $partition AND file_sha256 IN '
        f"(SELECT DISTINCT file_sha256 FROM parts WHERE {_LOT} AND stage = $stage)",
        _params(lot_id, stage=stage),
    )
