"""Queries over metrology records and the lake's parametric results, as DuckDB over Arrow tables.

The tables come in the schemas of :mod:`silicio.metrology.records` (conformed by the caller); what
the flags and names mean, and the standards behind them, is documented there. Each call runs on its
own single-threaded in-memory DuckDB connection: the tables are small, and the cores are left to
the rest of the process.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa


def _connect(**tables: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 1})
    for name, table in tables.items():
        con.register(name, table)
    return con


def measurement_flags(
    measurements: pa.Table, instruments: pa.Table | None, calibrations: pa.Table, qualifications: pa.Table
) -> pa.Table:
    """``row`` (1-based, in the measurements' order), the measurement's columns, then the booleans
    ``instrument_out_of_calibration``, ``operator_not_qualified``, ``outside_instrument_range`` and
    ``reason`` (the flags in words, null when none is set), in the measurements' order.

    An instrument, operator or time not recorded counts against the measurement; without
    ``instruments``, every instrument is known and no value is outside its range.
    """
    # Number the rows in Arrow, so that the order does not depend on the engine's.
    numbered = measurements.append_column("row", pa.array(range(1, measurements.num_rows + 1), pa.int64()))
    tables = {"m": numbered, "cal": calibrations, "qual": qualifications}
    known, outside = "true", "false"
    if instruments is not None:
        tables["inst"] = instruments
        known = "EXISTS (SELECT 1 FROM inst i WHERE i.instrument_id = m.instrument_id)"
        outside = (
            "COALESCE((SELECT bool_or(m.value < i.range_low OR m.value > i.range_high) "
            "FROM inst i WHERE i.instrument_id = m.instrument_id), false)"
        )
    with _connect(**tables) as con:
        return con.sql(f"""
        WITH base AS (
            SELECT m.*, CAST(m.measured_at AS DATE) AS day, {known} AS known_,
                   {outside} AS outside_instrument_range
            FROM m
        ), flagged AS (
            SELECT *,
                instrument_id IS NULL OR day IS NULL OR NOT known_ OR NOT EXISTS (
                    SELECT 1 FROM cal c WHERE c.instrument_id = base.instrument_id
                    AND base.day BETWEEN c.calibrated_on AND c.due_on
                ) AS instrument_out_of_calibration,
                operator IS NULL OR day IS NULL OR NOT EXISTS (
                    SELECT 1 FROM qual q WHERE q.operator = base.operator
                    AND q.characteristic = base.characteristic
                    AND base.day >= q.valid_from AND (q.valid_to IS NULL OR base.day <= q.valid_to)
                ) AS operator_not_qualified
            FROM base
        )
        SELECT row, * EXCLUDE (row, day, known_, instrument_out_of_calibration, operator_not_qualified,
                outside_instrument_range),
            instrument_out_of_calibration, operator_not_qualified, outside_instrument_range,
            NULLIF(concat_ws('; ',
                CASE WHEN instrument_out_of_calibration THEN
                    CASE WHEN instrument_id IS NULL THEN 'no instrument recorded'
                         WHEN day IS NULL THEN 'no measurement time recorded'
                         WHEN NOT known_ THEN 'instrument ' || instrument_id || ' unknown'
                         ELSE 'instrument ' || instrument_id || ' not calibrated on ' || CAST(day AS VARCHAR)
                    END END,
                CASE WHEN operator_not_qualified THEN
                    CASE WHEN operator IS NULL THEN 'no operator recorded'
                         WHEN day IS NULL THEN 'no measurement time recorded'
                         ELSE 'operator ' || operator || ' not qualified for ' || characteristic
                              || ' on ' || CAST(day AS VARCHAR)
                    END END,
                CASE WHEN outside_instrument_range THEN 'value outside the instrument range' END
            ), '') AS reason
        FROM flagged ORDER BY row
    """).to_arrow_table()


def flagged_lots(flags: pa.Table) -> pa.Table:
    """One row per lot with at least one flagged measurement, of a :func:`measurement_flags` table.

    Columns: lot_id, measurements, flagged, out_of_calibration, not_qualified, outside_range,
    wafers (the flagged wafers, sorted), first_flagged and last_flagged (measured_at). Rows in order
    of lot_id, a missing lot last.
    """
    with _connect(f=flags) as con:
        return con.sql("""
        WITH g AS (
            SELECT *, (instrument_out_of_calibration OR operator_not_qualified OR outside_instrument_range)
                AS flagged FROM f
        )
        SELECT lot_id,
            count(*) AS measurements,
            count(*) FILTER (WHERE flagged) AS flagged,
            count(*) FILTER (WHERE instrument_out_of_calibration) AS out_of_calibration,
            count(*) FILTER (WHERE operator_not_qualified) AS not_qualified,
            count(*) FILTER (WHERE outside_instrument_range) AS outside_range,
            list_sort(list_distinct(list(wafer_id) FILTER (WHERE flagged AND wafer_id IS NOT NULL))) AS wafers,
            min(measured_at) FILTER (WHERE flagged) AS first_flagged,
            max(measured_at) FILTER (WHERE flagged) AS last_flagged
        FROM g GROUP BY lot_id HAVING count(*) FILTER (WHERE flagged) > 0
        ORDER BY lot_id NULLS LAST
    """).to_arrow_table()


# The characteristic of each (test_num, test_name) of table ``t``, with its unit and limits: the most
# frequent (units, lo_limit, hi_limit) of the test; its name, made unique by the test number if needed.
_TEST_CHARACTERISTICS = """
    WITH limits AS (
        SELECT test_num, test_name, units, lo_limit, hi_limit, count(*) AS n FROM t GROUP BY ALL
    ), best AS (
        SELECT * FROM limits QUALIFY row_number() OVER (
            PARTITION BY test_num, test_name ORDER BY n DESC, lo_limit, hi_limit, units) = 1
    )
    SELECT test_num, test_name,
        CASE WHEN test_name IS NULL THEN CAST(test_num AS VARCHAR)
             WHEN count(*) OVER (PARTITION BY test_name) > 1 THEN test_name || ' #' || CAST(test_num AS VARCHAR)
             ELSE test_name END AS characteristic,
        units AS unit, lo_limit AS lsl, hi_limit AS usl
    FROM best
"""


def parametric_characteristics(tests: pa.Table) -> pa.Table:
    """One characteristic per (test_num, test_name) of a tidy table's rows (:mod:`silicio.stdf.tidy`):
    characteristic, unit, nominal (null: STDF has none), lsl, usl, test_num; in order of test number.

    The name is the test name, with " #<test_num>" appended when several test numbers share it, or
    the number alone when there is no name; unit and limits are the test's most frequent set.
    """
    with _connect(t=tests) as con:
        return con.sql(f"""
        SELECT characteristic, unit, CAST(NULL AS DOUBLE) AS nominal, lsl, usl, test_num
        FROM ({_TEST_CHARACTERISTICS}) ORDER BY test_num, characteristic
    """).to_arrow_table()


def parametric_measurements(tests: pa.Table, last_test_only: bool = True) -> pa.Table:
    """The non-null results of a tidy table's rows as measurements: characteristic (named as by
    :func:`parametric_characteristics`), value, lot_id, wafer_id, x, y; in the table's order.

    With ``last_test_only``, results a later test of the same die superseded are left out (rows whose
    ``is_last_test`` is false; a table without that column keeps them all).
    """
    numbered = tests.append_column("seq_", pa.array(range(tests.num_rows), pa.int64()))
    last = (
        "AND COALESCE(k.is_last_test, true)"
        if last_test_only and "is_last_test" in tests.column_names
        else ""
    )
    with _connect(t=numbered) as con:
        return con.sql(f"""
        SELECT n.characteristic, k.result AS value, k.lot_id, k.wafer_id, k.x, k.y
        FROM t k JOIN ({_TEST_CHARACTERISTICS}) n
            ON n.test_num = k.test_num AND n.test_name IS NOT DISTINCT FROM k.test_name
        WHERE k.result IS NOT NULL {last}
        ORDER BY k.seq_
    """).to_arrow_table()


__all__ = ["flagged_lots", "measurement_flags", "parametric_characteristics", "parametric_measurements"]
