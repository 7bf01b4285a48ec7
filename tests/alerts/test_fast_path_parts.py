"""The pieces the rules at ingest count with numpy or Arrow instead of polars (a polars operation
wakes its threads, which cost more CPU than a lot's count): each against polars' own operation,
or a count written out here, on inputs with the awkward cases (duplicates, nulls, several
wafers, values out of order); and the catalog the evaluations at ingest keep for the process."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from silicio.alerts.base import last_of_each
from silicio.alerts.ingested import _judged_rows, final_bin_rows, value_codes


def _parts(rng, n=4000, wafers=("W1", "W2", "W10")):
    return pl.DataFrame({
        "wafer_id": rng.choice(wafers, n),
        "hard_bin": rng.integers(1, 9, n).astype(np.uint16),
        "soft_bin": rng.choice([1, 2, 300, 65535], n).astype(np.uint16),
        "passed": rng.random(n) < 0.8,
        "is_last_test": rng.random(n) < 0.9,
    })  # fmt: skip


def _as_counted(rows):
    return sorted(
        (r["lot"], r["wafer_id"], r["hard_bin"], r["soft_bin"], r["passed"], r["dies"]) for r in rows
    )


def test_final_bin_rows_count_what_polars_groups():
    parts = _parts(np.random.default_rng(3))
    rows = final_bin_rows(parts, "L1")
    assert isinstance(rows, list)  # the numpy way
    expected = (
        parts.filter(pl.col("is_last_test"))
        .group_by("wafer_id", "hard_bin", "soft_bin", "passed")
        .agg(pl.len().alias("dies"))
        .with_columns(pl.lit("L1").alias("lot"))
        .select("lot", "wafer_id", "hard_bin", "soft_bin", "passed", "dies")
    )
    assert _as_counted(rows) == sorted(expected.iter_rows())
    assert sum(r["dies"] for r in rows) == int(parts["is_last_test"].sum())
    assert {r["soft_bin"] for r in rows} == {1, 2, 300, 65535}  # the widest bin survives the key


def test_final_bin_rows_with_nulls_are_grouped_by_polars_nulls_a_group_of_their_own():
    parts = pl.DataFrame({"wafer_id": ["W1", None, None, "W1"], "hard_bin": [1, 1, 1, None],
                          "soft_bin": [1, 1, 1, 2], "passed": [True, True, True, False],
                          "is_last_test": [True, True, True, True]},
                         schema_overrides={"hard_bin": pl.UInt16, "soft_bin": pl.UInt16})  # fmt: skip
    counted = final_bin_rows(parts, "L1")
    assert isinstance(counted, pl.DataFrame)
    assert sorted(counted.iter_rows(), key=str) == sorted(
        [("L1", "W1", 1, 1, True, 1), ("L1", None, 1, 1, True, 2), ("L1", "W1", None, 2, False, 1)], key=str
    )


def test_judge_lot_gives_the_same_flags_from_rows_as_from_a_table():
    from silicio.yields.history import _count_rows

    parts = _parts(np.random.default_rng(5))
    rows = final_bin_rows(parts, "L1")
    table = pl.DataFrame(rows)
    assert sorted(map(str, _count_rows(rows, "L1"))) == sorted(map(str, _count_rows(table, "L1")))
    assert _count_rows(rows, "other") == []
    with pytest.raises(ValueError, match="dies"):
        _count_rows([{k: v for k, v in rows[0].items() if k != "dies"}], "L1")
    with pytest.raises(ValueError, match="lack the column.s. dies; expected"):  # a frame, said alike
        _count_rows(table.drop("dies"), "L1")


def test_judge_lots_python_count_is_the_baselines_polars_count():
    """judge_lot's yields and fallout of one lot (plain Python over its rows) and the baselines'
    (scope_yields, scope_bin_fallout: polars): the same rows in the same order, a die without a
    verdict not good and in its bin's fallout, dies outside wafers out of the wafer scope."""
    from silicio.yields.history import (
        _count_rows,
        _fallout_rows,
        _yield_rows,
        scope_bin_fallout,
        scope_yields,
    )

    rng = np.random.default_rng(8)
    n = 300
    frame = pl.DataFrame({
        "lot": ["L1"] * n,
        "wafer_id": [None if w == 3 else f"W{w}" for w in rng.integers(0, 4, n)],
        "hard_bin": rng.integers(1, 4, n), "soft_bin": [None if b == 9 else int(b) for b in rng.integers(1, 10, n)],
        "passed": [None if p == 2 else bool(p) for p in rng.integers(0, 3, n)], "dies": rng.integers(0, 5, n),
    })  # fmt: skip
    rows = _count_rows(frame, "L1")
    for scope in ("lot", "wafer"):
        assert _yield_rows(rows, scope) == scope_yields(frame, scope).to_dicts()
        fallout = scope_bin_fallout(frame, scope, "soft_bin")
        assert fallout.height > 0
        counted = _fallout_rows(rows, scope, "soft_bin")
        # the counts equal; the fallout within an ulp (polars' integer division is not always
        # Python's correctly rounded one: 35 / 601 ends ...577 in Python, ...578 in polars)
        assert [{**r, "fallout": None} for r in counted] == [
            {**r, "fallout": None} for r in fallout.to_dicts()
        ]
        assert [r["fallout"] for r in counted] == pytest.approx(
            fallout["fallout"].to_list(), rel=1e-15, abs=0
        )


def test_last_of_each_is_polars_is_last_distinct():
    values = np.random.default_rng(1).integers(0, 50, 500)
    expected = pl.Series(values).is_last_distinct().to_numpy()
    np.testing.assert_array_equal(last_of_each(values), expected)
    np.testing.assert_array_equal(last_of_each(np.array([7, 7, 3, 7])), [False, False, True, True])
    assert last_of_each(np.zeros(0, np.int64)).size == 0


def test_value_codes_code_equal_values_alike_through_any_dictionary():
    texts = ["b", "a", None, "b", "c", None, "a"]
    plain = pa.chunked_array([pa.array(texts[:3]), pa.array(texts[3:])])
    # a dictionary holding "a" twice (as one read from several pages may): still one code
    doubled = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 0, 3, None, 2], pa.int32()),
                                             pa.array(["b", "a", "a", "c"]))  # fmt: skip
    for column in (plain, doubled, pa.chunked_array([doubled])):
        codes, values = value_codes(column)
        assert [values[c] for c in codes] == texts
        assert len(values) == len(set(values)) == 4  # b, a, c and null
    codes, values = value_codes(pa.array(["x", "y", "x"]).dictionary_encode())
    assert codes.tolist() == [0, 1, 0] and values == ["x", "y"]


def test_judged_rows_are_the_conditions_of_the_pat_count():
    rng = np.random.default_rng(11)
    n = 3000
    last, passed = rng.random(n) < 0.8, rng.random(n) < 0.9
    value = np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)).astype(np.float32)
    value[:3] = [np.inf, -np.inf, np.nan]
    type_code = rng.integers(0, 3, n).astype(np.int32)
    type_ok = np.array([True, False, True])
    flags = rng.integers(0, 256, n).astype(np.uint8)
    expected = last & passed & np.isfinite(value) & type_ok[type_code]
    np.testing.assert_array_equal(_judged_rows(last, passed, value, type_code, type_ok, np.zeros(0, np.uint8), 0, np.empty(n, np.bool_)),
                                  expected)  # fmt: skip
    np.testing.assert_array_equal(_judged_rows(last, passed, value, type_code, type_ok, flags, 0x40, np.empty(n, np.bool_)),
                                  expected & (flags & 0x40 == 0))  # fmt: skip
    assert expected.sum() > 1000 and (expected & (flags & 0x40 != 0)).sum() > 100


def test_stored_static_limits_make_the_table_polars_makes_of_them():
    from silicio.yields.history import _pat_table
    from silicio.yields.pat import STATIC_SCHEMA

    rows = [{"test_num": 1000, "test_name": "VDD", "pin": None, "n_lots": 6, "n_parts": 12000, "robust_mean": 1.5,
             "q1": 1.4, "q3": 1.6, "robust_sigma": 0.07, "sigma_source": "iqr", "lsl": 1.0, "usl": None,
             "pat_lo": 1.29, "pat_hi": 1.71, "clamped_lo": False, "clamped_hi": True, "skipped": False,
             "reason": None},
            {"test_num": 4_000_000_000, "test_name": "ÎDDQ", "pin": 65535, "n_lots": 0, "n_parts": 0,
             "robust_mean": None, "q1": None, "q3": None, "robust_sigma": None, "sigma_source": None, "lsl": None,
             "usl": None, "pat_lo": None, "pat_hi": None, "clamped_lo": False, "clamped_hi": False, "skipped": True,
             "reason": "too few lots"}]  # fmt: skip
    expected = pl.DataFrame(rows, schema=STATIC_SCHEMA, orient="row").to_arrow()
    made = _pat_table(rows)
    assert made.schema == expected.schema and made.equals(expected)
    assert _pat_table([]).equals(pl.DataFrame([], schema=STATIC_SCHEMA, orient="row").to_arrow())


def test_wafer_codes_are_kept_for_the_frame_asked_about_only():
    from silicio.alerts.ingested import wafer_codes

    first = pl.DataFrame({"wafer_id": ["W2", "W1", "W2"]})
    second = pl.DataFrame({"wafer_id": ["W9", "W9", "W1"]})
    codes, values = wafer_codes(first)
    assert [values[c] for c in codes] == ["W2", "W1", "W2"]
    assert wafer_codes(first)[0] is codes  # the same frame: not coded again
    codes, values = wafer_codes(second)
    assert [values[c] for c in codes] == ["W9", "W9", "W1"]


def test_as_array_fills_nulls_even_with_a_value_outside_the_type():
    from silicio.alerts.ingested import as_array

    assert as_array(pl.Series([True, None, False]), False).tolist() == [True, False, False]
    assert as_array(pl.Series([3, None], dtype=pl.UInt16), -1).tolist() == [3, -1]
    assert as_array(pl.Series([None, None], dtype=pl.Int64), 0).tolist() == [0, 0]
    assert as_array(pl.Series([1.5, 2.0]), np.nan).tolist() == [1.5, 2.0]


def test_final_yield_of_a_file_with_retests_inside_it(tmp_path):
    """A lot of one file whose dies are tested again further on in it (not in order): the final
    yield at ingest (the file's is_last_test) is each die's last verdict, counted here by
    coordinates, and what the retest rule over the parts' die keys gives."""
    from silicio import lake as silicio_lake
    from silicio.alerts import context_of_ingest
    from silicio.alerts.base import _final_yields
    from silicio.lake.query import Lake
    from silicio.stdf.writer import StdfWriter

    rng = np.random.default_rng(11)
    dies = [(x, y) for x in range(6) for y in range(5)]
    order = dies + [dies[i] for i in rng.choice(len(dies), 12, replace=False)]  # 12 retests, shuffled
    verdicts = [bool(v) for v in rng.integers(0, 2, len(order))]
    path = tmp_path / "retested.stdf"
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=1_700_000_000, START_T=1_700_000_000, STAT_NUM=1, MODE_COD="P", RTST_COD="N",
                   LOT_ID="RT01", PART_TYP="P1", NODE_NAM="t", TSTR_TYP="x", JOB_NAM="J", JOB_REV="1",
                   TEST_COD="WS1")  # fmt: skip
        out.record("WIR", HEAD_NUM=1, SITE_GRP=255, START_T=1_700_000_000, WAFER_ID="W1")
        for (x, y), good in zip(order, verdicts, strict=True):
            out.record("PIR", HEAD_NUM=1, SITE_NUM=1)
            out.record("PRR", HEAD_NUM=1, SITE_NUM=1, PART_FLG=0 if good else 0x08, NUM_TEST=0, HARD_BIN=1,
                       SOFT_BIN=1 if good else 2, X_COORD=x, Y_COORD=y, TEST_T=1, PART_ID="")  # fmt: skip
        out.record("WRR", HEAD_NUM=1, SITE_GRP=255, FINISH_T=1_700_000_100, PART_CNT=len(order), GOOD_CNT=0,
                   WAFER_ID="W1")  # fmt: skip
        out.record("MRR", FINISH_T=1_700_000_200)
    final = dict(zip(order, verdicts, strict=True))  # the last verdict of each die
    report = silicio_lake.ingest([str(path)], tmp_path / "data", workers=1)
    assert report.ok
    with Lake(tmp_path / "data") as lake:
        context = context_of_ingest(lake, report)
        ((product, lot, stage),) = context.lot_keys()
        index = context.ingested.lot_index([(product, lot, stage)])
        parts = context.lot_parts(lot, stage)
        assert parts.height == len(order)
        assert (last_of_each(parts["die_key"].to_numpy()) == parts["is_last_test"].to_numpy()).all()
        yields = _final_yields(context, index)
    assert yields["final_yield"].to_list() == [sum(final.values()) / len(final)]


def test_kept_frame_takes_texts_as_polars_reads_them_of_every_arrow_text_type():
    from silicio.alerts.ingested import _kept_frame

    texts = ["W1", None, "a text longer than twelve bytes", ""]
    table = pa.table({
        "plain": pa.array(texts), "large": pa.array(texts, pa.large_string()),
        "coded": pa.array(texts).dictionary_encode(), "none": pa.nulls(4, pa.string()),
        "number": pa.array([1, None, 3, 4], pa.uint16()),
    })  # fmt: skip
    frame = _kept_frame(table, None)
    assert frame.schema == pl.Schema({"plain": pl.String, "large": pl.String, "coded": pl.String,
                                      "none": pl.String, "number": pl.UInt16})  # fmt: skip
    assert frame.to_dict(as_series=False) == {**{c: texts for c in ("plain", "large", "coded")},
                                              "none": [None] * 4, "number": [1, None, 3, 4]}  # fmt: skip
    assert _kept_frame(table, ("number", "plain")).columns == ["number", "plain"]
    assert _kept_frame(table, ("plain", "missing")) is None


@pytest.mark.parametrize("text_type", [pa.string(), pa.large_string(), pa.string_view()])
def test_value_codes_of_values_in_runs_are_those_of_each_row_by_first_appearance(text_type):
    """Wafer ids as a lot's parts hold them (runs, a wafer tested again later, runs of one row),
    and the same values shuffled (short runs): each row's code, the values in order of first
    appearance, as a Python dictionary codes them row by row."""
    rng = np.random.default_rng(4)
    runs = ["W1", "W2", "W10", "W2", "W3", "W1", "W4"]
    lengths = [500, 300, 1, 400, 2, 700, 1]
    in_runs = [w for w, n in zip(runs, lengths, strict=True) for _ in range(n)]
    for texts in (in_runs, list(rng.permutation(in_runs))):
        codes, values = value_codes(pa.array(texts, text_type))
        code_of: dict[str, int] = {}
        expected = [code_of.setdefault(t, len(code_of)) for t in texts]
        assert codes.tolist() == expected and values == list(code_of)
    codes, values = value_codes(
        pa.chunked_array([pa.array(in_runs[:900], text_type), pa.array(in_runs[900:], text_type)])
    )
    assert [values[c] for c in codes] == in_runs
    assert value_codes(pa.array(["W1"], text_type))[1] == ["W1"]
