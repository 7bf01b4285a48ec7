"""The parts of an STDF file: one row per tested part (PRR), with its lot, wafer, die and verdict.

``parts(read(path))`` is the table yield, bin and wafer-map analyses start from. It resolves
what the specification leaves to the reader: which PIR opens the part a PRR closes when
several sites interleave, which lot and wafer the part belongs to, and which parts are the same
die tested again. :mod:`silicio.stdf.tidy` joins test records to the same parts, with the same
die identity.

References
----------
Teradyne, *Standard Test Data Format (STDF) Specification Version 4* (1997):

* PIR / PRR: "all data for a part is bracketed by a PIR and a PRR with the same HEAD_NUM and
  SITE_NUM".
* WIR / WRR bracket the parts of a wafer on a head; MIR names the lot.
* PRR: PART_FLG bit 3 "part failed", bit 4 "no pass/fail indication"; X_COORD / Y_COORD
  -32768, SOFT_BIN 65535 and TEST_T 0 mean "missing".

Columns
-------
=================  ==========  ==============================================================
``lot_id``         string      MIR.LOT_ID of the MIR in force for the part
``sublot_id``      string      MIR.SBLOT_ID
``wafer_id``       string      WAFER_ID of the WIR (else the closing WRR) bracketing the part
                               on its head; null outside any wafer
``head``           uint8       HEAD_NUM of the part
``site``           uint8       SITE_NUM of the part
``part_index``     int64       the part's row in ``tables["PRR"]``
``part_id``        string      PRR.PART_ID
``x``, ``y``       int16       PRR.X_COORD / Y_COORD, -32768 ("missing") as null
``hard_bin``       uint16      PRR.HARD_BIN
``soft_bin``       uint16      PRR.SOFT_BIN, 65535 ("missing") as null
``passed``         bool        not PART_FLG bit 3; null when bit 4 (no pass/fail indication)
``test_t``         uint32      PRR.TEST_T, elapsed test time in ms; 0 ("missing") as null
``num_tests``      uint16      PRR.NUM_TEST, tests executed on the part
``die_key``        int64       identity of the die (see below), equal across files for the
                               same die; null when the part has none (it is its own die)
``is_first_test``  bool        first PRR of its die in the file: its first insertion (first-pass
                               yield)
``is_last_test``   bool        last PRR of its die in the file: its last insertion, the one whose
                               verdict and results are final (final yield)
``seq``            uint64      the PRR's position in the file
=================  ==========  ==============================================================

Die identity
------------
The specification has none; the rule here is the industry's: at wafer sort a die is
(lot, wafer, X, Y), at final test it is (lot, PART_ID). Coordinates are trusted when the part
lies inside a wafer (WIR / WRR), or when parts of its lot outside wafers have at least two
distinct (X, Y): final-test handlers often write X = Y = 0 for every part, which would make
the whole lot one die. Otherwise the die is (lot, PART_ID); a part with neither trusted
coordinates nor a PART_ID is its own die, never a retest of another (``die_key`` null).

An *insertion* is one test of a part, from its PIR to its PRR. A retest supersedes the whole
earlier insertion of its die, not only the tests it repeats: the die's last insertion (its last
PRR in the file) is final, also for a test the retest did not run. A part left open (no PRR) has
neither coordinates nor PART_ID and so is a die of its own.

``die_key`` is a 64-bit hash of the identity's text and numbers (BLAKE2b of the strings, mixed
with SplitMix64), so the parts tables of many files can be concatenated and consolidated on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["PARTS_SCHEMA", "PartYield", "part_yield", "parts"]

#: Columns that say which part a row belongs to: the parts table's and the tidy view's first.
PART_IDENTITY = [
    ("lot_id", pa.string()),
    ("sublot_id", pa.string()),
    ("wafer_id", pa.string()),
    ("head", pa.uint8()),
    ("site", pa.uint8()),
    ("part_index", pa.int64()),
    ("part_id", pa.string()),
    ("x", pa.int16()),
    ("y", pa.int16()),
]

PARTS_SCHEMA = pa.schema(
    [
        *PART_IDENTITY,
        ("hard_bin", pa.uint16()),
        ("soft_bin", pa.uint16()),
        ("passed", pa.bool_()),
        ("test_t", pa.uint32()),
        ("num_tests", pa.uint16()),
        ("die_key", pa.int64()),
        ("is_first_test", pa.bool_()),
        ("is_last_test", pa.bool_()),
        ("seq", pa.uint64()),
    ]
)

# PART_FLG bits (spec, PRR "PART_FLG").
PART_FAILED = 0x08  # bit 3
PART_NO_PASS_FAIL = 0x10  # bit 4

MISSING_COORD = -32768  # spec, PRR X_COORD / Y_COORD
MISSING_SOFT_BIN = 65535  # spec, PRR SOFT_BIN
ALL_HEADS_SITES = 255  # HEAD_NUM / SITE_NUM 255: "all heads / sites"

_INT64_MAX = np.iinfo(np.int64).max


# --------------------------------------------------------------------------------------------
# Arrow -> numpy (shared with tidy)


def _array(table: pa.Table | None, name: str) -> pa.Array | None:
    if table is None or name not in table.column_names:
        return None
    col = table.column(name)
    return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)


def _values(table: pa.Table | None, name: str, dtype, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as (values, valid): nulls (omitted fields) read as 0 and not valid."""
    arr = _array(table, name)
    if arr is None:
        return np.zeros(n, dtype), np.zeros(n, np.bool_)
    if arr.null_count == 0:
        return arr.to_numpy().astype(dtype, copy=False), np.ones(n, np.bool_)
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    return arr.fill_null(0).to_numpy().astype(dtype, copy=False), valid


def _strings(table: pa.Table | None, name: str, n: int) -> pa.Array:
    arr = _array(table, name)
    if arr is None:
        return pa.nulls(n, pa.string())
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def _seq(table: pa.Table | None) -> np.ndarray:
    if table is None or table.num_rows == 0:
        return np.zeros(0, np.int64)
    seq = _array(table, "seq").to_numpy()
    # uint64 positions, far below 2**63: seen as int64 without a copy
    return seq.view(np.int64) if seq.dtype == np.uint64 else seq.astype(np.int64, copy=False)


def _sorted_table(table: pa.Table | None) -> pa.Table | None:
    if table is None or table.num_rows == 0:
        return table
    seq = _seq(table)
    if seq.size > 1 and not bool(np.all(seq[1:] > seq[:-1])):
        return table.take(pa.array(np.argsort(seq, kind="stable")))
    return table


def _take(arr: pa.Array, index: np.ndarray) -> pa.Array:
    """``arr[index]``, null where index is -1."""
    missing = index < 0
    if not missing.any():
        return arr.take(pa.array(index))
    return arr.take(pa.array(np.where(missing, 0, index), mask=missing))


def _masked(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    if valid.all():
        return pa.array(values, typ)
    return pa.array(values, typ, mask=~valid)


def _null_if_empty(arr: pa.Array) -> pa.Array:
    """The spec's "missing" string is a length byte of 0."""
    arr = arr if arr.type == pa.string() else arr.cast(pa.string())
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


# --------------------------------------------------------------------------------------------
# PIR / PRR brackets


@nb.njit(cache=True, nogil=True)
def _assign_parts(order, in_order, seq, head, site, pir_seq, pir_head, pir_site, prr_seq, prr_head, prr_site):
    """Walk PIRs, PRRs and test records together in file order (each input sorted by seq; the
    test records visited in ``order``, or in their own order when ``in_order``).

    A PIR opens a part on its (head, site); the PRR with the same head and site closes it; a
    test record belongs to the part open on its head and site (spec, PIR). A record with head
    or site 255 matches the latest part open on the other, since 255 means "all".
    Returns (PIR index of each record's part or -1, PRR index closing each PIR or -1).
    """
    n_rec, n_pir, n_prr = seq.size, pir_seq.size, prr_seq.size
    rec_part = np.full(seq.size, -1, np.int32)
    pir_prr = np.full(n_pir, -1, np.int64)
    open_part = np.full(65536, -1, np.int64)
    # Slots with an open part, for the 255 wildcard: a handful at a time, one per site.
    open_slots = np.empty(65536, np.int64)
    slot_pos = np.full(65536, -1, np.int64)
    n_open = 0
    i = j = k = 0
    big = np.int64(_INT64_MAX)
    while k < n_rec or i < n_pir or j < n_prr:
        a = pir_seq[i] if i < n_pir else big
        b = prr_seq[j] if j < n_prr else big
        # The test records before the next PIR or PRR (a tight loop: 7 M records, 140 K parts).
        until = min(a, b)
        while k < n_rec:
            r = k if in_order else order[k]
            if seq[r] >= until:
                break
            h, st = np.int64(head[r]), np.int64(site[r])
            p = open_part[h * 256 + st]
            if p < 0 and (h == ALL_HEADS_SITES or st == ALL_HEADS_SITES):
                for q in range(n_open):
                    t = open_slots[q]
                    if ((h == ALL_HEADS_SITES or (t >> 8) == h) and (st == ALL_HEADS_SITES or (t & 255) == st)
                            and open_part[t] > p):  # fmt: skip
                        p = open_part[t]
            rec_part[r] = p
            k += 1
        if i < n_pir and a <= b:  # a PIR first at equal positions, then a PRR, then a record
            s = np.int64(pir_head[i]) * 256 + pir_site[i]
            # A PIR on a slot whose part never got its PRR leaves that part unclosed.
            if open_part[s] < 0:
                slot_pos[s] = n_open
                open_slots[n_open] = s
                n_open += 1
            open_part[s] = i
            i += 1
        elif j < n_prr:
            s = np.int64(prr_head[j]) * 256 + prr_site[j]
            p = open_part[s]
            if p >= 0:
                pir_prr[p] = j
                open_part[s] = -1
                last = open_slots[n_open - 1]
                open_slots[slot_pos[s]] = last
                slot_pos[last] = slot_pos[s]
                slot_pos[s] = -1
                n_open -= 1
            j += 1
    return rec_part, pir_prr


# --------------------------------------------------------------------------------------------
# Wafers and lots


def _wafer_refs(anchor_seq, anchor_head, wir_seq, wir_head, wir_named, wrr_seq, wrr_head, wrr_named):
    """Which wafer holds each anchor (a PIR, a PRR without PIR, or an orphan test record).

    Returns (index into [WIR.WAFER_ID..., WRR.WAFER_ID...] or -1 when unnamed or outside,
    True where the anchor lies inside a wafer). A WIR on the anchor's head opens the wafer and
    the next WRR on that head closes it (spec, WIR / WRR); 255 on either side matches every
    head. The WIR's WAFER_ID is used, else the closing WRR's; a WRR with no WIR before it (the
    WIR missing) still names the parts since the previous WRR.
    """
    out = np.full(anchor_seq.size, -1, np.int64)
    inside_any = np.zeros(anchor_seq.size, np.bool_)
    n_wir = wir_seq.size
    for h in np.unique(anchor_head):
        sel = np.nonzero(anchor_head == h)[0]
        a = anchor_seq[sel]
        wi = np.nonzero((wir_head == h) | (wir_head == ALL_HEADS_SITES) | (h == ALL_HEADS_SITES))[0]
        wr = np.nonzero((wrr_head == h) | (wrr_head == ALL_HEADS_SITES) | (h == ALL_HEADS_SITES))[0]
        ws = np.append(wir_seq[wi], _INT64_MAX)
        rs = np.append(wrr_seq[wr], _INT64_MAX)
        i = np.searchsorted(ws, a) - 1  # latest WIR before the anchor
        j = np.searchsorted(rs, a)  # first WRR after it
        wir_s = np.where(i >= 0, ws[np.maximum(i, 0)], -1)
        prev_wrr_s = np.where(j > 0, rs[np.maximum(j - 1, 0)], -1)
        inside = (i >= 0) & (prev_wrr_s < wir_s)
        ref = np.full(a.size, -1, np.int64)
        if wi.size:
            wir_idx = wi[np.clip(i, 0, wi.size - 1)]
            ref = np.where(inside & wir_named[wir_idx], wir_idx, -1)
        closes = np.zeros(a.size, np.bool_)
        if wr.size:
            # The WRR after the anchor closes its wafer unless another WIR opens in between.
            closes = (j < wr.size) & (ws[i + 1] > rs[j])
            wrr_idx = wr[np.clip(j, 0, wr.size - 1)]
            ref = np.where((ref < 0) & closes & wrr_named[wrr_idx], n_wir + wrr_idx, ref)
        out[sel] = ref
        inside_any[sel] = inside | closes
    return out, inside_any


def _mir_refs(anchor_seq: np.ndarray, mir_seq: np.ndarray) -> np.ndarray:
    """The MIR in force at each anchor: the latest before it (the first for anything earlier)."""
    if mir_seq.size == 0:
        return np.full(anchor_seq.size, -1, np.int64)
    if mir_seq.size == 1:
        return np.zeros(anchor_seq.size, np.int64)
    return np.maximum(np.searchsorted(mir_seq, anchor_seq, side="right") - 1, 0)


class _Wafers:
    """WIR / WRR of the file, to place anchors (records) in wafers."""

    def __init__(self, tables: Mapping[str, pa.Table]):
        self.wir, self.wrr = _sorted_table(tables.get("WIR")), _sorted_table(tables.get("WRR"))
        self.n_wir = 0 if self.wir is None else self.wir.num_rows
        self.n_wrr = 0 if self.wrr is None else self.wrr.num_rows
        self.ids = pa.concat_arrays([_null_if_empty(_strings(self.wir, "WAFER_ID", self.n_wir)),
                                     _null_if_empty(_strings(self.wrr, "WAFER_ID", self.n_wrr))])  # fmt: skip
        self.named = self.ids.is_valid().to_numpy(zero_copy_only=False)

    def refs(self, anchor_seq: np.ndarray, anchor_head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.n_wir + self.n_wrr == 0:
            return np.full(anchor_seq.size, -1, np.int64), np.zeros(anchor_seq.size, np.bool_)
        return _wafer_refs(anchor_seq, anchor_head, _seq(self.wir),
                           _values(self.wir, "HEAD_NUM", np.uint8, self.n_wir)[0], self.named[: self.n_wir],
                           _seq(self.wrr), _values(self.wrr, "HEAD_NUM", np.uint8, self.n_wrr)[0],
                           self.named[self.n_wir :])  # fmt: skip


class _Lots:
    """MIRs of the file, to give anchors their lot."""

    def __init__(self, tables: Mapping[str, pa.Table]):
        mir = _sorted_table(tables.get("MIR"))
        self.seq = _seq(mir)
        self.lots = _null_if_empty(_strings(mir, "LOT_ID", self.seq.size))
        self.sublots = _null_if_empty(_strings(mir, "SBLOT_ID", self.seq.size))

    def refs(self, anchor_seq: np.ndarray) -> np.ndarray:
        return _mir_refs(anchor_seq, self.seq)


# --------------------------------------------------------------------------------------------
# Die identity


def _splitmix64(v: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014): a bijective 64-bit mix."""
    with np.errstate(over="ignore"):
        z = v.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _fold(h: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Mixes ``v`` into the running hash ``h`` (order matters: (a, b) and (b, a) differ)."""
    return _splitmix64(h ^ _splitmix64(v))


def _string_hashes(arr: pa.Array) -> np.ndarray:
    """64-bit BLAKE2b of each string, the same in every file and run; 0 for null."""
    enc = pc.dictionary_encode(arr)
    digests = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
               for s in enc.dictionary.to_pylist()]  # fmt: skip
    table = np.array(digests + [0], np.uint64)
    return table[enc.indices.fill_null(len(digests)).to_numpy(zero_copy_only=False)]


def _string_hashes_through(arr: pa.Array, index: np.ndarray) -> np.ndarray:
    """``_string_hashes(arr)[index]``, 0 where index is -1."""
    hashes = np.append(_string_hashes(arr), np.uint64(0))
    return hashes[np.where(index >= 0, index, len(arr))]


_BY_XY, _BY_PART_ID = 1, 2


def _trusted_coordinates(lot_hash: np.ndarray, xy_ok: np.ndarray, in_wafer: np.ndarray, x, y) -> np.ndarray:
    """Coordinates identify a die inside a wafer, or outside when they vary within the lot."""
    trusted = xy_ok & in_wafer
    loose = np.nonzero(xy_ok & ~in_wafer)[0]
    if loose.size:
        lots, lot_of = np.unique(lot_hash[loose], return_inverse=True)
        xy = (x[loose].astype(np.int64) + 32768) << 16 | (y[loose].astype(np.int64) + 32768)
        distinct = np.unique(np.stack([lot_of, xy]), axis=1)[0]
        varies = np.bincount(distinct, minlength=lots.size) > 1
        trusted[loose] = varies[lot_of]
    return trusted


def _die_keys(
    lot_hash, wafer_hash, x, y, xy_ok, in_wafer, part_id: pa.Array
) -> tuple[np.ndarray, np.ndarray]:
    """(die key, known) of each part by the rule in the module notes."""
    by_xy = _trusted_coordinates(lot_hash, xy_ok, in_wafer, x, y)
    by_id = ~by_xy & part_id.is_valid().to_numpy(zero_copy_only=False)
    # PART_ID hashed only where the coordinates do not decide (at wafer sort, hardly anywhere).
    part_id_hash = np.zeros(x.size, np.uint64)
    needed = np.nonzero(by_id)[0]
    if needed.size:
        part_id_hash[needed] = _string_hashes(part_id.take(pa.array(needed)))
    xy = (x.astype(np.int64) + 32768) << 16 | (y.astype(np.int64) + 32768)
    lot = _fold(
        np.full(x.size, 0, np.uint64) + np.where(by_xy, _BY_XY, _BY_PART_ID).astype(np.uint64), lot_hash
    )
    key = np.where(by_xy, _fold(_fold(lot, wafer_hash), xy.astype(np.uint64)), _fold(lot, part_id_hash))
    known = by_xy | by_id
    return np.where(known, key.view(np.int64), 0), known


def _die_codes(key: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Dense codes 0..n-1 of the dies; each part without a known die gets a code of its own."""
    codes = np.empty(key.size, np.int64)
    _, inverse = np.unique(key[known], return_inverse=True)
    codes[known] = inverse
    n_known = int(inverse.max(initial=-1)) + 1
    codes[~known] = n_known + np.arange(int((~known).sum()))
    return codes


@nb.njit(cache=True, nogil=True)
def _first_and_last_rows(die, order):
    """Rows visited in ``order``: True where a row is the first, resp. last, of its die (dense
    codes 0..n-1 from :func:`_die_codes`). One pass, where two sorts of the codes took 40 ms on
    140 K parts."""
    first = np.zeros(die.size, np.bool_)
    last = np.zeros(die.size, np.bool_)
    last_row = np.full(die.size, -1, np.int64)  # at most one die a row
    for k in range(order.size):
        r = order[k]
        d = die[r]
        if last_row[d] < 0:
            first[r] = True
        last_row[d] = r
    for d in range(die.size):
        if last_row[d] >= 0:
            last[last_row[d]] = True
    return first, last


def _first_and_last(die: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True where a row is the first, resp. last, of its die (dense codes) in row order."""
    return _first_and_last_rows(die, np.arange(die.size, dtype=np.int64))


# --------------------------------------------------------------------------------------------
# Parts


@dataclass
class _PartFrame:
    """Everything known of each part, as numpy / Arrow columns.

    Parts are the file's PIRs (0 .. n_pir-1, closed by their PRR or left open) followed by the
    PRRs no PIR opened. ``tidy`` and ``parts`` both read this, so both see one die identity.
    """

    n_pir: int
    n_prr: int
    prr: np.ndarray  # PRR row of each part, -1 for a part left open
    anchor_seq: np.ndarray  # where the part starts: its PIR, else its PRR
    head: np.ndarray
    site: np.ndarray
    x: np.ndarray
    x_ok: np.ndarray
    y: np.ndarray
    y_ok: np.ndarray
    hard: np.ndarray
    hard_ok: np.ndarray
    soft: np.ndarray
    soft_ok: np.ndarray
    part_flg: np.ndarray
    part_flg_ok: np.ndarray
    test_t: np.ndarray
    test_t_ok: np.ndarray
    num_test: np.ndarray
    num_test_ok: np.ndarray
    part_id: pa.Array
    lot_id: pa.Array
    sublot_id: pa.Array
    wafer_id: pa.Array
    die_key: np.ndarray
    die_known: np.ndarray
    die: np.ndarray  # dense die code
    _insertions: tuple[np.ndarray, np.ndarray] | None = None
    # where the lot and wafer texts come from: the MIRs and each part's (-1 none), the wafer
    # records and each part's (-1 none)
    lots: _Lots | None = None
    mir: np.ndarray | None = None
    wafers: _Wafers | None = None
    wafer: np.ndarray | None = None

    def insertions(self) -> tuple[np.ndarray, np.ndarray]:
        """(first, last): True for each part that is its die's first, resp. last, insertion.

        Insertions follow PRR (file) order; a part left open has no die identity, so it is both.
        Found once (both views ask).
        """
        if self._insertions is None:
            # PRR row of closed parts; parts left open after them (each its own die, any place
            # works). Distinct numbers below prr.size + n_prr: placed, not sorted.
            when = np.where(self.prr >= 0, self.prr, self.n_prr + np.arange(self.prr.size))
            at = np.full(self.prr.size + self.n_prr, -1, np.int64)
            at[when] = np.arange(self.prr.size)
            self._insertions = _first_and_last_rows(self.die, at[at >= 0])
        return self._insertions

    @property
    def passed(self) -> tuple[np.ndarray, np.ndarray]:
        """PART_FLG bit 3 clear, valid unless bit 4 says there is no pass/fail indication."""
        return (self.part_flg & PART_FAILED) == 0, self.part_flg_ok & (
            (self.part_flg & PART_NO_PASS_FAIL) == 0
        )


def _part_frame(tables: Mapping[str, pa.Table], pir_prr: np.ndarray) -> _PartFrame:
    """The parts of ``tables``, given which PRR closes each PIR (from :func:`_assign_parts`)."""
    pir, prr = _sorted_table(tables.get("PIR")), _sorted_table(tables.get("PRR"))
    n_pir = 0 if pir is None else pir.num_rows
    n_prr = 0 if prr is None else prr.num_rows
    opened = np.zeros(n_prr, np.bool_)
    opened[pir_prr[pir_prr >= 0]] = True
    orphans = np.nonzero(~opened)[0]
    part_prr = np.concatenate([pir_prr, orphans]).astype(np.int64)
    closed = part_prr >= 0
    at = np.maximum(part_prr, 0)
    prr_seq = _seq(prr)
    anchor_seq = np.concatenate([_seq(pir), prr_seq[orphans]])
    head = np.concatenate([_values(pir, "HEAD_NUM", np.uint8, n_pir)[0],
                           _values(prr, "HEAD_NUM", np.uint8, n_prr)[0][orphans]])  # fmt: skip
    site = np.concatenate([_values(pir, "SITE_NUM", np.uint8, n_pir)[0],
                           _values(prr, "SITE_NUM", np.uint8, n_prr)[0][orphans]])  # fmt: skip

    def field(name, dtype, missing=None):
        values, ok = _values(prr, name, dtype, n_prr)
        if missing is not None:
            ok &= values != missing
        if n_prr == 0:
            return np.zeros(at.size, dtype), np.zeros(at.size, np.bool_)
        return values[at], closed & ok[at]

    x, x_ok = field("X_COORD", np.int16, MISSING_COORD)
    y, y_ok = field("Y_COORD", np.int16, MISSING_COORD)
    part_id = _take(_null_if_empty(_strings(prr, "PART_ID", n_prr)), part_prr)

    lots = _Lots(tables)
    part_mir = lots.refs(anchor_seq)
    wafers = _Wafers(tables)
    part_wafer, in_wafer = wafers.refs(anchor_seq, head)
    lot_id = _take(lots.lots, part_mir)
    wafer_id = _take(wafers.ids, part_wafer)
    # each MIR's and wafer record's id hashed, not each part's (140 K parts: 40 -> 1 ms)
    key, known = _die_keys(
        _string_hashes_through(lots.lots, part_mir), _string_hashes_through(wafers.ids, part_wafer),
        x, y, x_ok & y_ok, in_wafer, part_id,
    )  # fmt: skip
    frame = _PartFrame(
        n_pir, n_prr, part_prr, anchor_seq, head, site, x, x_ok, y, y_ok,
        *field("HARD_BIN", np.uint16), *field("SOFT_BIN", np.uint16, MISSING_SOFT_BIN),
        *field("PART_FLG", np.uint8), *field("TEST_T", np.uint32, 0), *field("NUM_TEST", np.uint16),
        part_id, lot_id, _take(lots.sublots, part_mir), wafer_id, key, known, _die_codes(key, known),
    )  # fmt: skip
    frame.lots, frame.mir, frame.wafers, frame.wafer = lots, part_mir, wafers, part_wafer
    return frame


def parts(tables: Mapping[str, pa.Table]) -> pa.Table:
    """One row per PRR of the tables :func:`silicio.stdf.read` returns, in PRR (file) order.

    Needs the PRR table and uses PIR (head / site brackets), MIR (lot) and WIR / WRR (wafer)
    when present. Columns and the die identity rule are listed in :mod:`silicio.stdf.parts`.
    """
    prr = tables.get("PRR")
    if prr is None or prr.num_rows == 0:
        return PARTS_SCHEMA.empty_table()
    pir = _sorted_table(tables.get("PIR"))
    prr = _sorted_table(prr)
    n_pir = 0 if pir is None else pir.num_rows
    none = np.zeros(0, np.int64)
    _, pir_prr = _assign_parts(none, True, none, none.astype(np.uint8), none.astype(np.uint8), _seq(pir),
                               _values(pir, "HEAD_NUM", np.uint8, n_pir)[0],
                               _values(pir, "SITE_NUM", np.uint8, n_pir)[0], _seq(prr),
                               _values(prr, "HEAD_NUM", np.uint8, prr.num_rows)[0],
                               _values(prr, "SITE_NUM", np.uint8, prr.num_rows)[0])  # fmt: skip
    return _parts_of(_part_frame(tables, pir_prr), prr)


def _parts_of(frame: _PartFrame, prr: pa.Table) -> pa.Table:
    """The ``parts`` table of a part frame; ``prr`` the PRR table sorted by seq."""
    # Rows in PRR order: the part each PRR closes.
    row = np.empty(frame.n_prr, np.int64)
    closed = np.nonzero(frame.prr >= 0)[0]
    row[frame.prr[closed]] = closed
    first, last = (flags[row] for flags in frame.insertions())
    passed, passed_ok = frame.passed
    columns = {
        "lot_id": frame.lot_id.take(pa.array(row)),
        "sublot_id": frame.sublot_id.take(pa.array(row)),
        "wafer_id": frame.wafer_id.take(pa.array(row)),
        "head": pa.array(frame.head[row], pa.uint8()),
        "site": pa.array(frame.site[row], pa.uint8()),
        "part_index": pa.array(np.arange(frame.n_prr, dtype=np.int64)),
        "part_id": frame.part_id.take(pa.array(row)),
        "x": _masked(frame.x[row], frame.x_ok[row], pa.int16()),
        "y": _masked(frame.y[row], frame.y_ok[row], pa.int16()),
        "hard_bin": _masked(frame.hard[row], frame.hard_ok[row], pa.uint16()),
        "soft_bin": _masked(frame.soft[row], frame.soft_ok[row], pa.uint16()),
        "passed": _masked(passed[row], passed_ok[row], pa.bool_()),
        "test_t": _masked(frame.test_t[row], frame.test_t_ok[row], pa.uint32()),
        "num_tests": _masked(frame.num_test[row], frame.num_test_ok[row], pa.uint16()),
        "die_key": _masked(frame.die_key[row], frame.die_known[row], pa.int64()),
        "is_first_test": pa.array(first),
        "is_last_test": pa.array(last),
        "seq": pa.array(_seq(prr).astype(np.uint64)),
    }
    return pa.Table.from_pydict(columns, schema=PARTS_SCHEMA)


# --------------------------------------------------------------------------------------------
# Yield of a parts table


@dataclass(frozen=True)
class PartYield:
    """First-pass and final yield of a set of parts.

    ``dies`` counts the dies with a verdict; ``first_pass_good`` those whose first test passed,
    ``final_good`` those whose last test passed. Parts without a pass/fail indication (PART_FLG
    bit 4) are left out of both and counted in ``no_verdict``; yields are None with no dies.
    """

    dies: int
    first_pass_good: int
    final_good: int
    first_pass_yield: float | None
    final_yield: float | None
    no_verdict: int


def part_yield(parts_table: pa.Table) -> PartYield:
    """First-pass and final yield of a table shaped like :func:`parts` (one or many files).

    A die's first test decides first-pass yield and its last test final yield; rows are taken
    in table order, so concatenate files in the order they were tested. Dies are matched on
    ``die_key`` across the whole table (a null key is a die of its own). A die's verdict comes
    from its first / last test that has one: parts with ``passed`` null are skipped.
    """
    missing = {"die_key", "passed"} - set(parts_table.column_names)
    if missing:
        raise ValueError(
            f"part_yield needs a parts table with columns die_key and passed; missing {sorted(missing)}"
        )
    n = parts_table.num_rows
    passed_arr = _array(parts_table, "passed")
    verdict_ok = passed_arr.is_valid().to_numpy(zero_copy_only=False) if n else np.zeros(0, np.bool_)
    passed = passed_arr.fill_null(False).to_numpy(zero_copy_only=False) if n else np.zeros(0, np.bool_)
    key_arr = _array(parts_table, "die_key")
    known = key_arr.is_valid().to_numpy(zero_copy_only=False) if n else np.zeros(0, np.bool_)
    key = key_arr.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64) if n else np.zeros(0, np.int64)
    sel = np.nonzero(verdict_ok)[0]
    die = _die_codes(key[sel], known[sel])
    first, last = _first_and_last(die)
    dies = int(first.sum())
    first_good = int(passed[sel][first].sum())
    final_good = int(passed[sel][last].sum())
    return PartYield(
        dies=dies,
        first_pass_good=first_good,
        final_good=final_good,
        first_pass_yield=first_good / dies if dies else None,
        final_yield=final_good / dies if dies else None,
        no_verdict=int(n - sel.size),
    )
