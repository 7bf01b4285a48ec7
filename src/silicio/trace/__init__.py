"""Traceability: product and process master data, lot genealogy from wafer to shipment, operators
and their qualifications, and an audit log no edit escapes.

>>> from silicio import trace
>>> store = trace.TraceStore.at("data")
>>> store.save_master_data(trace.demo_master_data(), actor="jlopez")
>>> trace.forward(store, "wafer", "L001-01")["counts"]

Modules: :mod:`.model` (products, routings, BOMs, cost roll-up), :mod:`.genealogy` (the graph,
its integrity rules and its traversal), :mod:`.store` (database, migrations), :mod:`.audit` (the
hash chain and its anchors), :mod:`.checkpoints` (signed checkpoints of the log head),
:mod:`.loading` (genealogy from CSV), :mod:`.demo` (master data of the demo fab), :mod:`.api`
(plain-data queries for the CLI and web).
"""

from .api import backward, forward, lake_test_results, master_data_summary, operator_flags, recall_scope
from .audit import canonical_json
from .demo import demo_genealogy, demo_master_data, synthetic_genealogy
from .genealogy import NODE_KINDS, Genealogy, GenealogyError, TraceResult
from .model import (
    BomLine,
    MasterData,
    MasterDataError,
    Operator,
    Product,
    Qualification,
    RoutingStep,
    Site,
    cost_rollup,
    unit_cost,
)
from .store import AuditReport, StepRecord, TraceStore, TraceStoreMissing, qualification_flag

__all__ = [
    "NODE_KINDS",
    "AuditReport",
    "BomLine",
    "Genealogy",
    "GenealogyError",
    "MasterData",
    "MasterDataError",
    "Operator",
    "Product",
    "Qualification",
    "RoutingStep",
    "Site",
    "StepRecord",
    "TraceResult",
    "TraceStore",
    "TraceStoreMissing",
    "backward",
    "canonical_json",
    "cost_rollup",
    "demo_genealogy",
    "demo_master_data",
    "forward",
    "master_data_summary",
    "operator_flags",
    "qualification_flag",
    "recall_scope",
    "synthetic_genealogy",
    "lake_test_results",
    "unit_cost",
]
