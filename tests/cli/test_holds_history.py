"""``silicio holds`` judges AEC-Q002 SYL / SBL against the lots tested before each lot (the lot
history), never against the lots being judged: seven lots ingested, six normal and the seventh at
half their yield, and the seventh is held by SYL and its dominant fail bin by SBL."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
from typer.testing import CliRunner

from silicio import lake as silicio_lake
from silicio.cli import app
from silicio.yields.aecq002 import statistical_yield_limits
from tests.lake.test_history import FAILS, LOTS, PRODUCT, bin_fallout, lot_yield, write_history_lot

runner = CliRunner()


def test_the_seventh_lot_at_half_yield_is_held_by_syl_and_sbl(tmp_path):
    files = [write_history_lot(tmp_path / f"{lot}.stdf", lot) for lot in LOTS]
    data = tmp_path / "data"
    assert silicio_lake.ingest([str(f) for f in files], data, workers=1).ok

    result = runner.invoke(app, ["holds", "--json", "--data", str(data)], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    held = {(h["product"], h["lot_id"], h["stage"]): h for h in json.loads(result.stdout)}
    seventh = held[(PRODUCT, LOTS[6], "wafer_sort")]
    by_rule = {}
    for reason in seventh["reasons"]:
        by_rule.setdefault(reason["rule"], []).append(reason)

    # SYL of the lot: the six earlier lots' mean - 4 (SYL2) sample sigmas, computed here.
    earlier = [lot_yield(lot) for lot in LOTS[:6]]
    mean, sigma = statistics.mean(earlier), statistics.stdev(earlier)
    (lot_syl,) = [r for r in by_rule["aec_q002_syl"] if r["parameters"]["scope"] == "lot"]
    assert lot_syl["evidence"]["level"] == "SYL2"
    assert math.isclose(lot_syl["evidence"]["value"], lot_yield(LOTS[6]))
    assert math.isclose(lot_syl["evidence"]["limit"], mean - 4 * sigma)
    assert lot_syl["parameters"]["baseline"] == "history"
    assert lot_syl["parameters"]["baseline_lots"] == LOTS[:6]

    # SBL of its dominant fail bin (20): mean + 4 sigmas of the earlier lots' fallout in that bin.
    fallout = [bin_fallout(lot, 20) for lot in LOTS[:6]]
    f_mean, f_sigma = statistics.mean(fallout), statistics.stdev(fallout)
    (lot_sbl,) = [r for r in by_rule["aec_q002_sbl"] if r["parameters"]["scope"] == "lot"]
    assert lot_sbl["evidence"]["bin"] == 20 and lot_sbl["evidence"]["level"] == "SBL2"
    assert math.isclose(lot_sbl["evidence"]["limit"], f_mean + 4 * f_sigma)

    # No earlier lot is held by the yield limits: the first six have too little history.
    for lot in LOTS[:6]:
        reasons = held.get((PRODUCT, lot, "wafer_sort"), {"reasons": []})["reasons"]
        assert not [r for r in reasons if r["rule"].startswith("aec_q002")], lot

    # The old behaviour, the seven judged among themselves, cannot flag it: n lots lie at most
    # (n - 1) / sqrt(n) sigma from their mean, 2.27 at seven, inside SYL1's 3 sigma.
    seven = np.array([lot_yield(lot) for lot in LOTS])
    among = statistical_yield_limits(seven, min_lots=6)
    assert seven.min() > among["SYL1"]
    n = len(FAILS)
    assert (seven.mean() - seven.min()) / seven.std(ddof=1) <= (n - 1) / math.sqrt(n)
