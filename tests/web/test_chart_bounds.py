"""Chart payloads are bounded: a control chart of more points than the page draws is sampled
(each run's lowest and highest, the first and last, flagged points), the violations listed are
cut with exact counts per rule, and limits, rules and capability still use every point. One
demo test's I-MR page drawn point by point was 40 MB of HTML."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from silicio import spc
from silicio.web import create_app, spc_pages
from silicio.web.spc_pages import chart_sample

from .conftest import signed_in
from .test_spc_pages import TEST, last_results


def test_a_short_chart_is_drawn_whole():
    values = np.arange(50.0)
    assert chart_sample(values, np.array([3, 7]), limit=50).tolist() == list(range(50))


def test_a_long_chart_keeps_each_run_s_extremes_and_its_flagged_points():
    rng = np.random.default_rng(3)
    values = rng.normal(size=100_003)
    values[0] = np.nan  # a moving range has no first value
    values[77_777] = 40.0  # an excursion
    flagged = np.sort(rng.choice(values.size, 300, replace=False))
    kept = chart_sample(values, flagged, limit=4000)
    assert kept.size <= 4002 and np.all(np.diff(kept) > 0)
    assert {0, values.size - 1, 77_777} <= set(kept.tolist())
    assert set(flagged.tolist()) <= set(kept.tolist()), "300 flags fit in a quarter of the limit"
    run = -(-values.size // (4000 * 3 // 8))
    for start in range(0, values.size, run):  # each run's lowest and highest, found here by a loop
        chunk = values[start : start + run]
        assert start + int(np.nanargmin(chunk)) in kept and start + int(np.nanargmax(chunk)) in kept


def test_too_many_flags_are_spread_evenly():
    values = np.sin(np.arange(50_000) / 100.0)
    flagged = np.arange(0, 50_000, 2)
    kept = chart_sample(values, flagged, limit=1000)
    assert kept.size <= 1002
    shown = np.intersect1d(kept, flagged)
    assert shown.size >= 1000 // 4 and shown.max() >= 49_000 and shown.min() == 0


@pytest.fixture
def small_pages(monkeypatch, data_dir):
    """An app whose charts draw at most 200 points and list at most 5 violations."""
    monkeypatch.setattr(spc_pages, "MAX_CHART_POINTS", 200)
    monkeypatch.setattr(spc_pages, "MAX_LISTED_VIOLATIONS", 5)
    with TestClient(create_app(data_dir)) as client:
        yield signed_in(client)


def test_the_spc_page_samples_its_chart_but_judges_every_point(small_pages, db):
    values, _, _ = last_results(db, TEST)
    assert values.size > 400, "the test lake's chart must be longer than the limit"
    page = small_pages.get(
        f"/api/spc/test/{TEST}", params={"chart": "imr", "rules": "nelson", "baseline": 50}
    ).json()
    assert page["charted_points"] == values.size
    points = page["points"]
    assert len(points) <= 202 and len(page["dispersion"]) <= 202
    index = [p["point"] for p in points]
    assert index == sorted(set(index))
    assert [p["value"] for p in points] == pytest.approx(values[index].tolist())
    assert {int(np.argmax(values)), int(np.argmin(values))} <= set(index)
    limits = spc.imr_limits(values[:50])
    individuals, moving = spc.apply(limits, values)
    assert [p["ucl"] for p in points] == pytest.approx(individuals.ucl[index].tolist())
    assert page["center"] == pytest.approx(limits.mean)
    found = individuals.rules("nelson")
    every = sorted(
        [(int(i), "individuals", code) for code, where in found.points.items() for i in where]
        + [(int(i), "moving range", "beyond-limits") for i in moving.out_of_control]
    )
    assert len(every) > 5, "the demo data break more rules than the page lists"
    assert sum(page["violation_counts"].values()) == len(every)
    assert [(v["point"], v["chart"], v["rule"]) for v in page["violations"]] == every[:5]
    assert any(f"{len(every):,} violations: the first 5" in note for note in page["notes"])
    assert any("the limits, the rules and the capability use every point" in note for note in page["notes"])
    html = small_pages.get(
        f"/spc/test/{TEST}", params={"chart": "imr", "rules": "nelson", "baseline": 50}
    ).text
    assert f'data-stat="violations">{len(every)}<' in html
