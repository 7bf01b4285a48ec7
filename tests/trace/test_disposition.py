"""Lot disposition with electronic signatures (21 CFR Part 11 §11.50 / §11.70): signed steps in
the audit chain, who may sign, tampering seen by verify, and shipments of held lots refused.

Expected digests are recomputed here with hashlib and json, not with the module's helpers."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from silicio.auth import AuthStore, PasswordCost
from silicio.trace import disposition
from silicio.trace.genealogy import GenealogyError
from silicio.yields.disposition import Hold, HoldReason

CHEAP = PasswordCost(iterations=1, lanes=1, memory_kib=8)
PASSWORD = "correct horse battery staple"
LOT = "QT0001"


def _sha(obj) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def people(tmp_path):
    """Signed-in principals (through the account store's password check) of each role."""
    with AuthStore.at(tmp_path / "data", password_cost=CHEAP) as accounts:
        for name, role in (("qmaria", "quality"), ("eana", "engineer"), ("root", "admin")):
            accounts.add_user(name, role, PASSWORD, actor="test")
        yield {name: accounts.login(name, PASSWORD)[0] for name in ("qmaria", "eana", "root")}


def _record(lot=LOT):
    hold = Hold("PN-100", lot, "wafer_sort", float("nan"),
                (HoldReason("final_yield", {"min_final_yield": 0.8}, {"final_yield": 0.61}, "yield 61% < 80%"),))  # fmt: skip
    return disposition.hold_record(lot, [hold.as_dict()])


def _to_review(store, signer):
    disposition.decide(store, LOT, "hold", signer, "final yield 61 % below 80 %", record=_record())
    disposition.decide(store, LOT, "review", signer, "map shows an edge ring; lot reviewed")


def test_quality_user_releases_a_held_lot_with_a_signature(store, people):
    q = people["qmaria"]
    _to_review(store, q)
    assert disposition.state(store, LOT) == "review"
    assert disposition.queue(store)[0]["lot_id"] == LOT
    step = disposition.decide(store, LOT, "release", q, "edge ring inside the customer's exclusion zone",
                              capa={"id": "8D-2026-014", "text": "probe card cleaned; edge dies inked"})  # fmt: skip
    assert disposition.state(store, LOT) == "released"
    assert disposition.queue(store) == []

    # The signature (§11.50): printed name, date and time, meaning; bound to the record (§11.70).
    sig = step.signature
    assert sig["printed_name"] == "qmaria" and sig["role"] == "quality"
    assert sig["meaning"] == "I approve the release of this lot"
    assert sig["signed_at"].endswith("+00:00")
    record = {"lot_id": LOT, "holds": [{"product": "PN-100", "lot_id": LOT, "stage": "wafer_sort",
                                        "final_yield": None,  # NaN kept as null
                                        "reasons": [{"rule": "final_yield", "parameters": {"min_final_yield": 0.8},
                                                     "evidence": {"final_yield": 0.61},
                                                     "text": "yield 61% < 80%"}]}]}  # fmt: skip
    assert sig["record_sha256"] == _sha(record)
    assert sig["capa"] == {"id": "8D-2026-014", "text": "probe card cleaned; edge dies inked"}
    assert step.signature_sha256 == _sha(sig)

    # The log holds it, with its actor, chained to the review's signature.
    entries = [e for e in store.audit_entries() if e.entity == "lot_disposition"]
    assert [e.payload["signature"]["step"] for e in entries] == ["hold", "review", "release"]
    assert entries[-1].actor == "qmaria"
    assert entries[-1].payload["signature_sha256"] == _sha(entries[-1].payload["signature"])
    assert sig["previous_signature_sha256"] == _sha(entries[1].payload["signature"])
    assert entries[0].payload["hold_record"] == record

    report = store.verify_audit()
    assert report.ok, report.as_dict()
    assert report.signed_decisions == 3


def test_release_with_deviation_then_history(store, people):
    _to_review(store, people["root"])  # admin may sign too
    disposition.decide(store, LOT, "release_with_deviation", people["qmaria"], "DEV-77: Vdd margin waived")
    steps = disposition.history(store, LOT)
    assert [(s.step, s.state) for s in steps] == [("hold", "held"), ("review", "review"),
                                                  ("release_with_deviation", "released_with_deviation")]  # fmt: skip
    assert [s.signature["printed_name"] for s in steps] == ["root", "root", "qmaria"]


def test_a_user_without_the_role_cannot_sign(store, people):
    with pytest.raises(disposition.SignatureRefused, match="role engineer"):
        disposition.decide(store, LOT, "hold", people["eana"], "looks bad", record=_record())
    _to_review(store, people["qmaria"])
    with pytest.raises(disposition.SignatureRefused, match="needs role quality or admin"):
        disposition.decide(store, LOT, "release", people["eana"], "fine by me")
    assert disposition.state(store, LOT) == "review"
    assert not [e for e in store.audit_entries() if e.actor == "eana"]


def test_invalid_transitions_are_refused(store, people):
    q = people["qmaria"]
    with pytest.raises(
        disposition.DispositionError, match="no disposition record: step release cannot follow"
    ):
        disposition.decide(store, LOT, "release", q, "ship it")
    disposition.decide(store, LOT, "hold", q, "held", record=_record())
    with pytest.raises(
        disposition.DispositionError, match="is held: step release cannot follow it; allowed: review"
    ):
        disposition.decide(store, LOT, "release", q, "skip the review")
    disposition.decide(store, LOT, "review", q, "reviewed")
    disposition.decide(store, LOT, "scrap", q, "gross leakage on 4 wafers")
    with pytest.raises(disposition.DispositionError, match="the disposition is closed"):
        disposition.decide(store, LOT, "release", q, "changed my mind")
    with pytest.raises(disposition.DispositionError, match="reason"):
        disposition.decide(store, "QT0002", "hold", q, "  ", record=_record("QT0002"))
    with pytest.raises(disposition.DispositionError, match="step 'ship'"):
        disposition.decide(store, LOT, "ship", q, "x")


def test_rescreen_returns_to_review_and_keeps_the_record(store, people):
    q = people["qmaria"]
    _to_review(store, q)
    disposition.decide(store, LOT, "rescreen", q, "retest bins 7 and 9")
    disposition.decide(store, LOT, "hold", q, "still below limit after re-screen", record=_record())
    disposition.decide(store, LOT, "review", q, "reviewed again")
    disposition.decide(store, LOT, "return_to_supplier", q, "substrate defect; RMA 5512")
    assert disposition.state(store, LOT) == "returned_to_supplier"
    assert store.verify_audit().ok


def test_tampering_with_the_decision_row_is_detected(store, people):
    q = people["qmaria"]
    _to_review(store, q)
    step = disposition.decide(store, LOT, "scrap", q, "gross leakage")
    from silicio.trace.store import AUDIT

    with store.engine.connect() as conn:
        row_payload = json.loads(conn.scalar(sa.select(AUDIT.c.payload).where(AUDIT.c.seq == step.seq)))
    row_payload["signature"]["step"] = "release"
    row_payload["signature"]["meaning"] = "I approve the release of this lot"
    with store.engine.begin() as conn:
        conn.execute(sa.update(AUDIT).where(AUDIT.c.seq == step.seq).values(
            payload=json.dumps(row_payload, sort_keys=True, separators=(",", ":"))))  # fmt: skip
    report = store.verify_audit()
    assert not report.ok
    assert report.chain_break is not None and report.chain_break.seq == step.seq
    # And the signature no longer verifies on its own (as a forger who also rehashed the chain would find).
    assert any(f"entry #{step.seq}" in m and "digest" in m for m in report.mismatches)
    assert report.signed_decisions == 2


def test_signature_moved_to_another_lot_does_not_verify(store, people):
    q = people["qmaria"]
    disposition.decide(store, LOT, "hold", q, "held", record=_record())
    disposition.decide(store, "QT0002", "hold", q, "held", record=_record("QT0002"))
    entries = store.audit_entries()
    first = next(e for e in entries if e.key == LOT)
    moved = [e if e.key != "QT0002" else type(e)(**{**e.__dict__, "payload": first.payload}) for e in entries]
    good, problems = disposition.signature_problems(moved)
    assert good == 1 and len(problems) == 1 and "QT0002" in problems[0]


def _ship_batch(lot):
    return [(("lot", lot), ("wafer", f"{lot}-01")), (("wafer", f"{lot}-01"), ("die", f"{lot}-01-D1")),
            (("die", f"{lot}-01-D1"), ("unit", f"U-{lot}-1")), (("unit", f"U-{lot}-1"), ("reel", f"R-{lot}")),
            (("reel", f"R-{lot}"), ("shipment", f"SH-{lot}"))]  # fmt: skip


def test_shipment_of_an_unreleased_held_lot_is_refused(store, people):
    q = people["qmaria"]
    _to_review(store, q)
    store.add_genealogy(_ship_batch(LOT)[:-1], actor="test")  # making and packing it is fine
    head = store.audit_head()
    with pytest.raises(GenealogyError, match=f"shipment SH-{LOT} would hold lot {LOT}, which is review"):
        store.add_genealogy(_ship_batch(LOT)[-1:], actor="test")
    assert store.audit_head() == head  # nothing written
    # A lot with no disposition record ships.
    store.add_genealogy(_ship_batch("QT0003"), actor="test")
    disposition.decide(store, LOT, "release", q, "within deviation limits")
    store.add_genealogy(_ship_batch(LOT)[-1:], actor="test")
    assert store.verify_audit().ok


def test_scrapped_lot_cannot_ship(store, people):
    q = people["qmaria"]
    _to_review(store, q)
    disposition.decide(store, LOT, "scrap", q, "scrap")
    with pytest.raises(GenealogyError, match="which is scrapped"):
        store.add_genealogy(_ship_batch(LOT), actor="test")


def test_a_lot_the_rules_hold_cannot_ship_until_a_release_is_signed(store, people):
    q = people["qmaria"]
    holds = [_record()["holds"][0] | {"final_yield": 0.61}]
    assert disposition.record_rule_holds(store, holds, actor="ingest") == [LOT]
    assert disposition.record_rule_holds(store, holds, actor="ingest") == []  # the same record: once
    (entry,) = [e for e in store.audit_entries() if e.entity == "lot_rule_hold"]
    assert entry.actor == "ingest" and entry.key == LOT
    assert entry.payload["record_sha256"] == _sha({"lot_id": LOT, "holds": holds})
    assert disposition.rule_held(store) == [LOT]
    assert [(r["lot_id"], r["state"]) for r in disposition.queue(store)] == [(LOT, "held_by_rules")]
    head = store.audit_head()
    with pytest.raises(GenealogyError, match=f"shipment SH-{LOT} would hold lot {LOT}, which is held by the "
                                             "disposition rules and not released: a quality user signs"):  # fmt: skip
        store.add_genealogy(_ship_batch(LOT), actor="test")
    assert store.audit_head() == head  # nothing written
    _to_review(store, q)
    with pytest.raises(GenealogyError, match="which is review"):
        store.add_genealogy(_ship_batch(LOT), actor="test")
    disposition.decide(store, LOT, "release", q, "contained")
    assert disposition.rule_held(store) == [] and disposition.queue(store) == []
    store.add_genealogy(_ship_batch(LOT), actor="test")
    assert store.verify_audit().ok
