"""What an STDF file holds, at a glance: lot, tester, program, wafers, parts, tests, problems.

:func:`summarize` is a pure function of the tables :func:`silicio.stdf.read` returns, so the
same numbers serve ``silicio stdf info`` and the ingest catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import StdfIssue
from .spec import RECORDS, UNKNOWN

#: FAR.CPU_TYPE -> byte order of the file (spec, FAR: 1 = Sun/big-endian, 2 = x86/little-endian).
BYTE_ORDER_OF_CPU_TYPE = {1: "big-endian", 2: "little-endian"}

# PRR.PART_FLG bits (spec, PRR): bit 3 set = part failed, bit 4 set = no pass/fail indication.
PART_FAILED = 0x08
PART_NO_PASS_FAIL = 0x10

_TEST_RECORDS = ("PTR", "MPR", "FTR")


@dataclass(frozen=True)
class FileSummary:
    """Headline facts of one STDF file. Text fields the file leaves empty are None."""

    path: str | None
    records: dict[str, int]
    stdf_version: str | None
    byte_order: str | None
    lot_id: str | None
    sublot_id: str | None
    part_type: str | None
    tester_type: str | None
    tester_node: str | None
    program: str | None
    program_revision: str | None
    operator: str | None
    test_code: str | None
    mode_code: str | None
    started: datetime | None
    finished: datetime | None
    wafers: list[str] = field(default_factory=list)
    #: Wafers tested, counting those whose WIR/WRR give no id (some testers leave it blank).
    wafer_count: int = 0
    parts: int = 0
    good_parts: int = 0
    tests: int = 0
    heads: int = 0
    sites: int = 0
    issues: list[StdfIssue] = field(default_factory=list)
    #: What is unusual but not damage (reserved or vendor record types kept raw, zero padding).
    warnings: list[StdfIssue] = field(default_factory=list)

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    @property
    def yield_percent(self) -> float | None:
        return 100.0 * self.good_parts / self.parts if self.parts else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 text, issues as dicts."""
        out = asdict(self)
        out["started"] = self.started.isoformat() if self.started else None
        out["finished"] = self.finished.isoformat() if self.finished else None
        out["total_records"] = self.total_records
        out["yield_percent"] = self.yield_percent
        return out


def summarize(tables: Mapping[str, pa.Table], path: str | None = None) -> FileSummary:
    """Summarize the tables of one file (the mapping :func:`silicio.stdf.read` returns).

    ``path`` defaults to the tables' own ``.path`` when they have one.
    """
    mir = _first_row(tables, "MIR")
    mrr = _first_row(tables, "MRR")
    far = _first_row(tables, "FAR")
    heads, sites = _heads_and_sites(tables)
    wafers = _wafer_ids(tables)
    return FileSummary(
        path=path if path is not None else getattr(tables, "path", None),
        records=_record_counts(tables),
        stdf_version=_stdf_version(far, tables),
        byte_order=BYTE_ORDER_OF_CPU_TYPE.get(far.get("CPU_TYPE")),
        lot_id=_text(mir, "LOT_ID"),
        sublot_id=_text(mir, "SBLOT_ID"),
        part_type=_text(mir, "PART_TYP"),
        tester_type=_text(mir, "TSTR_TYP"),
        tester_node=_text(mir, "NODE_NAM"),
        program=_text(mir, "JOB_NAM"),
        program_revision=_text(mir, "JOB_REV"),
        operator=_text(mir, "OPER_NAM"),
        test_code=_text(mir, "TEST_COD"),
        mode_code=_text(mir, "MODE_COD"),
        started=_timestamp(mir.get("START_T")),
        finished=_timestamp(mrr.get("FINISH_T")),
        wafers=wafers,
        wafer_count=max(len(wafers), _rows(tables, "WIR"), _rows(tables, "WRR")),
        parts=_rows(tables, "PRR"),
        good_parts=_good_parts(tables),
        tests=_distinct_tests(tables),
        heads=heads,
        sites=sites,
        issues=list(getattr(tables, "issues", None) or []),
        warnings=list(getattr(tables, "warnings", None) or []),
    )


def _rows(tables: Mapping[str, pa.Table], name: str) -> int:
    table = tables.get(name)
    return table.num_rows if table is not None else 0


def _record_counts(tables: Mapping[str, pa.Table]) -> dict[str, int]:
    order = [*RECORDS, UNKNOWN]
    return {name: tables[name].num_rows for name in order if name in tables and tables[name].num_rows}


def _first_row(tables: Mapping[str, pa.Table], name: str) -> dict[str, Any]:
    table = tables.get(name)
    if table is None or table.num_rows == 0:
        return {}
    return table.slice(0, 1).to_pylist()[0]


def _text(row: Mapping[str, Any], name: str) -> str | None:
    # Testers pad unused text with spaces (a C1 of ' ' means "not given"), so blank is absent.
    value = row.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _timestamp(seconds: int | None) -> datetime | None:
    # U4 seconds since 1970; 0 is what testers write when they have no time.
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def _stdf_version(far: Mapping[str, Any], tables: Mapping[str, pa.Table]) -> str | None:
    version = far.get("STDF_VER")
    if version is None:
        return None
    # V4-2007 files announce themselves in a Version Update Record.
    vur = tables.get("VUR")
    if version == 4 and vur is not None and vur.num_rows:
        names = [n for row in vur.column("UPD_NAM").to_pylist() for n in (row or [])]
        if any("2007" in (n or "") for n in names):
            return "V4-2007"
    return f"V{version}"


def _wafer_ids(tables: Mapping[str, pa.Table]) -> list[str]:
    """Distinct wafer ids in file order, from WIR and WRR (either may leave the id out)."""
    found: list[tuple[int, str]] = []
    for name in ("WIR", "WRR"):
        table = tables.get(name)
        if table is None or "WAFER_ID" not in table.column_names:
            continue
        for seq, wafer_id in zip(
            table.column("seq").to_pylist(), table.column("WAFER_ID").to_pylist(), strict=True
        ):
            if wafer_id and wafer_id.strip():
                found.append((seq, wafer_id.strip()))
    return list(dict.fromkeys(wafer_id for _, wafer_id in sorted(found)))


def _unsigned(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The values and validity of an unsigned integer column, read from its buffers: pyarrow's
    own ways (``to_numpy``, and Python numbers in compute calls) import pandas first, 0.8 s of a
    ``silicio stdf info``."""
    values, valid = [], []
    for chunk in column.chunks:
        n, offset = len(chunk), chunk.offset
        bitmap, data = chunk.buffers()[:2]
        dtype = np.dtype(f"<u{chunk.type.bit_width // 8}")
        values.append(
            np.zeros(n, dtype)
            if data is None
            else np.frombuffer(data, dtype, count=n, offset=offset * dtype.itemsize)
        )
        if bitmap is None:
            valid.append(np.ones(n, np.bool_))
        else:
            bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), count=offset + n, bitorder="little")
            valid.append(bits[offset:].astype(np.bool_))
    if not values:
        return np.zeros(0, np.uint64), np.zeros(0, np.bool_)
    return np.concatenate(values), np.concatenate(valid)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (np.unique would load numpy.ma: 0.05 s of `stdf info`)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered


def _good_parts(tables: Mapping[str, pa.Table]) -> int:
    prr = tables.get("PRR")
    if prr is None or prr.num_rows == 0:
        return 0
    flags, given = _unsigned(prr.column("PART_FLG"))
    # A part with no flags byte at all has no pass/fail indication either.
    verdict_bits = np.where(given, flags, PART_NO_PASS_FAIL) & (PART_FAILED | PART_NO_PASS_FAIL)
    return int(np.count_nonzero(verdict_bits == 0))


def _distinct_tests(tables: Mapping[str, pa.Table]) -> int:
    numbers = []
    for name in _TEST_RECORDS:
        if name in tables and tables[name].num_rows:
            values, given = _unsigned(tables[name].column("TEST_NUM"))
            numbers.append(values[given])
    return _distinct(np.concatenate(numbers)).size if numbers else 0


def _heads_and_sites(tables: Mapping[str, pa.Table]) -> tuple[int, int]:
    """Distinct heads and (head, site) pairs that tested parts; the SDR's list when none did."""
    pairs: set[tuple[int, int]] = set()
    for name in ("PIR", "PRR"):
        table = tables.get(name)
        if table is None or table.num_rows == 0:
            continue
        # One number per (head, site), both U*1, in numpy: pyarrow's group_by imports its Acero
        # and dataset modules, and its compute calls with a number pandas (a second of `stdf info`).
        (head, head_given), (site, site_given) = (
            _unsigned(table.column(n)) for n in ("HEAD_NUM", "SITE_NUM")
        )
        keys = (head.astype(np.int64) << 8) | site
        pairs.update((key >> 8, key & 0xFF) for key in _distinct(keys[head_given & site_given]).tolist())
    if not pairs and "SDR" in tables:
        for row in tables["SDR"].select(["HEAD_NUM", "SITE_NUM"]).to_pylist():
            pairs.update((row["HEAD_NUM"], site) for site in row["SITE_NUM"] or [])
    pairs = {(head, site) for head, site in pairs if head is not None and site is not None}
    return len({head for head, _ in pairs}), len(pairs)
