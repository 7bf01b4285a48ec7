"""The reader's kernels in plain Python, for small files: the same functions as ``_kernels.py``
(bar the IPC message, whose types the reader then builds column by column), the same results.

Importing numba and loading its cached kernels takes over a second of CPU; a file of a few
hundred kilobytes takes less than that to decode in Python. So ``silicio stdf info`` on a small
file never loads numba. Bytes are read from a ``bytes`` copy of the window (indexing it gives
Python ints, with Python's arithmetic: no uint8 wrap-around), fields are sliced from it whole.
``tests/stdf/test_python_kernels.py`` checks that both sets give the same tables.
"""

from __future__ import annotations

import struct

import numpy as np

from ._layout import (
    GDR_VALUE_SIZE,
    INDEX_OK,
    INDEX_PARTIAL_HEADER,
    INDEX_PARTIAL_RECORD,
    INDEX_UNKNOWN_CUT,
    INDEX_UNKNOWN_TYPE,
    KIND_ARRAY,
    KIND_ARRAY_CN,
    KIND_ARRAY_SIZED,
    KIND_ARRAY_SN,
    KIND_CN,
    KIND_DN,
    KIND_FIXED,
    KIND_NIBBLES,
    KIND_SN,
)

_GDR_VALUE_SIZE = GDR_VALUE_SIZE.tolist()
_U2 = {False: struct.Struct("<H").unpack_from, True: struct.Struct(">H").unpack_from}

#: The last window as bytes and the type table as a list: the reader calls a kernel per record
#: type with the same window. The array is held so that its id cannot be taken by another.
_bytes_of_last: tuple[np.ndarray, bytes] | None = None
_lists: dict[int, tuple[np.ndarray, list]] = {}


def _data(buf) -> bytes:
    global _bytes_of_last
    if isinstance(buf, bytes):
        return buf
    held = _bytes_of_last  # once: another thread may replace it meanwhile
    if held is None or held[0] is not buf:
        held = _bytes_of_last = (buf, buf.tobytes())
    return held[1]


def _as_list(array: np.ndarray) -> list:
    held = _lists.get(id(array))
    if held is None or held[0] is not array:
        held = _lists[id(array)] = (array, array.tolist())
    return held[1]


def _offsets(lengths) -> np.ndarray:
    """Arrow offsets (int32) of items of these lengths."""
    offsets = np.zeros(len(lengths) + 1, np.int32)
    if len(lengths):
        np.cumsum(np.asarray(lengths, np.int64), out=offsets[1:])
    return offsets


def _little_endian(data: bytes, itemsize: int, big: bool) -> np.ndarray:
    """Items of ``itemsize`` bytes as little-endian bytes (a writable array)."""
    out = np.frombuffer(bytearray(data), np.uint8)
    if big and itemsize > 1 and out.size:
        out = out.view(f">u{itemsize}").astype(f"<u{itemsize}").view(np.uint8)
    return out


# --------------------------------------------------------------------------------------------
# The record index


def index_records(buf, pos, end, big, type_lut, n_types, seq_base, chain):
    """:func:`_kernels.index_records`."""
    data = _data(buf)
    lut = _as_list(type_lut)
    u2 = _U2[bool(big)]
    pos, end = int(pos), int(end)
    where: list[int] = []
    kind: list[int] = []
    status = INDEX_OK
    trusted_until = pos
    last = -1
    while pos < end:
        if end - pos < 4:
            status = INDEX_PARTIAL_HEADER
            break
        rec_len = u2(data, pos)[0]
        t = lut[data[pos + 2] * 256 + data[pos + 3]]
        if t < 0:
            if pos >= trusted_until:
                run_end = _unknown_run(data, pos, end, big, lut)
                if run_end >= 0 and find_resync(data, pos + 1, run_end, end, big, lut, chain) >= 0:
                    run_end = -1
                if run_end < 0:
                    status = INDEX_UNKNOWN_CUT if run_end == -2 else INDEX_UNKNOWN_TYPE
                    break
                trusted_until = run_end
            t = n_types
        if pos + 4 + rec_len > end:
            status = INDEX_PARTIAL_RECORD
            break
        where.append(pos)
        kind.append(t)
        last = t
        pos += 4 + rec_len
    kinds = np.array(kind, np.int16)
    order = np.argsort(kinds, kind="stable")  # by type, in file order within a type
    counts = np.bincount(kinds, minlength=n_types + 1).astype(np.int64)
    starts = np.zeros(n_types + 1, np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    rec_pos = np.array(where, np.int64)[order]
    rec_seq = order.astype(np.uint64) + np.uint64(seq_base)
    return len(where), pos, status, counts, starts, rec_pos, rec_seq, last


def _unknown_run(data, pos, end, big, lut):
    """:func:`_kernels._unknown_run`."""
    u2 = _U2[bool(big)]
    q = pos
    while True:
        if data[q : q + 4] == b"\0\0\0\0":
            return -1
        q += 4 + u2(data, q)[0]
        if q == end:
            return q
        if q > end or end - q < 4:
            return -2
        if lut[data[q + 2] * 256 + data[q + 3]] >= 0:
            return q


def find_resync(buf, start, scan_end, end, big, type_lut, chain):
    """:func:`_kernels.find_resync`."""
    data = _data(buf)
    lut = type_lut if isinstance(type_lut, list) else _as_list(type_lut)
    u2 = _U2[bool(big)]
    end = int(end)
    for q in range(int(start), min(int(scan_end), end - 3)):
        pos = q
        ok = True
        for _ in range(chain):
            if pos == end:
                break
            if end - pos < 4 or lut[data[pos + 2] * 256 + data[pos + 3]] < 0:
                ok = False
                break
            pos += 4 + u2(data, pos)[0]
            if pos > end:
                ok = False
                break
        if ok:
            return q
    return -1


# --------------------------------------------------------------------------------------------
# Decoding one record type


def decode_fields(
    buf, rec_pos, seq, base, big, kinds, sizes, count_ref, size_ref, is_ref, col_off, var_slot, width, n_var,
    threads=1,
):  # fmt: skip
    """:func:`_kernels.decode_fields` (``threads`` is ignored: the files are small)."""
    data = _data(buf)
    u2 = _U2[bool(big)]
    order = "big" if big else "little"
    n, nf = rec_pos.shape[0], kinds.shape[0]
    kinds_, sizes_ = kinds.tolist(), sizes.tolist()
    count_ref_, size_ref_, is_ref_ = count_ref.tolist(), size_ref.tolist(), is_ref.tolist()
    col_base = [n * c for c in col_off.tolist()]
    slot_base = [n * s for s in var_slot.tolist()]
    fixed = bytearray(n * width)
    var_start = [0] * (n * n_var)
    var_len = [0] * (n * n_var)
    present = [0] * n
    bad_field = [-1] * n
    ref_value = [0] * nf
    for r, at in enumerate(rec_pos.tolist()):
        first = at + 4
        p = first
        end = p + u2(data, at)[0]
        f = 0
        while f < nf:
            k = kinds_[f]
            if k == KIND_FIXED:
                if p >= end:
                    break
                s = sizes_[f]
                if p + s > end:
                    bad_field[r] = f
                    break
                to = col_base[f] + r * s
                value = data[p : p + s]
                fixed[to : to + s] = value[::-1] if big else value
                if is_ref_[f]:
                    ref_value[f] = int.from_bytes(value, order)
                p += s
                f += 1
                continue
            slot = slot_base[f] + r
            if k == KIND_CN:
                if p >= end:
                    break
                nbytes = data[p]
                p += 1
            elif k == KIND_SN or k == KIND_DN:
                if p >= end:
                    break
                if p + 2 > end:
                    bad_field[r] = f
                    break
                count = u2(data, p)[0]
                nbytes = (count + 7) // 8 if k == KIND_DN else count
                p += 2
            else:
                count = ref_value[count_ref_[f]]
                if k == KIND_ARRAY:
                    nbytes = count * sizes_[f]
                elif k == KIND_NIBBLES:
                    nbytes = (count + 1) // 2
                elif k == KIND_ARRAY_SIZED:
                    nbytes = count * ref_value[size_ref_[f]]
                elif count == 0:
                    nbytes = 0
                else:
                    if p >= end:
                        break
                    nbytes = _walk_items(data, p, end, k, count, big)
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
    positions = np.empty(2 * n, np.uint64)
    positions[:n] = seq
    positions[n:] = rec_pos + base
    fewest = min(present) if n else 0
    most = max(present) if n else 0
    n_bad = n - bad_field.count(-1)
    return (positions, np.frombuffer(fixed, np.uint8), np.array(var_start, np.uint16),
            np.array(var_len, np.uint16), np.array(present, np.int16), np.array(bad_field, np.int16),
            fewest, most, n_bad)  # fmt: skip


def _walk_items(data, p, end, kind, count, big):
    """:func:`_kernels._walk_items`."""
    u2 = _U2[bool(big)]
    q = p
    for _ in range(count):
        if kind == KIND_ARRAY_CN:
            if q + 1 > end:
                return -1
            q += 1 + data[q]
        elif kind == KIND_ARRAY_SN:
            if q + 2 > end:
                return -1
            q += 2 + u2(data, q)[0]
        else:  # KIND_GEN_DATA
            if q + 1 > end:
                return -1
            code = data[q]
            q += 1
            size = _GDR_VALUE_SIZE[code] if code < len(_GDR_VALUE_SIZE) else -2
            if size == -2:
                return -1
            if size == -1:
                if code == 12:
                    if q + 2 > end:
                        return -1
                    size = 2 + (u2(data, q)[0] + 7) // 8
                else:
                    if q + 1 > end:
                        return -1
                    size = 1 + data[q]
            q += size
        if q > end:
            return -1
    return q - p


# --------------------------------------------------------------------------------------------
# Gathering variable-length fields


def gather_bytes(buf, base, rel, lengths, threads=1):
    """:func:`_kernels.gather_bytes`."""
    offsets = _offsets(lengths)
    # each byte: its item's first byte, plus its place in the item
    starts = np.asarray(base, np.int64) + rel
    out = np.asarray(buf)[np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])]
    return offsets, out, bool(out.size and out.max() >= 0x80)


def gather_byte_fields(buf, rec_pos, var_start, var_len, slots, threads=1):
    """:func:`_kernels.gather_byte_fields`."""
    data = _data(buf)
    n = rec_pos.shape[0]
    first = (rec_pos + 4).tolist()
    pieces, lengths, high = [], [], np.zeros(slots.shape[0], np.bool_)
    for k, slot in enumerate(slots.tolist()):
        starts = var_start[slot * n : (slot + 1) * n].tolist()
        sizes = var_len[slot * n : (slot + 1) * n].tolist()
        field = b"".join(data[f + s : f + s + size] for f, s, size in zip(first, starts, sizes, strict=True))
        high[k] = not field.isascii()
        pieces.append(field)
        lengths += sizes
    return _offsets(lengths), np.frombuffer(b"".join(pieces), np.uint8), high


def gather_items(buf, base, rel, counts, itemsize, big):
    """:func:`_kernels.gather_items`."""
    data = _data(buf)
    counts_ = counts.tolist()
    joined = b"".join(data[s : s + c * itemsize] for s, c in zip((base + rel).tolist(), counts_, strict=True))
    return _offsets(counts_), _little_endian(joined, itemsize, big)


def gather_nibbles(buf, base, rel, counts):
    """:func:`_kernels.gather_nibbles`."""
    data = _data(buf)
    counts_ = counts.tolist()
    out = bytearray()
    for s, c in zip((base + rel).tolist(), counts_, strict=True):
        for k in range(c):
            b = data[s + k // 2]
            out.append((b >> 4) if k % 2 else (b & 0x0F))
    return _offsets(counts_), np.frombuffer(out, np.uint8)


def gather_gen_data(buf, base, rel, counts, big):
    """:func:`_kernels.gather_gen_data`."""
    data = _data(buf)
    u2 = _U2[bool(big)]
    counts_ = counts.tolist()
    codes, value_pos, value_len, bits = [], [], [], []
    for q, c in zip((base + rel).tolist(), counts_, strict=True):
        for _ in range(c):
            code = data[q]
            q += 1
            codes.append(code)
            size = _GDR_VALUE_SIZE[code]
            b = 0
            if code == 10 or code == 11:
                size = data[q]
                q += 1
            elif code == 12:
                b = u2(data, q)[0]
                size = (b + 7) // 8
                q += 2
            bits.append(b)
            value_pos.append(q)
            value_len.append(size)
            q += size
    return (_offsets(counts_), np.array(codes, np.uint8), np.array(value_pos, np.int64),
            np.array(value_len, np.int32), np.array(bits, np.uint16))  # fmt: skip


def gather_values(buf, positions, lengths, itemsize, big):
    """:func:`_kernels.gather_values`."""
    out = np.zeros((positions.shape[0], itemsize), np.uint8)
    given = lengths != 0
    places = np.arange(itemsize)[::-1] if big else np.arange(itemsize)
    out[given] = np.asarray(buf)[positions[given][:, None] + places]
    return out.reshape(-1)
