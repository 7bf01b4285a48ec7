"""The tidy view of an STDF file: one row per (part, test execution).

``tidy(read(path))`` joins every parametric (PTR), multiple-result parametric (MPR) and
functional (FTR) test record to the part it was run on, the wafer and the lot, and resolves
what the specification leaves implicit: default limits and units carried from the first record
of a test, "no limit" and "result invalid" flags, parts of several sites interleaved in the
file, and retests of the same die. Yield, wafer maps and capability are computed from this.

References
----------
Teradyne, *Standard Test Data Format (STDF) Specification Version 4* (1997):

* PIR / PRR: "all data for a part is bracketed by a PIR and a PRR with the same HEAD_NUM and
  SITE_NUM"; the test records in between belong to that part.
* WIR / WRR bracket the parts of a wafer on a head.
* PTR / MPR "Default Data": the first record of a test number sets defaults for the fields
  after OPT_FLAG; a later record of the same test that omits them, or flags them invalid, uses
  the defaults.
* TEST_FLG (PTR, MPR, FTR), PARM_FLG, OPT_FLAG and PART_FLG bits as cited where they are read.

Columns
-------
=================  ==========  ==============================================================
``lot_id``         string      MIR.LOT_ID (of the MIR in force for the part)
``sublot_id``      string      MIR.SBLOT_ID
``wafer_id``       string      WIR.WAFER_ID of the wafer bracketing the part on its head, WRR's
                               WAFER_ID when the WIR's is empty; null at final test
``head``           uint8       HEAD_NUM of the part (of the record when it has no part)
``site``           uint8       SITE_NUM likewise
``part_index``     int64       the part's row in ``tables["PRR"]``; parts whose PRR is missing
                               (truncated file) are numbered after, in PIR order
``part_id``        string      PRR.PART_ID
``x``, ``y``       int16       PRR.X_COORD / Y_COORD, -32768 ("missing") as null
``test_num``       uint32      TEST_NUM
``test_name``      string      TEST_TXT, or that of the first record of the test when empty
``test_type``      string      'P' PTR, 'M' MPR, 'F' FTR
``pin``            uint16      MPR: the PMR index (RTN_INDX) of each result; else null
``result``         float64     RESULT / RTN_RSLT item as recorded (not scaled by RES_SCAL); null
                               when TEST_FLG bit 1 says the result is invalid, and for FTR
``units``          string      UNITS, defaulted from the first record of the test
``lo_limit``       float64     LO_LIMIT / HI_LIMIT, defaulted from the first record of the
``hi_limit``                   test; null when OPT_FLAG says there is no such limit
``res_scal``       int8        RES_SCAL, defaulted likewise
``test_flg``       uint8       TEST_FLG as recorded; bit 0 (``TEST_FLG_ALARM``) is "alarm detected
                               during testing": per-test statistics leave such results out
``parm_flg``       uint8       PARM_FLG as recorded (null for FTR, which has none)
``passed``         bool        not TEST_FLG bit 7; null when bit 6 (no pass/fail indication) or
                               bit 4 (test not executed) is set
``hard_bin``       uint16      PRR.HARD_BIN
``soft_bin``       uint16      PRR.SOFT_BIN, 65535 ("missing") as null
``part_passed``    bool        PRR.PART_FLG: not bit 3; null when bit 4 (no pass/fail
                               indication) is set
``is_last_test``   bool        True when the row's part is its die's last insertion (the part
                               whose PRR is the die's last in the file, as ``parts`` marks it);
                               every row of an earlier insertion is False, even for a test the
                               retest did not run: a retest supersedes the whole insertion. Null
                               for records outside any part
``seq``            uint64      the test record's position in the file
=================  ==========  ==============================================================

Empty strings, which the specification uses for "missing" (a length byte of 0), are null.
Rows are in file order; the results of one MPR follow each other in RTN_RSLT order.

A die is identified as :mod:`silicio.stdf.parts` says (one rule for both views): (lot, wafer,
x, y) when its coordinates are trusted, else (lot, PART_ID), else the part itself.
``is_last_test`` is per file; :func:`silicio.yields.consolidate_retests_tidy` recomputes it over
the files of a lot (retests in a later file), and adds ``is_first_test`` (first-pass views).
Why the whole insertion: the retest decides the die's bin and verdict. Keeping, for a test the
retest did not run, the last execution of that test would put a result of the overruled
insertion (often the very failure that caused the retest) into the final statistics.
Defaults are carried per TEST_NUM as the spec says.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from llvmlite import ir
from numba.extending import intrinsic

from .parts import (
    PART_IDENTITY,
    _array,
    _assign_parts,
    _part_frame,
    _PartFrame,
    _parts_of,
    _seq,
    _sorted_table,
    _strings,
    _values,
    parts,
)

__all__ = [
    "TEST_FLG_ALARM",
    "TIDY_SCHEMA",
    "TIDY_STORED_SCHEMA",
    "parts_and_tidy",
    "stored_parts_and_tidy",
    "tidy",
]

TIDY_SCHEMA = pa.schema(
    [
        *PART_IDENTITY,
        ("test_num", pa.uint32()),
        ("test_name", pa.string()),
        ("test_type", pa.string()),
        ("pin", pa.uint16()),
        ("result", pa.float64()),
        ("units", pa.string()),
        ("lo_limit", pa.float64()),
        ("hi_limit", pa.float64()),
        ("res_scal", pa.int8()),
        ("test_flg", pa.uint8()),
        ("parm_flg", pa.uint8()),
        ("passed", pa.bool_()),
        ("hard_bin", pa.uint16()),
        ("soft_bin", pa.uint16()),
        ("part_passed", pa.bool_()),
        ("is_last_test", pa.bool_()),
        ("seq", pa.uint64()),
    ]
)

_TEXT = pa.dictionary(pa.int32(), pa.string())
#: Text columns of few distinct values, stored as dictionaries.
STORED_AS_DICTIONARY = ("lot_id", "sublot_id", "wafer_id", "part_id", "test_name", "test_type", "units")

#: The tidy view as the lake stores it (:func:`stored_parts_and_tidy`): the same rows
#: and values; the text columns as dictionaries whose codes come from the records and parts (no
#: string copied or hashed per row; ``part_id``'s dictionary is the parts of the piece only, a
#: piece being a row group), ``result`` as the R*4 (float32) it was recorded in (spec: PTR RESULT
#: and MPR RTN_RSLT are R*4, so nothing is lost; the lake reads it as double).
TIDY_STORED_SCHEMA = pa.schema(
    [
        pa.field(f.name, _TEXT) if f.name in STORED_AS_DICTIONARY
        else pa.field(f.name, pa.float32()) if f.name == "result" else f
        for f in TIDY_SCHEMA
    ]
)  # fmt: skip

# Record kinds, in the order their records are concatenated below.
_PTR, _MPR, _FTR = 0, 1, 2
_TEST_TYPES = ("P", "M", "F")

# TEST_FLG bits (spec, PTR "TEST_FLG"; MPR and FTR use the same bits).
#: TEST_FLG bit 0: "alarm detected during testing" (the result may not be trustworthy).
TEST_FLG_ALARM = 0x01
_RESULT_INVALID = 0x02  # bit 1
_NOT_EXECUTED = 0x10  # bit 4
_NO_PASS_FAIL = 0x40  # bit 6
_FAILED = 0x80  # bit 7
# OPT_FLAG bits (spec, PTR "OPT_FLAG"; the MPR uses the same bits for these fields).
_SCAL_INVALID = 0x01  # bit 0: RES_SCAL invalid, use the default
_LO_DEFAULT = 0x10  # bit 4: LO_LIMIT / LLM_SCAL invalid, use the default
_HI_DEFAULT = 0x20  # bit 5
_NO_LO_LIMIT = 0x40  # bit 6: no low limit for this test
_NO_HI_LIMIT = 0x80  # bit 7


# --------------------------------------------------------------------------------------------
# numba kernels


@nb.njit(cache=True, nogil=True, inline="always")
def _bucket(key, shift):
    # Fibonacci hashing: the top bits of key * 2^64 / phi spread consecutive test numbers.
    return np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))


# Keys spanning fewer values than this are coded through a table indexed by the key.
_DENSE_KEYS = 1 << 20


@nb.njit(cache=True, nogil=True)
def _factorize(keys, order, in_order):
    """Codes 0, 1, ... for the distinct (non-negative) ``keys``, numbered in the order ``order``
    visits them (the keys' own order when ``in_order``: ``order`` is not read).

    Returns (code of each key, number of codes, True where ``order`` meets a key first). Keys
    of a narrow range (test numbers) through a table indexed by the key (7 M PTRs: 45 -> 15 ms),
    others through an open-addressing hash table, doubled when half full: linear in the number
    of keys.
    """
    codes = np.empty(keys.size, np.int32)
    first = np.zeros(keys.size, np.bool_)
    n = 0
    if keys.size == 0:
        return codes, n, first
    lowest, highest = np.int64(keys.min()), np.int64(keys.max())
    if highest - lowest < _DENSE_KEYS:
        code_of = np.full(highest - lowest + 1, -1, np.int32)
        for k in range(keys.size):
            r = k if in_order else order[k]
            j = np.int64(keys[r]) - lowest
            c = code_of[j]
            if c < 0:
                c = code_of[j] = n
                first[r] = True
                n += 1
            codes[r] = c
        return codes, n, first
    bits = 10
    cap = 1 << bits
    table_keys = np.empty(cap, np.int64)
    table_codes = np.full(cap, -1, np.int64)
    for k in range(keys.size):
        r = k if in_order else order[k]
        key = keys[r]
        h = _bucket(key, 64 - bits)
        while table_codes[h] >= 0 and table_keys[h] != key:
            h = (h + 1) & (cap - 1)
        if table_codes[h] >= 0:
            codes[r] = table_codes[h]
            continue
        table_keys[h] = key
        table_codes[h] = n
        codes[r] = n
        first[r] = True
        n += 1
        if 2 * n > cap:
            bits += 1
            cap = 1 << bits
            old_keys, old_codes = table_keys, table_codes
            table_keys = np.empty(cap, np.int64)
            table_codes = np.full(cap, -1, np.int64)
            for i in range(old_codes.size):
                if old_codes[i] >= 0:
                    h = _bucket(old_keys[i], 64 - bits)
                    while table_codes[h] >= 0:
                        h = (h + 1) & (cap - 1)
                    table_keys[h] = old_keys[i]
                    table_codes[h] = old_codes[i]
    return codes, n, first


@nb.njit(cache=True, nogil=True, inline="always")
def _limit_of(o, no_limit_bit, default_bit, value, value_ok, state, default):
    """One limit of a record: its own unless OPT_FLAG ``o`` is missing (-1) or says "use the
    default"; the first record of a test that has one (or says "no limit") sets the default.
    Returns (has a limit, the limit, the test's new state, its new default). Scalars in and out:
    a helper that wrote into the caller's arrays made the loop ten times slower (measured)."""
    own = 0
    if o >= 0 and (o & no_limit_bit):
        own = 2
    elif o >= 0 and not (o & default_bit) and value_ok:
        own = 1
    if own == 0:
        return state == 1, default, state, default
    if state == 0:
        return own == 1, value, own, value
    return own == 1, value, state, default


@intrinsic
def _load_u64(typingctx, data, at):
    """The 8 bytes of uint8 array ``data`` from ``at`` as one integer (at any alignment)."""

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(pointer, align=1)

    return nb.types.uint64(data, at), codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _same_text(offsets, data, p, q):
    """Whether texts p and q hold the same bytes (compared 8 at a time: test names of ~10
    bytes, 7 M records, 0.13 -> 0.06 s)."""
    start, other = offsets[p], offsets[q]
    size = offsets[p + 1] - start
    if offsets[q + 1] - other != size:
        return False
    if size < 8:
        for i in range(size):
            if data[start + i] != data[other + i]:
                return False
        return True
    i = 0
    while i + 8 < size:
        if _load_u64(data, start + i) != _load_u64(data, other + i):
            return False
        i += 8
    # the last 8 bytes, overlapping those compared (a 10-byte name: two loads, no byte loop)
    return _load_u64(data, start + size - 8) == _load_u64(data, other + size - 8)


@nb.njit(cache=True, nogil=True, inline="always")
def _text_hash(offsets, data, p):
    """FNV-1a (Fowler, Noll, Vo) of text p's bytes, 64 bits."""
    h = np.uint64(0xCBF29CE484222325)
    for i in range(offsets[p], offsets[p + 1]):
        h = (h ^ np.uint64(data[i])) * np.uint64(0x100000001B3)
    return h


@nb.njit(cache=True, nogil=True)
def _file_text_code(r, offsets, data, text_rec, n_codes, table, size):
    """The code of text r among the file's texts so far, a new one when it is new. ``table``:
    an open-addressing hash table of codes in its first ``size`` entries (-1 empty), allocated
    for the most codes there can be so that it grows in place (a table returned to the loop of
    every record costs reference counting there: 2.5x, measured); ``text_rec``: the record of
    each code. Returns (code, number of codes, the table's size, doubled when half full)."""
    mask = np.uint64(size - 1)
    h = _text_hash(offsets, data, r) & mask
    while table[h] >= 0:
        if _same_text(offsets, data, text_rec[table[h]], r):
            return table[h], n_codes, size
        h = (h + np.uint64(1)) & mask
    table[h] = n_codes
    text_rec[n_codes] = r
    n_codes += 1
    if 2 * n_codes > size:
        size *= 2
        table[:size] = -1
        mask = np.uint64(size - 1)
        for c in range(n_codes):
            h = _text_hash(offsets, data, text_rec[c]) & mask
            while table[h] >= 0:
                h = (h + np.uint64(1)) & mask
            table[h] = c
    return n_codes - 1, n_codes, size


@nb.njit(cache=True, nogil=True, inline="always")
def _latest_text_code(r, t, offsets, data, text_rec, recent, seen):
    """The code of text r when it is one of the latest texts of test t, else -1."""
    for v in range(min(seen[t], recent.shape[1])):
        c = recent[t, v]
        if _same_text(offsets, data, text_rec[c], r):
            return c
    return -1


@nb.njit(cache=True, nogil=True)
def _new_text_code(r, t, offsets, data, text_rec, recent, seen, n_codes, table, size):
    """The code of text r of a record of test t, none of the test's latest texts: its code among
    the file's texts (:func:`_file_text_code`), made one of the test's latest. Returns (code,
    number of codes, table size). A miss: the loop calls it rarely (a helper doing the whole
    lookup, called or inlined every record, made the loop 3x slower: measured)."""
    c, n_codes, size = _file_text_code(r, offsets, data, text_rec, n_codes, table, size)
    recent[t, seen[t] % recent.shape[1]] = c
    seen[t] += 1
    return c, n_codes, size


@nb.njit(cache=True, nogil=True, inline="always")
def _bit(bitmap, r):
    """Bit r of an Arrow (LSB first) bitmap."""
    return (bitmap[r >> 3] >> (r & 7)) & 1 != 0


@nb.njit(cache=True, nogil=True, inline="always")
def _has_text(valid, offsets, r):
    """Whether text r is there: not null (bit r of ``valid``) and not empty (spec: missing)."""
    return _bit(valid, r) and offsets[r + 1] > offsets[r]


@nb.njit(cache=True, nogil=True)
def _resolve(order, in_order, test, n_tests, kind, opt, opt_valid, scal, scal_valid, lo, lo_valid, hi, hi_valid,
             indx_len, name_valid, name_offsets, name_data, units_valid, units_offsets, units_data, max_variants,
             lo_out, lo_has, hi_out, hi_has, scal_out, scal_has, name_codes, units_codes):  # fmt: skip
    """Apply the spec's default data, in file order, so a record sees the defaults set before it.

    Per record: its low and high limit (value, and whether there is one), RES_SCAL, the
    dictionary codes of the TEST_TXT and UNITS it shows (its own when it has them, else those
    of the first record of its test that had them, -1 when none did), and the record whose
    RTN_INDX it uses. Equal texts get one code, numbered in the order the file shows them
    first; the record whose text each code is is returned with the codes. A record's text is
    compared byte for byte with its test's last text, then with its ``max_variants`` latest,
    then with all the file's texts by hash. Records are visited in ``order`` (in their own
    order when ``in_order``: no reads of ``order``); which fields are there comes as Arrow
    validity bitmaps (``*_valid``: a bit a record, no byte). Writes every record's entry of the
    arrays after ``max_variants`` (allocated by numpy, which asks for huge pages: see
    :func:`_part_row_buffers`); returns the record of each text code and of each MPR's RTN_INDX.
    """
    n = test.size
    # RTN_INDX of MPRs only (none: an empty array)
    pins_ref = np.full(n if (kind == _MPR).any() else 0, -1, np.int32)
    # Per test: 0 no default yet, 1 a limit, 2 "no limit".
    lo_state = np.zeros(n_tests, np.int8)
    hi_state = np.zeros(n_tests, np.int8)
    lo_def = np.zeros(n_tests, np.float64)
    hi_def = np.zeros(n_tests, np.float64)
    scal_set = np.zeros(n_tests, np.bool_)
    scal_def = np.zeros(n_tests, np.int8)
    name_def = np.full(n_tests, -1, np.int32)
    units_def = np.full(n_tests, -1, np.int32)
    pins_def = np.full(n_tests, -1, np.int64)
    # Texts: the record of each code (sized for the most there can be: untouched pages cost
    # nothing), each test's latest codes, its last record and code; a hash table of the codes.
    name_rec, units_rec = np.empty(n, np.int32), np.empty(n, np.int32)
    name_recent, units_recent = (
        np.empty((n_tests, max_variants), np.int32),
        np.empty((n_tests, max_variants), np.int32),
    )
    name_seen, units_seen = np.zeros(n_tests, np.int64), np.zeros(n_tests, np.int64)
    # hash tables of the codes, for the most there can be (see _file_text_code)
    name_table, units_table = np.empty(2 * n + 1024, np.int32), np.empty(2 * n + 1024, np.int32)
    name_table[:1024] = units_table[:1024] = -1
    n_names = n_units = 0
    name_size = units_size = 1024
    for k in range(n):
        r = k if in_order else order[k]
        t = test[r]
        if _has_text(name_valid, name_offsets, r):
            c = _latest_text_code(r, t, name_offsets, name_data, name_rec, name_recent, name_seen)
            if c < 0:
                c, n_names, name_size = _new_text_code(r, t, name_offsets, name_data, name_rec, name_recent,
                                                       name_seen, n_names, name_table, name_size)  # fmt: skip
            name_codes[r] = c
            if name_def[t] < 0:
                name_def[t] = c
        else:
            name_codes[r] = name_def[t]
        if kind[r] == _FTR:  # no limits, units or scale
            lo_out[r] = hi_out[r] = 0.0
            lo_has[r] = hi_has[r] = scal_has[r] = False
            scal_out[r] = 0
            units_codes[r] = -1
            continue
        if _has_text(units_valid, units_offsets, r):
            c = _latest_text_code(r, t, units_offsets, units_data, units_rec, units_recent, units_seen)
            if c < 0:
                c, n_units, units_size = _new_text_code(r, t, units_offsets, units_data, units_rec, units_recent,
                                                        units_seen, n_units, units_table, units_size)  # fmt: skip
            units_codes[r] = c
            if units_def[t] < 0:
                units_def[t] = c
        else:
            units_codes[r] = units_def[t]
        if not _bit(opt_valid, r):  # no OPT_FLAG (most records): the test's defaults, unchanged
            lo_has[r], lo_out[r] = lo_state[t] == 1, lo_def[t]
            hi_has[r], hi_out[r] = hi_state[t] == 1, hi_def[t]
            scal_has[r], scal_out[r] = scal_set[t], scal_def[t]
        else:
            o = np.int64(opt[r])
            lo_has[r], lo_out[r], lo_state[t], lo_def[t] = _limit_of(o, _NO_LO_LIMIT, _LO_DEFAULT, lo[r],
                                                                      _bit(lo_valid, r), lo_state[t], lo_def[t])  # fmt: skip
            hi_has[r], hi_out[r], hi_state[t], hi_def[t] = _limit_of(o, _NO_HI_LIMIT, _HI_DEFAULT, hi[r],
                                                                      _bit(hi_valid, r), hi_state[t], hi_def[t])  # fmt: skip
            if not (o & _SCAL_INVALID) and _bit(scal_valid, r):
                scal_has[r] = True
                scal_out[r] = scal[r]
                if not scal_set[t]:
                    scal_set[t] = True
                    scal_def[t] = scal[r]
            else:
                scal_has[r] = scal_set[t]
                scal_out[r] = scal_def[t]
        if kind[r] == _MPR:
            if indx_len[r] > 0:
                pins_ref[r] = r
                if pins_def[t] < 0:
                    pins_def[t] = r
            else:
                pins_ref[r] = pins_def[t]
    return name_rec[:n_names].copy(), units_rec[:n_units].copy(), pins_ref


@nb.njit(cache=True, nogil=True)
def _explode(order, rows_of, flg, flg_ok, result, result_ok, rslt_start, rslt_len, rslt_vals, pins_ref,
             indx_start, indx_len, indx_vals, n_rows):  # fmt: skip
    """Rows in file order: one per PTR / FTR, one per RTN_RSLT item of an MPR (one row with a
    null result when it has none). Returns each row's record, result and pin."""
    rec = np.empty(n_rows, np.int64)
    res = np.zeros(n_rows, np.float32)  # R*4 (spec: RESULT, RTN_RSLT): float32 loses nothing
    res_ok = np.zeros(n_rows, np.bool_)
    pin = np.zeros(n_rows, np.uint16)
    pin_ok = np.zeros(n_rows, np.bool_)
    w = 0
    for k in range(order.size):
        r = order[k]
        valid = flg_ok[r] and (flg[r] & _RESULT_INVALID) == 0
        m = rows_of[r]
        if rslt_len[r] == 0:
            rec[w] = r
            res[w] = result[r]
            res_ok[w] = valid and result_ok[r]
            w += 1
            continue
        p = pins_ref[r]
        for i in range(m):
            rec[w] = r
            res[w] = rslt_vals[rslt_start[r] + i]
            res_ok[w] = valid
            if p >= 0 and i < indx_len[p]:
                pin[w] = indx_vals[indx_start[p] + i]
                pin_ok[w] = True
            w += 1
    return rec, res, res_ok, pin, pin_ok


# Bits of a slot's flags (:class:`_Slots`): which of its part's columns it has, and their values;
# bit k is row k of the bitmaps :func:`_part_rows` returns.
_SLOT_X, _SLOT_Y, _SLOT_HARD, _SLOT_SOFT = 0, 1, 2, 3
_SLOT_PASSED, _SLOT_VERDICT, _SLOT_LAST, _SLOT_PART = 4, 5, 6, 7
_SLOT_LOT, _SLOT_SUBLOT, _SLOT_WAFER, _SLOT_PART_ID = 8, 9, 10, 11
_POPCOUNT = np.array([bin(v).count("1") for v in range(256)], np.int64)


@nb.njit(cache=True, nogil=True, inline="always")
def _transpose_bits(x):
    """Bit j of byte k of the result is bit k of byte j of ``x`` (an 8 x 8 bit matrix turned;
    Warren, *Hacker's Delight*, 2nd ed., 7-3): eight rows' flag bytes become one bitmap byte of
    each flag."""
    t = (x ^ (x >> np.uint64(7))) & np.uint64(0x00AA00AA00AA00AA)
    x = x ^ t ^ (t << np.uint64(7))
    t = (x ^ (x >> np.uint64(14))) & np.uint64(0x0000CCCC0000CCCC)
    x = x ^ t ^ (t << np.uint64(14))
    t = (x ^ (x >> np.uint64(28))) & np.uint64(0x00000000F0F0F0F0)
    return x ^ t ^ (t << np.uint64(28))


@nb.njit(cache=True, nogil=True)
def _part_rows(a, b, in_place, row_rec, rec_slot, slot_words, kind, bits, lots, sublots, wafers, part_ids, head, site,
               index, x, y, hard, soft, types):  # fmt: skip
    """The columns rows a..b take from their part (their record's slot), and the test type, in
    one pass: row i is record ``row_rec[i]`` (record i when ``in_place``); a slot's columns are
    its row of ``slot_words`` (:meth:`_Slots.words`: one cache line a slot, where ten arrays
    were ten: 0.16 -> 0.13 s on 7 M rows). Writes the slot flags as Arrow bitmaps (row k of
    ``bits`` is flag bit k) and the columns (text as codes: lot, sublot, wafer, part id less the
    lowest part id code of these rows; 0 where null). Returns the rows each flag is set in, and
    the lowest and highest part id code."""
    m = b - a
    low, high = np.int32(2**31 - 1), np.int32(-1)
    for i in range(m):
        r = a + i if in_place else row_rec[a + i]
        c = np.int32(slot_words[rec_slot[r], 1] >> 32)
        if c >= 0:
            low = min(low, c)
            high = max(high, c)
    if high < 0:
        low = 0
    n_bytes = (m + 7) // 8
    bits[:, :n_bytes] = 0
    ones = np.zeros(16, np.int64)
    for byte in range(n_bytes):
        low_flags, high_flags = np.uint64(0), np.uint64(0)
        for j in range(min(8, m - 8 * byte)):
            i = 8 * byte + j
            r = a + i if in_place else row_rec[a + i]
            s = rec_slot[r]
            texts, more, at, place, bins = (slot_words[s, 0], slot_words[s, 1], slot_words[s, 2], slot_words[s, 3],
                                            slot_words[s, 4])  # fmt: skip
            f = np.uint64(place) >> np.uint64(48)
            low_flags |= (f & np.uint64(0xFF)) << np.uint64(8 * j)
            high_flags |= (f >> np.uint64(8)) << np.uint64(8 * j)
            lots[i], sublots[i] = np.int32(texts & 0xFFFFFFFF), np.int32(texts >> 32)
            wafers[i] = np.int32(more & 0xFFFFFFFF)
            c = np.int32(more >> 32)
            part_ids[i] = c - low if c >= 0 else 0
            head[i], site[i], index[i] = np.uint8(place & 0xFF), np.uint8((place >> 8) & 0xFF), at
            x[i], y[i] = np.int16((place >> 16) & 0xFFFF), np.int16((place >> 32) & 0xFFFF)
            hard[i], soft[i] = np.uint16(bins & 0xFFFF), np.uint16((bins >> 16) & 0xFFFF)
            types[i] = kind[r]
        low_flags, high_flags = _transpose_bits(low_flags), _transpose_bits(high_flags)
        for k in range(8):
            v = (low_flags >> np.uint64(8 * k)) & np.uint64(0xFF)
            bits[k, byte] = v
            ones[k] += _POPCOUNT[v]
            v = (high_flags >> np.uint64(8 * k)) & np.uint64(0xFF)
            bits[8 + k, byte] = v
            ones[8 + k] += _POPCOUNT[v]
    return ones, low, high


# The columns :func:`_part_rows` writes, after the 16 bitmaps of its slot flags.
_PART_ROW_TYPES = (np.int32, np.int32, np.int32, np.int32, np.uint8, np.uint8, np.int64, np.int16, np.int16,
                   np.uint16, np.uint16, np.int32)  # fmt: skip


def _part_row_buffers(m: int) -> tuple[np.ndarray, ...]:
    """The arrays :func:`_part_rows` writes for ``m`` rows (bitmaps, then columns), carved from
    one numpy allocation: numpy asks the kernel for huge pages for allocations this size, where
    the kernel's own arrays would fault a page each 4 KiB (measured 35x the page faults, twice
    the time). Each array starts on its own cache line and a different line of a 4 KiB page:
    arrays written side by side from 4 KiB-aligned starts share cache sets (40x slower, seen)."""
    stride = (m + 7) // 8 // 64 * 64 + 64 + 16  # bitmap rows off a multiple of 4 KiB likewise
    sizes = [16 * stride] + [m * np.dtype(t).itemsize for t in _PART_ROW_TYPES]
    buffer = np.empty(sum(sizes) + 320 * len(sizes), np.uint8)  # room for the gaps below
    arrays, at = [], 0
    for k, (size, typ) in enumerate(zip(sizes, (np.uint8, *_PART_ROW_TYPES), strict=True)):
        arrays.append(buffer[at : at + size].view(typ))
        at = (at + size + 63) // 64 * 64 + 64 * (k % 4 + 1)
    arrays[0] = arrays[0].reshape(16, stride)
    return tuple(arrays)


# --------------------------------------------------------------------------------------------
# Arrow -> numpy


def _text_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array: text i is bytes[offsets[i]:offsets[i + 1]]. No copy."""
    _, offsets, data = texts.buffers()
    offsets = np.frombuffer(offsets, np.int32)[texts.offset : texts.offset + len(texts) + 1]
    return offsets, np.zeros(0, np.uint8) if data is None else np.frombuffer(data, np.uint8)


def _bitmap(arr: pa.Array | None, n: int) -> np.ndarray:
    """The validity of ``arr``'s n rows as an Arrow bitmap from bit 0 (bit i set: row i is not
    null), in place where it can be: a kernel reads a bit a record, not a byte (7 M records,
    mostly null fields: no bool array of each)."""
    size = (n + 7) // 8
    if arr is None or arr.null_count == len(arr):
        return np.zeros(size, np.uint8)
    if arr.null_count == 0:
        return np.full(size, 0xFF, np.uint8)
    if arr.offset % 8 == 0:
        return np.frombuffer(arr.buffers()[0], np.uint8)[arr.offset // 8 : arr.offset // 8 + size]
    return np.packbits(arr.is_valid().to_numpy(zero_copy_only=False), bitorder="little")


def _lists(table: pa.Table | None, name: str, dtype, n: int):
    """A Kx array column as (start of each list, its length, the flat items)."""
    arr = _array(table, name)
    if arr is None:
        return np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(0, dtype)
    offsets = arr.offsets.to_numpy().astype(np.int64)
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    if arr.null_count:
        lengths = np.where(arr.is_valid().to_numpy(zero_copy_only=False), lengths, 0)
    items = arr.values.fill_null(0).to_numpy().astype(dtype, copy=False)
    return starts, lengths, items


def _unfilled_bits(table: pa.Table | None, name: str, dtype, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as (values, validity bitmap, :func:`_bitmap`); what lies under a null is
    any number, for callers that read only valid ones."""
    arr = _array(table, name)
    if arr is None:
        return np.zeros(n, dtype), _bitmap(None, n)
    if arr.null_count == len(arr) or not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        return _values(table, name, dtype, n)[0], _bitmap(arr, n)
    values = np.frombuffer(arr.buffers()[1], arr.type.to_pandas_dtype())[arr.offset : arr.offset + len(arr)]
    return values.astype(dtype, copy=False), _bitmap(arr, n)


def _unfilled(table: pa.Table | None, name: str, dtype, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as (values, valid), like :func:`~silicio.stdf.parts._values` but without
    filling nulls: what lies under a null is any number, for callers that read only valid ones."""
    arr = _array(table, name)
    if (
        arr is None
        or arr.null_count == 0
        or not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type))
    ):
        return _values(table, name, dtype, n)
    values = np.frombuffer(arr.buffers()[1], arr.type.to_pandas_dtype())[arr.offset : arr.offset + len(arr)]
    return values.astype(dtype, copy=False), arr.is_valid().to_numpy(zero_copy_only=False)


def _concat(arrays: list[pa.Array]) -> pa.Array:
    nonempty = [a for a in arrays if len(a)]
    return nonempty[0] if len(nonempty) == 1 else pa.concat_arrays(arrays)


# A record's text is compared byte for byte with this many of its test's latest texts (a test
# showing more, hardly a real file, finds the others by hash among all the file's texts).
_MAX_TEXT_VARIANTS = 16


def _text_buffers_of(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_text_buffers` of ``texts``, or of an empty text when it is all null (no buffers)."""
    if texts.null_count == len(texts):
        return np.zeros(len(texts) + 1, np.int32), np.zeros(0, np.uint8)
    return _text_buffers(texts)


def _file_order(seq: np.ndarray) -> tuple[np.ndarray, bool]:
    """(the records in file order, whether that is their order already)."""
    if seq.size < 2 or bool(np.all(seq[1:] > seq[:-1])):
        return np.arange(seq.size, dtype=np.int64), True
    # Each table is sorted already: a stable sort (timsort) just merges the runs.
    return np.argsort(seq, kind="stable"), False


# --------------------------------------------------------------------------------------------
# Assembly


class _Records:
    """The PTR, MPR and FTR records concatenated in that order, as numpy columns."""

    def __init__(self, tables: Mapping[str, pa.Table]):
        srcs = [_sorted_table(tables.get(name)) for name in ("PTR", "MPR", "FTR")]
        ptr, mpr, _ = srcs
        sizes = [0 if t is None else t.num_rows for t in srcs]
        self.n = n = sum(sizes)

        def cat(name, dtype, kinds=(_PTR, _MPR, _FTR), read=_values):
            parts = [read(t, name, dtype, size) if k in kinds else (np.zeros(size, dtype), np.zeros(size, np.bool_))
                     for k, (t, size) in enumerate(zip(srcs, sizes, strict=True))]  # fmt: skip
            if sizes.count(0) == 2:  # one kind of test record (the usual file): no copy
                return next(p for p, size in zip(parts, sizes, strict=True) if size)
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

        def cat_bits(name, dtype):  # a field of PTR and MPR: (values, validity bitmap)
            if sizes.count(0) == 2 and not sizes[_FTR]:
                t, size = (ptr, sizes[_PTR]) if sizes[_PTR] else (mpr, sizes[_MPR])
                return _unfilled_bits(t, name, dtype, size)
            parts = [
                _unfilled_bits(t, name, dtype, size) for t, size in zip(srcs[:2], sizes[:2], strict=True)
            ]
            valid = [
                np.unpackbits(p[1], count=size, bitorder="little")
                for p, size in zip(parts, sizes[:2], strict=True)
            ]
            return (np.concatenate([p[0] for p in parts] + [np.zeros(sizes[_FTR], dtype)]),
                    np.packbits(np.concatenate([*valid, np.zeros(sizes[_FTR], np.uint8)]), bitorder="little"))  # fmt: skip

        self.one_kind = sizes.count(0) == 2
        self.seq = _seq(srcs[sizes.index(n)]) if self.one_kind else np.concatenate([_seq(t) for t in srcs])
        self.kind = np.repeat(np.array([_PTR, _MPR, _FTR], np.int8), sizes)
        self.head = cat("HEAD_NUM", np.uint8)[0]
        self.site = cat("SITE_NUM", np.uint8)[0]
        self.test_num = cat("TEST_NUM", np.uint32)[0]
        # Read only where valid (the kernels check): the columns as the records hold them, R*4 as
        # float32, with no copy that fills nulls (most are null: fields a test's first record sets).
        self.flg, self.flg_ok = cat("TEST_FLG", np.uint8, read=_unfilled)
        self.parm, self.parm_ok = cat("PARM_FLG", np.uint8, (_PTR, _MPR), _unfilled)
        self.result, self.result_ok = cat("RESULT", np.float32, (_PTR,), _unfilled)
        # Fields mostly null (the defaults a test's first record sets): validity as bitmaps.
        self.opt, self.opt_valid = cat_bits("OPT_FLAG", np.uint8)
        self.scal, self.scal_valid = cat_bits("RES_SCAL", np.int8)
        self.lo, self.lo_valid = cat_bits("LO_LIMIT", np.float32)
        self.hi, self.hi_valid = cat_bits("HI_LIMIT", np.float32)
        names = [_strings(t, "TEST_TXT", size) for t, size in zip(srcs, sizes, strict=True)]
        units = [
            _strings(ptr, "UNITS", sizes[0]),
            _strings(mpr, "UNITS", sizes[1]),
            pa.nulls(sizes[2], pa.string()),
        ]
        self.names = _concat(names)
        self.units = _concat(units)
        self.name_valid, self.units_valid = _bitmap(self.names, n), _bitmap(self.units, n)
        # MPR results and pins, placed at the MPRs' positions in the concatenation; without MPRs
        # empty (read at MPRs only; :meth:`lists` gives a zero a record where every record is read):
        # four zeroed arrays of 7 M records cost 35 ms for nothing.
        self.has_lists = bool(sizes[1])
        self.rslt_start = self.rslt_len = self.indx_start = self.indx_len = np.zeros(0, np.int64)
        self.rslt_vals = np.zeros(0, np.float64)
        self.indx_vals = np.zeros(0, np.uint16)
        if sizes[1]:
            at = slice(sizes[0], sizes[0] + sizes[1])
            self.rslt_start, self.rslt_len, self.indx_start, self.indx_len = (
                np.zeros(n, np.int64) for _ in range(4)
            )
            self.rslt_start[at], self.rslt_len[at], self.rslt_vals = _lists(
                mpr, "RTN_RSLT", np.float64, sizes[1]
            )
            self.indx_start[at], self.indx_len[at], self.indx_vals = _lists(
                mpr, "RTN_INDX", np.uint16, sizes[1]
            )

    def lists(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(RTN_RSLT start, its length, RTN_INDX start, its length) of every record, 0 but at MPRs."""
        if self.has_lists:
            return self.rslt_start, self.rslt_len, self.indx_start, self.indx_len
        zeros = np.zeros(self.n, np.int64)
        return zeros, zeros, zeros, zeros


def tidy(tables: Mapping[str, pa.Table]) -> pa.Table:
    """One row per (part, test execution) from the tables :func:`silicio.stdf.read` returns.

    Needs the PTR / MPR / FTR tables for the rows, PIR and PRR for the parts, and uses MIR,
    WIR and WRR when present. Columns and their meaning are listed in :mod:`silicio.stdf.tidy`.
    A test record outside any PIR / PRR pair is kept with the part's columns null. Assembled as
    the lake stores it (:func:`stored_parts_and_tidy`), in one piece cast to :data:`TIDY_SCHEMA`.
    """
    return _public(_tidy(tables)[1])


def parts_and_tidy(tables: Mapping[str, pa.Table]) -> tuple[pa.Table, pa.Table]:
    """``(parts(tables), tidy(tables))``, the parts of the file found once for both views (their
    brackets, lots, wafers and die identities: a third of the two views' time on wafer sort)."""
    _, pieces, frame = _tidy(tables)
    return _parts_with(tables, frame), _public(pieces)


def stored_parts_and_tidy(tables: Mapping[str, pa.Table], piece_rows: int,
                          ) -> tuple[pa.Table, pa.Schema, Iterator[pa.Table]]:  # fmt: skip
    """What the lake stores of a file's views: ``parts(tables)``, and the tidy view as
    :data:`TIDY_STORED_SCHEMA` (its fields not nullable where no row is null: that schema is
    returned) in pieces of ``piece_rows`` rows, each built as it is asked for (a piece can be
    written while the next is built, and the view is never in memory whole)."""
    schema, pieces, frame = _tidy(tables, piece_rows=piece_rows)
    return _parts_with(tables, frame), schema, pieces


def _public(pieces: Iterator[pa.Table]) -> pa.Table:
    """The stored view in one piece (or none) as :data:`TIDY_SCHEMA`: the text decoded from its
    dictionaries, ``result`` widened from the R*4 it was recorded in (exact in a double)."""
    piece = next(pieces, None)
    if piece is None:
        return TIDY_SCHEMA.empty_table()
    columns = [piece.column(f.name) for f in TIDY_SCHEMA]
    return pa.Table.from_arrays([c if c.type == f.type else c.cast(f.type) for c, f in zip(columns, TIDY_SCHEMA, strict=True)],
                                schema=TIDY_SCHEMA)  # fmt: skip


def _parts_with(tables: Mapping[str, pa.Table], frame: _PartFrame | None) -> pa.Table:
    prr = tables.get("PRR")
    if frame is None or prr is None or prr.num_rows == 0:
        return parts(tables)
    return _parts_of(frame, _sorted_table(prr))


def _tidy(tables: Mapping[str, pa.Table], piece_rows: int | None = None,
          ) -> tuple[pa.Schema, Iterator[pa.Table], _PartFrame | None]:  # fmt: skip
    """The tidy view as stored: its schema (:data:`TIDY_STORED_SCHEMA`, its fields not nullable
    where no row is null), its rows in pieces of ``piece_rows`` (all in one by default; each
    built when asked for, so that a piece can be written while the next is built), and the part
    frame it was built on (None when the file has no tests)."""
    schema = TIDY_STORED_SCHEMA
    rec = _Records(tables)
    if rec.n == 0:
        return schema, iter([]), None
    order, in_order = _file_order(rec.seq)
    res, n_rows = _resolved_records(rec, order, in_order)
    rec_part, pir_prr, n_prr, parts = _records_parts(tables, rec, order, in_order)
    closed = pir_prr >= 0
    # part_index is the PRR's row, so the view joins back to tables["PRR"]; unclosed parts after.
    part_index = np.where(closed, pir_prr, n_prr + np.cumsum(~closed) - 1)
    # is_last_test: the row's part is its die's last insertion (one rule, in silicio.stdf.parts).
    last = parts.insertions()[1]
    slots = _Slots(tables, rec, rec_part, parts, part_index, last)
    return *_stored_pieces(schema, rec, res, slots, n_rows, piece_rows or n_rows), parts


def _records_parts(tables: Mapping[str, pa.Table], rec: _Records, order: np.ndarray, in_order: bool,
                   ) -> tuple[np.ndarray, np.ndarray, int, _PartFrame]:  # fmt: skip
    """The parts of the records: the PIR each record lies in (-1 none), the PRR closing each PIR
    (-1 none), the number of PRRs, and the part frame (all a part's columns)."""
    pir, prr = _sorted_table(tables.get("PIR")), _sorted_table(tables.get("PRR"))
    n_pir = 0 if pir is None else pir.num_rows
    n_prr = 0 if prr is None else prr.num_rows
    rec_part, pir_prr = _assign_parts(order, in_order, rec.seq, rec.head, rec.site, _seq(pir),
                                      _values(pir, "HEAD_NUM", np.uint8, n_pir)[0],
                                      _values(pir, "SITE_NUM", np.uint8, n_pir)[0], _seq(prr),
                                      _values(prr, "HEAD_NUM", np.uint8, n_prr)[0],
                                      _values(prr, "SITE_NUM", np.uint8, n_prr)[0])  # fmt: skip
    return rec_part, pir_prr, n_prr, _part_frame(tables, pir_prr)


def _resolved_records(rec: _Records, order: np.ndarray, in_order: bool) -> tuple[_Resolved, int]:
    """The records' side of the view: the spec's default data applied and the text codes
    (:func:`_resolve`), the rows (one a record, or an MPR's results exploded); and the rows."""
    keys = rec.test_num if rec.one_kind else rec.kind.astype(np.int64) << 32 | rec.test_num
    test, n_tests, _ = _factorize(keys, order, in_order)
    del keys
    n = rec.n
    lo, hi, scal = np.empty(n, np.float64), np.empty(n, np.float64), np.empty(n, np.int8)
    lo_has, hi_has, scal_has = np.empty(n, np.bool_), np.empty(n, np.bool_), np.empty(n, np.bool_)
    name_codes, units_codes = np.empty(n, np.int32), np.empty(n, np.int32)
    name_rec, units_rec, pins_ref = _resolve(
        order, in_order, test, n_tests, rec.kind, rec.opt, rec.opt_valid, rec.scal, rec.scal_valid, rec.lo,
        rec.lo_valid, rec.hi, rec.hi_valid, rec.indx_len, rec.name_valid, *_text_buffers_of(rec.names),
        rec.units_valid, *_text_buffers_of(rec.units), _MAX_TEXT_VARIANTS, lo, lo_has, hi, hi_has, scal, scal_has,
        name_codes, units_codes)  # fmt: skip
    # the dictionaries: each code's text, taken from the record that showed it first
    names, units = rec.names.take(pa.array(name_rec)), rec.units.take(pa.array(units_rec))
    # Files without MPRs (one row a record) in table order: rows are the records, no gathers.
    if in_order and not (rec.has_lists and rec.rslt_len.any()):
        n_rows, row_rec, result, pin, pin_ok = rec.n, None, rec.result, None, None
        result_ok = rec.result_ok & rec.flg_ok & ((rec.flg & _RESULT_INVALID) == 0)
    else:
        rslt_start, rslt_len, indx_start, indx_len = rec.lists()
        rows_of = np.maximum(rslt_len, 1)
        n_rows = int(rows_of.sum())
        row_rec, result, result_ok, pin, pin_ok = _explode(
            order, rows_of, rec.flg, rec.flg_ok, rec.result, rec.result_ok, rslt_start, rslt_len, rec.rslt_vals,
            pins_ref, indx_start, indx_len, rec.indx_vals, n_rows)  # fmt: skip
    resolved = _Resolved(row_rec, result, result_ok, pin, pin_ok, name_codes, names, units_codes, units, lo,
                         lo_has, hi, hi_has, scal, scal_has)  # fmt: skip
    return resolved, n_rows


def _text_codes_of(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(code of each value, -1 for null; the distinct values)."""
    encoded = pc.dictionary_encode(values)
    return encoded.indices.fill_null(-1).to_numpy(), encoded.dictionary


# --------------------------------------------------------------------------------------------
# The stored view: each piece's columns written by one kernel pass (:func:`_stored_rows`)


# A piece's part_id dictionary is the range of codes its rows use when that range holds at most
# this many (parts in file order have codes in file order); else only the codes used.
_PART_ID_RANGE = 1 << 16


class _Slots:
    """What a row takes from the part it belongs to, one slot a part: the file's PIRs first (a
    record's slot is its part), then one slot for each (MIR, wafer, head, site) of the test
    records outside any part, which take the lot and wafer in force where they are, their own
    head and site, and nothing of a part. Text as codes (-1 null) into ``dictionaries``."""

    def __init__(self, tables: Mapping[str, pa.Table], rec: _Records, rec_part: np.ndarray, parts: _PartFrame,
                 part_index: np.ndarray, last: np.ndarray):  # fmt: skip
        n_pir = part_index.size
        lots, wafers = parts.lots, parts.wafers
        # Lot, sublot and wafer coded through the records they come from (the MIRs, the wafer
        # records): a few texts, not one a part; the part ids are the parts'.
        sources = [(lots.lots, parts.mir), (lots.sublots, parts.mir), (wafers.ids, parts.wafer)]
        coded = [_text_codes_of(values) for values, _ in sources]
        self.head, self.site = parts.head[:n_pir], parts.site[:n_pir]
        self.rec_slot = rec_part
        lone = np.nonzero(rec_part < 0)[0]
        self.lone = lone.size > 0
        n_lone = 0
        refs = [index[:n_pir] for _, index in sources]
        if self.lone:
            seq, head, site = rec.seq[lone], rec.head[lone], rec.site[lone]
            mir, wafer = lots.refs(seq), wafers.refs(seq, head)[0]
            key = (mir + 1) << 40 | (wafer + 1) << 16 | head.astype(np.int64) << 8 | site
            slot, n_lone, first = _factorize(key, np.zeros(0, np.int64), True)
            first = np.nonzero(first)[0]  # the records that opened each slot, in slot order
            self.rec_slot = rec_part.copy()
            self.rec_slot[lone] = n_pir + slot
            refs = [
                np.concatenate([ref, lone_ref[first]])
                for ref, lone_ref in zip(refs, (mir, mir, wafer), strict=True)
            ]
            self.head = np.concatenate([self.head, head[first]])
            self.site = np.concatenate([self.site, site[first]])

        def of_parts(values: np.ndarray) -> np.ndarray:
            return np.concatenate([values[:n_pir], np.zeros(n_lone, values.dtype)])

        self.text = np.full((n_pir + n_lone, 4), -1, np.int32)
        self.dictionaries = []
        for k, ((codes, dictionary), ref) in enumerate(zip(coded, refs, strict=True)):
            self.text[:, k] = np.append(codes, -1)[np.where(ref >= 0, ref, codes.size)]
            self.dictionaries.append(dictionary)
        codes, dictionary = _text_codes_of(parts.part_id.slice(0, n_pir))
        self.text[:n_pir, 3] = codes
        self.dictionaries.append(dictionary)
        self.index = np.concatenate([part_index, np.full(n_lone, -1, np.int64)])
        self.x, self.y = of_parts(parts.x), of_parts(parts.y)
        self.hard, self.soft = of_parts(parts.hard), of_parts(parts.soft)
        passed, verdict = parts.passed
        known = [(parts.x_ok, _SLOT_X), (parts.y_ok, _SLOT_Y), (parts.hard_ok, _SLOT_HARD),
                 (parts.soft_ok, _SLOT_SOFT), (passed, _SLOT_PASSED), (verdict, _SLOT_VERDICT), (last, _SLOT_LAST)]  # fmt: skip
        flags = np.full(n_pir + n_lone, 1 << _SLOT_PART, np.uint16)
        flags[n_pir:] = 0
        for values, bit in known:
            flags[:n_pir] |= values[:n_pir].astype(np.uint16) << bit
        for k, bit in enumerate((_SLOT_LOT, _SLOT_SUBLOT, _SLOT_WAFER, _SLOT_PART_ID)):
            flags |= (self.text[:, k] >= 0).astype(np.uint16) << bit
        self.flags = flags
        self.words = self._words()
        self.x_ok, self.y_ok = parts.x_ok[:n_pir], parts.y_ok[:n_pir]
        self.hard_ok, self.soft_ok = parts.hard_ok[:n_pir], parts.soft_ok[:n_pir]
        self.verdict = verdict[:n_pir]

    def _words(self) -> np.ndarray:
        """The slots' columns packed for :func:`_part_rows`, 64 bytes a slot: lot and sublot
        codes (0 where null), wafer code and part id code (-1 null), part index, head, site, x,
        y and flags, hard and soft bin."""
        words = np.zeros((self.text.shape[0], 8), np.int64)
        text = self.text.astype(np.int64)
        words[:, 0] = np.maximum(text[:, 0], 0) | np.maximum(text[:, 1], 0) << 32
        words[:, 1] = np.maximum(text[:, 2], 0) | text[:, 3] << 32
        words[:, 2] = self.index
        words[:, 3] = (self.head.astype(np.int64) | self.site.astype(np.int64) << 8
                       | self.x.astype(np.int64) << 16 & 0xFFFF0000 | (self.y.astype(np.int64) & 0xFFFF) << 32
                       | self.flags.astype(np.int64) << 48)  # fmt: skip
        words[:, 4] = self.hard.astype(np.int64) | self.soft.astype(np.int64) << 16
        return words


@dataclass
class _Resolved:
    """Per record: the spec's default data applied (:func:`_resolve`) and the text codes; per
    row: its record (None when rows are the records, in order), result and pin (None: no MPR)."""

    row_rec: np.ndarray | None
    result: np.ndarray
    result_ok: np.ndarray
    pin: np.ndarray | None
    pin_ok: np.ndarray | None
    name_codes: np.ndarray
    names: pa.Array
    units_codes: np.ndarray
    units: pa.Array
    lo: np.ndarray
    lo_has: np.ndarray
    hi: np.ndarray
    hi_has: np.ndarray
    scal: np.ndarray
    scal_has: np.ndarray


def _stored_pieces(schema: pa.Schema, rec: _Records, res: _Resolved, slots: _Slots, n_rows: int,
                   piece_rows: int) -> tuple[pa.Schema, Iterator[pa.Table]]:  # fmt: skip
    """The stored view's schema, its fields not nullable where no row can be null, and its
    pieces, each built when asked for."""
    lone = slots.lone
    valid_codes = [bool((slots.text[:, k] >= 0).all()) for k in range(4)]
    nullable = {
        "lot_id": not valid_codes[0], "sublot_id": not valid_codes[1], "wafer_id": not valid_codes[2],
        "part_index": lone, "part_id": lone or not valid_codes[3],
        "x": lone or not slots.x_ok.all(), "y": lone or not slots.y_ok.all(),
        "test_name": bool((res.name_codes < 0).any()), "pin": res.pin is None or not res.pin_ok.all(),
        "result": not res.result_ok.all(), "units": bool((res.units_codes < 0).any()),
        "lo_limit": not res.lo_has.all(), "hi_limit": not res.hi_has.all(), "res_scal": not res.scal_has.all(),
        "test_flg": not rec.flg_ok.all(), "parm_flg": not rec.parm_ok.all(),
        "passed": not (rec.flg_ok & ((rec.flg & (_NO_PASS_FAIL | _NOT_EXECUTED)) == 0)).all(),
        "hard_bin": lone or not slots.hard_ok.all(), "soft_bin": lone or not slots.soft_ok.all(),
        "part_passed": lone or not slots.verdict.all(), "is_last_test": lone,
        "head": False, "site": False, "test_num": False, "test_type": False, "seq": False,
    }  # fmt: skip
    schema = pa.schema([f.with_nullable(nullable[f.name]) for f in schema])
    in_place = res.row_rec is None
    row_rec = np.zeros(0, np.int64) if in_place else res.row_rec
    test_types = pa.array(_TEST_TYPES)
    lot_ids, sublot_ids, wafer_ids, part_ids = slots.dictionaries

    def piece(a: int, b: int) -> pa.Table:
        m = b - a
        columns = _part_row_buffers(m)
        ones, low, high = _part_rows(a, b, in_place, row_rec, slots.rec_slot, slots.words, rec.kind,
                                     *columns)  # fmt: skip
        bits, (lots, sublots, wafers, part_id_codes, head, site, index, x, y, hard, soft, types) = (
            columns[0][:, : (m + 7) // 8],
            columns[1:],
        )
        rows = None if in_place else row_rec[a:b]

        def here(values: np.ndarray) -> np.ndarray:  # per record -> these rows (in place: no copy)
            return values[a:b] if rows is None else values.take(rows)

        def array(typ: pa.DataType, values: np.ndarray, valid: np.ndarray | int | None) -> pa.Array:
            """An Arrow array on ``values`` without a copy; a validity bitmap only where a row is
            null (``valid``: a flag a row, or the row of a part flag in ``bits``)."""
            if valid is None:
                bitmap, nulls = None, 0
            elif isinstance(valid, int):
                nulls = m - int(ones[valid])
                bitmap = pa.py_buffer(bits[valid]) if nulls else None
            else:
                nulls = m - int(np.count_nonzero(valid))
                bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
            return pa.Array.from_buffers(typ, m, [bitmap, pa.py_buffer(values)], null_count=nulls)

        def record(name: str, typ: pa.DataType, values: np.ndarray, valid: np.ndarray) -> pa.Array:
            return array(typ, here(values), here(valid) if nullable[name] else None)

        def coded(codes: np.ndarray, valid: np.ndarray | int | None, dictionary: pa.Array) -> pa.Array:
            return pa.DictionaryArray.from_arrays(array(pa.int32(), codes, valid), dictionary, safe=False)

        def boolean(values: np.ndarray | int, valid: np.ndarray | int | None) -> pa.Array:
            packed = bits[values] if isinstance(values, int) else np.packbits(values, bitorder="little")
            return array(pa.bool_(), packed, valid)

        part_id_dictionary = part_ids.slice(low, max(high - low + 1, 0))
        if high - low >= _PART_ID_RANGE:  # parts far apart (a retest reusing an id): the codes used only
            # each code's rank among those used, marked over the range, not sorted (a whole file's
            # 7 M rows in one piece, as tidy() asks: 0.79 -> 0.05 s)
            used = np.zeros(high - low + 1, np.bool_)
            used[part_id_codes] = True
            part_id_codes = (np.cumsum(used, dtype=np.int32) - 1)[part_id_codes]
            part_id_dictionary = part_ids.take(pa.array(np.nonzero(used)[0] + low))
        names, units = here(res.name_codes), here(res.units_codes)
        flg = here(rec.flg)
        flg_ok = here(rec.flg_ok) if nullable["test_flg"] or nullable["passed"] else None
        passed_ok = flg_ok & ((flg & (_NO_PASS_FAIL | _NOT_EXECUTED)) == 0) if nullable["passed"] else None
        results = res.result[a:b]
        columns = [
            coded(lots, _SLOT_LOT, lot_ids), coded(sublots, _SLOT_SUBLOT, sublot_ids),
            coded(wafers, _SLOT_WAFER, wafer_ids), array(pa.uint8(), head, None), array(pa.uint8(), site, None),
            array(pa.int64(), index, _SLOT_PART), coded(part_id_codes, _SLOT_PART_ID, part_id_dictionary),
            array(pa.int16(), x, _SLOT_X), array(pa.int16(), y, _SLOT_Y),
            array(pa.uint32(), here(rec.test_num), None),
            coded(names, names >= 0 if nullable["test_name"] else None, res.names),
            coded(types, None, test_types),
            pa.nulls(m, pa.uint16()) if res.pin is None
            else array(pa.uint16(), res.pin[a:b], res.pin_ok[a:b] if nullable["pin"] else None),
            array(pa.float32(), results, res.result_ok[a:b] if nullable["result"] else None),
            coded(units, units >= 0 if nullable["units"] else None, res.units),
            record("lo_limit", pa.float64(), res.lo, res.lo_has), record("hi_limit", pa.float64(), res.hi, res.hi_has),
            record("res_scal", pa.int8(), res.scal, res.scal_has),
            array(pa.uint8(), flg, flg_ok if nullable["test_flg"] else None),
            record("parm_flg", pa.uint8(), rec.parm, rec.parm_ok),
            boolean((flg & _FAILED) == 0, passed_ok),
            array(pa.uint16(), hard, _SLOT_HARD), array(pa.uint16(), soft, _SLOT_SOFT),
            boolean(_SLOT_PASSED, _SLOT_VERDICT), boolean(_SLOT_LAST, _SLOT_PART),
            array(pa.uint64(), here(rec.seq).view(np.uint64), None),
        ]  # fmt: skip
        return pa.Table.from_arrays(columns, schema=schema)

    step = max(piece_rows, 1)
    return schema, (piece(a, min(a + step, n_rows)) for a in range(0, n_rows, step))
