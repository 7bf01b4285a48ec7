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


# -- issue 16: trace load, audit checkpoint, audit verify against anchors


def _sql(store, statement):
    import sqlalchemy as sa

    with store.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_trace_load_takes_a_clean_csv_as_one_batch(store, tmp_path):
    data = str(tmp_path / "data")
    csv_file = tmp_path / "g.csv"
    csv_file.write_text("parent_kind,parent_name,child_kind,child_name,quantity,customer\n"
                        "lot,L9,wafer,L9-01,,\nwafer,L9-01,die,L9-01/0,,\ndie,L9-01/0,unit,U1,,\n"
                        "unit,U1,reel,R9,1,\nreel,R9,shipment,S9,1,ACME\n", encoding="utf-8")  # fmt: skip
    r = _run("trace", "load", str(csv_file), "--data", data, "--actor", "jlopez")
    assert r.exit_code == 0, r.output
    assert "loaded 5 edges" in r.output and "by jlopez" in r.output
    result = json.loads(_run("trace", "recall", "lot:L9", "--data", data, "--json").output)
    assert result["units"] == 1 and result["customers"] == [{"customer": "ACME", "units": 1}]
    assert store.audit_entries()[-1].actor == "jlopez"


def test_trace_load_names_file_row_and_column_of_each_bad_row(store, tmp_path):
    data = str(tmp_path / "data")
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("parent_kind,parent_name,child_kind,child_name,quantity\n"
                        "lot,L9,wafr,L9-01,\nreel,R1,reel,R1,\nunit,U1,wafer,W1,\nunit,U1,reel,R2,ten\n"
                        "lot,L9,wafer,L9-02,\nlot,L9,wafer,L9-02,\n", encoding="utf-8")  # fmt: skip
    head = store.audit_head()
    r = _run("trace", "load", str(csv_file), "--data", data, "--actor", "jlopez")
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert "5 bad row(s), nothing loaded" in out
    for expected in ("bad.csv, row 2, column child_kind: expected one of material_lot", "got 'wafr'",
                     "bad.csv, row 3, column child_name: reel R1 cannot be made from itself",
                     "bad.csv, row 4, column child_kind: a wafer cannot be made from a unit",
                     "bad.csv, row 5, column quantity: expected a whole number of units > 0, got 'ten'",
                     "bad.csv, row 7: repeats the edge of row 6"):  # fmt: skip
        assert expected in out, expected
    assert store.audit_head() == head
    csv_file.write_text("parent,child\nlot,L9\n", encoding="utf-8")
    r = _run("trace", "load", str(csv_file), "--data", data)
    assert r.exit_code == 2 and "row 1 (header): missing column(s) parent_kind" in " ".join(r.output.split())
    csv_file.write_text("parent_kind,parent_name,child_kind,child_name\nlot,L9\nlot,L9,wafer,L9-01\n")
    r = _run("trace", "load", str(csv_file), "--data", data)
    assert (
        r.exit_code == 2
        and "bad.csv, row 2: expected 4 fields as the header (line 1) has, got 2"
        in " ".join(r.output.split())
    )


def test_a_graph_level_problem_refuses_the_whole_file(data_dir, tmp_path):
    csv_file = tmp_path / "two-dies.csv"
    csv_file.write_text("parent_kind,parent_name,child_kind,child_name\n"
                        "wafer,QM0007-01,die,QM0007-01/9,9\n".replace(",9\n", "\n")
                        + "die,QM0007-01/9,unit,SLC-MC200-QM0007-01-000000\n", encoding="utf-8")  # fmt: skip
    r = _run("trace", "load", str(csv_file), "--data", data_dir, "--actor", "x")
    assert r.exit_code == 2 and "but a unit is made from one die" in " ".join(r.output.split())


def test_forward_over_a_self_loop_written_around_the_store_ends_with_an_error(data_dir, store):
    _sql(store, "INSERT INTO trace_edges (parent, child, batch) SELECT id, id, 999 FROM trace_nodes "
                "WHERE kind = 'reel' AND name = 'QM0007-R001'")  # fmt: skip
    r = _run("trace", "forward", "wafer:QM0007-01", "--data", data_dir)
    assert r.exit_code == 2 and "the genealogy has a cycle (reel QM0007-R001 -> reel QM0007-R001)" in r.output
    r = _run("audit", "verify", "--data", data_dir)
    assert r.exit_code == 1 and "genealogy batch 999" in r.output


def test_audit_verify_of_a_deleted_database_is_an_error_and_creates_nothing(data_dir, store, tmp_path):
    store.close()
    (tmp_path / "data" / "catalog.sqlite").unlink()
    r = _run("audit", "verify", "--data", data_dir)
    assert r.exit_code == 2 and "no such database" in r.output and "OK" not in r.output
    assert not (tmp_path / "data" / "catalog.sqlite").exists()


def test_checkpoint_then_a_rewritten_tail_fails_verify_even_with_local_copies_gone(data_dir, store, tmp_path):
    exported = tmp_path / "exported.json"
    r = _run("audit", "checkpoint", "--data", data_dir, "--out", str(exported), "--actor", "auditor")
    assert r.exit_code == 0, r.output
    doc = json.loads(exported.read_text(encoding="utf-8"))
    seq = doc["checkpoint"]["seq"]
    assert doc["checkpoint"]["signed_by"] == "auditor" and seq == store.audit_head()[0]
    trusted_key = tmp_path / "checkpoint.pub.pem"
    trusted_key.write_bytes((tmp_path / "data" / "keys" / "audit-checkpoint.pub.pem").read_bytes())
    assert _run("audit", "verify", "--data", data_dir).exit_code == 0
    # Delete the newest entry with its step record, and every local trace of the checkpoint.
    _sql(store, f"DELETE FROM trace_audit_log WHERE seq = {seq}")
    _sql(store, "DELETE FROM trace_step_records")
    for f in ("audit/checkpoints.jsonl", "keys/audit-checkpoint.pem", "keys/audit-checkpoint.pub.pem"):
        (tmp_path / "data" / f).unlink()
    assert _run("audit", "verify", "--data", data_dir).exit_code == 0  # locally, nothing is left to tell
    r = _run(
        "audit", "verify", "--data", data_dir, "--checkpoint", str(exported), "--public-key", str(trusted_key)
    )
    assert r.exit_code == 1
    assert f"signs entry #{seq}, but the log ends at #{seq - 1}: entry #{seq} was deleted" in " ".join(
        r.output.split()
    )


def test_checkpoint_is_refused_on_a_log_that_does_not_verify(data_dir, store, tmp_path):
    _sql(store, "UPDATE trace_sites SET country = 'US' WHERE code = 'PEN-OSAT'")
    r = _run("audit", "checkpoint", "--data", data_dir, "--actor", "auditor")
    assert r.exit_code == 2 and "does not verify" in r.output
    assert not (tmp_path / "data" / "audit" / "checkpoints.jsonl").exists()


def test_verify_holds_the_log_to_a_certificate_kept_outside(data_dir, store, tmp_path):
    from silicio import origin
    from silicio.origin import certificates

    private, _ = certificates.generate_keys(tmp_path / "data" / "keys")
    content = origin.conformance_content(lot="QM0007", part_number="SLC-MC200", revision="A", quantity=40,
                                         test_summary={"final_test": {"tested": 41, "good": 40, "yield": round(40 / 41, 6)}},
                                         pat_status="screened", spc_status="in control",
                                         standards=["AEC-Q100"], issuer="Silicio")  # fmt: skip
    document = origin.issue(store, content, certificates.load_private_key(private), actor="quality")
    held = tmp_path / "customer-copy.json"
    held.write_text(json.dumps(document), encoding="utf-8")
    assert _run("audit", "verify", "--data", data_dir, "--certificate", str(held)).exit_code == 0
    head = document["certificate"]["audit_head"]["seq"]
    # Wipe everything, certificates included: the customer's copy still says the log reached #head.
    for t in ("trace_tester_keys", "trace_edges", "trace_nodes", "trace_step_records", "trace_certificates",
              "trace_qualifications", "trace_operators", "trace_bom_lines", "trace_routing_steps", "trace_products",
              "trace_sites", "trace_audit_log"):  # fmt: skip
        _sql(store, f"DELETE FROM {t}")
    r = _run("audit", "verify", "--data", data_dir, "--certificate", str(held))
    assert r.exit_code == 1 and f"entries #1..#{head} were deleted" in " ".join(r.output.split())


def test_genealogy_csv_as_excel_saves_it_on_spanish_windows(tmp_path):
    """';'-separated, Windows-1252 ("Peña"), a name with a comma that is no decimal, a blank line."""
    from silicio.trace.genealogy import GenealogyError
    from silicio.trace.loading import read_genealogy_csv

    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes("parent_kind;parent_name;child_kind;child_name;quantity;customer\r\n"
                         "lot;L9;wafer;L9-01;;\r\n"
                         "\r\n"
                         "reel;CAJA 1,234;shipment;S-1;3000;Peña Electrónica\r\n".encode("cp1252"))  # fmt: skip
    loaded = read_genealogy_csv(csv_file)
    assert loaded["edges"] == [
        (("lot", "L9"), ("wafer", "L9-01")),
        (("reel", "CAJA 1,234"), ("shipment", "S-1")),
    ]
    assert loaded["attrs"] == {("shipment", "S-1"): {"quantity": 3000, "customer": "Peña Electrónica"}}
    csv_file.write_bytes("parent_kind;parent_name;child_kind;child_name\r\nlot;L9;wafr;L9-01\r\n\r\n"
                         "lot;L9;wafer;L9-02;x\r\n".encode("cp1252"))  # fmt: skip
    with pytest.raises(GenealogyError, match=r"excel.csv, row 4: expected 4 fields"):
        read_genealogy_csv(csv_file)
