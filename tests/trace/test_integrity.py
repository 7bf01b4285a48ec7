"""Genealogy integrity: each kind of nonsense found by hand is refused whole, with a clear message,
and what got into the database around the store cannot hang a trace."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from silicio.trace import Genealogy, GenealogyError, TraceStore, recall_scope
from silicio.trace.api import forward


def _lot(store, n_units=4, lot="L1", actor="test"):
    """Lot -> wafer -> n dies -> n units -> reel R-lot -> shipment S-lot, written by hand."""
    edges = [(("lot", lot), ("wafer", f"{lot}-W1"))]
    for i in range(n_units):
        die, unit = ("die", f"{lot}-d{i}"), ("unit", f"{lot}-u{i}")
        edges += [(("wafer", f"{lot}-W1"), die), (die, unit), (unit, ("reel", f"R-{lot}"))]
    edges.append((("reel", f"R-{lot}"), ("shipment", f"S-{lot}")))
    return store.add_genealogy(edges, actor=actor, attrs={("shipment", f"S-{lot}"): {"customer": "ACME"}})


def _refused(store, match, **batch):
    head = store.audit_head()
    with pytest.raises(GenealogyError, match=match):
        store.add_genealogy(actor="test", **batch)
    assert store.audit_head() == head  # nothing written, nothing logged


def test_a_clean_batch_is_taken(store):
    _lot(store)
    assert forward(store, "lot", "L1")["counts"] == {"lot": 1, "wafer": 1, "die": 4, "unit": 4, "reel": 1,
                                                     "shipment": 1}  # fmt: skip
    assert store.verify_audit().ok


def test_self_loop_is_refused(store):
    _lot(store)
    _refused(store, r"reel R-L1 cannot be made from itself", edges=[(("reel", "R-L1"), ("reel", "R-L1"))])


def test_cycle_is_refused_and_named(store):
    store.add_genealogy([(("lot", "A"), ("lot", "B")), (("lot", "B"), ("lot", "C"))], actor="test")
    _refused(store, r"cycle.*lot A -> lot B -> lot C -> lot A", edges=[(("lot", "C"), ("lot", "A"))])


def test_edge_against_the_flow_is_refused(store):
    _lot(store)
    _refused(store, r"a wafer cannot be made from a unit", edges=[(("unit", "L1-u0"), ("wafer", "W9"))])
    _refused(store, r"a die cannot be made from a die", edges=[(("die", "L1-d0"), ("die", "L1-d1"))])


def test_unit_from_two_dies_is_refused(store):
    _lot(store)
    _refused(store, r"unit L1-u0 is linked to die L1-d0 and die L1-d9, but a unit is made from one die",
             edges=[(("wafer", "L1-W1"), ("die", "L1-d9")), (("die", "L1-d9"), ("unit", "L1-u0"))])  # fmt: skip


def test_unit_in_two_reels_is_refused(store):
    _lot(store)
    _refused(
        store, r"unit L1-u1 is linked to reel R-L1 and reel R-X", edges=[(("unit", "L1-u1"), ("reel", "R-X"))]
    )


def test_unknown_kind_is_refused(store):
    _refused(store, r"unknown node kind 'wafr'", edges=[(("lot", "L1"), ("wafr", "W1"))])
    with pytest.raises(GenealogyError, match="unknown node kind 'wafr'"):
        Genealogy.from_edges([(("lot", "L1"), ("wafr", "W1"))])


def test_repeated_edge_is_a_clear_error_not_an_integrity_error(store):
    _lot(store)
    _refused(store, r"wafer L1-W1 -> die L1-d0 is already in the genealogy",
             edges=[(("wafer", "L1-W1"), ("die", "L1-d0"))])  # fmt: skip
    _refused(
        store, r"lot L2 -> wafer L2-W1 is given 2 times", edges=[(("lot", "L2"), ("wafer", "L2-W1"))] * 2
    )


def test_duplicate_tester_keys_are_refused(store):
    key = {"stage": "wafer_sort", "lot_id": "L1", "wafer_id": "W1", "x": 3, "y": 4}
    store.add_genealogy(
        [(("wafer", "W1"), ("die", "d1"))], actor="test", tester_keys=[{"node": ("die", "d1"), **key}]
    )
    # The same key on another die, in a later batch or twice in one batch.
    _refused(store, r"wafer_sort \(L1, W1, 3, 4\) of die d2 already belongs to die d1",
             edges=[(("wafer", "W1"), ("die", "d2"))], tester_keys=[{"node": ("die", "d2"), **key}])  # fmt: skip
    two = [{"node": ("die", "d3"), **key, "x": 9}, {"node": ("die", "d4"), **key, "x": 9}]
    _refused(store, r"given twice in the batch", edges=[(("wafer", "W1"), ("die", "d3")), (("wafer", "W1"), ("die", "d4"))],
             tester_keys=two)  # fmt: skip
    # A second wafer-sort key for the same die; a final-test key on a die.
    _refused(store, r"die d1 already has a wafer_sort tester key",
             tester_keys=[{"node": ("die", "d1"), **key, "x": 7}])  # fmt: skip
    _refused(store, r"a final_test key belongs to a unit, not a die",
             tester_keys=[{"node": ("die", "d1"), "stage": "final_test", "lot_id": "L1", "part_id": "1"}])  # fmt: skip
    _refused(
        store, r"x, y missing or not valid", tester_keys=[{"node": ("die", "d5"), **key, "x": "3", "y": None}]
    )


def test_quantities_that_do_not_add_up_are_refused(store):
    edges = [(("unit", f"u{i}"), ("reel", "R1")) for i in range(3)]
    _refused(store, r"reel R1 declares 2 units but 3 are linked to it", edges=edges,
             attrs={("reel", "R1"): {"quantity": 2}})  # fmt: skip
    store.add_genealogy(edges, actor="test", attrs={("reel", "R1"): {"quantity": 3}})
    # A shipment of that reel and another of 2 units declared as 4 units: 5 > 4.
    more = [(("unit", "u8"), ("reel", "R2")), (("unit", "u9"), ("reel", "R2"))]
    _refused(store, r"shipment S1 declares 4 units but 5 are linked to it",
             edges=more + [(("reel", "R1"), ("shipment", "S1")), (("reel", "R2"), ("shipment", "S1"))],
             attrs={("shipment", "S1"): {"quantity": 4}})  # fmt: skip
    _refused(
        store,
        r"quantity must be a positive whole number",
        edges=more,
        attrs={("reel", "R2"): {"quantity": -1}},
    )
    head = store.audit_head()
    with pytest.raises(GenealogyError, match="quantity_out \\(12\\) is more than quantity_in \\(10\\)"):
        store.record_step(("lot", "L1"), "SLC-TV100", "FT", "Q1001", date(2025, 3, 3), actor="mes",
                          quantity_in=10, quantity_out=12)  # fmt: skip
    assert store.audit_head() == head


def test_other_attributes_for_an_existing_node_are_refused(store):
    _lot(store)
    _refused(store, r"shipment S-L1 already exists with other attributes",
             edges=[(("reel", "R-9"), ("shipment", "S-L1"))], attrs={("shipment", "S-L1"): {"customer": "Other"}})  # fmt: skip


def test_writes_need_an_actor(store):
    head = store.audit_head()
    for actor in ("", "   ", None):
        with pytest.raises(ValueError, match="every write names its actor"):
            store.add_genealogy([(("lot", "L1"), ("wafer", "W1"))], actor=actor)
    assert store.audit_head() == head


def test_reel_split_over_two_shipments_counts_each_unit_once(store):
    # 5 units on one reel, the reel split over two shipments to the same customer: 5 units, not 10
    # (the issue saw 7 of 5 when shipments overlapped).
    edges = [(("die", f"d{i}"), ("unit", f"u{i}")) for i in range(5)]
    edges += [(("wafer", "W1"), ("die", f"d{i}")) for i in range(5)]
    edges += [(("unit", f"u{i}"), ("reel", "R1")) for i in range(5)]
    edges += [(("reel", "R1"), ("shipment", "S1")), (("reel", "R1"), ("shipment", "S2"))]
    attrs = {("shipment", "S1"): {"customer": "ACME"}, ("shipment", "S2"): {"customer": "ACME"}}
    store.add_genealogy(edges, actor="test", attrs=attrs)
    r = recall_scope(store, [("wafer", "W1")])
    assert r["units"] == 5
    assert r["customers"] == [{"customer": "ACME", "units": 5}]
    assert [(s["shipment"], s["units"]) for s in r["shipments"]] == [("S1", 5), ("S2", 5)]  # may hold


def test_recall_per_customer_counts_units_reached_by_several_paths_once():
    # u1 reaches customer A through R1 -> S1 and through R1 -> R2 -> S2 (a re-reel): once.
    e = [(("die", "d1"), ("unit", "u1")), (("die", "d2"), ("unit", "u2")), (("unit", "u1"), ("reel", "R1")),
         (("unit", "u2"), ("reel", "R3")), (("reel", "R1"), ("reel", "R2")), (("reel", "R1"), ("shipment", "S1")),
         (("reel", "R2"), ("shipment", "S2")), (("reel", "R3"), ("shipment", "S3"))]  # fmt: skip
    attrs = {("shipment", "S1"): {"customer": "A"}, ("shipment", "S2"): {"customer": "A"},
             ("shipment", "S3"): {"customer": "B"}}  # fmt: skip
    r = Genealogy.from_edges(e, attrs=attrs).trace([("die", "d1"), ("die", "d2")], "forward")
    assert r.counts["unit"] == 2
    assert r.customers == [{"customer": "A", "units": 1}, {"customer": "B", "units": 1}]


def _sql(store, statement: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_a_self_loop_written_around_the_store_stops_the_trace_with_an_error(store):
    _lot(store)
    _sql(store, "INSERT INTO trace_edges (parent, child, batch) SELECT id, id, 999 FROM trace_nodes "
                "WHERE kind = 'reel'")  # fmt: skip
    # A fresh store reads the graph anew (one kept by a store is valid while the log's head stays).
    with (
        TraceStore(store.url) as fresh,
        pytest.raises(GenealogyError, match=r"has a cycle \(reel R-L1 -> reel R-L1\)"),
    ):
        forward(fresh, "wafer", "L1-W1")
    assert any(m.startswith("genealogy batch 999") for m in store.verify_audit().mismatches)
