"""``silicio trace``, ``silicio audit verify`` and ``silicio keys generate`` through the Typer app."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from silicio.cli import app
from silicio.trace import demo_genealogy, demo_master_data

runner = CliRunner()


@pytest.fixture
def data_dir(store, tmp_path):
    store.add_genealogy(actor="test", **demo_genealogy(demo_master_data().product("SLC-MC200"), "QM0007"))
    store.record_step(("lot", "QM0007"), "SLC-MC200", "FT", "Q1002", date(2025, 1, 9), actor="mes")
    return str(tmp_path / "data")


def _run(*args):
    return runner.invoke(app, list(args), terminal_width=200)


def test_forward_json(data_dir):
    r = _run("trace", "forward", "wafer:QM0007-01", "--data", data_dir, "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["counts"]["unit"] == 20 and result["shipments"][0]["units"] == 20


def test_backward_and_recall_tables(data_dir):
    r = _run("trace", "backward", "unit:SLC-MC200-QM0007-02-001002", "--data", data_dir)
    assert r.exit_code == 0 and "material_lot" in r.output and "QM0007-02" in r.output
    r = _run("trace", "recall", "wafer:QM0007-01", "wafer:QM0007-02", "--data", data_dir)
    assert r.exit_code == 0 and "40 units in scope, 2 shipments, 1 customers" in r.output


def test_operators_and_products(data_dir):
    r = _run("trace", "operators", "--data", data_dir)
    assert r.exit_code == 0 and "Q1002" in r.output
    flags = json.loads(_run("trace", "operators", "--data", data_dir, "--json").output)
    assert [f["flag"] for f in flags] == [
        "operator Q1002's qualification for final_test expired on 2024-06-30"
    ]
    r = _run("trace", "products", "--data", data_dir, "--json")
    assert [p["part_number"] for p in json.loads(r.output)] == ["SLC-TV100", "SLC-MC200", "SLC-PM300A"]


def test_bad_input_is_one_clear_line(data_dir, tmp_path):
    r = _run("trace", "forward", "QM0007-01", "--data", data_dir)
    assert r.exit_code == 2 and "expected KIND:NAME" in r.output
    r = _run("trace", "forward", "wafer:NOPE", "--data", data_dir)
    assert r.exit_code == 2 and "no wafer 'NOPE' in the genealogy" in r.output
    r = _run("trace", "forward", "wafer:QM0007-01", "--data", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "no such data directory" in r.output


def test_audit_verify_ok_then_broken(data_dir, store):
    r = _run("audit", "verify", "--data", data_dir)
    assert r.exit_code == 0 and "OK" in r.output
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM trace_audit_log WHERE seq = 3")
    r = _run("audit", "verify", "--data", data_dir)
    assert r.exit_code == 1 and "first broken entry #4" in r.output


def test_keys_generate(tmp_path):
    r = _run("keys", "generate", "--data", str(tmp_path))
    assert r.exit_code == 0 and (tmp_path / "keys" / "signing-key.pem").exists()
    r = _run("keys", "generate", "--data", str(tmp_path))
    assert r.exit_code == 2 and "refusing to replace it" in r.output
