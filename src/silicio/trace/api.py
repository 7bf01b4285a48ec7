"""Trace queries as plain data (dicts and lists of JSON-able values), for the CLI and the dashboard.

Every function takes a :class:`~silicio.trace.store.TraceStore` (or master data) and returns
plain data; nothing here prints or renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from silicio.lake.queries.trace import TESTER_KEYS, last_test_results

from .genealogy import GenealogyError
from .model import MasterData, cost_rollup
from .store import TraceStore


def forward(store: TraceStore, kind: str, name: str, list_limit: int = 1000) -> dict[str, Any]:
    """What was made from (kind, name): counts and names by kind, units per shipment with customer."""
    return store.genealogy().trace((kind, name), "forward", list_limit).as_dict()


def backward(store: TraceStore, kind: str, name: str, list_limit: int = 1000) -> dict[str, Any]:
    """What (kind, name) was made from: lots, wafers, dies, material lots."""
    return store.genealogy().trace((kind, name), "backward", list_limit).as_dict()


def recall_scope(
    store: TraceStore, suspects: Sequence[tuple[str, str]], list_limit: int = 1000
) -> dict[str, Any]:
    """Scope of a recall of everything made from ``suspects`` (wafers, lots, material lots...):
    units affected, reels and shipments holding them, units per shipment and per customer.

    ``units`` counts each unit once; ``customers`` counts, per customer, the distinct units that
    may have reached them (a unit on a reel split over two shipments is counted once for a
    customer who got both). ``shipments`` gives the units each shipment may hold, so where
    reels were split their sum can exceed ``units``."""
    if not suspects:
        raise GenealogyError("a recall needs at least one suspect (kind, name)")
    result = store.genealogy().trace(list(suspects), "forward", list_limit).as_dict()
    result["units"] = result["counts"].get("unit", 0)
    return result


def operator_flags(store: TraceStore) -> list[dict[str, Any]]:
    """Step records made by operators without a valid qualification, newest last."""
    return [{**r.__dict__, "on": r.on.isoformat()} for r in store.step_records(flagged_only=True)]


def master_data_summary(master: MasterData) -> list[dict[str, Any]]:
    """One row per product: die and wafer geometry, gross die (formula and grid), target yield,
    cost roll-up per good unit and the price."""
    rows = []
    for p in master.products.values():
        lines = cost_rollup(p, master.sites)
        rows.append({
            "part_number": p.part_number, "revision": p.revision, "description": p.description,
            "hs_code": p.hs_code, "die_mm": [p.die_width, p.die_height], "wafer_mm": p.wafer_diameter,
            "gross_die": p.gross_die(), "grid_die": p.grid_die(), "die_yield": round(p.die_yield(), 4),
            "good_die_per_wafer": round(p.good_die_per_wafer(), 1),
            "unit_cost": round(sum(line.per_unit for line in lines), 4), "price": p.price,
            "routing": [{"seq": s.seq, "step": s.code, "kind": s.kind, "site": s.site,
                         "country": master.sites[s.site].country, "state": master.sites[s.site].state}
                        for s in p.routing],
            "bom": [{"step": b.step, "material": b.material, "supplier": b.supplier, "country": b.country,
                     "hs_code": b.hs_code, "regime": b.regime} for b in p.bom],
        })  # fmt: skip
    return rows


def lake_test_results(
    store: TraceStore, lake, nodes: Sequence[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The tester's verdict for dies and units, from the lake's ``parts`` view (last test of each die).

    Dies are matched at wafer sort by (lot_id, wafer_id, x, y), units at final test by
    (lot_id, part_id), through the tester keys recorded with the genealogy. ``lake`` is an open
    :class:`silicio.lake.Lake`. Keys with no tester data come back with null results.
    """
    keys = store.tester_keys(nodes)
    if not keys:
        return []
    return last_test_results(lake, pa.Table.from_pylist(keys, schema=TESTER_KEYS)).to_pylist()
