"""Lot-report analyses: site yield test, retest recovery, bin switching, UPH, distributions, screened map.

Each result is checked against a computation written here from the definitions (or a published
worked example), on small hand-made tables, and for sanity on the shared galaxy / IG-XL files.
"""

from __future__ import annotations

import math
from collections import Counter
from importlib import resources

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from silicio.stdf import read, tidy
from silicio.stdf.parts import PARTS_SCHEMA, part_yield, parts
from silicio.stdf.tidy import TIDY_SCHEMA
from silicio.yields import screen
from silicio.yields.lot_analysis import (
    bin_switching,
    result_distributions,
    retest_recovery,
    screened_die_map,
    site_yield_test,
    throughput,
)
from tests.conftest import shared_stdf


def parts_table(rows: list[dict]) -> pa.Table:
    """A parts table (PARTS_SCHEMA) from a few fields per row; the rest null or defaulted."""
    defaults = {
        "lot_id": "L1",
        "wafer_id": "W1",
        "head": 1,
        "site": 1,
        "is_first_test": True,
        "is_last_test": True,
    }
    full = [defaults | {"part_index": i, "seq": i} | row for i, row in enumerate(rows)]
    return pa.Table.from_pylist(full, schema=PARTS_SCHEMA)


def lgamma_hypergeometric_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p of [[a, b], [c, d]]: the probability, with margins fixed, of the
    tables no more probable than the one observed (Agresti 2002, 3.5.1)."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def log_p(x: int) -> float:
        return (math.lgamma(row1 + 1) - math.lgamma(x + 1) - math.lgamma(row1 - x + 1)
                + math.lgamma(n - row1 + 1) - math.lgamma(col1 - x + 1) - math.lgamma(n - row1 - col1 + x + 1)
                - math.lgamma(n + 1) + math.lgamma(col1 + 1) + math.lgamma(n - col1 + 1))  # fmt: skip

    observed = log_p(a)
    support = range(max(0, col1 - (n - row1)), min(row1, col1) + 1)
    return min(1.0, sum(math.exp(log_p(x)) for x in support if log_p(x) <= observed + 1e-7))


def site_parts(counts: dict[int, tuple[int, int]]) -> pa.Table:
    """One first-tested die per part: site -> (good, failed)."""
    rows = []
    for site, (good, failed) in counts.items():
        rows += [{"site": site, "passed": True, "hard_bin": 1}] * good
        rows += [{"site": site, "passed": False, "hard_bin": 5}] * failed
    return parts_table([r | {"die_key": i} for i, r in enumerate(rows)])


# --------------------------------------------------------------------------------------------
# Per-site yield


# Agresti (2002), sec. 3.2 and 3.3 (party identification by gender, General Social Survey 2000),
# read as three sites with good = females and failed = males: X^2 = 30.1 with df = 2, and the
# standardized (adjusted) residuals of the female cells 4.50, 0.70, -5.32.
AGRESTI_PARTY = {1: (762, 484), 2: (327, 239), 3: (468, 477)}


def test_site_chi_square_matches_agresti_worked_example_and_numpy():
    result = site_yield_test(site_parts(AGRESTI_PARTY))
    observed = np.array([AGRESTI_PARTY[s] for s in (1, 2, 3)], float)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert result.chi2 == pytest.approx(chi2) and round(result.chi2, 1) == 30.1
    assert result.dof == 2
    # Chi-square survival with 2 df is exp(-x / 2).
    assert result.p_value == pytest.approx(math.exp(-chi2 / 2))
    assert result.min_expected == pytest.approx(expected.min()) and result.note is None
    residuals = result.sites.column("adjusted_residual").to_pylist()
    assert [round(r, 2) for r in residuals] == [4.50, 0.70, -5.32]
    assert (result.worst_head, result.worst_site) == (1, 3)
    assert result.worst_yield == pytest.approx(468 / 945)


def test_each_site_against_the_rest_is_fisher_exact_with_holm():
    result = site_yield_test(site_parts(AGRESTI_PARTY))
    sites = result.sites.to_pylist()
    good_all = sum(g for g, _ in AGRESTI_PARTY.values())
    fail_all = sum(f for _, f in AGRESTI_PARTY.values())
    p = []
    for row in sites:
        good, failed = AGRESTI_PARTY[row["site"]]
        p.append(lgamma_hypergeometric_p(good, failed, good_all - good, fail_all - failed))
    assert [r["p_vs_rest"] for r in sites] == pytest.approx(p, rel=1e-6)
    # Holm: sorted p times 3, 2, 1, then the running maximum.
    order = np.argsort(p)
    stepped = np.maximum.accumulate([min(1.0, (3 - i) * p[j]) for i, j in enumerate(order)])
    holm = np.empty(3)
    holm[order] = stepped
    assert [r["p_adjusted"] for r in sites] == pytest.approx(holm.tolist(), rel=1e-6)
    assert [r["differs"] for r in sites] == [bool(v < 0.05) for v in holm]
    assert sites[2]["differs"] and not sites[1]["differs"]
    bonferroni = site_yield_test(site_parts(AGRESTI_PARTY), correction="bonferroni").sites.to_pylist()
    assert [r["p_adjusted"] for r in bonferroni] == pytest.approx([min(1.0, 3 * v) for v in p], rel=1e-6)


def test_two_sites_with_few_parts_reproduce_the_tea_tasting_test():
    # Agresti (2002), sec. 3.5.2: Fisher's tea taster, [[3, 1], [1, 3]], two-sided P = 0.486.
    result = site_yield_test(site_parts({1: (3, 1), 2: (1, 3)}))
    sites = result.sites.to_pylist()
    assert [round(r["p_vs_rest"], 3) for r in sites] == [0.486, 0.486]
    assert [r["p_adjusted"] for r in sites] == pytest.approx([2 * sites[0]["p_vs_rest"]] * 2)
    assert result.min_expected == pytest.approx(2.0)
    assert "Cochran" in result.note and "approximate" in result.note


def test_one_site_says_the_comparison_does_not_apply():
    result = site_yield_test(site_parts({1: (8, 2)}))
    assert result.chi2 is None and result.p_value is None and result.dof == 0
    assert result.note == "one test site: a comparison between sites does not apply"
    assert result.sites.column("p_vs_rest").to_pylist() == [None]
    assert (result.worst_site, result.worst_yield) == (1, 0.8)


def test_sites_that_all_pass_cannot_differ():
    result = site_yield_test(site_parts({1: (4, 0), 2: (5, 0)}))
    assert result.p_value is None and "every part passed" in result.note
    assert result.sites.column("differs").to_pylist() == [None, None]


def test_site_yield_counts_first_pass_on_the_site_that_ran_it():
    # Die 7 fails on site 1 and passes its retest on site 2: a fail of site 1, nothing for site 2.
    table = parts_table([{"site": 1, "die_key": 1, "passed": True}, {"site": 2, "die_key": 2, "passed": True},
                         {"site": 1, "die_key": 7, "passed": False}, {"site": 2, "die_key": 7, "passed": True}])  # fmt: skip
    sites = site_yield_test(table).sites.to_pylist()
    assert [(r["site"], r["tested"], r["good"]) for r in sites] == [(1, 2, 1), (2, 1, 1)]


def test_site_yield_test_rejects_unknown_correction():
    with pytest.raises(ValueError, match="correction must be one of 'holm', 'bonferroni'"):
        site_yield_test(site_parts({1: (1, 1)}), correction="sidak")


# --------------------------------------------------------------------------------------------
# Retest recovery and bin switching

# A lot of two files, (die_key, passed, hard_bin) per insertion, in test order. Die 1 recovers,
# die 2 stays failed, die 3 is never retested, die 4 passes, die 5 fails twice then recovers,
# die 6 passes and is retested, die 8 fails bin 5 and fails its retest in bin 4; a part without
# die key (own die) fails; a part without a verdict is left out of recovery.
FIRST_FILE = [(1, False, 3), (2, False, 3), (3, False, 4), (4, True, 1), (5, False, 4), (6, True, 1),
              (8, False, 5), (None, False, 3), (9, None, 7)]  # fmt: skip
RETEST_FILE = [(1, True, 1), (2, False, 3), (5, False, 5), (6, True, 1), (8, False, 4), (5, True, 1)]


def lot_parts() -> pa.Table:
    rows = [
        {"die_key": k, "passed": p, "hard_bin": b, "soft_bin": 10 * b} for k, p, b in FIRST_FILE + RETEST_FILE
    ]
    return parts_table(rows)


def histories(insertions, with_verdict_only: bool):
    """die -> [(passed, bin), ...] in test order; a keyless part is a die of its own."""
    dies: dict = {}
    for i, (key, passed, bin_) in enumerate(insertions):
        if with_verdict_only and passed is None:
            continue
        dies.setdefault(key if key is not None else ("own", i), []).append((passed, bin_))
    return dies


def test_retest_recovery_counts_by_first_pass_bin():
    expected: dict = {}
    for tests in histories(FIRST_FILE + RETEST_FILE, True).values():
        passed, first_bin = tests[0]
        if passed:
            continue
        failing, retested, recovered = expected.get(first_bin, (0, 0, 0))
        again = len(tests) > 1
        expected[first_bin] = (failing + 1, retested + again, recovered + (again and tests[-1][0]))
    got = retest_recovery(lot_parts()).to_pylist()
    assert {
        r["first_bin"]: (r["failing_dies"], r["retested_dies"], r["recovered_dies"]) for r in got
    } == expected
    assert expected == {3: (3, 2, 1), 4: (2, 1, 1), 5: (1, 1, 0)}
    assert [r["first_bin"] for r in got] == [3, 4, 5]
    assert [r["recovery_rate"] for r in got] == [0.5, 1.0, 0.0]
    soft = retest_recovery(lot_parts(), kind="soft").to_pylist()
    assert [r["first_bin"] for r in soft] == [30, 40, 50]


def test_retest_recovery_follows_order_by():
    # The same insertions shuffled, with their test order in a column.
    table = lot_parts().append_column("order", pa.array(range(lot_parts().num_rows)))
    shuffled = table.take(pa.array(np.random.default_rng(3).permutation(table.num_rows)))
    assert retest_recovery(shuffled, order_by="order").equals(retest_recovery(lot_parts()))


def test_no_retests_gives_an_empty_recovery_table_with_its_schema():
    table = parts_table(
        [{"die_key": 1, "passed": False, "hard_bin": 3}, {"die_key": 2, "passed": True, "hard_bin": 1}]
    )
    got = retest_recovery(pl.from_arrow(table))
    assert got.num_rows == 0
    assert got.schema == pa.schema([("first_bin", pa.uint16()), ("failing_dies", pa.int64()),
                                    ("retested_dies", pa.int64()), ("recovered_dies", pa.int64()),
                                    ("recovery_rate", pa.float64())])  # fmt: skip


def test_bin_switching_counts_each_die_once_by_first_and_final_bin():
    dies = histories(FIRST_FILE + RETEST_FILE, False)
    expected = Counter((t[0][1], t[-1][1]) for t in dies.values())
    retested = Counter((t[0][1], t[-1][1]) for t in dies.values() if len(t) > 1)
    got = bin_switching(lot_parts()).to_pylist()
    assert {(r["first_bin"], r["final_bin"]): r["dies"] for r in got} == dict(expected)
    assert {(r["first_bin"], r["final_bin"]): r["retested_dies"] for r in got if r["retested_dies"]} == dict(
        retested
    )
    assert sum(r["dies"] for r in got) == len(dies) == 9
    assert [(r["first_bin"], r["final_bin"]) for r in got] == sorted(expected)


@pytest.fixture(scope="module")
def galaxy():
    tables = read(shared_stdf("galaxy_lot3_A530_BE.stdf"))
    return tables, parts(tables), tidy(tables)


def test_galaxy_recovery_and_switching_agree_with_the_parts(galaxy):
    tables, part_rows, _ = galaxy
    rows = part_rows.select(["die_key", "passed", "hard_bin"]).to_pylist()
    insertions = [(r["die_key"], r["passed"], r["hard_bin"]) for r in rows]
    dies = histories(insertions, True)
    recovered = sum(1 for t in dies.values() if not t[0][0] and len(t) > 1 and t[-1][0])
    recovery = retest_recovery(part_rows).to_pylist()
    yields = part_yield(part_rows)
    assert sum(r["failing_dies"] for r in recovery) == yields.dies - yields.first_pass_good
    assert sum(r["recovered_dies"] for r in recovery) == recovered > 0
    # 1619 PRRs of 1456 dies: the file holds its own retests.
    switching = bin_switching(part_rows).to_pylist()
    assert sum(r["dies"] for r in switching) == yields.dies == 1456
    assert sum(r["dies"] for r in switching if r["final_bin"] == 1) == yields.final_good


# --------------------------------------------------------------------------------------------
# Test time and units per hour


def timed_parts(test_t: list[list[int]], first_seq: int = 0) -> list[dict]:
    """Touchdowns of sites 1.. in PRR order: test_t[touchdown][site - 1] ms."""
    rows = []
    for touchdown in test_t:
        for site, ms in enumerate(touchdown, start=1):
            rows.append({"site": site, "test_t": ms, "passed": True, "seq": first_seq + len(rows)})
    return rows


def test_throughput_takes_the_slowest_site_of_each_touchdown():
    test_t = [[1000, 1200], [900, 1100], [1300, 1000]]
    table = parts_table(timed_parts(test_t))
    got = throughput(table, start_t=100, finish_t=110)
    touchdown_ms = sum(max(t) for t in test_t)
    assert got.touchdowns == 3 and got.parts_per_touchdown == 2.0
    assert got.mean_touchdown_ms == pytest.approx(touchdown_ms / 3)
    assert got.tester_uph == pytest.approx(3600 * 1000 * 2 / (touchdown_ms / 3))
    assert got.wall_clock_s == 10 and got.wall_clock_uph == pytest.approx(3600 * 6 / 10)
    times = np.array(test_t, float)
    assert got.mean_ms == pytest.approx(times.mean()) and got.median_ms == pytest.approx(np.median(times))
    per_site = got.per_site.to_pylist()
    assert [r["mean_ms"] for r in per_site] == pytest.approx(times.mean(axis=0).tolist())
    assert [r["median_ms"] for r in per_site] == pytest.approx(np.median(times, axis=0).tolist())
    assert got.notes == ()


def test_throughput_of_several_files_needs_their_file_column():
    first = [{**r, "file": "a"} for r in timed_parts([[1000, 1000], [2000, 1000]])]
    second = [{**r, "file": "b"} for r in timed_parts([[500, 700]])]  # seq starts again at 0
    table = pl.from_arrow(parts_table([{k: v for k, v in r.items() if k != "file"} for r in first + second]))
    table = table.with_columns(pl.Series("file", [r["file"] for r in first + second]))
    with pytest.raises(ValueError, match="seq repeats.*file_column="):
        throughput(table)
    got = throughput(table, file_column="file", start_t=[0, 100], finish_t=[5, 102])
    assert got.touchdowns == 3 and got.tester_uph == pytest.approx(3.6e6 * 6 / (1000 + 2000 + 700))
    assert got.wall_clock_s == 7 and got.wall_clock_uph == pytest.approx(3600 * 6 / 7)


def test_throughput_rejects_a_session_that_ends_before_it_starts():
    table = parts_table(timed_parts([[1000]]))
    with pytest.raises(ValueError, match="file 2: MIR.START_T 50 and MRR.FINISH_T 40"):
        throughput(table, start_t=[0, 50], finish_t=[10, 40])
    with pytest.raises(ValueError, match="pair up"):
        throughput(table, start_t=[0, 50], finish_t=[10])
    with pytest.raises(ValueError, match="both start_t"):
        throughput(table, start_t=0)


def test_igxl_four_sites_touchdowns_and_wall_clock():
    tables = read(shared_stdf("rabbi_IntegraFlex_IGXL_LE.stdf"))
    part_rows = parts(tables)
    start, finish = tables["MIR"]["START_T"][0].as_py(), tables["MRR"]["FINISH_T"][0].as_py()
    got = throughput(part_rows, start_t=start, finish_t=finish)
    # The file writes the four sites' PRRs of each touchdown together, sites 0..3.
    sites = part_rows.column("site").to_numpy()
    assert sites.tolist() == [0, 1, 2, 3] * 100
    by_touchdown = part_rows.column("test_t").to_numpy().astype(float).reshape(100, 4)
    assert got.touchdowns == 100 and got.parts_per_touchdown == 4.0
    assert got.tester_uph == pytest.approx(3.6e6 * 400 / by_touchdown.max(axis=1).sum())
    assert [r["parts"] for r in got.per_site.to_pylist()] == [100] * 4
    assert got.wall_clock_uph == pytest.approx(3600 * 400 / (finish - start))
    # Index time is in the wall clock, not in TEST_T.
    assert got.wall_clock_uph < got.tester_uph


def test_galaxy_has_no_test_time_but_a_wall_clock(galaxy):
    tables, part_rows, _ = galaxy
    start, finish = tables["MIR"]["START_T"][0].as_py(), tables["MRR"]["FINISH_T"][0].as_py()
    got = throughput(part_rows, start_t=start, finish_t=finish)
    assert got.timed_parts == 0 and got.tester_uph is None and got.per_site.num_rows == 0
    assert "no part has a TEST_T" in got.notes[0]
    assert got.parts == 1619 and got.wall_clock_uph == pytest.approx(3600 * 1619 / (finish - start))


# --------------------------------------------------------------------------------------------
# Distributions of the worst tests


def tidy_rows(values, last=None, flags=None, test_num=100, name="VDD") -> list[dict]:
    last = last or [True] * len(values)
    flags = flags or [0] * len(values)
    return [{"lot_id": "L1", "part_index": i, "test_num": test_num, "test_name": name, "test_type": "P",
             "result": v, "units": "V", "lo_limit": 0.5, "hi_limit": 12.0, "test_flg": f, "is_last_test": s}
            for i, (v, s, f) in enumerate(zip(values, last, flags, strict=True))]  # fmt: skip


def type7_quantile(sorted_values: list[float], p: float) -> float:
    """Hyndman & Fan type 7: interpolate at h = (n - 1) p."""
    h = (len(sorted_values) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def test_box_and_histogram_of_final_results():
    kept = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 100.0]
    # Superseded retest value, an invalid result and an alarmed one, besides the kept values.
    values = [*kept, 1000.0, None, 4.5]
    rows = tidy_rows(values, last=[True] * 11 + [False, True, True], flags=[0] * 13 + [0x01])
    rows += tidy_rows([50.0], test_num=200, name="IDD")
    table = pa.Table.from_pylist(rows, schema=TIDY_SCHEMA)
    got = result_distributions(table, [100], bins=4)
    (box,) = got.boxes.to_pylist()
    q1, med, q3 = (type7_quantile(sorted(kept), p) for p in (0.25, 0.5, 0.75))
    fences = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
    assert (box["test_num"], box["n"], box["alarmed"]) == (100, 11, 1)
    assert (box["units"], box["lo_limit"], box["hi_limit"]) == ("V", 0.5, 12.0)
    assert (box["min"], box["q1"], box["median"], box["q3"], box["max"]) == pytest.approx(
        (1, q1, med, q3, 100)
    )
    assert (box["lower_fence"], box["upper_fence"]) == pytest.approx(fences)
    assert (box["whisker_low"], box["whisker_high"], box["outliers"]) == (1.0, 10.0, [100.0])
    width = (100.0 - 1.0) / 4
    edges = [1.0 + i * width for i in range(5)]
    counts = [
        sum(1 for v in kept if edges[i] <= v < edges[i + 1] or (i == 3 and v == edges[4])) for i in range(4)
    ]
    hist = got.histograms.to_pylist()
    assert [h["count"] for h in hist] == counts == [10, 0, 0, 1]
    assert [h["lower"] for h in hist] == pytest.approx(edges[:4])
    assert [h["upper"] for h in hist] == pytest.approx(edges[1:])
    with_alarms = result_distributions(table, [100], bins=4, exclude_alarmed=False).boxes.to_pylist()[0]
    assert (with_alarms["n"], with_alarms["alarmed"]) == (12, 0)


def test_tests_chosen_by_a_table_of_keys_and_bins_capped():
    # Narrow spread and one far outlier: Freedman-Diaconis alone would ask for 65900 bins.
    values = [1.0 + 0.0001 * (i % 7) for i in range(200)] + [10.0]
    rows = tidy_rows(values, test_num=100, name="VDD") + tidy_rows([3.0, 4.0], test_num=100, name="OTHER")
    table = pa.Table.from_pylist(rows, schema=TIDY_SCHEMA)
    chosen = pa.table({"test_num": pa.array([100], pa.int64()), "test_name": ["VDD"]})
    got = result_distributions(table, chosen, bins="fd", max_bins=50)
    assert got.boxes.column("test_name").to_pylist() == ["VDD"]
    counts = got.histograms.column("count").to_pylist()
    assert len(counts) == 50 and sum(counts) == 201


def test_galaxy_worst_test_distribution_counts_every_final_result(galaxy):
    _, _, tidy_table = galaxy
    got = result_distributions(tidy_table, [1440])
    final = pl.from_arrow(tidy_table).filter(
        (pl.col("test_num") == 1440) & pl.col("is_last_test") & pl.col("result").is_not_null()
        & (pl.col("test_flg") & 1 == 0)
    )  # fmt: skip
    (box,) = got.boxes.to_pylist()
    values = final.get_column("result")
    assert box["n"] == final.height == sum(got.histograms.column("count").to_pylist())
    assert (box["min"], box["max"]) == (values.min(), values.max())
    assert box["median"] == pytest.approx(float(np.median(values.to_numpy())))
    assert (box["lo_limit"], box["hi_limit"]) == (
        final.get_column("lo_limit")[0],
        final.get_column("hi_limit")[0],
    )


# --------------------------------------------------------------------------------------------
# Map of the dies screening removed

PRECEDENCE = ["PAT_STATIC", "PAT_DYNAMIC", "NNR", "GDBN_COUNT"]


def reasons_table(rows) -> pa.Table:
    return pa.Table.from_pylist([{"lot_id": "L1", "wafer_id": "W1", "part_index": p, "rule": r, "test_num": t}
                                 for p, r, t in rows])  # fmt: skip


def map_parts() -> pa.Table:
    rows = [{"x": i, "y": 0, "passed": True, "hard_bin": 1, "die_key": i} for i in range(5)]
    rows[4] |= {"is_last_test": False}  # tested again as part 5
    rows.append({"x": 4, "y": 0, "passed": True, "hard_bin": 1, "die_key": 4})
    return parts_table(rows)


def test_each_screened_die_gets_its_first_rule_in_precedence():
    reasons = reasons_table([(0, "NNR", 10), (0, "PAT_STATIC", 11), (1, "GDBN_COUNT", None), (2, "NNR", 10),
                             (2, "NNR", 12), (5, "PAT_DYNAMIC", 10)])  # fmt: skip
    got = screened_die_map(reasons, map_parts(), PRECEDENCE).to_pylist()
    assert [r["part_index"] for r in got] == [0, 1, 2, 3, 5]
    assert [r["rule"] for r in got] == ["PAT_STATIC", "GDBN_COUNT", "NNR", None, "PAT_DYNAMIC"]
    assert [r["rules"] for r in got] == [
        ["PAT_STATIC", "NNR"],
        ["GDBN_COUNT"],
        ["NNR"],
        None,
        ["PAT_DYNAMIC"],
    ]
    assert [(r["x"], r["y"]) for r in got] == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]


def test_screened_die_map_refuses_what_it_cannot_place():
    with pytest.raises(ValueError, match="reasons hold 'SYL', not in precedence"):
        screened_die_map(reasons_table([(0, "SYL", None)]), map_parts(), PRECEDENCE)
    with pytest.raises(
        ValueError, match="not final parts of the table, e.g. lot 'L1' wafer 'W1' part_index 4"
    ):
        screened_die_map(reasons_table([(4, "NNR", 1)]), map_parts(), PRECEDENCE)
    twice = pa.concat_tables([map_parts(), map_parts()])
    with pytest.raises(ValueError, match="part_index 0 appears 2 times"):
        screened_die_map(reasons_table([(0, "NNR", 1)]), twice, PRECEDENCE)


def test_galaxy_screening_map_colours_every_screened_die(galaxy):
    _, part_rows, tidy_table = galaxy
    recipe = resources.files("silicio.yields").joinpath("recipes", "automotive_wafer_sort.toml")
    result = screen(tidy_table, str(recipe), parts=part_rows, short_history="note")
    precedence = ["PAT_STATIC", "PAT_DYNAMIC", "NNR", "GDBN_COUNT", "GDBN_WEIGHTED"]
    got = pl.from_arrow(screened_die_map(result.reasons, part_rows, precedence))
    reasons = pl.from_arrow(result.reasons)
    assert got.height == int(part_rows.column("is_last_test").to_numpy().sum()) == 1456
    assert got.filter(pl.col("rule").is_not_null()).height == reasons.select("part_index").n_unique()
    # Every PAT_STATIC reason colours its part PAT_STATIC: the first in precedence.
    static = set(reasons.filter(pl.col("rule") == "PAT_STATIC").get_column("part_index").to_list())
    assert set(got.filter(pl.col("rule") == "PAT_STATIC").get_column("part_index").to_list()) == static
