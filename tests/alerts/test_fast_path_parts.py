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
from silicio.alerts.ingested import final_lot_counts, value_codes


def _parts(rng, n=4000, wafers=("W1", "W2", "W10")):
    return pl.DataFrame({
        "wafer_id": rng.choice(wafers, n),
        "hard_bin": rng.integers(1, 9, n).astype(np.uint16),
        "soft_bin": rng.choice([1, 2, 300, 65535], n).astype(np.uint16),
        "passed": rng.random(n) < 0.8,
        "is_last_test": rng.random(n) < 0.9,
    })  # fmt: skip


def _dies_by_polars(parts, bin_column):
    """(wafer_id, bin, passed) -> final dies, grouped by polars (a null its own group)."""
    grouped = parts.filter(pl.col("is_last_test")).group_by("wafer_id", bin_column, "passed").agg(pl.len())
    return {(w, b, p): n for w, b, p, n in grouped.iter_rows()}


def _dies_of(counts):
    """(wafer_id, bin, passed) -> dies of LotCounts (bin -1: null)."""
    out = {}
    for wafer, bin_, passed, dies in zip(counts.wafer.tolist(), counts.bin.tolist(), counts.passed.tolist(),
                                         counts.dies.tolist(), strict=True):  # fmt: skip
        key = (counts.wafers[wafer] if wafer >= 0 else None, None if bin_ < 0 else bin_, passed)
        out[key] = out.get(key, 0) + dies
    return out


@pytest.mark.parametrize("bin_column", ["hard_bin", "soft_bin"])
def test_final_lot_counts_count_what_polars_groups(bin_column):
    from silicio.alerts.ingested import _count_final_bins, wafer_codes

    parts = _parts(np.random.default_rng(3))
    wafer, wafers = wafer_codes(parts)
    assert _count_final_bins(parts["is_last_test"].to_numpy(), wafer.astype(np.int64), len(wafers),
                             parts["hard_bin"].to_numpy(), parts["soft_bin"].to_numpy(),
                             parts["passed"].to_numpy()) is not None  # the compiled count  # fmt: skip
    counted = final_lot_counts(parts, "L1", bin_column)
    assert counted.wafers == ["W1", "W10", "W2"]  # in order of id
    assert _dies_of(counted) == _dies_by_polars(parts, bin_column)
    assert int(counted.dies.sum()) == int(parts["is_last_test"].sum())
    if bin_column == "soft_bin":
        assert set(counted.bin.tolist()) == {1, 2, 300, 65535}  # the widest bin survives the ranks
    none = final_lot_counts(parts.with_columns(pl.lit(False).alias("is_last_test")), "L1", bin_column)
    assert none.dies.size == 0 and none.wafers == []


def test_final_lot_counts_of_too_many_bins_for_a_table_are_grouped_by_polars():
    """A soft bin a part (80 wafers x 8 hard bins x 1,000 soft bins x 2 verdicts: more slots than
    the table holds): the same counts, by polars."""
    rng = np.random.default_rng(6)
    parts = pl.DataFrame({
        "wafer_id": [f"W{w}" for w in rng.integers(0, 80, 1000)], "hard_bin": np.arange(1000, dtype=np.uint16) % 8,
        "soft_bin": np.arange(1000, dtype=np.uint16), "passed": rng.random(1000) < 0.5,
        "is_last_test": np.ones(1000, np.bool_),
    })  # fmt: skip
    for bin_column in ("hard_bin", "soft_bin"):
        assert _dies_of(final_lot_counts(parts, "L1", bin_column)) == _dies_by_polars(parts, bin_column)


def test_final_lot_counts_with_nulls_are_grouped_by_polars_nulls_a_group_of_their_own():
    parts = pl.DataFrame({"wafer_id": ["W1", None, None, "W1"], "hard_bin": [1, 1, 1, None],
                          "soft_bin": [1, 1, 1, 2], "passed": [True, True, True, False],
                          "is_last_test": [True, True, True, True]},
                         schema_overrides={"hard_bin": pl.UInt16, "soft_bin": pl.UInt16})  # fmt: skip
    counted = final_lot_counts(parts, "L1", "hard_bin")
    assert counted.wafers == ["W1"]
    assert _dies_of(counted) == {("W1", 1, True): 1, (None, 1, True): 2, ("W1", None, False): 1}


def _awkward_counts(seed: int, n: int = 300) -> pl.DataFrame:
    """Bin counts of lot L1 (and a few of L2) with dies outside wafers, dies without a bin or a
    verdict, and counts of no dies."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "lot": ["L2" if x < 0.05 else "L1" for x in rng.random(n)],
        "wafer_id": [None if w == 3 else f"W{w}" for w in rng.integers(0, 4, n)],
        "hard_bin": rng.integers(1, 4, n), "soft_bin": [None if b == 9 else int(b) for b in rng.integers(1, 10, n)],
        "passed": [None if p == 2 else bool(p) for p in rng.integers(0, 3, n)], "dies": rng.integers(0, 5, n),
    })  # fmt: skip


def test_judge_lots_numpy_count_is_the_baselines_polars_count():
    """judge_lot's yields and fallout of one lot (numpy over its rows) and the baselines'
    (scope_yields, scope_bin_fallout: polars): the same units, bins and counts in the same
    order, a die without a verdict not good and in its bin's fallout, dies outside wafers out of
    the wafer scope, other lots' rows left out."""
    from silicio.yields.history import _scope_counts, lot_counts, scope_bin_fallout, scope_yields

    frame = _awkward_counts(8)
    of_lot = frame.filter(pl.col("lot") == "L1")
    for given in (frame, frame.to_arrow()):
        counts = lot_counts(given, "L1", "soft_bin")
        for scope in ("lot", "wafer"):
            of = _scope_counts(counts, scope)
            yields = scope_yields(of_lot, scope)
            assert of.wafers == (yields["wafer_id"].to_list() if scope == "wafer" else [None])
            assert (
                of.parts.tolist() == yields["parts"].to_list()
                and of.good.tolist() == yields["good"].to_list()
            )
            assert of.yields.tolist() == yields["yield"].to_list()
            fallout = scope_bin_fallout(of_lot, scope, "soft_bin")
            assert fallout.height > 0
            assert of.bins.tolist() == fallout["bin"].unique(maintain_order=True).to_list()
            assert of.n_bin.ravel().tolist() == fallout["n_bin"].to_list()
            # within an ulp (polars' integer division is not always the correctly rounded one:
            # 35 / 601 ends ...577 correctly rounded, ...578 in polars)
            assert of.fallout.ravel().tolist() == pytest.approx(
                fallout["fallout"].to_list(), rel=1e-15, abs=0
            )
    with pytest.raises(ValueError, match="lack the column.s. dies; expected"):
        lot_counts(frame.drop("dies"), "L1", "soft_bin")


def test_judge_lot_flags_the_crossings_found_by_the_baselines_polars_count():
    """judge_lot's flags of a lot with awkward counts against limits between its units' values:
    each unit and bin whose yield (fallout) is below (above) a limit, found here from
    scope_yields and scope_bin_fallout, in the order lot then wafers, yield then bins."""
    from datetime import UTC, date, datetime

    from silicio.yields.history import (
        YIELD_LIMIT_COLUMNS,
        Baseline,
        BaselineKey,
        BaselineLot,
        judge_lot,
        scope_bin_fallout,
        scope_yields,
    )

    frame = _awkward_counts(9)
    of_lot = frame.filter(pl.col("lot") == "L1")
    limits, expected = [], []
    for scope in ("lot", "wafer"):
        yields = scope_yields(of_lot, scope).to_dicts()
        values = sorted(r["yield"] for r in yields)
        syl = {
            "limit1": values[-1] - 1e-9,
            "limit2": values[len(values) // 2],
        }  # SYL1 all but the best, SYL2 half
        limits.append({"scope": scope, "kind": "SYL", "bin": None, "mean": 0.5, "sigma": 0.1, **syl})
        fallout = scope_bin_fallout(of_lot, scope, "soft_bin").to_dicts()
        sbl = {}
        for b in sorted({r["bin"] for r in fallout})[:-1]:  # the last bin without limits
            shares = sorted(r["fallout"] for r in fallout if r["bin"] == b)
            sbl[b] = {"limit1": shares[0], "limit2": shares[-1] - 1e-9}
            limits.append({"scope": scope, "kind": "SBL", "bin": b, "mean": 0.1, "sigma": 0.01, **sbl[b]})
        for r in yields:
            rule = 2 if r["yield"] < syl["limit2"] else 1 if r["yield"] < syl["limit1"] else 0
            if rule:
                expected.append((scope, r.get("wafer_id"), f"SYL{rule}", None, r["parts"], r["good"]))
        for r in fallout:
            bounds = sbl.get(r["bin"])
            rule = bounds and (
                2 if r["fallout"] > bounds["limit2"] else 1 if r["fallout"] > bounds["limit1"] else 0
            )
            if rule:
                expected.append((scope, r.get("wafer_id"), f"SBL{rule}", r["bin"], r["parts"], r["n_bin"]))
    table = pa.Table.from_pylist(
        [{**r, "n_lots": 6, "n_values": 6} for r in limits], schema=YIELD_LIMIT_COLUMNS
    )
    baseline = Baseline(BaselineKey("P", "ws", "J", "1"), 1, datetime(2026, 1, 1, tzinfo=UTC), date(2026, 7, 1),
                        {"bin_column": "soft_bin"}, (BaselineLot("H1", datetime(2025, 1, 1, tzinfo=UTC), 9, 8),),
                        table)  # fmt: skip
    flags = judge_lot(baseline, frame, "L1").to_pylist()
    assert [
        (f["scope"], f["wafer_id"], f["rule"], f["bin"], f["parts"], f["count"]) for f in flags
    ] == expected
    assert {f["rule"] for f in flags} == {"SYL1", "SYL2", "SBL1", "SBL2"}
    assert judge_lot(baseline, frame.to_arrow(), "L1").equals(judge_lot(baseline, frame, "L1"))


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


def test_the_pat_count_judges_the_passing_parts_last_parametric_results_alarms_aside():
    """With static limits no value is inside, the PAT count's outliers are its judged results:
    against the conditions written out with numpy, on chunks with nulls in every column it reads,
    chunks without, and chunks of one column all null."""
    from dataclasses import replace

    from silicio.alerts.ingested import _Chunks, _outlier_rows, _StaticLimits
    from silicio.yields import disposition as rules
    from silicio.yields.pat import TEST_FLG_ALARM

    rng = np.random.default_rng(11)
    n, chunk = 3000, 500

    def nulls(first, last, share=0.1):  # nulls in rows first..last only (all of them: share 1)
        rows = np.arange(n)
        return (rows >= first) & (rows < last) & (rng.random(n) < share)

    last, passed = rng.random(n) < 0.8, rng.random(n) < 0.9
    value = np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)).astype(np.float32)
    value[:3] = [np.inf, -np.inf, np.nan]
    kind = rng.choice(["P", "F", "M"], n)
    flags = rng.integers(0, 256, n).astype(np.uint8)
    masks = {"last": nulls(0, 1000), "passed": nulls(500, 1500), "value": nulls(1000, 2000) | nulls(2500, 3000, 1),
             "kind": nulls(0, 500), "flags": nulls(1500, 2000) | nulls(2000, 2500, 1), "part": nulls(2000, 3000)}  # fmt: skip
    table = pa.Table.from_batches(pa.table({
        "wafer_id": ["W1"] * n, "part_index": pa.array(np.arange(n), mask=masks["part"]),
        "test_num": pa.array([1000] * n, pa.uint32()), "test_name": ["T"] * n, "pin": pa.nulls(n, pa.uint16()),
        "test_type": pa.array(kind, mask=masks["kind"]), "result": pa.array(value, mask=masks["value"]),
        "lo_limit": pa.nulls(n, pa.float64()), "hi_limit": pa.nulls(n, pa.float64()),
        "part_passed": pa.array(passed, mask=masks["passed"]), "is_last_test": pa.array(last, mask=masks["last"]),
        "test_flg": pa.array(flags, mask=masks["flags"]),
    }).to_batches(max_chunksize=chunk))  # fmt: skip
    assert table["result"].chunk(5).null_count == chunk and table["test_flg"].chunk(4).null_count == chunk

    judged = (last & ~masks["last"]) & (passed & ~masks["passed"]) & ~masks["part"] & np.isfinite(value)
    judged &= ~masks["value"] & np.isin(kind, ["P", "M"]) & ~masks["kind"]
    (params,) = [p for name, p in rules.default_recipe().rules if name == "pat"]
    everything_outside = _StaticLimits([(1000, "T", None)], np.array([np.inf]), np.array([np.inf]))
    for alarmed, expected in (
        ("include", judged),
        ("exclude", judged & ((flags & TEST_FLG_ALARM == 0) | masks["flags"])),
    ):
        found = _outlier_rows(
            _Chunks(table), everything_outside, replace(params, alarmed=alarmed, dynamic=None)
        )
        np.testing.assert_array_equal(np.sort(found), np.flatnonzero(expected))
    assert judged.sum() > 1000 and (judged & (flags & TEST_FLG_ALARM != 0) & ~masks["flags"]).sum() > 50


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


def test_column_arrays_are_kept_for_the_frame_asked_about_only_read_only():
    from silicio.alerts.ingested import column_array

    first = pl.DataFrame({"passed": [True, False, True], "x": pl.Series([3, None, 1], dtype=pl.Int16)})
    passed = column_array(first, "passed", False)
    assert passed.tolist() == [True, False, True] and not passed.flags.writeable
    assert column_array(first, "passed", True) is passed  # no nulls: the same array for any fill
    assert column_array(first, "x", 0).tolist() == [3, 0, 1]
    assert column_array(first, "x", -1).tolist() == [3, -1, 1]  # with nulls: each fill its own
    with pytest.raises(ValueError, match="read-only"):
        passed &= False
    second = pl.DataFrame({"passed": [False, False, True]})
    assert column_array(second, "passed", False).tolist() == [False, False, True]


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
        keys = context.ingested.in_test_order([(product, lot, stage)])
        parts = context.lot_parts(lot, stage)
        assert parts.height == len(order)
        assert (last_of_each(parts["die_key"].to_numpy()) == parts["is_last_test"].to_numpy()).all()
        yields = _final_yields(context, keys)
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


def test_value_codes_of_numbers_in_runs_code_a_nan_once():
    codes, values = value_codes(pa.array([5] * 100 + [7] * 50 + [5] * 10, pa.uint16()))
    assert values == [5, 7] and codes.tolist() == [0] * 100 + [1] * 50 + [0] * 10
    codes, values = value_codes(pa.array([np.nan] + [2.0] * 100 + [np.nan] + [2.0] * 100))  # two runs of NaN
    assert len(values) == 2 and codes.tolist() == [0] + [1] * 100 + [0] + [1] * 100
