"""Bin counts, reconciliation with HBR / SBR, Pareto and site-to-site comparison."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from silicio.stdf import StdfWriter, read
from silicio.stdf.parts import parts
from silicio.yields.bins import bin_counts, bin_definitions, bin_pareto, reconcile_bins, site_yield_comparison

FAIL = 0x08


def written(path: Path, records) -> dict[str, pa.Table]:
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    return read(path)


def part(x, y, hard, soft, failed, site=1, head=1):
    return [("PIR", {"HEAD_NUM": head, "SITE_NUM": site}),
            ("PRR", {"HEAD_NUM": head, "SITE_NUM": site, "PART_FLG": FAIL if failed else 0, "NUM_TEST": 1,
                     "HARD_BIN": hard, "SOFT_BIN": soft, "X_COORD": x, "Y_COORD": y})]  # fmt: skip


def hbr(bin_, count, pf, name, head=255, site=0):
    return ("HBR", {"HEAD_NUM": head, "SITE_NUM": site, "HBIN_NUM": bin_, "HBIN_CNT": count, "HBIN_PF": pf,
                    "HBIN_NAM": name})  # fmt: skip


# A wafer of 6 dies on sites 1 and 2; the die at (2, 0) fails (bin 3) and passes on retest.
DIES = [(0, 0, 1, 1, False, 1), (1, 0, 1, 1, False, 2), (2, 0, 3, 31, True, 1), (3, 0, 4, 40, True, 2),
        (4, 0, 3, 32, True, 1), (5, 0, 1, 1, False, 2), (2, 0, 1, 1, False, 1)]  # fmt: skip


def wafer_records():
    recs = [
        ("MIR", {"LOT_ID": "L1"}),
        ("WIR", {"HEAD_NUM": 1, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": "W1"}),
    ]
    for x, y, hard, soft, failed, site in DIES:
        recs += part(x, y, hard, soft, failed, site)
    recs.append(("WRR", {"HEAD_NUM": 1, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": 7, "WAFER_ID": "W1"}))
    return recs


@pytest.fixture
def tables(tmp_path):
    # The tester's summary: bin 1 counts all 4 good PRRs (retest included), bin 3 says 1 where
    # the parts have 2, bin 4 matches, bin 9 has parts nowhere; site 1 summaries for bin 1.
    summary = [hbr(1, 4, "P", "PASS"), hbr(3, 1, "F", "LEAK"), hbr(4, 1, "F", "OPEN"), hbr(9, 5, "F", "GHOST"),
               hbr(1, 2, "P", "PASS", head=1, site=1), hbr(1, 2, "P", "PASS", head=1, site=2)]  # fmt: skip
    return written(tmp_path / "w.stdf", wafer_records() + summary)


def test_bin_counts_final_first_and_all(tables):
    p = parts(tables)
    final = {r["bin"]: (r["count"], r["good"]) for r in bin_counts(p).to_pylist()}
    assert final == {1: (4, 4), 3: (1, 0), 4: (1, 0)}  # (2, 0) ends in bin 1
    first = {r["bin"]: r["count"] for r in bin_counts(p, tests="first").to_pylist()}
    assert first == {1: 3, 3: 2, 4: 1}
    every = {r["bin"]: r["count"] for r in bin_counts(p, tests="all").to_pylist()}
    assert every == Counter(d[2] for d in DIES)
    soft = {r["bin"]: r["percent"] for r in bin_counts(p, kind="soft").to_pylist()}
    assert soft == pytest.approx({1: 100 * 4 / 6, 32: 100 / 6, 40: 100 / 6})
    per_site = {(r["site"], r["bin"]): r["count"] for r in bin_counts(p, by="site").to_pylist()}
    assert per_site == {(1, 1): 2, (1, 3): 1, (2, 1): 2, (2, 4): 1}


def test_reconciliation_reports_every_difference(tables):
    out = {
        (r["scope"], r["site"], r["bin"]): r for r in reconcile_bins(parts(tables), tables["HBR"]).to_pylist()
    }
    assert out[("all", None, 1)]["status"] == "match"  # 4 PRRs in bin 1, retest included
    assert (out[("all", None, 1)]["tester_count"], out[("all", None, 1)]["final_count"]) == (4, 4)
    assert out[("all", None, 3)]["status"] == "final only"  # tester 1 = final count, not the 2 PRRs
    assert out[("all", None, 3)]["difference"] == 1 - 2
    assert out[("all", None, 4)]["status"] == "match"
    assert out[("all", None, 9)]["status"] == "not in parts" and out[("all", None, 9)]["name"] == "GHOST"
    # Per-site records exist for bin 1 only: site 1 has 2 PRRs in bin 1 (one a retest), site 2 two.
    assert out[("site", 1, 1)]["status"] == out[("site", 2, 1)]["status"] == "match"
    assert out[("site", 1, 3)]["status"] == "not in summary" and out[("site", 1, 3)]["tester_count"] is None
    assert out[("site", 2, 4)]["status"] == "not in summary"


def test_bin_definitions_and_pareto(tables):
    names = bin_definitions(tables["HBR"])
    assert names.to_pylist()[:2] == [
        {"bin": 1, "name": "PASS", "pf": "P"},
        {"bin": 3, "name": "LEAK", "pf": "F"},
    ]
    pareto = bin_pareto(parts(tables), kind="hard", tests="first", names=names).to_pylist()
    # First tests: bin 3 failed twice, bin 4 once; 6 dies tested.
    assert [(r["bin"], r["name"], r["count"]) for r in pareto] == [(3, "LEAK", 2), (4, "OPEN", 1)]
    assert [r["percent_of_tested"] for r in pareto] == pytest.approx([100 * 2 / 6, 100 * 1 / 6])
    assert [r["cumulative_percent"] for r in pareto] == [pytest.approx(100 * 2 / 3), pytest.approx(100.0)]


def test_site_comparison_matches_scipy_chi_square(tmp_path):
    rng = np.random.default_rng(7)
    good_rate = {1: 0.9, 2: 0.9, 3: 0.6}  # site 3 is bad
    recs, flags = [("MIR", {"LOT_ID": "L"})], []
    for i in range(300):
        site = 1 + i % 3
        failed = bool(rng.random() > good_rate[site])
        flags.append((site, failed))
        recs += part(i, 0, 5 if failed else 1, 1, failed, site)
    result = site_yield_comparison(parts(written(tmp_path / "s.stdf", recs)))
    table = np.array([[sum(1 for s, f in flags if s == site and not f) for site in (1, 2, 3)],
                      [sum(1 for s, f in flags if s == site and f) for site in (1, 2, 3)]])  # fmt: skip
    chi2, p, dof, expected = stats.chi2_contingency(table, correction=False)
    assert (
        result.chi2 == pytest.approx(chi2) and result.p_value == pytest.approx(p) and result.dof == dof == 2
    )
    assert result.p_value < 1e-3
    sites = result.sites.to_pylist()
    assert [r["good"] for r in sites] == table[0].tolist()
    # Adjusted residual (Agresti 2.4.5) of each site's pass cell, from the expected counts.
    n = table.sum()
    row_share = table.sum(axis=1) / n
    col_share = table.sum(axis=0) / n
    adjusted = (table[0] - expected[0]) / np.sqrt(expected[0] * (1 - row_share[0]) * (1 - col_share))
    assert [r["adjusted_residual"] for r in sites] == pytest.approx(adjusted.tolist())
    assert sites[2]["adjusted_residual"] < -3 and sites[2]["deviation"] < 0


def test_one_site_has_no_test(tmp_path):
    recs = [("MIR", {"LOT_ID": "L"})] + part(0, 0, 1, 1, False) + part(1, 0, 5, 5, True)
    result = site_yield_comparison(parts(written(tmp_path / "o.stdf", recs)))
    assert result.p_value is None and result.pooled_yield == 0.5 and result.dof == 0


def test_bad_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        bin_counts(pa.table({"die_key": [1]}), kind="medium")


def test_every_shared_file_reconciles(shared_stdf_file):
    tables = read(shared_stdf_file)
    p = parts(tables)
    for kind, record in (("hard", "HBR"), ("soft", "SBR")):
        if record not in tables:
            continue
        out = reconcile_bins(p, tables[record], kind)
        statuses = Counter(out.column("status").to_pylist())
        assert set(statuses) <= {"match", "final only", "mismatch", "not in summary", "not in parts"}
        # Every bin the parts hold appears; every summary record's bin appears.
        assert set(p.column(f"{kind}_bin").drop_null().to_pylist()) <= set(out.column("bin").to_pylist())
        assert set(tables[record].column(record[0] + "BIN_NUM").to_pylist()) <= set(
            out.column("bin").to_pylist()
        )
        if shared_stdf_file.name.startswith(("galaxy", "a595", "rabbi", "ayad", "NI_STS", "523X3008")):
            # Real testers' summaries count every part result: these files agree exactly.
            assert statuses == Counter({"match": out.num_rows}), out.to_pylist()
