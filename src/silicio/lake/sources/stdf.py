"""The STDF data source: record tables, the ``parts`` and ``tidy`` views, and the MIR's facts.

Every record batch streams into the lake a window at a time (one table per record type); the
views need all of a file's test records (PTR, MPR, FTR) and part records at once, so those types,
with the few small ones the summary reads, are also kept until the file ends.

Name endings taken from folders: ``.stdf`` and ``.std``, and the compressed files the reader
opens (``.gz``, ``.bz2``, ``.xz``, ``.zip``). A file matches when its name, less one compression
suffix, ends in ``.stdf`` or ``.std`` (it is then read as STDF whatever it holds, so the reader
says what is wrong with it), or else when its content opens with a File Attributes Record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from silicio.stdf import StdfError, StdfIssue, stream, tidy
from silicio.stdf.parts import parts
from silicio.stdf.summary import summarize
from silicio.stdf.tidy import stored_parts_and_tidy

from ..layout import PARTS_TABLE, ROW_GROUP_ROWS, TIDY_TABLE, infer_stage
from . import DataSource, FileFacts, SourceData, TableWriter

#: Compressed forms the reader opens, recognised by content (see :func:`silicio.stdf.stream`).
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")
STDF_NAMES = (".stdf", ".std")

# Record types the views and the summary need whole; every other type only streams through.
_KEPT_TYPES = frozenset({"FAR", "MIR", "MRR", "SDR", "VUR", "WIR", "WRR", "PIR", "PRR", "PTR", "MPR", "FTR"})
# Test records: the views read them, the catalog's facts do not.
_TEST_TYPES = frozenset({"PTR", "MPR", "FTR"})
# Rows of the tidy view built at a time, one row group (its part_id dictionary is its own):
# each piece is written on the ingest's writing thread while the next is built, and the view
# is never in memory whole.
_TIDY_PIECE_ROWS = ROW_GROUP_ROWS
# The reader's smallest window: enough to check the FAR that opens every STDF file.
_SNIFF_WINDOW = 1 << 16


class StdfSource(DataSource):
    """STDF V4 / V4-2007 files, plain or compressed; see the module notes."""

    kind = "stdf"
    suffixes = (*STDF_NAMES, *COMPRESSION_SUFFIXES)

    def matches(self, path: Path) -> bool:
        name = path.name.lower()
        name = next((name.removesuffix(s) for s in COMPRESSION_SUFFIXES if name.endswith(s)), name)
        return name.endswith(STDF_NAMES) or _opens_with_far(path)

    def read(self, path: Path, out: TableWriter, *, window_bytes: int) -> SourceData:
        counts: Counter[str] = Counter()
        kept: dict[str, list[pa.RecordBatch]] = {}
        reader = stream(path, strict=False, window_bytes=window_bytes)
        fatal: StdfIssue | None = None
        try:
            for name, batch in reader:
                if batch.num_rows == 0:
                    continue
                out.write(name, batch)
                counts[name] += batch.num_rows
                if name in _KEPT_TYPES:
                    kept.setdefault(name, []).append(batch)
        except StdfError as exc:  # not STDF, or damage salvage cannot step over (e.g. a corrupt gzip)
            fatal = exc.issue
        except Exception as exc:  # a reader bug must not lose the file: quarantine it, say why
            fatal = StdfIssue(reader.path, 0, None, f"reader failed: {type(exc).__name__}: {exc}")
        issues: list[StdfIssue] = [*reader.issues, *([fatal] if fatal is not None else [])]
        if reader.byteorder is None:  # not even the FAR could be read
            return SourceData(None, issues, warnings=list(reader.warnings))
        tables = {name: pa.Table.from_batches(batches) for name, batches in kept.items()}
        del kept
        data = _described(str(path), tables, counts, issues, out)
        data.warnings = list(reader.warnings)
        return data


def _described(path: str, tables: dict[str, pa.Table], counts: Counter[str], issues: list[StdfIssue],
               out: TableWriter) -> SourceData:  # fmt: skip
    """The views written and the facts of a file that could be read."""
    # The catalog's facts come from the small tables: the test records only feed the summary's
    # count of distinct tests, a sort of every test number (0.5 s CPU on 7 M PTRs) nobody reads here.
    summary = summarize({name: t for name, t in tables.items() if name not in _TEST_TYPES}, path)
    try:  # the part frame found once for both views
        parts_table, _, tidy_pieces = stored_parts_and_tidy(tables, _TIDY_PIECE_ROWS)
    except Exception:  # say which view failed, and keep the other
        parts_table = _derived(parts, tables, "parts", path, issues)
        tidy_table = _derived(tidy, tables, "tidy", path, issues)
        tidy_pieces = iter([] if tidy_table is None else [tidy_table])
    if parts_table is not None and parts_table.num_rows:
        out.write(PARTS_TABLE, parts_table)
    try:
        for piece in tidy_pieces:
            if piece.num_rows:
                out.write(TIDY_TABLE, piece)
    except Exception as exc:  # pieces written so far stay; the file is marked partial, with why
        issues.append(StdfIssue(path, 0, None, f"tidy view not built in full: {type(exc).__name__}: {exc}"))
    has_wafer_records = bool(counts.get("WIR") or counts.get("WRR"))
    has_coordinates = (
        parts_table is not None
        and parts_table.num_rows > 0
        and parts_table["x"].null_count < parts_table.num_rows
    )
    facts = FileFacts(
        stage=infer_stage(summary.test_code, has_wafer_records, has_coordinates, summary.parts),
        product=summary.part_type,
        lot=summary.lot_id,
        sublot=summary.sublot_id,
        started=summary.started,
        finished=summary.finished,
        tester_type=summary.tester_type,
        node=summary.tester_node,
        program=summary.program,
        revision=summary.program_revision,
        operator=summary.operator,
        test_code=summary.test_code,
        wafers=summary.wafer_count,
        records=dict(counts),
    )
    details = {"stdf_version": summary.stdf_version, "byte_order": summary.byte_order}
    return SourceData(facts, issues, details)


def _derived(function: Callable[[Any], pa.Table], tables, name: str, path: str, issues: list[StdfIssue]):
    # A view that cannot be built is reported with the file, never a reason to lose the file.
    try:
        return function(tables)
    except Exception as exc:
        issues.append(StdfIssue(path, 0, None, f"{name} view not built: {type(exc).__name__}: {exc}"))
        return None


def _opens_with_far(path: Path) -> bool:
    """Whether the (decompressed) content starts with an STDF File Attributes Record."""
    reader = stream(path, strict=False, window_bytes=_SNIFF_WINDOW)
    batches = iter(reader)
    try:
        next(batches, None)
    except Exception:  # StdfError when it is not STDF; damage after the FAR still says STDF
        pass
    finally:
        batches.close()
    return reader.byteorder is not None
