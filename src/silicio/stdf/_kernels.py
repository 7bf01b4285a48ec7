"""numba kernels of the STDF reader: index the record headers, then decode one record type's
fields column by column and write its batch as an Arrow IPC message. Pure functions over byte
arrays; reader.py turns their output into Arrow. The calls that spread a batch over threads are
in ``_driver.py`` (shared with these kernels compiled ahead of time, ``_aot.py``); this module
offers them over numba's kernels, by the same names.
"""

from __future__ import annotations

import sys

import numba as nb
import numpy as np

from ._driver import CHUNKS_PER_THREAD, LARGE_BATCH, PARALLEL_MIN_ITEMS, Kernels, chunk_bounds  # noqa: F401
from ._layout import (  # noqa: F401 - the kernels' codes, used as compile-time constants
    GDR_VALUE_SIZE,
    INDEX_OK,
    INDEX_PARTIAL_HEADER,
    INDEX_PARTIAL_RECORD,
    INDEX_UNKNOWN_CUT,
    INDEX_UNKNOWN_TYPE,
    IPC_BUFFERS,
    IPC_BYTES,
    IPC_CHAR,
    IPC_DN,
    IPC_FIXED,
    IPC_LIST,
    IPC_NODES,
    KIND_ARRAY,
    KIND_ARRAY_CN,
    KIND_ARRAY_SIZED,
    KIND_ARRAY_SN,
    KIND_CN,
    KIND_DN,
    KIND_FIXED,
    KIND_GEN_DATA,
    KIND_NIBBLES,
    KIND_SN,
)


@nb.njit(cache=True, nogil=True, inline="always")
def _u2(buf, p, big):
    if big:
        return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])
    return np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)


@nb.njit(cache=True, nogil=True)
def index_records(buf, pos, end, big, type_lut, n_types, seq_base, chain):
    """Walk the record headers from ``pos`` and group the records by type (a counting sort that
    keeps file order within a type). Stops at the end of the data, at a damaged tail or at a
    record of undefined type that does not look like one.

    Records of types the specification does not define (vendor records, the types it reserves)
    are grouped as type ``n_types`` when the run of them they belong to ends on a record of a
    defined type or exactly at the end of the data (:func:`_unknown_run`), and no ``chain`` of
    well-formed records (see :func:`find_resync`) starts inside the run: a damaged header whose
    length jumps over records must not take them for its payload. Each run is walked once, so
    this stays linear in the file's size.

    Returns (records walked, position where the walk stopped, status, records per type (``n_types
    + 1`` of them), where each type's group starts, header offsets grouped by type, their sequence
    numbers from ``seq_base``, the type of the last record walked or -1).
    """
    # Room for the most records the bytes can hold (4 each): pages never written cost nothing,
    # and arrays grown inside the loop made it ten times slower. Offsets fit 32 bits: a window
    # is at most 1 GiB.
    capacity = (end - pos) // 4 + 1
    where = np.empty(capacity, np.uint32)
    kind = np.empty(capacity, np.int16)
    counts = np.zeros(n_types + 1, np.int64)
    n = 0
    status = INDEX_OK
    trusted_until = pos  # undefined types before here belong to a run already found well-formed
    last = -1
    while pos < end:
        if end - pos < 4:
            status = INDEX_PARTIAL_HEADER
            break
        rec_len = _u2(buf, pos, big)
        t = type_lut[buf[pos + 2] * 256 + buf[pos + 3]]
        if t < 0:
            if pos >= trusted_until:
                run_end = _unknown_run(buf, pos, end, big, type_lut)
                if run_end >= 0 and find_resync(buf, pos + 1, run_end, end, big, type_lut, chain) >= 0:
                    run_end = -1
                if run_end < 0:
                    status = INDEX_UNKNOWN_CUT if run_end == -2 else INDEX_UNKNOWN_TYPE
                    break
                trusted_until = run_end
            t = n_types
        if pos + 4 + rec_len > end:
            status = INDEX_PARTIAL_RECORD
            break
        where[n] = pos
        kind[n] = t
        counts[t] += 1
        n += 1
        last = t
        pos += 4 + rec_len
    starts = np.empty(n_types + 1, np.int64)
    total = 0
    for t in range(n_types + 1):
        starts[t] = total
        total += counts[t]
    fill = starts.copy()
    rec_pos = np.empty(n, np.int64)
    rec_seq = np.empty(n, np.uint64)
    for i in range(n):
        t = kind[i]
        j = fill[t]
        rec_pos[j] = np.int64(where[i])
        rec_seq[j] = seq_base + np.uint64(i)
        fill[t] = j + 1
    return n, pos, status, counts, starts, rec_pos, rec_seq, last


@nb.njit(cache=True, nogil=True)
def _unknown_run(buf, pos, end, big, type_lut):
    """Follow the records of undefined type from ``pos``: where the run ends on a header of a
    defined type (or exactly at the end of the data), -1 when it does not (a header of four zero
    bytes, padding or lost data, ends it too), -2 when it runs past the end of the data."""
    q = pos
    while True:
        if buf[q] == 0 and buf[q + 1] == 0 and buf[q + 2] == 0 and buf[q + 3] == 0:
            return -1
        q += 4 + _u2(buf, q, big)
        if q == end:
            return q
        if q > end or end - q < 4:
            return -2
        if type_lut[buf[q + 2] * 256 + buf[q + 3]] >= 0:
            return q


@nb.njit(cache=True, nogil=True)
def _positions(rec_pos, seq, base):
    n = rec_pos.shape[0]
    positions = np.empty(2 * n, np.uint64)
    for r in range(n):
        positions[r] = seq[r]
        positions[n + r] = np.uint64(rec_pos[r] + base)
    return positions


@nb.njit(cache=True, nogil=True)
def _presence(present, bad_field):
    """The fewest and the most fields any record holds, and how many records overran."""
    fewest, most, n_bad = np.int64(1 << 30), np.int64(0), 0
    for r in range(present.shape[0]):
        fewest = min(fewest, np.int64(present[r]))
        most = max(most, np.int64(present[r]))
        n_bad += bad_field[r] >= 0
    return (fewest if present.shape[0] else 0), most, n_bad


@nb.njit(cache=True, nogil=True, inline="always")
def _decode_outputs(n, nf, width, n_var, col_off, var_slot):
    fixed = np.empty(n * width, np.uint8)
    var_start = np.zeros(n * n_var, np.uint16)
    var_len = np.zeros(n * n_var, np.uint16)
    present = np.empty(n, np.int16)
    bad_field = np.full(n, -1, np.int16)
    col_base = np.empty(nf, np.int64)
    slot_base = np.empty(nf, np.int64)
    for f in range(nf):
        col_base[f] = n * col_off[f]
        slot_base[f] = n * var_slot[f]
    return fixed, var_start, var_len, present, bad_field, col_base, slot_base


@nb.njit(cache=True, nogil=True)
def _decode_chunks(
    buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_off, var_slot, width, n_var, n_chunks
):
    n, nf = rec_pos.shape[0], kinds.shape[0]
    fixed, var_start, var_len, present, bad_field, col_base, slot_base = _decode_outputs(
        n, nf, width, n_var, col_off, var_slot
    )
    _decode_range(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_base, slot_base, 0, n, fixed,
                  var_start, var_len, present, bad_field)  # fmt: skip
    return fixed, var_start, var_len, present, bad_field


@nb.njit(cache=True, nogil=True)
def _decode_range(
    buf,
    rec_pos,
    big,
    kinds,
    sizes,
    count_ref,
    size_ref,
    is_ref,
    col_base,
    slot_base,
    lo,
    hi,
    fixed,
    var_start,
    var_len,
    present,
    bad_field,
):
    # One call decodes a range of records: a call per record, passing all these arrays, would
    # cost more than the decoding itself (numba does not inline it). An array's count and width
    # are read from the record's decoded columns where the array needs them (_field_value), not
    # noted as each field flagged ``is_ref`` is decoded: a test per fixed-size field per record.
    nf = kinds.shape[0]
    # Runs of fixed-size fields are copied a field at a time over the whole range, by a loop of
    # one size and byte order, without the per-field dispatch below (PTR: 12 of its 20 fields).
    # The leading run stands at the same place in every record that holds it whole: copied
    # first, as it may hold the counts of arrays the loop below walks. A later run without such
    # counts is only noted where it starts in each record that holds it whole, and copied after.
    n_lead, lead_bytes = 0, 0
    while n_lead < nf and kinds[n_lead] == KIND_FIXED:
        lead_bytes += sizes[n_lead]
        n_lead += 1
    run_of = np.full(nf, -1, np.int64)  # the run a field starts (-1: none, or not deferred)
    run_end = np.zeros(nf, np.int64)
    run_bytes = np.zeros(nf, np.int64)
    n_runs = 0
    f = n_lead
    while f < nf:
        g, nbytes, counts = f, 0, False
        while g < nf and kinds[g] == KIND_FIXED:
            nbytes += sizes[g]
            counts |= is_ref[g]
            g += 1
        if g - f > 1 and not counts:
            run_of[f], run_end[f], run_bytes[f] = n_runs, g, nbytes
            n_runs += 1
        f = max(g, f + 1)
    # Blocks of records: a block's bytes stay in the CPU's cache while each field of the runs is
    # copied (a field at a time over the whole range read the window from memory again for each)
    block = max(min(DECODE_BLOCK, hi - lo), 1)
    run_at = np.empty(max(n_runs, 1) * block, np.int64)  # per run and record: where it starts
    lead_at = np.empty(block, np.int64)
    for blo in range(lo, hi, block):
        _decode_block(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, col_base, slot_base, blo,
                      min(blo + block, hi), fixed, var_start, var_len, present, bad_field, n_lead, lead_bytes,
                      run_of, run_end, run_bytes, run_at, lead_at)  # fmt: skip


#: Records :func:`_decode_range` decodes at a time.
DECODE_BLOCK = 512


@nb.njit(cache=True, nogil=True)
def _decode_block(
    buf,
    rec_pos,
    big,
    kinds,
    sizes,
    count_ref,
    size_ref,
    col_base,
    slot_base,
    lo,
    hi,
    fixed,
    var_start,
    var_len,
    present,
    bad_field,
    n_lead,
    lead_bytes,
    run_of,
    run_end,
    run_bytes,
    run_at,
    lead_at,
):
    """:func:`_decode_range` for records lo..hi, at most ``lead_at``'s length (the block)."""
    nf = kinds.shape[0]
    block = lead_at.shape[0]
    run_at[:] = -1
    if n_lead:
        for r in range(lo, hi):
            lead_at[r - lo] = rec_pos[r] + 4 if _u2(buf, rec_pos[r], big) >= lead_bytes else -1
        _copy_run(buf, lead_at, big, lo, hi, 0, n_lead, sizes, col_base, fixed)
    for r in range(lo, hi):
        first = rec_pos[r] + 4
        p = first
        end = p + _u2(buf, rec_pos[r], big)
        f = 0
        if n_lead and end - first >= lead_bytes:
            p += lead_bytes
            f = n_lead
        while f < nf:
            k = kinds[f]
            if k == KIND_FIXED:
                run = run_of[f]
                if run >= 0 and p + run_bytes[f] <= end:
                    run_at[run * block + r - lo] = p
                    p += run_bytes[f]
                    f = run_end[f]
                    continue
                if p >= end:
                    break
                s = sizes[f]
                if p + s > end:
                    bad_field[r] = f
                    break
                base = col_base[f] + r * s
                # constant sizes: each copy compiles to one load (and byte swap) and one store
                if s == 1:
                    fixed[base] = buf[p]
                elif big:
                    if s == 2:
                        _store_le(fixed, base, _load_be(buf, p, 2), 2)
                    elif s == 4:
                        _store_le(fixed, base, _load_be(buf, p, 4), 4)
                    else:
                        _store_le(fixed, base, _load_be(buf, p, 8), 8)
                elif s == 2:
                    _store_le(fixed, base, _load_le(buf, p, 2), 2)
                elif s == 4:
                    _store_le(fixed, base, _load_le(buf, p, 4), 4)
                else:
                    _store_le(fixed, base, _load_le(buf, p, 8), 8)
                p += s
                f += 1
                continue
            slot = slot_base[f] + r
            if k == KIND_CN:
                if p >= end:
                    break
                count = np.int64(buf[p])
                nbytes = count
                p += 1
            elif k == KIND_SN or k == KIND_DN:
                if p >= end:
                    break
                if p + 2 > end:
                    bad_field[r] = f
                    break
                count = _u2(buf, p, big)
                nbytes = (count + 7) // 8 if k == KIND_DN else count
                p += 2
            else:
                # arrays: their count (and item width) fields precede them, so were read. An array
                # taking no bytes (no items, or items of width 0) is present even at the record's end.
                count = _field_value(fixed, col_base, sizes, count_ref[f], r)
                if k == KIND_ARRAY:
                    nbytes = count * sizes[f]
                elif k == KIND_NIBBLES:
                    nbytes = (count + 1) // 2
                elif k == KIND_ARRAY_SIZED:
                    nbytes = count * _field_value(fixed, col_base, sizes, size_ref[f], r)
                elif count == 0:
                    nbytes = 0
                else:
                    if p >= end:
                        break
                    nbytes = _walk_items(buf, p, end, k, count, big)
                    if nbytes < 0:
                        bad_field[r] = f
                        break
                if nbytes == 0:
                    var_start[slot] = p - first
                    var_len[slot] = 0
                    f += 1
                    continue
                if p >= end:
                    break
            if p + nbytes > end:
                bad_field[r] = f
                break
            var_start[slot] = p - first
            var_len[slot] = nbytes
            p += nbytes
            f += 1
        present[r] = f
        # omitted variable-length fields take no bytes: var_start and var_len start as zeros
    for f in range(n_lead, nf):
        if run_of[f] >= 0:
            run = run_of[f]
            at = run * block
            _copy_run(buf, run_at[at : at + hi - lo], big, lo, hi, f, run_end[f], sizes, col_base, fixed)


@nb.njit(cache=True, nogil=True)
def _copy_run(buf, run_at, big, lo, hi, f_lo, f_hi, sizes, col_base, fixed):
    """Fixed-size fields f_lo..f_hi, side by side in the records lo..hi from ``run_at[r - lo]``
    (-1: the record does not hold them all, its loop copies those it holds), into their columns
    of ``fixed``, a field at a time."""
    at = 0
    for f in range(f_lo, f_hi):
        _copy_run_field(buf, run_at, big, lo, hi, at, sizes[f], col_base[f], fixed)
        at += sizes[f]


@nb.njit(cache=True, nogil=True)
def _copy_run_field(buf, run_at, big, lo, hi, at, size, col_base, fixed):
    # a loop per size and byte order: each copy compiles to one load (and byte swap) and one store
    if size == 1:
        for r in range(lo, hi):
            q = run_at[r - lo]
            if q >= 0:
                fixed[col_base + r] = buf[q + at]
    elif size == 2:
        if big:
            for r in range(lo, hi):
                q = run_at[r - lo]
                if q >= 0:
                    _store_le(fixed, col_base + r * 2, _load_be(buf, q + at, 2), 2)
        else:
            for r in range(lo, hi):
                q = run_at[r - lo]
                if q >= 0:
                    _store_le(fixed, col_base + r * 2, _load_le(buf, q + at, 2), 2)
    elif size == 4:
        if big:
            for r in range(lo, hi):
                q = run_at[r - lo]
                if q >= 0:
                    _store_le(fixed, col_base + r * 4, _load_be(buf, q + at, 4), 4)
        else:
            for r in range(lo, hi):
                q = run_at[r - lo]
                if q >= 0:
                    _store_le(fixed, col_base + r * 4, _load_le(buf, q + at, 4), 4)
    elif big:
        for r in range(lo, hi):
            q = run_at[r - lo]
            if q >= 0:
                _store_le(fixed, col_base + r * 8, _load_be(buf, q + at, 8), 8)
    else:
        for r in range(lo, hi):
            q = run_at[r - lo]
            if q >= 0:
                _store_le(fixed, col_base + r * 8, _load_le(buf, q + at, 8), 8)


@nb.njit(cache=True, nogil=True, inline="always")
def _field_value(fixed, col_base, sizes, f, r):
    """The unsigned value of fixed-size field ``f`` (a count or a width) in record ``r``,
    already decoded: read where an array needs it, not noted as each record is decoded."""
    return _unsigned_at(fixed, col_base[f] + r * sizes[f], sizes[f])


@nb.njit(cache=True, nogil=True, inline="always")
def _unsigned_at(fixed, p, size):
    """The unsigned little-endian value of ``size`` bytes at ``fixed[p]``."""
    v = np.int64(0)
    for i in range(size):
        v |= np.int64(fixed[p + i]) << (8 * i)
    return v


@nb.njit(cache=True, nogil=True, inline="always")
def _load_le(buf, p, size):
    """The unsigned little-endian integer of ``size`` bytes at ``buf[p]``: one load for a
    constant ``size``."""
    p = np.uint64(p)
    v = np.uint64(0)
    for i in range(np.uint64(size)):
        v |= np.uint64(buf[p + i]) << (np.uint64(8) * i)
    return v


@nb.njit(cache=True, nogil=True, inline="always")
def _load_be(buf, p, size):
    """The unsigned big-endian integer of ``size`` bytes at ``buf[p]``: one load and a byte
    swap for a constant ``size``."""
    p = np.uint64(p)
    v = np.uint64(0)
    for i in range(np.uint64(size)):
        v |= np.uint64(buf[p + i]) << (np.uint64(8) * (np.uint64(size) - np.uint64(1) - i))
    return v


@nb.njit(cache=True, nogil=True, inline="always")
def _store_le(out, at, v, size):
    """Store ``v`` as ``size`` little-endian bytes at ``out[at]``: one store for a constant
    ``size``."""
    at = np.uint64(at)
    for i in range(np.uint64(size)):
        out[at + i] = np.uint8((v >> (np.uint64(8) * i)) & np.uint64(0xFF))


@nb.njit(cache=True, nogil=True, inline="always")
def _copy_scalar(out, at, buf, p, size, big):
    if big:
        for i in range(size):
            out[at + i] = buf[p + size - 1 - i]
    else:
        for i in range(size):
            out[at + i] = buf[p + i]


@nb.njit(cache=True, nogil=True)
def _walk_items(buf, p, end, kind, count, big):
    """Bytes taken by ``count`` variable-length items (KxCn, KxSn, GDR data) from ``p``; -1 if
    they run past ``end`` or hold an undefined GDR type code."""
    q = p
    for _ in range(count):
        if kind == KIND_ARRAY_CN:
            if q + 1 > end:
                return -1
            q += 1 + np.int64(buf[q])
        elif kind == KIND_ARRAY_SN:
            if q + 2 > end:
                return -1
            q += 2 + _u2(buf, q, big)
        else:  # KIND_GEN_DATA
            if q + 1 > end:
                return -1
            code = np.int64(buf[q])
            q += 1
            size = GDR_VALUE_SIZE[code] if code < GDR_VALUE_SIZE.shape[0] else -2
            if size == -2:
                return -1
            if size == -1:
                if code == 12:
                    if q + 2 > end:
                        return -1
                    size = 2 + (_u2(buf, q, big) + 7) // 8
                else:
                    if q + 1 > end:
                        return -1
                    size = 1 + np.int64(buf[q])
            q += size
        if q > end:
            return -1
    return q - p


@nb.njit(cache=True, nogil=True)
def _gather_fields(buf, rec_pos, var_start, var_len, slots):
    offsets, total = _field_offsets(rec_pos.shape[0], var_len, slots)
    data = np.empty(total, np.uint8)
    _copy_fields(buf, rec_pos, var_start, var_len, slots, offsets, data, 0, offsets.shape[0] - 1)
    return offsets, data, _high_fields(offsets, data, rec_pos.shape[0], slots.shape[0])


@nb.njit(cache=True, nogil=True)
def _field_offsets(n, var_len, slots):
    m = slots.shape[0]
    offsets = np.empty(m * n + 1, np.int32)
    offsets[0] = 0
    acc = 0
    for k in range(m):
        first = slots[k] * n
        for i in range(n):
            acc += var_len[first + i]
            offsets[k * n + i + 1] = acc
    return offsets, acc


@nb.njit(cache=True, nogil=True)
def _copy_fields(buf, rec_pos, var_start, var_len, slots, offsets, data, lo, hi):
    # items lo..hi of the k * n laid out by _field_offsets
    n = rec_pos.shape[0]
    for j in range(lo, hi):
        k = j // n
        i = j - k * n
        slot = slots[k] * n + i
        src = rec_pos[i] + 4 + var_start[slot]
        _copy_bytes(data, offsets[j], buf, src, var_len[slot])


@nb.njit(cache=True, nogil=True)
def _high_fields(offsets, data, n, m):
    high = np.zeros(m, np.bool_)
    for k in range(m):
        bits = np.uint8(0)
        for b in range(offsets[k * n], offsets[(k + 1) * n]):
            bits |= data[b]  # an OR over the whole field vectorizes; a test per byte does not
        high[k] = bits >= 0x80
    return high


@nb.njit(cache=True, nogil=True)
def _offsets(lengths):
    """Arrow offsets of items of these lengths, and their total. All zero (an ALARM_ID nobody
    sets): zeroed pages cost nothing until written."""
    n = lengths.shape[0]
    total = 0
    for i in range(n):
        total += lengths[i]
    if total == 0:
        return np.zeros(n + 1, np.int32), 0
    offsets = np.empty(n + 1, np.int32)
    offsets[0] = 0
    acc = 0
    for i in range(n):
        acc += lengths[i]
        offsets[i + 1] = acc
    return offsets, total


@nb.njit(cache=True, nogil=True)
def _copy_ranges(buf, base, rel, lengths, offsets, data, lo, hi):
    high = False
    for i in range(lo, hi):
        s = base[i] + rel[i]
        j = offsets[i]
        for b in range(lengths[i]):
            v = buf[s + b]
            data[j + b] = v
            high |= v >= 0x80
    return high


@nb.njit(cache=True, nogil=True)
def gather_items(buf, base, rel, counts, itemsize, big):
    """Concatenate arrays of fixed-size items into little-endian bytes, with list offsets."""
    n = rel.shape[0]
    offsets = np.empty(n + 1, np.int32)
    total = 0
    offsets[0] = 0
    for i in range(n):
        total += counts[i]
        offsets[i + 1] = total
    data = np.empty(total * itemsize, np.uint8)
    j = 0
    for i in range(n):
        s = base[i] + rel[i]
        for _ in range(counts[i]):
            _copy_scalar(data, j, buf, s, itemsize, big)
            s += itemsize
            j += itemsize
    return offsets, data


@nb.njit(cache=True, nogil=True)
def gather_nibbles(buf, base, rel, counts):
    """Unpack N1 arrays: first item in the low 4 bits of a byte, the second in the high 4."""
    n = rel.shape[0]
    offsets = np.empty(n + 1, np.int32)
    total = 0
    offsets[0] = 0
    for i in range(n):
        total += counts[i]
        offsets[i + 1] = total
    data = np.empty(total, np.uint8)
    j = 0
    for i in range(n):
        s = base[i] + rel[i]
        for k in range(counts[i]):
            b = buf[s + k // 2]
            data[j] = (b >> 4) if k % 2 else (b & 0x0F)
            j += 1
    return offsets, data


@nb.njit(cache=True, nogil=True)
def gather_gen_data(buf, base, rel, counts, big):
    """Split GDR generic data into items: list offsets (int32), each item's type code, where
    its value bytes start (after any length prefix), how many bytes they are, and for Dn its
    bit count. The record kernel has already checked that every item fits its record."""
    n = rel.shape[0]
    offsets = np.empty(n + 1, np.int32)
    total = 0
    offsets[0] = 0
    for i in range(n):
        total += counts[i]
        offsets[i + 1] = total
    codes = np.empty(total, np.uint8)
    value_pos = np.empty(total, np.int64)
    value_len = np.empty(total, np.int32)
    bits = np.zeros(total, np.uint16)
    j = 0
    for i in range(n):
        q = base[i] + rel[i]
        for _ in range(counts[i]):
            code = buf[q]
            q += 1
            codes[j] = code
            size = GDR_VALUE_SIZE[code]
            if code == 10 or code == 11:
                size = np.int64(buf[q])
                q += 1
            elif code == 12:
                b = _u2(buf, q, big)
                bits[j] = b
                size = (b + 7) // 8
                q += 2
            value_pos[j] = q
            value_len[j] = size
            q += size
            j += 1
    return offsets, codes, value_pos, value_len, bits


#: GDR data type codes with a column of their own (all but B0), and where :func:`gen_data_columns`
#: says each one's parts start: its validity bitmap, its values (Dn: bit counts), offsets and
#: byte data (Cn, Bn, Dn), then how many items hold it.
GDR_COLUMN_CODES = np.array([1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13], np.int64)
GDR_AT_BITMAP, GDR_AT_VALUES, GDR_AT_OFFSETS, GDR_AT_DATA, GDR_HELD = 0, 1, 2, 3, 4


@nb.njit(cache=True, nogil=True)
def gen_data_columns(buf, base, rel, counts, big):
    """GDR generic data as the columns of the reader's list of structs, in one launch: list
    offsets (int32), each item's type code, and one zeroed body holding, for each type code some
    item holds (and Dn always), a validity bitmap and its values: fixed-size values
    little-endian (N1 one nibble a byte), zero in the items of other types; Cn, Bn and Dn as
    int32 offsets into their bytes, Dn's bit counts before them. ``layout[code]``: the places in
    the body (``GDR_AT_*``, -1 where none) and how many items hold the code; ``high``: whether a
    Cn byte is >= 0x80. The record kernel has already checked that every item fits its record.
    (Each column gathered by its own numpy calls took 3 ms for a file's 48,000 items.)"""
    n = rel.shape[0]
    offsets = np.empty(n + 1, np.int32)
    total = 0
    offsets[0] = 0
    for i in range(n):
        total += counts[i]
        offsets[i + 1] = total
    codes = np.empty(total, np.uint8)
    value_pos = np.empty(total, np.int64)
    value_len = np.empty(total, np.int32)
    layout = np.full((14, 5), -1, np.int64)
    held = np.zeros(14, np.int64)
    text_bytes = np.zeros(14, np.int64)
    j = 0
    for i in range(n):
        q = base[i] + rel[i]
        for _ in range(counts[i]):
            code = buf[q]
            q += 1
            codes[j] = code
            size = GDR_VALUE_SIZE[code]
            if code == 10 or code == 11:
                size = np.int64(buf[q])
                q += 1
            elif code == 12:
                size = (_u2(buf, q, big) + 7) // 8
                q += 2
            value_pos[j] = q
            value_len[j] = size
            held[code] += 1
            text_bytes[code] += size
            q += size
            j += 1
    at = 0
    for c in GDR_COLUMN_CODES:
        if held[c] == 0 and c != 12:
            continue
        layout[c, GDR_HELD] = held[c]
        layout[c, GDR_AT_BITMAP] = at
        at += _align8((total + 7) // 8)
        if c == 10 or c == 11 or c == 12:
            if c == 12:
                layout[c, GDR_AT_VALUES] = at
                at += _align8(2 * total)
            layout[c, GDR_AT_OFFSETS] = at
            at += _align8(4 * (total + 1))
            layout[c, GDR_AT_DATA] = at
            at += _align8(text_bytes[c])
        else:
            layout[c, GDR_AT_VALUES] = at
            at += _align8(total * GDR_VALUE_SIZE[c])
    body = np.zeros(at, np.uint8)
    half_words = body.view(np.int32)  # every part starts at a multiple of 8
    high = np.uint8(0)
    # A pass over the items per column laid out (few: a GDR's items hold three or four types),
    # each a loop without the per-item choice of column
    for c in GDR_COLUMN_CODES:
        if layout[c, GDR_HELD] < 0:
            continue
        at = layout[c, GDR_AT_BITMAP]
        for j8 in range(0, total, 8):
            bits = 0
            for j in range(j8, min(j8 + 8, total)):
                bits |= (codes[j] == c) << (j - j8)
            body[at + (j8 >> 3)] = bits
        if held[c] == 0:
            continue
        if c == 10 or c == 11 or c == 12:
            d, o, a = layout[c, GDR_AT_DATA], layout[c, GDR_AT_OFFSETS] >> 2, 0
            for j in range(total):
                if codes[j] == c:
                    _copy_bytes(body, d + a, buf, value_pos[j], value_len[j])
                    a += value_len[j]
                half_words[o + j + 1] = a
            if c == 10:
                for b in range(d, d + a):
                    high |= body[b]
            elif c == 12:
                v = layout[c, GDR_AT_VALUES]
                for j in range(total):
                    if codes[j] == c:
                        bits = _u2(buf, value_pos[j] - 2, big)
                        body[v + 2 * j] = bits & 0xFF
                        body[v + 2 * j + 1] = bits >> 8
        elif c == 13:
            v = layout[c, GDR_AT_VALUES]
            for j in range(total):
                if codes[j] == c:
                    body[v + j] = buf[value_pos[j]] & 0x0F
        else:
            v, size = layout[c, GDR_AT_VALUES], GDR_VALUE_SIZE[c]
            for j in range(total):
                if codes[j] == c:
                    _copy_scalar(body, v + j * size, buf, value_pos[j], size, big)
    return offsets, codes, body, layout, high >= 0x80


@nb.njit(cache=True, nogil=True)
def gather_values(buf, positions, lengths, itemsize, big):
    """One fixed-size value per position, little-endian; zeros where ``lengths`` is 0."""
    n = positions.shape[0]
    data = np.zeros(n * itemsize, np.uint8)
    for i in range(n):
        if lengths[i] == 0:
            continue
        s = positions[i]
        for b in range(itemsize):
            data[i * itemsize + b] = buf[s + itemsize - 1 - b] if big else buf[s + b]
    return data


@nb.njit(cache=True, nogil=True)
def find_resync(buf, start, scan_end, end, big, type_lut, chain):
    """First offset in ``[start, scan_end)`` where ``chain`` consecutive record headers of known
    types follow one another exactly (or the chain reaches the end of the data): where reading
    can resume after damage. -1 when there is none."""
    for q in range(start, min(scan_end, end - 3)):
        pos = q
        ok = True
        for _ in range(chain):
            if pos == end:
                break
            if end - pos < 4 or type_lut[buf[pos + 2] * 256 + buf[pos + 3]] < 0:
                ok = False
                break
            pos += 4 + _u2(buf, pos, big)
            if pos > end:
                ok = False
                break
        if ok:
            return q
    return -1


# --------------------------------------------------------------------------------------------
# Record batches as Arrow IPC messages
#
# A record type's whole batch is written as one encapsulated Arrow IPC message (the metadata
# from a per-schema template, then the body with every buffer), which pyarrow reads back with a
# single call, zero-copy. Building each column with its own pyarrow calls costs a few
# microseconds per column, and that was most of a small file's reading time.


@nb.njit(cache=True, nogil=True, inline="always")
def _put_i64(out, p, v):
    for i in range(8):
        out[p + i] = (v >> (8 * i)) & 0xFF


@nb.njit(cache=True, nogil=True, inline="always")
def _put_node(out, at_nodes, node, length, nulls):
    _put_i64(out, at_nodes + 16 * node, length)
    _put_i64(out, at_nodes + 16 * node + 8, nulls)


# Unsigned indices: numba checks a signed index for wrap-around from the end on every access,
# which keeps these copies from compiling to wide loads and stores.


@nb.njit(cache=True, nogil=True, inline="always")
def _copy_bytes(out, at, src, start, count):
    at, start = np.uint64(at), np.uint64(start)
    for i in range(np.uint64(count)):
        out[at + i] = src[start + i]


@nb.njit(cache=True, nogil=True, inline="always")
def _load_word(src, i):
    """The 8 bytes at ``src[i]`` as one little-endian integer: LLVM makes this one load."""
    v = np.uint64(0)
    for j in range(np.uint64(8)):
        v |= np.uint64(src[i + j]) << (np.uint64(8) * j)
    return v


@nb.njit(cache=True, nogil=True, inline="always")
def _store_word(out, i, v):
    """Store ``v`` little-endian as the 8 bytes at ``out[i]``: LLVM makes this one store."""
    for j in range(np.uint64(8)):
        out[i + j] = np.uint8((v >> (np.uint64(8) * j)) & np.uint64(0xFF))


@nb.njit(cache=True, nogil=True, inline="always")
def _copy_words(out, at, src, start, count):
    """Copy ``count`` bytes, a multiple of 8, 8 at a time. Each word is loaded whole before it
    is stored: a byte loop of the same count kept byte loads and stores (``out`` and ``src``
    might overlap, as far as LLVM knows)."""
    at, start = np.uint64(at), np.uint64(start)
    for i in range(np.uint64(0), np.uint64(count), np.uint64(8)):
        _store_word(out, at + i, _load_word(src, start + i))


@nb.njit(cache=True, nogil=True)
def _any_high(words, lo, hi):
    """Is any byte of ``words[lo:hi]`` >= 0x80? (An OR over whole words vectorizes.)"""
    acc = np.int64(0)
    for i in range(lo, hi):
        acc |= words[i]
    return (acc & np.int64(-0x7F7F7F7F7F7F7F80)) != 0


@nb.njit(cache=True, nogil=True, inline="always")
def _align8(x):
    return (x + 7) & ~np.int64(7)


@nb.njit(cache=True, nogil=True, inline="always")
def _count_value(fixed, n, col_off, sizes, f, r):
    """Value of the unsigned count field f in record r, from the decoded fixed columns."""
    return _unsigned_at(fixed, n * col_off[f] + r * sizes[f], sizes[f])


@nb.njit(cache=True, nogil=True)
def _decode_to_message(
    buf,
    rec_pos,
    seq,
    base,
    big,
    kinds,
    sizes,
    count_ref,
    size_ref,
    is_ref,
    col_off,
    var_slot,
    width,
    n_var,
    ipc_kind,
    text_check,
    template,
    at_length,
    at_nodes,
    at_buffers,
    at_body_length,
):
    # batch_message on one thread, in one launch: small types are many
    n, nf = rec_pos.shape[0], kinds.shape[0]
    fixed, var_start, var_len, present, bad_field, col_base, slot_base = _decode_outputs(
        n, nf, width, n_var, col_off, var_slot
    )
    totals = np.zeros((1, nf), np.int64)
    _decode_chunk(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_base, slot_base, 0, n, fixed,
                  var_start, var_len, present, bad_field, col_off, var_slot, ipc_kind, totals, 0)  # fmt: skip
    words, where, starts, fewest, most, n_bad = _layout(sizes, ipc_kind, template, at_length, at_nodes, at_buffers,
                                                        at_body_length, present, bad_field, totals)  # fmt: skip
    meta = template.shape[0]
    _fill(buf, rec_pos, seq, base, big, kinds, sizes, count_ref, col_off, var_slot, ipc_kind, meta, words, where,
          starts, fewest, most, fixed, var_start, var_len, present, 0, n, 0)  # fmt: skip
    high = _text_high(words, meta, where, ipc_kind, text_check, most, n)
    # bad_field stays here: every array returned costs the call microseconds (the ahead-of-time
    # module's wrappers box it slowly), and records overrun are rare (Kernels.batch_message)
    return words.view(np.uint8), n_bad, high


@nb.njit(cache=True, nogil=True)
def _decode_into(
    arena,
    used,
    buf,
    rec_pos,
    seq,
    base,
    big,
    kinds,
    sizes,
    count_ref,
    size_ref,
    is_ref,
    col_off,
    var_slot,
    width,
    n_var,
    ipc_kind,
    text_check,
    template,
    at_length,
    at_nodes,
    at_buffers,
    at_body_length,
):
    """:func:`_decode_to_message` writing the message into ``arena`` (int64 words, zeroed, never
    written before) from word ``used`` where it fits. Returns the message's bytes (a multiple of
    8), whether it was written, how many records overran, and whether a text holds a byte >=
    0x80. (No array is returned: pycc's wrappers box each one in microseconds, more than a small
    record type takes to decode.)"""
    n, nf = rec_pos.shape[0], kinds.shape[0]
    fixed, var_start, var_len, present, bad_field, col_base, slot_base = _decode_outputs(
        n, nf, width, n_var, col_off, var_slot
    )
    totals = np.zeros((1, nf), np.int64)
    _decode_chunk(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_base, slot_base, 0, n, fixed,
                  var_start, var_len, present, bad_field, col_off, var_slot, ipc_kind, totals, 0)  # fmt: skip
    length, where, starts, fewest, most, n_bad = _buffer_layout(sizes, ipc_kind, present, bad_field, totals)
    meta = template.shape[0]
    size = meta + where[-1]
    if used + size // 8 > arena.shape[0]:
        return size, False, n_bad, False
    words = arena[used : used + size // 8]
    _write_metadata(words, template, at_length, at_nodes, at_buffers, at_body_length, ipc_kind, present, length,
                    where, starts)  # fmt: skip
    _fill(buf, rec_pos, seq, base, big, kinds, sizes, count_ref, col_off, var_slot, ipc_kind, meta, words, where,
          starts, fewest, most, fixed, var_start, var_len, present, 0, n, 0)  # fmt: skip
    return size, True, n_bad, _text_high(words, meta, where, ipc_kind, text_check, most, n)


@nb.njit(cache=True, nogil=True)
def _decode_chunk(
    buf,
    rec_pos,
    big,
    kinds,
    sizes,
    count_ref,
    size_ref,
    is_ref,
    col_base,
    slot_base,
    lo,
    hi,
    fixed,
    var_start,
    var_len,
    present,
    bad_field,
    col_off,
    var_slot,
    ipc_kind,
    totals,
    c,
):
    """Decode records lo..hi and note in ``totals[c]`` the bytes (text, Dn) or items (lists)
    each field of theirs takes in the message."""
    _decode_range(buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref, col_base, slot_base, lo, hi, fixed,
                  var_start, var_len, present, bad_field)  # fmt: skip
    n = rec_pos.shape[0]
    for f in range(ipc_kind.shape[0]):
        k = ipc_kind[f]
        total = 0
        if k == IPC_BYTES or k == IPC_DN:
            s = var_slot[f] * n
            for r in range(lo, hi):
                total += var_len[s + r]  # omitted fields: 0
        elif k == IPC_LIST:
            for r in range(lo, hi):
                if present[r] > f:
                    total += _count_value(fixed, n, col_off, sizes, count_ref[f], r)
        totals[c, f] = total


@nb.njit(cache=True, nogil=True)
def _layout(
    sizes, ipc_kind, template, at_length, at_nodes, at_buffers, at_body_length, present, bad_field, totals
):
    """The message, its buffers zeroed, with its metadata written (:func:`_buffer_layout`,
    :func:`_write_metadata`). Returns it (int64 words), then _buffer_layout's results but the
    buffers' lengths."""
    length, where, starts, fewest, most, n_bad = _buffer_layout(sizes, ipc_kind, present, bad_field, totals)
    words = np.zeros((template.shape[0] + where[-1]) // 8, np.int64)
    _write_metadata(words, template, at_length, at_nodes, at_buffers, at_body_length, ipc_kind, present, length,
                    where, starts)  # fmt: skip
    return words, where, starts, fewest, most, n_bad


@nb.njit(cache=True, nogil=True)
def _buffer_layout(sizes, ipc_kind, present, bad_field, totals):
    """The place of every buffer of the message, from what each range of records takes
    (``totals``). Returns each buffer's length, its offset in the body (and the body's length
    last), where each range's bytes or items start in each field (``starts[c, f]``;
    ``starts[-1, f]`` the field's total), and _presence's results."""
    n = present.shape[0]
    nf = ipc_kind.shape[0]
    n_chunks = totals.shape[0]
    fewest, most, n_bad = _presence(present, bad_field)
    bitmap_len = _align8((n + 7) // 8)
    offsets_len = _align8(4 * (n + 1))
    starts = np.zeros((n_chunks + 1, nf), np.int64)
    for c in range(n_chunks):
        for f in range(nf):
            starts[c + 1, f] = starts[c, f] + totals[c, f]
    items = starts[n_chunks]

    # The length of every buffer, in message order (seq, offset, then each field).
    n_buffers = 4
    for f in range(nf):
        n_buffers += IPC_BUFFERS[ipc_kind[f]]
    length = np.zeros(n_buffers, np.int64)
    length[1] = 8 * n
    length[3] = 8 * n
    b = 4
    for f in range(nf):
        k = ipc_kind[f]
        if f >= fewest:
            length[b] = bitmap_len
        if k == IPC_FIXED:
            length[b + 1] = n * sizes[f]
        elif k == IPC_CHAR:
            length[b + 1] = offsets_len
            length[b + 2] = n
        elif k == IPC_BYTES:
            length[b + 1] = offsets_len
            length[b + 2] = items[f]
        elif k == IPC_LIST:
            length[b + 1] = offsets_len
            length[b + 3] = items[f] * max(sizes[f], 1)
        else:  # IPC_DN
            length[b + 2] = 2 * n
            length[b + 4] = offsets_len
            length[b + 5] = items[f]
        b += IPC_BUFFERS[k]
    where = np.zeros(n_buffers + 1, np.int64)
    body = 0
    for i in range(n_buffers):
        where[i] = body
        body += _align8(length[i])
    where[n_buffers] = body
    return length, where, starts, fewest, most, n_bad


@nb.njit(cache=True, nogil=True)
def _write_metadata(
    words, template, at_length, at_nodes, at_buffers, at_body_length, ipc_kind, present, length, where, starts
):
    """Write the message's metadata into ``words`` (zeroed): the template, the record count,
    every buffer's place and length, and the field nodes."""
    n = present.shape[0]
    nf = ipc_kind.shape[0]
    n_buffers = length.shape[0]
    items = starts[starts.shape[0] - 1]
    out = words.view(np.uint8)
    meta = template.shape[0]  # a multiple of 8, as every buffer's length and offset
    out[:meta] = template
    _put_i64(out, at_length, n)
    _put_i64(out, at_body_length, where[n_buffers])
    for i in range(n_buffers):
        _put_i64(out, at_buffers + 16 * i, where[i])
        _put_i64(out, at_buffers + 16 * i + 8, length[i])

    # Field nodes: a field is null in the records that hold fewer fields than its position.
    holding = np.zeros(nf + 1, np.int64)
    for r in range(n):
        holding[present[r]] += 1
    _put_node(out, at_nodes, 0, n, 0)
    _put_node(out, at_nodes, 1, n, 0)
    node = 2
    nulls = 0
    for f in range(nf):
        k = ipc_kind[f]
        nulls += holding[f]
        _put_node(out, at_nodes, node, n, nulls)
        node += 1
        if k == IPC_LIST:
            _put_node(out, at_nodes, node, items[f], 0)
            node += 1
        elif k == IPC_DN:
            _put_node(out, at_nodes, node, n, 0)
            _put_node(out, at_nodes, node + 1, n, 0)
            node += 2


#: Records :func:`_fill` writes field by field at a time (a multiple of 8: whole bitmap bytes).
FILL_BLOCK = 1024


@nb.njit(cache=True, nogil=True)
def _fill(
    buf,
    rec_pos,
    seq,
    base,
    big,
    kinds,
    sizes,
    count_ref,
    col_off,
    var_slot,
    ipc_kind,
    meta,
    words,
    where,
    starts,
    fewest,
    most,
    fixed,
    var_start,
    var_len,
    present,
    lo,
    hi,
    c,
):
    """Write records lo..hi (range c of :func:`_layout`) into every buffer of the message.
    Ranges write disjoint bytes, so they may run on several threads at once."""
    n = rec_pos.shape[0]
    nf = kinds.shape[0]
    last = hi == n
    out = words.view(np.uint8)
    w_seq, w_off = (meta + where[1]) // 8, (meta + where[3]) // 8
    for r in range(lo, hi):
        words[w_seq + r] = np.int64(seq[r])
        words[w_off + r] = rec_pos[r] + base
    # Blocks of records, each written field by field: a block's records stay in the CPU's cache
    # while every field of theirs is copied (field by field over the whole range read them from
    # memory again for each field).
    acc = np.empty(nf, np.int64)
    for f in range(nf):
        acc[f] = starts[c, f]
    for blo in range(lo, hi, FILL_BLOCK):
        _fill_block(buf, rec_pos, big, kinds, sizes, count_ref, col_off, var_slot, ipc_kind, meta, words, where,
                    starts, fewest, most, fixed, var_start, var_len, present, blo, min(blo + FILL_BLOCK, hi), c,
                    last, acc)  # fmt: skip
    if last:  # the padding after the last value of each byte field: its copies may have run into it
        b = 4
        for f in range(min(most, nf)):
            k = ipc_kind[f]
            if k == IPC_BYTES or k == IPC_DN:
                pd = meta + where[b + 5] if k == IPC_DN else meta + where[b + 2]
                out[pd + acc[f] : pd + _align8(starts[c + 1, f])] = 0
            b += IPC_BUFFERS[k]


@nb.njit(cache=True, nogil=True)
def _fill_block(
    buf,
    rec_pos,
    big,
    kinds,
    sizes,
    count_ref,
    col_off,
    var_slot,
    ipc_kind,
    meta,
    words,
    where,
    starts,
    fewest,
    most,
    fixed,
    var_start,
    var_len,
    present,
    lo,
    hi,
    c,
    last,
    acc,
):
    """:func:`_fill` for records lo..hi (lo a multiple of 8), every field; ``acc[f]``: where
    field f's next bytes or items go, carried from block to block."""
    n = rec_pos.shape[0]
    nf = kinds.shape[0]
    out = words.view(np.uint8)
    half_words = words.view(np.int32)
    # The fewest and the most fields a record of the block holds: a field all of the block's
    # records hold, or none does, has its bitmap bytes written whole, and one none holds has no
    # values to copy (in a file whose later PTRs stop after RESULT, most fields of most blocks).
    block_fewest, block_most = nf, 0
    for r in range(lo, hi):
        block_fewest = min(block_fewest, np.int64(present[r]))
        block_most = max(block_most, np.int64(present[r]))
    b = 4
    for f in range(nf):
        k = ipc_kind[f]
        if f >= fewest:
            # a byte of the bitmap at a time: lo is a multiple of 64 (chunk_bounds), so ranges
            # write whole bytes of their own
            p = meta + where[b]
            if f < block_fewest or f >= block_most:
                whole = 0xFF if f < block_fewest else 0
                for r8 in range(lo, hi - 7, 8):
                    out[p + (r8 >> 3)] = whole
                tail = (hi - lo) & 7
                if tail:
                    out[p + ((hi - tail) >> 3)] = whole & ((1 << tail) - 1)
            else:
                for r8 in range(lo, hi, 8):
                    bits = 0
                    for j in range(min(8, hi - r8)):
                        bits |= (present[r8 + j] > f) << j
                    out[p + (r8 >> 3)] = bits
        if f >= most:  # omitted by every record: all null, its buffers zero
            b += IPC_BUFFERS[k]
            continue
        if f >= block_most and k != IPC_CHAR:
            # no record of the block holds it: its values stay zero (the message starts zeroed),
            # its offsets stay where the block starts them
            if k == IPC_BYTES or k == IPC_DN or k == IPC_LIST:
                po = meta + where[b + 4] if k == IPC_DN else meta + where[b + 1]
                a = acc[f]
                for r in range(lo, hi):
                    half_words[po // 4 + r + 1] = a
            b += IPC_BUFFERS[k]
            continue
        if k == IPC_FIXED:
            size = sizes[f]
            _copy_bytes(
                out, meta + where[b + 1] + lo * size, fixed, n * col_off[f] + lo * size, (hi - lo) * size
            )
        elif k == IPC_CHAR:
            src = n * col_off[f]
            po, pd = meta + where[b + 1], meta + where[b + 2]
            for r in range(lo + 1, hi + 1):
                half_words[po // 4 + r] = r
            for r in range(lo, hi):
                out[pd + r] = fixed[src + r]
        elif k == IPC_BYTES or k == IPC_DN:
            s = var_slot[f] * n
            if k == IPC_DN:
                pb = meta + where[b + 2]
                for r in range(lo, hi):
                    if present[r] > f:
                        at = rec_pos[r] + 4 + var_start[s + r] - 2
                        bits_count = (
                            (np.int64(buf[at]) << 8 | buf[at + 1])
                            if big
                            else (buf[at] | np.int64(buf[at + 1]) << 8)
                        )
                        out[pb + 2 * r] = bits_count & 0xFF
                        out[pb + 2 * r + 1] = bits_count >> 8
                po, pd = meta + where[b + 4], meta + where[b + 5]
            else:
                po, pd = meta + where[b + 1], meta + where[b + 2]
            a = acc[f]
            # Copy 8 bytes at a time (a loop of constant count: one load and one store); the
            # bytes past a value are overwritten by the next. They stay inside this range's bytes
            # (another range may be writing the next ones), or for the last range inside the
            # buffer's 8-byte padding, zeroed after.
            room = pd + (_align8(starts[c + 1, f]) if last else starts[c + 1, f])
            for r in range(lo, hi):
                size = np.int64(var_len[s + r])
                src = rec_pos[r] + 4 + np.int64(var_start[s + r])
                dst = pd + a
                span = _align8(size)
                if dst + span <= room and src + span <= buf.shape[0]:
                    _copy_words(out, dst, buf, src, span)
                else:
                    _copy_bytes(out, dst, buf, src, size)
                a += size
                half_words[po // 4 + r + 1] = a
            acc[f] = a
        else:  # IPC_LIST
            s = var_slot[f] * n
            itemsize = sizes[f]
            po, pd = meta + where[b + 1], meta + where[b + 3]
            a = acc[f]
            for r in range(lo, hi):
                if present[r] > f:
                    count = _count_value(fixed, n, col_off, sizes, count_ref[f], r)
                    src = rec_pos[r] + 4 + var_start[s + r]
                    if kinds[f] == KIND_NIBBLES:
                        for j in range(count):
                            v = buf[src + j // 2]
                            out[pd + a + j] = (v >> 4) if j % 2 else (v & 0x0F)
                    elif big:
                        for j in range(count):
                            _copy_scalar(
                                out, pd + (a + j) * itemsize, buf, src + j * itemsize, itemsize, True
                            )
                    else:
                        _copy_bytes(out, pd + a * itemsize, buf, src, count * itemsize)
                    a += count
                half_words[po // 4 + r + 1] = a
            acc[f] = a
        b += IPC_BUFFERS[k]


@nb.njit(cache=True, nogil=True)
def _text_high(words, meta, where, ipc_kind, text_check, most, n):
    """Whether a text field of the message holds a byte >= 0x80."""
    out = words.view(np.uint8)
    high = False
    b = 4
    for f in range(ipc_kind.shape[0]):
        k = ipc_kind[f]
        if f < most and text_check[f]:
            pd = meta + where[b + 2]
            if k == IPC_CHAR:
                bits = np.uint8(0)
                for r in range(n):
                    bits |= out[pd + r]
                high |= bits >= 0x80
            elif k == IPC_BYTES:
                high |= _any_high(words, pd // 8, (meta + where[b + 3]) // 8)
        b += IPC_BUFFERS[k]
    return high


#: The reader's calls over numba's kernels (see ``_driver.Kernels``).
JIT = Kernels(sys.modules[__name__])
decode_fields = JIT.decode_fields
batch_message = JIT.batch_message
gather_bytes = JIT.gather_bytes
gather_byte_fields = JIT.gather_byte_fields
