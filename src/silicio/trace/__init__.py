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

from silicio._lazy import lazy_package

#: Public name -> the module of this package that defines it, imported on first use (PEP 562):
#: the audit log and the disposition steps load without the queries on the lake (DuckDB) that
#: :mod:`.api` needs, and the models of the store load only with it.
_EXPORTS = {
    "backward": "api",
    "forward": "api",
    "lake_test_results": "api",
    "master_data_summary": "api",
    "operator_flags": "api",
    "recall_scope": "api",
    "canonical_json": "audit",
    "demo_genealogy": "demo",
    "demo_master_data": "demo",
    "synthetic_genealogy": "demo",
    "NODE_KINDS": "genealogy",
    "Genealogy": "genealogy",
    "GenealogyError": "genealogy",
    "TraceResult": "genealogy",
    "BomLine": "model",
    "MasterData": "model",
    "MasterDataError": "model",
    "Operator": "model",
    "Product": "model",
    "Qualification": "model",
    "RoutingStep": "model",
    "Site": "model",
    "cost_rollup": "model",
    "unit_cost": "model",
    "AuditReport": "store",
    "StepRecord": "store",
    "TraceStore": "store",
    "TraceStoreMissing": "store",
    "qualification_flag": "store",
}

__all__ = sorted(_EXPORTS)

lazy_package(__name__, _EXPORTS)
