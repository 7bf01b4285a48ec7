"""The store: master data round trip, migrations beside the lake's, genealogy, operators, audit log."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from silicio.lake import Catalog
from silicio.trace import TraceStore, demo_genealogy, demo_master_data, forward, recall_scope
from silicio.trace.api import backward, operator_flags


def test_master_data_round_trip_and_idempotent_save(store):
    md = demo_master_data()
    loaded = store.load_master_data()
    assert loaded.sites == md.sites
    assert loaded.products == md.products
    assert loaded.operators == md.operators
    assert loaded.qualifications == md.qualifications
    assert store.save_master_data(md, actor="test") == 0  # nothing changed, nothing logged


def test_trace_tables_live_beside_the_lake_catalog(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    Catalog(url).close()
    TraceStore(url).close()
    TraceStore(url).close()  # a second open finds the schema at head
    inspector = sa.inspect(sa.create_engine(url))
    tables = set(inspector.get_table_names())
    assert {"files", "alembic_version", "alembic_version_trace", "trace_nodes", "trace_audit_log"} <= tables


def test_migrated_schema_matches_the_orm_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from silicio.trace.store import Base

    s = TraceStore(f"sqlite:///{tmp_path / 't.sqlite'}")
    with s.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "alembic_version_trace"})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if "alembic_version" not in str(d)]
    assert diff == []


def _with_lot(store, lot="QT0001"):
    md = demo_master_data()
    store.add_genealogy(actor="test", **demo_genealogy(md.product("SLC-TV100"), lot))
    return md


def test_forward_backward_and_recall_through_the_store(store):
    md = _with_lot(store)
    # 2 wafers x 20 dies; reels of 10 units, 2 reels per shipment.
    f = forward(store, "wafer", "QT0001-02")
    assert f["counts"] == {"wafer": 1, "die": 20, "unit": 20, "reel": 2, "shipment": 1}
    assert f["shipments"][0]["units"] == 20 and f["shipments"][0]["customer"].startswith("Pantallas")
    b = backward(store, "unit", "SLC-TV100-QT0001-01-001001")
    n_bom = len(md.product("SLC-TV100").bom)
    assert b["counts"]["material_lot"] == n_bom
    assert b["nodes"]["wafer"] == ["QT0001-01"]
    gold = next(n for n in b["nodes"]["material_lot"] if "7108" in n)
    r = recall_scope(store, [("material_lot", gold)])
    assert r["units"] == 40 and r["customers"] == [
        {"customer": "Pantallas del Norte S.A. de C.V.", "units": 40}
    ]


def test_genealogy_cache_follows_writes(store):
    _with_lot(store, "QT0001")
    assert forward(store, "lot", "QT0001")["counts"]["unit"] == 40
    _with_lot(store, "QT0002")
    assert forward(store, "lot", "QT0002")["counts"]["unit"] == 40


def test_steps_by_unqualified_or_expired_operators_are_flagged(store):
    ok = store.record_step(("lot", "QT0001"), "SLC-TV100", "FT", "Q1001", date(2025, 3, 3), actor="mes")
    expired = store.record_step(("lot", "QT0001"), "SLC-TV100", "FT", "Q1002", date(2025, 3, 3), actor="mes")
    untrained = store.record_step(
        ("lot", "QT0001"), "SLC-TV100", "ASSY", "Q1001", date(2025, 3, 3), actor="mes"
    )
    stranger = store.record_step(("lot", "QT0001"), "SLC-TV100", "QA", "X9999", date(2025, 3, 3), actor="mes")
    assert ok.qualified and ok.flag == ""
    assert not expired.qualified and "expired on 2024-06-30" in expired.flag
    assert not untrained.qualified and "no training record for assembly" in untrained.flag
    assert not stranger.qualified and "not on file" in stranger.flag
    assert [f["badge"] for f in operator_flags(store)] == ["Q1002", "Q1001", "X9999"]
    # Before the lapse, the same operator was qualified.
    assert store.record_step(
        ("lot", "QT0000"), "SLC-TV100", "FT", "Q1002", date(2024, 6, 30), actor="mes"
    ).qualified


# -- audit log


def test_clean_log_verifies(store):
    _with_lot(store)
    store.record_step(("lot", "QT0001"), "SLC-TV100", "FT", "Q1001", date(2025, 3, 3), actor="mes")
    report = store.verify_audit()
    assert report.ok, report.as_dict()
    # 5 sites + 3 products + 5 operators + 8 qualifications + 1 genealogy batch + 1 step record
    assert report.entries == 23


def _sql(store, statement):
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_editing_an_audit_entry_is_detected_at_that_entry(store):
    _sql(store, "UPDATE trace_audit_log SET actor = 'mallory' WHERE seq = 4")
    report = store.verify_audit()
    assert not report.ok and report.chain_break.seq == 4
    assert "was edited" in report.chain_break.reason


def test_editing_a_payload_and_rehashing_it_is_caught_by_the_next_link(store):
    from silicio.trace.audit import entries, entry_hash
    from silicio.trace.store import AUDIT

    with store.engine.begin() as conn:
        e = entries(conn, AUDIT)[2]
        body = e.body() | {"payload": {**e.payload, "country": "US"}}
        forged = entry_hash(e.prev_hash, body)
        conn.execute(sa.update(AUDIT).where(AUDIT.c.seq == e.seq).values(
            payload=sa.literal('{"forged":1}'), hash=forged))  # fmt: skip
    report = store.verify_audit()
    assert not report.ok and report.chain_break.seq in (3, 4)


def test_deleting_an_audit_entry_is_detected(store):
    _sql(store, "DELETE FROM trace_audit_log WHERE seq = 7")
    report = store.verify_audit()
    assert not report.ok and report.chain_break.seq == 8
    assert "deleted" in report.chain_break.reason


def test_editing_master_data_around_the_log_is_detected(store):
    _sql(store, "UPDATE trace_sites SET country = 'US' WHERE code = 'PEN-OSAT'")
    report = store.verify_audit()
    assert report.chain_break is None
    assert report.mismatches == ["site PEN-OSAT: differs from audit entry #5 in country"]


def test_editing_a_bom_cost_around_the_log_is_detected(store):
    _sql(store, "UPDATE trace_bom_lines SET unit_cost = 0.001 WHERE hs_code = '3818.00'")
    report = store.verify_audit()
    assert any(m.startswith("product SLC-TV100/A") for m in report.mismatches)
    assert any(m.startswith("product SLC-PM300A/A") for m in report.mismatches)


def test_editing_genealogy_around_the_log_is_detected(store):
    _with_lot(store)
    _sql(store, "UPDATE trace_tester_keys SET x = 99 WHERE stage = 'wafer_sort' AND x = 0 AND y = 0")
    report = store.verify_audit()
    assert len(report.mismatches) == 1 and report.mismatches[0].startswith("genealogy batch")


def test_rows_written_around_the_log_are_detected(store):
    _sql(store, "INSERT INTO trace_operators (badge, name, site) VALUES ('Z1', 'Ghost', '')")
    assert store.verify_audit().mismatches == [
        "operator Z1: in the tables but never logged (written around the log)"
    ]
