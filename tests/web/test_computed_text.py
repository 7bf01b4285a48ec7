"""Sentences the code computes (hold reasons, alert titles, signature meanings, notes) read in
Spanish on the es-MX pages: the lot page's holds, the disposition page's signed steps, the alert
inbox and the lot report show none of the English sentences listed here (written out here, not
read from the code), while the English pages do show them; the one number checked is computed
from the lake's parts here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from silicio import lake, trace
from silicio.alerts import evaluate, loads_config
from silicio.alerts.base import AlertContext, QuarantinedFile
from silicio.auth.roles import Principal
from silicio.i18n.computed import translate_computed
from silicio.trace import disposition
from silicio.web import create_app

from .conftest import HOLD_YIELD, settings, signed_in  # noqa: F401  (settings: the fixture)
from .test_page_text import visible_text

#: The English computed sentences, as a reader would recognise them on a page.
ENGLISH = {
    "final yield below its minimum": r"\bfinal yield \d+\.\d\d% < ",
    "AEC-Q002 bin fallout": r"\bbin \d+ fallout\b",
    "AEC-Q002 yield": r"AEC-Q002 SYL\d: yield ",
    "limits' basis": r"limits of the \d+ lots tested before it",
    "computed now": r"\bcomputed now\b",
    "more reasons": r"\(\+\d+ more\)",
    "quarantined file": r"\bquarantined \S+: ",
    "hold meaning": r"\bI place this lot on hold\b",
    "review meaning": r"\bI have reviewed the hold record\b",
    "release meaning": r"\bI approve the release of this lot\b",
    "too few earlier lots": r"lot\(s\) tested before it, fewer than",
    "no lot history": r"\bno lot history to compare with\b",
    "NNR skipped groups": r"group\(s\) not screened",
    "PAT dynamic clamped": r"limit pair\(s\) wider than the static limits",
}
RULES = """
[[rule]]
name = "sbl"
kind = "bin_above_sbl"
roles = ["admin"]
[rule.params]
level = "SBL1"

[[rule]]
name = "syl"
kind = "yield_below_syl"
roles = ["admin"]
[rule.params]
level = "SYL1"
include_final_yield = true

[[rule]]
name = "quarantine"
kind = "quarantined_file"
roles = ["admin"]
"""


def english_sentences(text: str) -> list[str]:
    return sorted(name for name, pattern in ENGLISH.items() if re.search(pattern, text))


def last_insertions(data_dir: Path) -> pl.DataFrame:
    """Each die's last insertion (from the parts table directly, not silicio.yields)."""
    with lake.open(data_dir) as db:
        parts = db.polars(
            "SELECT lot_id, wafer_id, x, y, passed, soft_bin, file_sha256, part_index FROM parts"
        )
    return parts.sort("file_sha256", "part_index").group_by("lot_id", "wafer_id", "x", "y").last()


def final_yields(data_dir: Path) -> dict[str, float]:
    """Each wafer-sort lot's final yield: each die's last insertion passed, over the dies."""
    rows = last_insertions(data_dir).group_by("lot_id").agg(pl.col("passed").cast(pl.Float64).mean())
    return dict(zip(rows["lot_id"], rows["passed"], strict=True))


@pytest.fixture(scope="module")
def computed_dir(tmp_path_factory, data_dir) -> Path:
    """The test lake with alerts raised by three rules and one lot's disposition signed."""
    data = tmp_path_factory.mktemp("computed") / "data"
    shutil.copytree(data_dir, data)
    with lake.open(data) as db:
        lots = db.polars("SELECT DISTINCT product, lot_id AS lot, 'wafer_sort' AS stage FROM parts")
        context = AlertContext(db, lots, [QuarantinedFile("not_stdf.stdf", "ab" * 32, "not an STDF file")])
        raised = evaluate(db, loads_config(RULES), context, send=False, record_holds=False)
    assert raised.errors == [] and len(raised.raised) >= 3
    signer = Principal("quality", "qmaria", via="session")
    lot = min(final_yields(data).items(), key=lambda item: item[1])[0]
    record = disposition.hold_record(lot, [{"lot_id": lot, "stage": "wafer_sort", "reasons": []}])
    with trace.TraceStore.at(data) as store:
        disposition.decide(store, lot, "hold", signer, "yield", record=record)
        disposition.decide(store, lot, "review", signer, "reviewed")
        disposition.decide(store, lot, "release", signer, "contained")
    return data


@pytest.fixture(scope="module")
def pages(computed_dir, settings):  # noqa: F811
    """(language, page) -> the text a reader sees."""
    lowest = min(final_yields(computed_dir).items(), key=lambda item: item[1])[0]
    urls = {"lot": f"/lot/{lowest}", "disposition": "/disposition", "alerts": "/alerts",
            "report": f"/lot/{lowest}/report", "pat": "/pat"}  # fmt: skip
    with TestClient(create_app(computed_dir, settings=settings)) as client:
        signed_in(client)
        shown = {}
        for language in ("en", "es"):
            for name, url in urls.items():
                answer = client.get(url, headers={"Accept-Language": language})
                assert answer.status_code == 200, (url, answer.text[:300])
                shown[(language, name)] = " ".join(visible_text(answer.text).split())
    return shown


def test_the_english_pages_show_the_computed_sentences(pages):
    # What the Spanish test below looks for is there to find: the check can fail.
    found = {
        name for (language, _), text in pages.items() if language == "en" for name in english_sentences(text)
    }
    assert {"final yield below its minimum", "AEC-Q002 bin fallout", "limits' basis", "computed now",
            "quarantined file", "hold meaning", "review meaning", "release meaning"} <= found  # fmt: skip


@pytest.mark.parametrize("page", ["lot", "disposition", "alerts", "report", "pat"])
def test_no_english_computed_sentence_in_spanish(pages, page):
    assert english_sentences(pages[("es", page)]) == []


def test_the_spanish_reason_carries_the_lake_s_numbers(pages, computed_dir):
    lot, value = min(final_yields(computed_dir).items(), key=lambda item: item[1])
    assert value < HOLD_YIELD
    expected = f"rendimiento final {value * 100:.2f}% < {HOLD_YIELD * 100:.2f}%"
    assert expected in pages[("es", "lot")]
    assert "Apruebo la liberación de este lote" in pages[("es", "disposition")]
    # The alert on the same lot: the bin it names, and that bin's share of the lot's dies.
    alert = re.search(rf"lote {lot} \(wafer_sort\): AEC-Q002 SBL\d: rechazo del bin (\d+) (\d+\.\d\d)% > ",
                      pages[("es", "alerts")])  # fmt: skip
    assert alert is not None, pages[("es", "alerts")][-800:]
    dies = last_insertions(computed_dir).filter(pl.col("lot_id") == lot)
    share = dies.filter(pl.col("soft_bin") == int(alert.group(1))).height / dies.height
    assert alert.group(2) == f"{share * 100:.2f}"
    assert "en cuarentena not_stdf.stdf: not an STDF file" in pages[("es", "alerts")]


def test_text_no_template_made_is_left_as_it_is():
    assert translate_computed("the operator's own words: not a template", "es") == (
        "the operator's own words: not a template"
    )
    assert translate_computed("final yield 93.75% < 95.00%", "en") == "final yield 93.75% < 95.00%"
    # A reason inside an alert title inside nothing else: both translated.
    assert translate_computed("lot L1 (final_test): final yield 93.75% < 95.00% (+2 more)", "es") == (
        "lote L1 (final_test): rendimiento final 93.75% < 95.00% (+2 más)"
    )
