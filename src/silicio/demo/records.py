"""Tester-style STDF records of the demo fab, built as arrays.

A multi-site tester writes, per touchdown: a PIR per site, then test by test the record of
every site still running (stop on first fail), then a PRR per site. The first record of each
test in a file carries its name, limits, units and scales; later ones only the result (the
spec's default data), as production testers do to keep files small. Failing functional tests
carry their fail data.

The bulk (short PTRs and FTRs, PIRs, PRRs) is encoded with
:func:`silicio.stdf.writer.encode_records`, a few hundred full records per file with
:meth:`StdfWriter.record`, and all are put in tester order with one sort and one gather.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from silicio.stdf.writer import StdfWriter, encode_records

from .physics import Dies, Program
from .products import PASS_BIN, Product

__all__ = ["PartBlock", "write_part_block", "write_summaries"]

HEAD = 1
MISSING_COORD = -32768
# PTR OPT_FLAG: bit 1 reserved (1); bits 2, 3: no LO_SPEC / HI_SPEC; 6, 7: no low / high limit.
_OPT_FLAG = 0x0E
# PARM_FLG bits 6, 7: limits are inclusive; 3 / 4: above the high / below the low limit.
_INCLUSIVE, _ABOVE, _BELOW = 0xC0, 0x08, 0x10
_FAILED = 0x80  # TEST_FLG bit 7
_FTR_PASS_OPT = 0xFF  # no fail data: every optional field invalid (bits 6, 7 reserved: 1)
_FTR_FAIL_OPT = 0xC2  # CYCL_CNT, REPT_CNT, NUM_FAIL, XFAIL/YFAIL, VECT_OFF valid; REL_VADR not


@dataclass(frozen=True)
class PartBlock:
    """Parts in test order with where and how they were tested."""

    dies: Dies
    site: np.ndarray  # (parts,) uint8
    touchdown: np.ndarray  # (parts,) nondecreasing
    part_id: Sequence[str]
    x: np.ndarray | None = None  # None at final test: no coordinates
    y: np.ndarray | None = None
    part_text: Sequence[str] | None = None
    test_ms: np.ndarray | None = None
    retest: bool = False


class _Scratch:
    """Encodes single records with one writer into memory and hands back each one's bytes."""

    def __init__(self, byteorder: str) -> None:
        self.buffer = io.BytesIO()
        self.writer = StdfWriter(self.buffer, byteorder=byteorder, far=False)
        self.offsets = [0]

    def record(self, name: str, **fields) -> None:
        self.writer.record(name, **fields)
        self.offsets.append(self.writer.offset)

    def blobs(self) -> list[bytes]:
        data = self.buffer.getvalue()
        return [data[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]


def _cn(text: str) -> bytes:
    data = text.encode("latin-1")
    return bytes((len(data),)) + data


class _Pool:
    """Encoded records with their sort keys, gathered into one byte string in key order."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self.size = 0

    def add_rows(self, rows: np.ndarray, keys: np.ndarray) -> None:
        count, width = rows.shape
        self._add(rows.ravel(), keys, np.full(count, width, np.int64))

    def add_blobs(self, blobs: Sequence[bytes], keys: np.ndarray) -> None:
        lengths = np.fromiter(map(len, blobs), np.int64, len(blobs))
        self._add(np.frombuffer(b"".join(blobs), np.uint8), keys, lengths)

    def _add(self, data: np.ndarray, keys: np.ndarray, lengths: np.ndarray) -> None:
        self.chunks.append(data)
        self.keys.append(np.asarray(keys, np.int64))
        self.starts.append(self.size + np.cumsum(lengths) - lengths)
        self.lengths.append(lengths)
        self.size += data.size

    def gather(self) -> tuple[np.ndarray, int]:
        pool = np.concatenate(self.chunks)
        keys = np.concatenate(self.keys)
        order = np.argsort(keys, kind="stable")
        starts, lengths = np.concatenate(self.starts)[order], np.concatenate(self.lengths)[order]
        placed = np.cumsum(lengths) - lengths
        # A block is megabytes, not gigabytes: 32-bit indices halve the gather's memory traffic.
        shift = (starts - placed).astype(np.int32)
        index = np.repeat(shift, lengths) + np.arange(int(lengths.sum()), dtype=np.int32)
        return pool[index], keys.size


def write_part_block(writer: StdfWriter, product: Product, program: Program, block: PartBlock) -> None:
    """PIR, test records and PRR of every part of ``block``, in tester order."""
    dies, byteorder = block.dies, writer.byteorder
    n, n_tests = dies.values.shape
    site = block.site.astype(np.int64)
    td = block.touchdown.astype(np.int64)

    def key(phase: int, test: np.ndarray | int, sites: np.ndarray, tds: np.ndarray) -> np.ndarray:
        return ((tds * 3 + phase) * (n_tests + 1) + test) * 256 + sites

    pool = _Pool()
    pool.add_rows(
        encode_records("PIR", {"HEAD_NUM": HEAD, "SITE_NUM": site}, byteorder=byteorder), key(0, 0, site, td)
    )

    # One record per (part, test executed).
    executed = dies.executed.astype(np.int64)
    part = np.repeat(np.arange(n), executed)
    first_of_part = np.concatenate([[0], np.cumsum(executed)[:-1]])
    test = np.arange(part.size) - np.repeat(first_of_part, executed)
    stored = dies.values[part, test].astype(np.float32)
    low32, high32 = program.low.astype(np.float32)[test], program.high.astype(np.float32)[test]
    functional = program.functional[test]
    above, below = (stored > high32) & ~functional, (stored < low32) & ~functional
    failed = np.where(functional, stored > 0.5, above | below)
    test_flg = np.where(failed, _FAILED, 0).astype(np.uint8)
    parm_flg = (_INCLUSIVE | np.where(above, _ABOVE, 0) | np.where(below, _BELOW, 0)).astype(np.uint8)
    keys = key(1, test, site[part], td[part])
    # The first record of each test in file order carries the test's definition.
    order = np.argsort(keys, kind="stable")
    _, first_seen = np.unique(test[order], return_index=True)
    full = np.zeros(part.size, bool)
    full[order[first_seen]] = True
    full |= functional & failed

    ptr = ~functional & ~full
    pool.add_rows(
        encode_records(
            "PTR",
            {"TEST_NUM": program.number[test[ptr]], "HEAD_NUM": HEAD, "SITE_NUM": site[part[ptr]],
             "TEST_FLG": test_flg[ptr], "PARM_FLG": parm_flg[ptr], "RESULT": stored[ptr]},
            byteorder=byteorder,
        ),
        keys[ptr],
    )  # fmt: skip
    ftr = functional & ~full
    pool.add_rows(
        encode_records(
            "FTR",
            {"TEST_NUM": program.number[test[ftr]], "HEAD_NUM": HEAD, "SITE_NUM": site[part[ftr]],
             "TEST_FLG": test_flg[ftr]},
            byteorder=byteorder,
        ),
        keys[ftr],
    )  # fmt: skip
    special = np.flatnonzero(full)
    scratch = _Scratch(byteorder)
    for r in special:
        _full_record(scratch, program, int(test[r]), int(site[part[r]]), int(test_flg[r]), int(parm_flg[r]),
                     float(stored[r]), seed=int(r))  # fmt: skip
    pool.add_blobs(scratch.blobs(), keys[special])

    pool.add_blobs(_prrs(block, byteorder), key(2, 0, site, td))
    data, count = pool.gather()
    writer.write_encoded(data, count)


def _full_record(
    scratch: _Scratch,
    program: Program,
    index: int,
    site: int,
    test_flg: int,
    parm_flg: int,
    value: float,
    seed: int,
) -> None:
    """A test's first record in the file (name, limits, units, scales), or a failing FTR with
    its fail data."""
    t = program.tests[index]
    if t.functional:
        fields = dict(TEST_NUM=t.number, HEAD_NUM=HEAD, SITE_NUM=site, TEST_FLG=test_flg)
        if test_flg & _FAILED:
            # Where the pattern failed: a deterministic cycle per record, as a tester logs it.
            cycle = 1000 + (seed * 7919) % 250_000
            fields |= dict(OPT_FLAG=_FTR_FAIL_OPT, CYCL_CNT=cycle, REL_VADR=0, REPT_CNT=1,
                           NUM_FAIL=1 + seed % 17, XFAIL_AD=0, YFAIL_AD=0, VECT_OFF=0)  # fmt: skip
        else:
            fields |= dict(OPT_FLAG=_FTR_PASS_OPT, CYCL_CNT=0, REL_VADR=0, REPT_CNT=0, NUM_FAIL=0,
                           XFAIL_AD=0, YFAIL_AD=0, VECT_OFF=0)  # fmt: skip
        scratch.record("FTR", **fields, VECT_NAM=f"{t.name.lower()}_pat", TEST_TXT=t.name)
        return
    opt = _OPT_FLAG | (0x40 if t.low is None else 0) | (0x80 if t.high is None else 0)
    scratch.record(
        "PTR", TEST_NUM=t.number, HEAD_NUM=HEAD, SITE_NUM=site, TEST_FLG=test_flg, PARM_FLG=parm_flg,
        RESULT=value, TEST_TXT=t.name, ALARM_ID="", OPT_FLAG=opt, RES_SCAL=t.scale, LLM_SCAL=t.scale,
        HLM_SCAL=t.scale, LO_LIMIT=0.0 if t.low is None else t.low, HI_LIMIT=0.0 if t.high is None else t.high,
        UNITS=t.units,
    )  # fmt: skip


def _prrs(block: PartBlock, byteorder: str) -> list[bytes]:
    dies = block.dies
    n = dies.executed.size
    passed = dies.passed
    # PART_FLG bit 3: failed; bit 0 on a retest: supersedes the earlier records of this PART_ID.
    part_flg = np.where(passed, 0, 0x08) | (0x01 if block.retest else 0)
    x = np.full(n, MISSING_COORD) if block.x is None else block.x
    y = np.full(n, MISSING_COORD) if block.y is None else block.y
    test_ms = np.zeros(n, np.int64) if block.test_ms is None else block.test_ms
    fixed = encode_records(
        "PRR",
        {"HEAD_NUM": HEAD, "SITE_NUM": block.site, "PART_FLG": part_flg.astype(np.uint8),
         "NUM_TEST": dies.executed, "HARD_BIN": dies.hard_bin, "SOFT_BIN": dies.soft_bin, "X_COORD": x,
         "Y_COORD": y, "TEST_T": test_ms},
        byteorder=byteorder,
    )  # fmt: skip
    texts = [_cn(p) for p in block.part_id]
    if block.part_text is not None:
        texts = [a + _cn(b) for a, b in zip(texts, block.part_text, strict=True)]
    body = fixed.shape[1] - 4 + np.fromiter(map(len, texts), np.int64, n)
    fixed[:, :2] = np.frombuffer(body.astype(byteorder + "u2").tobytes(), np.uint8).reshape(n, 2)
    return [row + text for row, text in zip(map(bytes, fixed), texts, strict=True)]


def write_summaries(writer: StdfWriter, product: Product, program: Program, block: PartBlock) -> None:
    """TSR, HBR, SBR and PCR, per site and over all sites (HEAD_NUM 255), counting every PRR."""
    dies = block.dies
    n_tests = len(program)
    ran = dies.executed[:, None] > np.arange(n_tests)
    fail_at = np.bincount(dies.failed_test[dies.failed_test >= 0], minlength=n_tests)
    for i, t in enumerate(program.tests):
        writer.record(
            "TSR", HEAD_NUM=255, SITE_NUM=0, TEST_TYP="F" if t.functional else "P", TEST_NUM=t.number,
            EXEC_CNT=int(ran[:, i].sum()), FAIL_CNT=int(fail_at[i]), ALRM_CNT=0, TEST_NAM=t.name,
        )  # fmt: skip
    scopes = [(255, 0, np.ones(dies.executed.size, bool))]
    scopes += [(HEAD, int(s), block.site == s) for s in np.unique(block.site)]
    soft_names = product.soft_bins
    for head, site, mask in scopes:
        for number, count in zip(*np.unique(dies.hard_bin[mask], return_counts=True), strict=True):
            writer.record(
                "HBR", HEAD_NUM=head, SITE_NUM=site, HBIN_NUM=int(number), HBIN_CNT=int(count),
                HBIN_PF="P" if number == PASS_BIN else "F", HBIN_NAM=product.hard_bins[int(number)],
            )  # fmt: skip
    for head, site, mask in scopes:
        for number, count in zip(*np.unique(dies.soft_bin[mask], return_counts=True), strict=True):
            writer.record(
                "SBR", HEAD_NUM=head, SITE_NUM=site, SBIN_NUM=int(number), SBIN_CNT=int(count),
                SBIN_PF="P" if number == PASS_BIN else "F", SBIN_NAM=soft_names[int(number)],
            )  # fmt: skip
    for head, site, mask in scopes:
        writer.record(
            "PCR", HEAD_NUM=head, SITE_NUM=site, PART_CNT=int(mask.sum()),
            RTST_CNT=int(mask.sum()) if block.retest else 0, ABRT_CNT=0,
            GOOD_CNT=int(dies.passed[mask].sum()), FUNC_CNT=0xFFFFFFFF,
        )  # fmt: skip
