"""HHI on the DOJ/FTC worked example, on fixtures, and recomputed from the ETO Chip Explorer data."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import pytest

from silicio.supply import concentration_level, hhi, hhi_of_values, share_from, shares_pct
from tests.conftest import missing_shared

ETO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "supply" / "eto_chip_explorer"


def test_hhi_merger_guidelines_example():
    # Horizontal Merger Guidelines (2010), section 5.3: four firms with 30, 30, 20 and 20 percent
    # have an HHI of 900 + 900 + 400 + 400 = 2,600.
    assert hhi([30, 30, 20, 20], unit="percent") == pytest.approx(2600)
    assert concentration_level(2600) == "highly concentrated"


def test_hhi_bounds_and_values():
    assert hhi([100], unit="percent") == 10_000  # a monopoly
    assert hhi({"a": 50, "b": 50}, unit="percent") == 5000
    assert hhi([10] * 10, unit="percent") == pytest.approx(1000)  # ten equal firms: 10 x 10^2
    assert concentration_level(1000) == "not highly concentrated"
    # Values, not shares: 60 + 30 + 10 of 100 -> 3600 + 900 + 100 = 4600.
    assert hhi_of_values({"JP": 6.0, "TW": 3.0, "US": 1.0}) == pytest.approx(4600)
    assert share_from({"JP": 6.0, "TW": 3.0, "US": 1.0}, "TW") == pytest.approx(30.0)
    assert share_from({"JP": 6.0}, "CN") == 0.0
    assert shares_pct({"a": 1.0, "b": 3.0}) == {"a": 25.0, "b": 75.0}


@pytest.mark.parametrize("bad", [[], [-5, 105], [math.nan, 50], [60, 50]])
def test_hhi_bad_input(bad):
    with pytest.raises(ValueError, match="share"):
        hhi(bad, unit="percent")


def test_shares_of_zero_total():
    with pytest.raises(ValueError, match="zero total"):
        shares_pct({"a": 0.0})


def test_eto_country_hhi_recomputed_from_provision():
    """hhi_by_country_demo.tsv (MANIFEST: country-level HHI per input, latest year, shares in %,
    'Various countries' kept) recomputed from provision.csv and providers.csv."""
    if not ETO.is_dir():
        missing_shared(f"{ETO} is absent (shared/ sits beside the repository)")
    with open(ETO / "providers.csv", newline="", encoding="utf-8") as f:
        countries = {r["provider_id"] for r in csv.DictReader(f) if r["provider_type"] == "country"}
    rows = defaultdict(list)  # input -> [(year, provider, share)]
    with open(ETO / "provision.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["provider_id"] in countries and r["share_provided"]:
                rows[r["provided_id"]].append(
                    (int(r["year"]), r["provider_name"], float(r["share_provided"]))
                )
    with open(ETO / "hhi_by_country_demo.tsv", newline="", encoding="utf-8") as f:
        published = list(csv.DictReader(f, delimiter="\t"))
    assert len(published) == len(rows)
    for p in published:
        latest = max(y for y, _, _ in rows[p["input_id"]])
        shares = {name: s for y, name, s in rows[p["input_id"]] if y == latest}
        assert latest == int(p["year"])
        # Published as a whole number, halves rounded up.
        assert math.floor(hhi(shares, unit="percent") + 0.5 + 1e-9) == int(p["hhi_0_10000"]), p["input_id"]
        top = max(shares, key=shares.get)
        assert (top, shares[top]) == (p["top_country"], float(p["top_share_pct"]))
        assert len(shares) == int(p["n_countries"])
        assert round(sum(shares.values()), 1) == float(p["sum_shares"])


def test_hhi_unit_is_explicit():
    """Two firms with half the market each: 50^2 + 50^2 = 5,000 whichever way the shares are
    written; above 1,800, highly concentrated (DOJ/FTC Merger Guidelines 2023, Guideline 1)."""
    assert hhi([0.5, 0.5], unit="fraction") == pytest.approx(5000.0)
    assert hhi([50, 50], unit="percent") == pytest.approx(5000.0)
    assert concentration_level(hhi([0.5, 0.5], unit="fraction")) == "highly concentrated"
    # Two firms of half a percent each in a market of many: 0.25 + 0.25.
    assert hhi([0.5, 0.5], unit="percent") == pytest.approx(0.5)
    for unit in (None, "pct", "share"):
        with pytest.raises(ValueError, match="unit must be 'percent'.*or 'fraction'"):
            hhi([0.5, 0.5], unit=unit)
    with pytest.raises(ValueError, match="more than the whole market"):
        hhi([0.7, 0.6], unit="fraction")
