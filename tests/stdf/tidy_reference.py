"""An independent assembly of the tidy view, for the tests: the records' rows as
:func:`silicio.stdf.tidy._resolved_records` resolves them (the spec's default data, MPRs exploded),
each joined to its part's columns with numpy gathers, where :func:`silicio.stdf.tidy.tidy` assembles the stored pieces in one compiled pass
(``_part_rows`` over packed part slots) and casts them to :data:`TIDY_SCHEMA`. The two must agree
row for row on every file."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from silicio.stdf.parts import (
    _Lots,
    _masked,
    _PartFrame,
    _take,
    _Wafers,
)
from silicio.stdf.tidy import TIDY_SCHEMA, _file_order, _Records, _records_parts, _resolved_records

# Bits of TEST_FLG (spec, PTR "TEST_FLG"), written here again: the reference reads the spec, not
# the module under test.
_NOT_EXECUTED, _NO_PASS_FAIL, _FAILED = 0x10, 0x40, 0x80
_TEST_TYPES = ("P", "M", "F")  # by record kind: PTR, MPR, FTR


def reference_tidy(tables: Mapping[str, pa.Table]) -> pa.Table:
    """The tidy view of ``tables`` as one table of :data:`TIDY_SCHEMA`."""
    rec = _Records(tables)
    if rec.n == 0:
        return TIDY_SCHEMA.empty_table()
    order, in_order = _file_order(rec.seq)
    res, _ = _resolved_records(rec, order, in_order)
    row_rec = np.arange(rec.n) if res.row_rec is None else res.row_rec
    # Parts: the PIR each record lies in (-1 none) and the PRR closing each PIR.
    rec_part, pir_prr, n_prr, parts = _records_parts(tables, rec, order, in_order)
    # part_index: the PRR's row; parts left open numbered after the closed ones, in PIR order
    part_index = pir_prr.astype(np.int64)
    part_index[pir_prr < 0] = n_prr + np.arange(int((pir_prr < 0).sum()))
    last = parts.insertions()[1]

    def here(values: np.ndarray) -> np.ndarray:  # per record -> per row
        return values[row_rec]

    # Part columns through the record's part (a PIR); records outside any part get their own
    # head, site, lot and wafer and nothing of a part.
    row_part = here(rec_part)
    row_seq, row_head, row_site = here(rec.seq), here(rec.head), here(rec.site)
    has_part = row_part >= 0
    at = np.maximum(row_part, 0)

    def part_to_rows(values, ok=None):
        if pir_prr.size == 0:  # no PIR
            return np.zeros(row_part.size, values.dtype), np.zeros(row_part.size, np.bool_)
        return values[at], has_part & (True if ok is None else ok[at])

    orphans = np.nonzero(~has_part)[0]
    if orphans.size == 0:
        lot_id, sublot_id, wafer_id = (_take(values, row_part) for values in (parts.lot_id, parts.sublot_id,
                                                                               parts.wafer_id))  # fmt: skip
    else:
        lot_id, sublot_id, wafer_id = _orphan_texts(tables, parts, row_part, row_seq, row_head, orphans)
    passed, passed_ok = parts.passed
    flg, flg_ok = here(rec.flg), here(rec.flg_ok)
    test_passed_ok = flg_ok & ((flg & (_NO_PASS_FAIL | _NOT_EXECUTED)) == 0)
    n = row_part.size
    columns = {
        "lot_id": lot_id,
        "sublot_id": sublot_id,
        "wafer_id": wafer_id,
        "head": pa.array(np.where(has_part, part_to_rows(parts.head)[0], row_head), pa.uint8()),
        "site": pa.array(np.where(has_part, part_to_rows(parts.site)[0], row_site), pa.uint8()),
        "part_index": _masked(*part_to_rows(part_index), pa.int64()),
        "part_id": _take(parts.part_id, np.where(has_part, row_part, -1)),
        "x": _masked(*part_to_rows(parts.x, parts.x_ok), pa.int16()),
        "y": _masked(*part_to_rows(parts.y, parts.y_ok), pa.int16()),
        "test_num": pa.array(here(rec.test_num), pa.uint32()),
        "test_name": _decoded(here(res.name_codes), res.names),
        "test_type": _decoded(here(rec.kind).astype(np.int32), pa.array(_TEST_TYPES)),
        "pin": pa.nulls(n, pa.uint16()) if res.pin is None else _masked(res.pin, res.pin_ok, pa.uint16()),
        "result": _masked(res.result.astype(np.float64), res.result_ok, pa.float64()),
        "units": _decoded(here(res.units_codes), res.units),
        "lo_limit": _masked(here(res.lo), here(res.lo_has), pa.float64()),
        "hi_limit": _masked(here(res.hi), here(res.hi_has), pa.float64()),
        "res_scal": _masked(here(res.scal), here(res.scal_has), pa.int8()),
        "test_flg": _masked(flg, flg_ok, pa.uint8()),
        "parm_flg": _masked(here(rec.parm), here(rec.parm_ok), pa.uint8()),
        "passed": _masked((flg & _FAILED) == 0, test_passed_ok, pa.bool_()),
        "hard_bin": _masked(*part_to_rows(parts.hard, parts.hard_ok), pa.uint16()),
        "soft_bin": _masked(*part_to_rows(parts.soft, parts.soft_ok), pa.uint16()),
        "part_passed": _masked(*part_to_rows(passed, passed_ok), pa.bool_()),
        "is_last_test": _masked(part_to_rows(last)[0], has_part, pa.bool_()),
        "seq": pa.array(row_seq.astype(np.uint64)),
    }
    return pa.Table.from_pydict(columns, schema=TIDY_SCHEMA)


def _decoded(codes: np.ndarray, dictionary: pa.Array) -> pa.Array:
    """A text column from its codes (-1 null) in ``dictionary``."""
    indices = pa.array(codes, pa.int32(), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()


def _orphan_texts(tables: Mapping[str, pa.Table], parts: _PartFrame, row_part: np.ndarray, row_seq: np.ndarray,
                  row_head: np.ndarray, orphans: np.ndarray) -> list[pa.Array]:  # fmt: skip
    """Lot, sublot and wafer of every row when some rows lie outside any part: those take the
    MIR and wafer in force where they are."""
    part_rows = np.where(row_part >= 0, row_part, -1)
    lots, wafers = _Lots(tables), _Wafers(tables)
    orphan_mir = lots.refs(row_seq[orphans])
    orphan_wafer = wafers.refs(row_seq[orphans], row_head[orphans])[0]
    index = np.zeros(row_part.size, np.int64)
    index[orphans] = np.arange(orphans.size)
    keep = pa.array(row_part >= 0)
    return [
        pc.if_else(keep, _take(parts.lot_id, part_rows), _take(_take(lots.lots, orphan_mir), index)),
        pc.if_else(keep, _take(parts.sublot_id, part_rows), _take(_take(lots.sublots, orphan_mir), index)),
        pc.if_else(keep, _take(parts.wafer_id, part_rows), _take(_take(wafers.ids, orphan_wafer), index)),
    ]
