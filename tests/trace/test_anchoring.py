"""Anchored history: each attack on the audit log found by hand, reproduced, and caught by
``verify_audit`` (through signed checkpoints and the heads signed into certificates where the
chain itself is consistent again). The attacker's tools here hash with hashlib directly, not
with silicio's audit module."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from silicio.trace import TraceStore, demo_genealogy, demo_master_data
from silicio.trace import checkpoints as cp
from silicio.trace.store import TraceStoreMissing

TRACE_TABLES = ("trace_tester_keys", "trace_edges", "trace_nodes", "trace_step_records", "trace_certificates",
                "trace_qualifications", "trace_operators", "trace_bom_lines", "trace_routing_steps",
                "trace_products", "trace_sites", "trace_audit_log")  # fmt: skip


@pytest.fixture
def data_dir(store, tmp_path):
    md = demo_master_data()
    store.add_genealogy(actor="test", **demo_genealogy(md.product("SLC-TV100"), "QT0001"))
    return tmp_path / "data"


def _checkpoint(store, data_dir) -> dict:
    paths = cp.CheckpointPaths.at(data_dir)
    seq, head = store.audit_head()
    doc = cp.sign_checkpoint(seq, head, cp.signing_key(paths), "auditor")
    cp.append_checkpoint(paths, doc)
    return doc


def _sql(store, *statements: str) -> None:
    with store.engine.begin() as conn:
        for s in statements:
            conn.execute(sa.text(s))


def _attacker_rehash(store) -> None:
    """Recompute every entry's hash from its (edited) content, as someone who read the format would."""
    with store.engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT seq, at, actor, action, entity, key, payload FROM trace_audit_log "
                                    "ORDER BY seq")).all()  # fmt: skip
        prev = "0" * 64
        for seq, at, actor, action, entity, key, payload in rows:
            body = {"seq": seq, "at": at, "actor": actor, "action": action, "entity": entity, "key": key,
                    "payload": json.loads(payload)}  # fmt: skip
            text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            digest = hashlib.sha256(prev.encode() + text).hexdigest()
            conn.execute(sa.text("UPDATE trace_audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"p": prev, "h": digest, "s": seq})  # fmt: skip
            prev = digest


def test_clean_log_with_a_checkpoint_verifies(store, data_dir):
    assert cp.latest_checkpoint(data_dir) is None
    doc = _checkpoint(store, data_dir)
    assert cp.latest_checkpoint(data_dir) == doc
    report = store.verify_audit()
    assert report.ok, report.as_dict()
    assert report.anchors == 1 and report.anchored_seq == report.entries == 22


def test_genealogy_inserted_under_an_unlogged_batch_is_detected(store, data_dir):
    # The attack: a new edge under a batch number no audit entry has.
    _sql(store, "INSERT INTO trace_nodes (kind, name, batch) VALUES ('shipment', 'SH-GHOST', 999)",
         "INSERT INTO trace_edges (parent, child, batch) SELECT r.id, s.id, 999 FROM trace_nodes r, trace_nodes s "
         "WHERE r.kind = 'reel' AND r.name = 'QT0001-R001' AND s.name = 'SH-GHOST'")  # fmt: skip
    report = store.verify_audit()
    assert not report.ok
    assert report.mismatches == ["genealogy batch 999: nodes, edges or tester keys in the tables that no audit "
                                 "entry logged (written around the log)"]  # fmt: skip


def test_deleting_the_newest_entry_is_detected_by_the_checkpoint(store, data_dir):
    store.record_step(("lot", "QT0001"), "SLC-TV100", "FT", "Q1001", __import__("datetime").date(2025, 3, 3),
                      actor="mes")  # fmt: skip
    _checkpoint(store, data_dir)
    seq, _ = store.audit_head()
    # Remove the newest entry and the row it logged: the rest is a shorter, valid chain.
    _sql(store, f"DELETE FROM trace_audit_log WHERE seq = {seq}", "DELETE FROM trace_step_records")
    report = store.verify_audit()
    assert report.chain_break is None and report.mismatches == []
    assert report.anchor_problems == [
        f"checkpoint #{seq} ({cp.CheckpointPaths.at(data_dir).log} line 1) signs entry #{seq}, but the log ends "
        f"at #{seq - 1}: entry #{seq} was deleted"
    ]


def test_a_changed_price_with_the_whole_chain_recomputed_is_detected(store, data_dir):
    _checkpoint(store, data_dir)
    _sql(store, "UPDATE trace_products SET price = 9.99 WHERE part_number = 'SLC-TV100'",
         "UPDATE trace_audit_log SET payload = json_set(payload, '$.price', 9.99) "
         "WHERE entity = 'product' AND key = 'SLC-TV100/A'")  # fmt: skip
    _attacker_rehash(store)
    report = store.verify_audit(checkpoints=False)
    assert report.ok, "without an anchor the rewrite is consistent: that is why checkpoints exist"
    report = store.verify_audit()
    assert not report.ok and report.chain_break is None and report.mismatches == []
    assert len(report.anchor_problems) == 1
    assert "the chain up to it was rewritten" in report.anchor_problems[0]


def test_a_rewritten_chain_is_detected_by_a_certificate_head(store, data_dir):
    seq, head = store.audit_head()
    store.save_certificate({"certificate": {"id": "COC-1", "type": "conformance", "issued_at": "2025-03-03",
                                            "audit_head": {"seq": seq, "hash": head}}, "signature": {}},
                           actor="quality")  # fmt: skip
    assert store.verify_audit().ok
    _sql(
        store,
        "UPDATE trace_sites SET country = 'US' WHERE code = 'PEN-OSAT'",
        "UPDATE trace_audit_log SET payload = json_set(payload, '$.country', 'US') WHERE key = 'PEN-OSAT'",
    )
    _attacker_rehash(store)
    report = store.verify_audit()
    assert [p.split(":")[0] for p in report.anchor_problems] == [f"certificate COC-1 signs entry #{seq} as {head[:12]}..., but the log's entry #{seq} hashes to {report.anchor_problems[0].split('hashes to ')[1][:15]}"]  # fmt: skip
    assert "rewritten" in report.anchor_problems[0]


def test_a_certificate_head_the_log_never_had_is_detected(store, data_dir):
    seq, _ = store.audit_head()
    store.save_certificate({"certificate": {"id": "COC-2", "type": "conformance", "issued_at": "2025-03-03",
                                            "audit_head": {"seq": seq + 5, "hash": "f" * 64}}, "signature": {}},
                           actor="quality")  # fmt: skip
    problems = store.verify_audit().anchor_problems
    assert any(
        p.startswith(f"certificate COC-2 signs log head #{seq + 5}, but was itself logged") for p in problems
    )
    assert any(p.startswith(f"certificate COC-2 signs entry #{seq + 5}, but the log ends") for p in problems)


def test_wiping_every_trace_table_is_detected(store, data_dir):
    _checkpoint(store, data_dir)
    _sql(store, *(f"DELETE FROM {t}" for t in TRACE_TABLES))
    report = store.verify_audit()
    assert report.entries == 0 and not report.ok
    assert "but the log ends at #0: entries #1..#22 were deleted" in report.anchor_problems[0]


def test_removing_the_checkpoint_file_is_detected(store, data_dir):
    _checkpoint(store, data_dir)
    cp.CheckpointPaths.at(data_dir).log.unlink()
    assert any(
        "checkpoints were made and their file was removed" in p for p in store.verify_audit().anchor_problems
    )


def test_a_forged_checkpoint_is_refused(store, data_dir):
    doc = _checkpoint(store, data_dir)
    forged = json.loads(json.dumps(doc))
    forged["checkpoint"]["seq"] = 1
    checked = cp.check_checkpoints(
        [("forged.json", forged)], cp.load_public_key(cp.CheckpointPaths.at(data_dir).public_key)
    )
    assert checked.anchors == [] and checked.problems == ["checkpoint #1 (forged.json): the signature does not match "
                                                          "(forged or altered)"]  # fmt: skip


def test_verify_never_creates_a_database(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(TraceStoreMissing, match="no such database"):
        TraceStore.at(data, create=False)
    assert list(data.iterdir()) == []
    # A database without the trace tables (the lake's alone) is not an empty, valid log either.
    sa.create_engine(f"sqlite:///{data / 'catalog.sqlite'}").connect().close()
    with pytest.raises(TraceStoreMissing, match="no trace tables"):
        TraceStore.at(data, create=False)
