"""``silicio ingest --alerts``: the ingest's signature step classifies each wafer's map and the
spatial_signature rule that follows finds the same maps classified (silicio.spatial.classify
keeps each map's probabilities by its contents): each map classified once, and the rule's
findings those it gives when it classifies the maps itself."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

from silicio.cli import app
from silicio.demo.stdf_demo import write_demo_stdf
from silicio.spatial.features import features

classify_module = importlib.import_module("silicio.spatial.classify")
runner = CliRunner()
WAFERS = 4
RULES = '[[rule]]\nname = "spatial"\nkind = "spatial_signature"\nroles = ["quality"]\n[rule.params]\nmin_confidence = 0.0\nignore = []\n'


def _ingest(tmp_path, name: str, monkeypatch, keep: bool) -> tuple[list[int], list[dict]]:
    """(the number of maps of each classification, the rule's findings' details) of one
    ``silicio ingest FILE --alerts RULES`` into a new lake; ``keep=False``: nothing kept between
    classifications (the rule classifies the maps again itself)."""
    monkeypatch.setattr(classify_module, "_KEPT", {})
    monkeypatch.setattr(classify_module, "_kept_size", [0])
    monkeypatch.setattr(classify_module, "_KEPT_BYTES", 16 * 2**20 if keep else 0)
    calls: list[int] = []

    def counting(maps):
        calls.append(len(maps))
        return features(maps)

    monkeypatch.setattr(classify_module, "features", counting)
    import silicio.alerts as alerts

    evaluations = []
    real = alerts.evaluate

    def recording(*args, **kwargs):
        evaluations.append(real(*args, **kwargs))
        return evaluations[-1]

    monkeypatch.setattr(alerts, "evaluate", recording)
    lot = write_demo_stdf(tmp_path / f"{name}.stdf", seed=3, wafers=WAFERS, dies_per_side=24)
    rules = tmp_path / f"{name}.toml"
    rules.write_text(RULES)
    result = runner.invoke(app, ["ingest", str(lot), "--alerts", str(rules), "--data", str(tmp_path / name),
                                 "--workers", "1", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(evaluations) == 1 and not evaluations[0].errors
    return calls, [row["detail"] for row in evaluations[0].raised]


def test_ingest_with_alerts_classifies_each_wafer_once(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")  # the signature step needs the spatial extra
    once, findings = _ingest(tmp_path, "kept", monkeypatch, keep=True)
    twice, alone = _ingest(tmp_path, "alone", monkeypatch, keep=False)
    assert sum(twice) == 2 * WAFERS  # the signature step's and the rule's, when nothing is kept
    assert sum(once) == WAFERS  # the rule finds the signature step's maps
    assert findings and findings == alone
    assert len(findings[0]["wafers"]) == WAFERS  # every wafer's signature is new to the lake
