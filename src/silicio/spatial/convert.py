"""A silicio.yields WaferMap as the int8 map the signature classifier reads."""

from __future__ import annotations

import numpy as np

from silicio.yields.wafermap import DEFAULT_ORIENTATION, Orientation, WaferMap

__all__ = ["from_wafer_map"]


def from_wafer_map(wafer_map: WaferMap, orientation: Orientation = DEFAULT_ORIENTATION) -> np.ndarray:
    """The (rows, cols) int8 map of a bin map: -1 no die, 0 pass, 1 fail, laid out as the
    wafer map module draws it (row 0 the top, column 0 the left, by ``orientation``: the file's
    WCR, :func:`silicio.yields.wafermap.orientation_of`).

    A die passes when the map's ``good`` flag says so; a die without a bin (-1) counts as no die.
    """
    if wafer_map.kind != "bin" or wafer_map.good is None:
        raise ValueError(
            f"a signature needs a bin map with pass / fail flags (silicio.yields.wafermap.bin_map); "
            f"got a {wafer_map.kind!r} map" + ("" if wafer_map.good is not None else " without them")
        )
    if wafer_map.x.size == 0:
        raise ValueError(f"wafer {wafer_map.lot_id}/{wafer_map.wafer_id}: the map has no dies")
    x, y = wafer_map.x.astype(np.int64), wafer_map.y.astype(np.int64)
    x_min, x_max, y_min, y_max = int(x.min()), int(x.max()), int(y.min()), int(y.max())
    out = np.full((y_max - y_min + 1, x_max - x_min + 1), -1, dtype=np.int8)
    rows, columns = orientation.rows(y, y_min, y_max), orientation.columns(x, x_min, x_max)
    tested = np.asarray(wafer_map.value) >= 0
    out[rows[tested], columns[tested]] = np.where(np.asarray(wafer_map.good, dtype=bool)[tested], 0, 1)
    return out
