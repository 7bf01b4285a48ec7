"""Metrology records as Arrow tables: instruments, calibrations, characteristics, qualifications,
measurements; and the checks made on them.

Each kind of record has a schema below (``SCHEMAS``); :func:`silicio.metrology.io.read_records`
reads them from CSV or Parquet. Columns marked *required* must be present and non-empty.

=================  ==================================================================================
instruments        ``instrument_id`` (required), ``instrument_type``, ``range_low``, ``range_high``,
                   ``unit``, ``resolution``, ``location``
calibrations       ``certificate_id``, ``instrument_id``, ``calibrated_on``, ``due_on`` (required);
                   ``lab``, ``accreditation`` (e.g. "ISO/IEC 17025"), ``reference_standard`` (the
                   standard used: its instrument id), ``expanded_uncertainty``, ``coverage_factor``,
                   ``traceable_to`` (the certificate of that reference standard: the next link up the
                   traceability chain), ``national_standard`` (set on a certificate issued by a
                   national metrology institute, e.g. "CENAM", "NIST": the top of the chain)
characteristics    ``characteristic`` (required), ``unit``, ``nominal``, ``lsl``, ``usl``, ``test_num``
qualifications     ``operator``, ``characteristic``, ``valid_from`` (required), ``valid_to`` (empty:
                   open-ended)
measurements       ``characteristic``, ``value`` (required), ``instrument_id``, ``operator``,
                   ``measured_at``, ``lot_id``, ``wafer_id``, ``site``, ``x``, ``y``
=================  ==================================================================================

Parametric test results of the lake become characteristics and measurements through
:func:`characteristics_from_tidy` and :func:`measurements_from_tidy`, given the lake's ``tidy``
view as an Arrow table (any table with the columns of :mod:`silicio.stdf.tidy` they read).

A calibration certificate covers its instrument from ``calibrated_on`` through ``due_on``
(both days included). Metrological traceability is "an unbroken chain of calibrations, each
contributing to the measurement uncertainty" (JCGM 200:2012, VIM 2.41); ISO/IEC 17025:2017
clause 6.5 requires it for results reported by an accredited laboratory.

References
----------
.. [1] JCGM 200:2012, *International vocabulary of metrology* (VIM), 2.39-2.44 (calibration,
   metrological traceability, traceability chain).
.. [2] ISO/IEC 17025:2017, 6.4 (equipment), 6.5 (metrological traceability), 6.2 (personnel
   competence and authorization).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from silicio.lake.queries import metrology as queries

from .errors import MetrologyError

__all__ = [
    "REQUIRED",
    "SCHEMAS",
    "TraceabilityChain",
    "affected_lots",
    "characteristics_from_tidy",
    "conform",
    "flag_measurements",
    "measurements_from_tidy",
    "traceability_chain",
]

SCHEMAS: dict[str, pa.Schema] = {
    "instruments": pa.schema(
        [
            ("instrument_id", pa.string()),
            ("instrument_type", pa.string()),
            ("range_low", pa.float64()),
            ("range_high", pa.float64()),
            ("unit", pa.string()),
            ("resolution", pa.float64()),
            ("location", pa.string()),
        ]
    ),
    "calibrations": pa.schema(
        [
            ("certificate_id", pa.string()),
            ("instrument_id", pa.string()),
            ("calibrated_on", pa.date32()),
            ("due_on", pa.date32()),
            ("lab", pa.string()),
            ("accreditation", pa.string()),
            ("reference_standard", pa.string()),
            ("expanded_uncertainty", pa.float64()),
            ("coverage_factor", pa.float64()),
            ("traceable_to", pa.string()),
            ("national_standard", pa.string()),
        ]
    ),
    "characteristics": pa.schema(
        [
            ("characteristic", pa.string()),
            ("unit", pa.string()),
            ("nominal", pa.float64()),
            ("lsl", pa.float64()),
            ("usl", pa.float64()),
            ("test_num", pa.uint32()),
        ]
    ),
    "qualifications": pa.schema(
        [
            ("operator", pa.string()),
            ("characteristic", pa.string()),
            ("valid_from", pa.date32()),
            ("valid_to", pa.date32()),
        ]
    ),
    "measurements": pa.schema(
        [
            ("characteristic", pa.string()),
            ("value", pa.float64()),
            ("instrument_id", pa.string()),
            ("operator", pa.string()),
            ("measured_at", pa.timestamp("us")),
            ("lot_id", pa.string()),
            ("wafer_id", pa.string()),
            ("site", pa.string()),
            ("x", pa.int16()),
            ("y", pa.int16()),
        ]
    ),
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "instruments": ("instrument_id",),
    "calibrations": ("certificate_id", "instrument_id", "calibrated_on", "due_on"),
    "characteristics": ("characteristic",),
    "qualifications": ("operator", "characteristic", "valid_from"),
    "measurements": ("characteristic", "value"),
}


def conform(table: pa.Table, kind: str, source: str = "table") -> pa.Table:
    """``table`` with the columns of ``kind``'s schema, in order, cast to their types.

    Absent optional columns are added empty; extra columns are dropped. Errors name ``source``,
    the column, the expected type and the first offending row (1-based, header not counted).
    """
    if kind not in SCHEMAS:
        raise MetrologyError(f"unknown kind of record {kind!r}: expected one of {', '.join(SCHEMAS)}")
    schema = SCHEMAS[kind]
    absent = [c for c in REQUIRED[kind] if c not in table.column_names]
    if absent:
        raise MetrologyError(
            f"{source}: {kind} need column(s) {', '.join(absent)}; found {', '.join(table.column_names) or 'none'}"
        )
    columns = []
    for f in schema:
        if f.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, f.type))
            continue
        col = table.column(f.name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            # Empty cells of a CSV are missing values, not empty names.
            col = pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), pa.scalar(None, col.type), col)
        columns.append(_cast(col, f, source))
    out = pa.Table.from_arrays(columns, schema=schema)
    for name in REQUIRED[kind]:
        nulls = out.column(name).is_null()
        if pc.any(nulls).as_py():
            row = pc.index(nulls, True).as_py()
            raise MetrologyError(f"{source}: row {row + 1}: {name} is empty; {kind} must have one")
    return out


def _cast(col: pa.ChunkedArray, f: pa.Field, source: str) -> pa.ChunkedArray:
    if col.type == f.type:
        return col
    if pa.types.is_date32(f.type) and pa.types.is_timestamp(col.type):
        return pc.cast(col, f.type)
    if pa.types.is_timestamp(f.type) and pa.types.is_string(col.type):
        return _local_times(col, f, source)
    try:
        return pc.cast(col, f.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Find the first value that does not convert, to say where it is.
    for row, value in enumerate(col.to_pylist()):
        try:
            pc.cast(pa.array([value], col.type), f.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise MetrologyError(
                f"{source}: row {row + 1}: {f.name} = {value!r} is not {_type_name(f.type)}"
            ) from None
    raise MetrologyError(f"{source}: column {f.name} ({col.type}) cannot be read as {_type_name(f.type)}")


def _local_times(col: pa.ChunkedArray, f: pa.Field, source: str) -> pa.Array:
    """Times as written, ISO 8601 with or without a UTC offset ("2026-02-01T10:00:00-06:00",
    "...Z"). A time with an offset is kept as the local clock reading it states: calibration
    and qualification dates are the lab's local days, and a measurement taken at 22:00 in
    Guadalajara belongs to that day there, not to the next day in UTC."""
    out = []
    for row, value in enumerate(col.to_pylist()):
        if value is None or not value.strip():
            out.append(None)
            continue
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MetrologyError(
                f"{source}: row {row + 1}: {f.name} = {value!r} is not {_type_name(f.type)}"
            ) from None
        out.append(moment.replace(tzinfo=None))
    return pa.array(out, f.type)


def _type_name(t: pa.DataType) -> str:
    if pa.types.is_date(t):
        return "a date (YYYY-MM-DD)"
    if pa.types.is_timestamp(t):
        return "a date and time (YYYY-MM-DD HH:MM:SS, optionally with a UTC offset as +HH:MM)"
    if pa.types.is_integer(t):
        return f"an integer ({t})"
    if pa.types.is_floating(t):
        return "a number"
    return str(t)


def _kind(table: pa.Table, kind: str) -> pa.Table:
    # Tables already in the schema pass as they are; others are conformed (and checked).
    return table if table.schema.equals(SCHEMAS[kind]) else conform(table, kind)


# --------------------------------------------------------------------------------------------
# flags


def flag_measurements(
    measurements: pa.Table,
    instruments: pa.Table | None,
    calibrations: pa.Table,
    qualifications: pa.Table,
) -> pa.Table:
    """The measurements with flags saying which cannot be relied on, and why.

    * ``instrument_out_of_calibration``: no certificate of the measurement's instrument covers
      the day it was taken (calibrated_on <= day <= due_on), or the instrument, or the time, is
      not recorded (ISO/IEC 17025 6.4.13: equipment is to be calibrated when used).
    * ``operator_not_qualified``: the operator holds no qualification for the characteristic
      valid that day, or the operator or time is not recorded (ISO/IEC 17025 6.2.5-6.2.6).
    * ``outside_instrument_range``: the value lies outside the instrument's range, when
      ``instruments`` gives it; an instrument missing from ``instruments`` is out of calibration.

    A record that cannot show the measurement was valid counts against it: the flags say "not
    demonstrated", not "demonstrated invalid". ``reason`` spells out the flags in words.
    Rows keep their order; ``row`` numbers them from 1.
    """
    return queries.measurement_flags(
        _kind(measurements, "measurements"),
        _kind(instruments, "instruments") if instruments is not None else None,
        _kind(calibrations, "calibrations"),
        _kind(qualifications, "qualifications"),
    )


def affected_lots(flags: pa.Table) -> pa.Table:
    """One row per lot with at least one flagged measurement (of :func:`flag_measurements`).

    Columns: lot_id, measurements, flagged, out_of_calibration, not_qualified,
    outside_range, wafers (the flagged wafers), first and last flagged measured_at.
    """
    needed = {"lot_id", "instrument_out_of_calibration", "operator_not_qualified", "outside_instrument_range"}
    if not needed <= set(flags.column_names):
        raise MetrologyError("affected_lots needs the table returned by flag_measurements")
    return queries.flagged_lots(flags)


# --------------------------------------------------------------------------------------------
# traceability


@dataclass(frozen=True)
class TraceabilityChain:
    """The certificates from one up to a national standard, and what breaks the chain.

    ``links`` are certificate ids, starting with the one asked about. ``complete`` is True when
    the chain reaches a certificate naming a national standard and no problem was found.
    """

    links: tuple[str, ...]
    national_standard: str | None
    problems: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return self.national_standard is not None and not self.problems


def traceability_chain(
    certificate_id: str, calibrations: pa.Table, on: dt.date | None = None, require_accreditation: bool = True
) -> TraceabilityChain:
    """Follow ``traceable_to`` from a certificate up to a national standard (VIM 2.41, 2.42).

    Problems reported: a link to a certificate that is not in ``calibrations``; a loop; a
    certificate not valid on the day the calibration below it was made (for the first: on
    ``on``, when given); a ``reference_standard`` that is not the instrument of the next
    certificate; a certificate without accreditation (when ``require_accreditation``; national
    metrology institutes excepted); a chain ending without a national standard.
    """
    cal = _kind(calibrations, "calibrations")
    rows = {r["certificate_id"]: r for r in cal.to_pylist()}
    problems: list[str] = []
    links: list[str] = []
    current, needed_on = certificate_id, on
    below: dict | None = None
    if current not in rows:
        return TraceabilityChain((), None, (f"certificate {certificate_id} not found",))
    while True:
        if current in links:
            problems.append(f"certificate {current} appears twice: the chain loops")
            break
        row = rows.get(current)
        if row is None:
            problems.append(
                f"certificate {below['certificate_id']} is traceable to {current}, which is not on file"
            )
            break
        links.append(current)
        if (
            below is not None
            and below["reference_standard"]
            and below["reference_standard"] != row["instrument_id"]
        ):
            problems.append(
                f"certificate {below['certificate_id']} used standard {below['reference_standard']}, "
                f"but {current} calibrates {row['instrument_id']}"
            )
        if needed_on is not None and not (row["calibrated_on"] <= needed_on <= row["due_on"]):
            problems.append(
                f"certificate {current} ({row['calibrated_on']} to {row['due_on']}) was not valid on {needed_on}"
            )
        if require_accreditation and not row["accreditation"] and not row["national_standard"]:
            problems.append(
                f"certificate {current} was issued by {row['lab'] or 'a lab'} without accreditation"
            )
        if row["national_standard"]:
            return TraceabilityChain(tuple(links), row["national_standard"], tuple(problems))
        if row["traceable_to"] is None:
            problems.append(
                f"certificate {current} links to no higher standard and names no national standard"
            )
            break
        # The standard's own certificate had to be valid when it was used to calibrate this one.
        below, needed_on, current = row, row["calibrated_on"], row["traceable_to"]
    return TraceabilityChain(tuple(links), None, tuple(problems))


# --------------------------------------------------------------------------------------------
# from the lake: parametric test results


def _parametric(tidy: pa.Table, test_types: Sequence[str]) -> pa.Table:
    needed = {"lot_id", "wafer_id", "x", "y", "test_num", "test_name", "test_type", "result", "units"}
    absent = sorted(needed - set(tidy.column_names))
    if absent:
        raise MetrologyError(f"tidy table lacks column(s) {', '.join(absent)} (see silicio.stdf.tidy)")
    keep = pc.is_in(tidy.column("test_type"), pa.array(list(test_types), pa.string()))
    return tidy.filter(keep)


def characteristics_from_tidy(tidy: pa.Table, test_types: Sequence[str] = ("P",)) -> pa.Table:
    """One characteristic per parametric test of a tidy STDF table (:mod:`silicio.stdf.tidy`).

    The name is the test name (with " #<test_num>" appended when several test numbers share a
    name, or the number alone when the name is empty); unit and limits are the test's units,
    lo_limit and hi_limit, the most frequent set when they changed between files. STDF has no
    nominal: it is left empty. Rows in order of test number.
    """
    return conform(queries.parametric_characteristics(_parametric(tidy, test_types)), "characteristics")


def measurements_from_tidy(
    tidy: pa.Table,
    test_types: Sequence[str] = ("P",),
    *,
    instrument_id: str | None = None,
    measured_at: dt.datetime | None = None,
    last_test_only: bool = True,
) -> pa.Table:
    """The results of a tidy STDF table's parametric tests as measurements.

    Characteristic names are those of :func:`characteristics_from_tidy`; x, y are the die
    coordinates; invalid (null) results are dropped, and so are results of a retested die
    superseded by a later one when ``last_test_only``. The tester and the time are not in the
    tidy view: give them as ``instrument_id`` and ``measured_at`` when known. Rows keep the
    tidy table's order.
    """
    out = conform(
        queries.parametric_measurements(_parametric(tidy, test_types), last_test_only), "measurements"
    )
    if instrument_id is not None:
        i = out.column_names.index("instrument_id")
        out = out.set_column(i, "instrument_id", pa.array([instrument_id] * out.num_rows, pa.string()))
    if measured_at is not None:
        i = out.column_names.index("measured_at")
        out = out.set_column(i, "measured_at", pa.array([measured_at] * out.num_rows, pa.timestamp("us")))
    return out
