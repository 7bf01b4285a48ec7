"""Master data and a genealogy for the demo fab's three products.

=============  ==========================================================================
``SLC-TV100``  TV display driver: wafers fabricated in Querétaro (MX), COF assembly in
               Jalisco (MX), test in Querétaro. Mostly Mexican value added.
``SLC-MC200``  appliance motor controller: wafers from a foundry in Hsinchu (TW), sort, QFN
               assembly in Jalisco and test in Querétaro. The foundry wafer dominates the
               cost: low national content, yet the mounted device is a change of tariff
               classification from the unmounted die.
``SLC-PM300A`` automotive PMIC: wafers fabricated in Querétaro, assembled by an OSAT in Penang
               (MY), final test in Querétaro. High national content, but the device comes back
               to Mexico already assembled, as the same subheading: no tariff change.
=============  ==========================================================================

Die geometry and D0 follow :mod:`silicio.demo.products`. Costs are plausible round figures for
mature-node 200 mm wafers, not any company's. Companies are fictitious.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from .genealogy import NODE_KINDS, Genealogy
from .model import BomLine, MasterData, Operator, Product, Qualification, RoutingStep, Site

#: Customers of the demo shipments, by product: who asks "is it good, where was it made".
CUSTOMERS = {
    "SLC-TV100": ("Pantallas del Norte S.A. de C.V.", "MX"),
    "SLC-MC200": ("Electrodomésticos Bajío S.A. de C.V.", "MX"),
    "SLC-PM300A": ("Great Lakes Automotive Inc.", "US"),
}


def demo_sites() -> dict[str, Site]:
    sites = [
        Site("QRO-FAB", "Silicio Semiconductores S.A. de C.V.", "MX", "Querétaro", "El Marqués"),
        Site("QRO-TEST", "Silicio Semiconductores S.A. de C.V.", "MX", "Querétaro", "Querétaro"),
        Site("GDL-ATP", "Ensambles Electrónicos de Occidente S.A. de C.V.", "MX", "Jalisco", "Tlaquepaque"),
        Site("HSC-FDY", "Formosa Specialty Foundry Co., Ltd.", "TW", "Hsinchu", "Hsinchu"),
        Site("PEN-OSAT", "Penang Assembly & Test Sdn. Bhd.", "MY", "Pulau Pinang", "Bayan Lepas"),
    ]
    return {s.code: s for s in sites}


def _tv100() -> Product:
    routing = (
        RoutingStep(
            10, "FAB", "fab", "QRO-FAB", 620.0, "wafer", "8542.39", "wafer", True, "HV110 CMOS wafer fab"
        ),
        RoutingStep(
            20, "WS", "wafer_sort", "QRO-TEST", 55.0, "wafer", "8542.39", "wafer", False, "Wafer sort"
        ),
        RoutingStep(
            30, "BUMP", "bump_dice", "GDL-ATP", 0.030, "unit", "8542.39", "die", False, "Gold bump, dice"
        ),
        RoutingStep(
            40, "ASSY", "assembly", "GDL-ATP", 0.080, "unit", "8542.39", "package", True, "COF assembly"
        ),
        RoutingStep(
            50, "FT", "final_test", "QRO-TEST", 0.060, "unit", "8542.39", "package", False, "Final test"
        ),
        RoutingStep(60, "QA", "qa", "QRO-TEST", 0.010, "unit", "8542.39", "package", False, "Outgoing QA"),
        RoutingStep(
            70, "PACK", "pack", "QRO-TEST", 0.008, "unit", "8542.39", "package", False, "Tape and reel"
        ),
    )
    bom = (
        BomLine(
            "FAB",
            "Prime Si wafer 200 mm, P<100>",
            "Shin-Kanto Silicon",
            "JP",
            "3818.00",
            1,
            48.0,
            "wafer",
            "immex_temporary_import",
        ),
        BomLine(
            "FAB",
            "Process gases and chemicals",
            "Química Industrial del Bajío",
            "MX",
            "2811.19",
            1,
            22.0,
            "wafer",
            "domestic_purchase",
        ),
        BomLine(
            "BUMP",
            "Gold for bumps (mg)",
            "Metales Preciosos de Zacatecas",
            "MX",
            "7108.13",
            0.6,
            0.045,
            "unit",
            "domestic_purchase",
        ),
        BomLine(
            "ASSY",
            "Polyimide COF tape (per site)",
            "Nippon Flex Film",
            "JP",
            "3920.99",
            1,
            0.035,
            "unit",
            "immex_temporary_import",
        ),
        BomLine(
            "ASSY",
            "Underfill epoxy",
            "Resinas de Jalisco",
            "MX",
            "3907.30",
            1,
            0.004,
            "unit",
            "domestic_purchase",
        ),
        BomLine(
            "PACK",
            "Carrier tape and reel (share)",
            "Empaques Técnicos de Querétaro",
            "MX",
            "3923.40",
            1,
            0.003,
            "unit",
            "domestic_purchase",
        ),
    )
    return Product("SLC-TV100", "A", "TV display source driver, COF", "8542.39", 7.0, 5.0, 200.0, 0.08, 3.0,
                   0.14, "murphy", None, 1.95, routing, bom)  # fmt: skip


def _mc200() -> Product:
    routing = (
        RoutingStep(
            10, "FDY", "fab", "HSC-FDY", 1150.0, "wafer", "8542.31", "wafer", True, "CMOS180 foundry wafer"
        ),
        RoutingStep(
            20, "WS", "wafer_sort", "QRO-TEST", 45.0, "wafer", "8542.31", "wafer", False, "Wafer sort"
        ),
        RoutingStep(
            30, "ASSY", "assembly", "GDL-ATP", 0.095, "unit", "8542.31", "package", True, "QFN40 assembly"
        ),
        RoutingStep(
            40, "FT", "final_test", "QRO-TEST", 0.045, "unit", "8542.31", "package", False, "Final test"
        ),
        RoutingStep(50, "QA", "qa", "QRO-TEST", 0.008, "unit", "8542.31", "package", False, "Outgoing QA"),
        RoutingStep(
            60, "PACK", "pack", "QRO-TEST", 0.006, "unit", "8542.31", "package", False, "Tape and reel"
        ),
    )
    bom = (
        BomLine(
            "ASSY",
            "QFN40 copper leadframe",
            "Leadframe Tech Co.",
            "TW",
            "8542.90",
            1,
            0.028,
            "unit",
            "immex_temporary_import",
        ),
        BomLine(
            "ASSY",
            "Copper bond wire 20 um (m)",
            "Midwest Bonding Wire LLC",
            "US",
            "7408.11",
            0.012,
            0.8,
            "unit",
            "immex_temporary_import",
        ),
        BomLine(
            "ASSY",
            "Epoxy mold compound (g)",
            "Sumika Mold Materials",
            "JP",
            "3907.30",
            0.08,
            0.12,
            "unit",
            "immex_temporary_import",
        ),
        BomLine(
            "ASSY",
            "Die attach film",
            "Resinas de Jalisco",
            "MX",
            "3506.91",
            1,
            0.004,
            "unit",
            "domestic_purchase",
        ),
        BomLine(
            "PACK",
            "Carrier tape and reel (share)",
            "Empaques Técnicos de Querétaro",
            "MX",
            "3923.40",
            1,
            0.003,
            "unit",
            "domestic_purchase",
        ),
    )
    return Product("SLC-MC200", "B", "Three-phase BLDC gate driver and controller, QFN40", "8542.31", 5.0, 5.0,
                   200.0, 0.08, 3.0, 0.12, "murphy", None, 1.85, routing, bom)  # fmt: skip


def _pm300a() -> Product:
    routing = (
        RoutingStep(
            10, "FAB", "fab", "QRO-FAB", 760.0, "wafer", "8542.39", "wafer", True, "BCD180 automotive fab"
        ),
        RoutingStep(
            20, "WS", "wafer_sort", "QRO-TEST", 95.0, "wafer", "8542.39", "wafer", False, "Wafer sort, hot"
        ),
        RoutingStep(
            30,
            "ASSY",
            "assembly",
            "PEN-OSAT",
            0.210,
            "unit",
            "8542.39",
            "package",
            True,
            "HTQFP48 assembly (OSAT)",
        ),
        RoutingStep(
            40,
            "FT",
            "final_test",
            "QRO-TEST",
            0.160,
            "unit",
            "8542.39",
            "package",
            False,
            "Final test, tri-temperature",
        ),
        RoutingStep(50, "QA", "qa", "QRO-TEST", 0.020, "unit", "8542.39", "package", False, "Outgoing QA"),
        RoutingStep(
            60, "PACK", "pack", "QRO-TEST", 0.012, "unit", "8542.39", "package", False, "Tape and reel"
        ),
    )
    bom = (
        BomLine(
            "FAB",
            "Epi Si wafer 200 mm",
            "Shin-Kanto Silicon",
            "JP",
            "3818.00",
            1,
            70.0,
            "wafer",
            "immex_temporary_import",
        ),
        BomLine(
            "FAB",
            "Process gases and chemicals",
            "Química Industrial del Bajío",
            "MX",
            "2811.19",
            1,
            26.0,
            "wafer",
            "domestic_purchase",
        ),
        BomLine(
            "ASSY",
            "HTQFP48 leadframe, exposed pad",
            "Penang Leadframe Sdn. Bhd.",
            "MY",
            "8542.90",
            1,
            0.045,
            "unit",
            "definitive_import",
        ),
        BomLine(
            "ASSY",
            "Gold bond wire 25 um (m)",
            "Korea Precision Wire",
            "KR",
            "7108.13",
            0.015,
            1.9,
            "unit",
            "definitive_import",
        ),
        BomLine(
            "ASSY",
            "Green mold compound (g)",
            "Sumika Mold Materials",
            "JP",
            "3907.30",
            0.2,
            0.1,
            "unit",
            "definitive_import",
        ),
        BomLine(
            "PACK",
            "Carrier tape, reel, dry pack (share)",
            "Empaques Técnicos de Querétaro",
            "MX",
            "3923.40",
            1,
            0.006,
            "unit",
            "domestic_purchase",
        ),
    )
    return Product("SLC-PM300A", "A", "Automotive multi-rail PMIC, AEC-Q100 grade 1, HTQFP48", "8542.39", 6.5, 6.0,
                   200.0, 0.1, 3.0, 0.10, "murphy", None, 3.10, routing, bom)  # fmt: skip


def demo_operators() -> tuple[dict[str, Operator], list[Qualification]]:
    ops = [
        Operator("Q1001", "Ana Ramírez", "QRO-TEST"),
        Operator("Q1002", "Luis Hernández", "QRO-TEST"),
        Operator("Q1003", "Jorge Pérez", "QRO-TEST"),
        Operator("F0101", "Sofía Martínez", "QRO-FAB"),
        Operator("G2001", "María González", "GDL-ATP"),
    ]
    quals = [
        Qualification("Q1001", "wafer_sort", date(2024, 1, 15), date(2026, 1, 14), "TR-WS-2024-011"),
        Qualification("Q1001", "final_test", date(2024, 1, 15), date(2026, 1, 14), "TR-FT-2024-012"),
        # Luis's final-test qualification lapsed mid-2024: steps he runs after it are flagged.
        Qualification("Q1002", "final_test", date(2022, 7, 1), date(2024, 6, 30), "TR-FT-2022-031"),
        Qualification("Q1003", "qa", date(2023, 3, 1), date(2026, 2, 28), "TR-QA-2023-004"),
        Qualification("Q1003", "pack", date(2023, 3, 1), date(2026, 2, 28), "TR-PK-2023-005"),
        Qualification("F0101", "fab", date(2023, 9, 1), date(2026, 8, 31), "TR-FAB-2023-020"),
        Qualification("G2001", "assembly", date(2024, 2, 1), date(2026, 1, 31), "TR-AS-2024-002"),
        Qualification("G2001", "bump_dice", date(2024, 2, 1), date(2026, 1, 31), "TR-BD-2024-003"),
    ]
    return {o.badge: o for o in ops}, quals


def demo_master_data() -> MasterData:
    """Sites, the three demo products (routing and BOM), operators and their training records."""
    operators, quals = demo_operators()
    products = {p.key: p for p in (_tv100(), _mc200(), _pm300a())}
    return MasterData(demo_sites(), products, operators, quals)


def demo_genealogy(product: Product, lot_id: str, wafers: int = 2, dies_per_wafer: int = 20,
                   units_per_reel: int = 10, reels_per_shipment: int = 2, wafer_ids: list[str] | None = None
                   ) -> dict[str, Any]:  # fmt: skip
    """A small genealogy of one lot, as keyword arguments of :meth:`TraceStore.add_genealogy`.

    Material lot -> fab lot -> wafers -> dies (X, Y on a square grid) -> units -> reels ->
    shipments; the assembly lot also takes the assembly materials' lots. Dies carry wafer-sort
    tester keys (lot, wafer, X, Y), units final-test keys (lot, PART_ID = ECID text).
    """
    pn = product.part_number
    edges: list[tuple[tuple[str, str], tuple[str, str]]] = []
    keys: list[dict[str, Any]] = []
    fab_lot = ("lot", lot_id)
    assy = ("assembly_lot", f"{lot_id}-A")
    wafer_materials = [m for m in product.bom if m.basis == "wafer"]
    unit_materials = [m for m in product.bom if m.basis == "unit"]
    for m in wafer_materials:
        edges.append((("material_lot", f"{m.supplier[:12]}-{m.hs_code}-{lot_id}"), fab_lot))
    for m in unit_materials:
        edges.append((("material_lot", f"{m.supplier[:12]}-{m.hs_code}-{lot_id}"), assy))
    side = int(np.ceil(np.sqrt(dies_per_wafer)))
    units: list[tuple[str, str]] = []
    for w in range(wafers):
        wid = wafer_ids[w] if wafer_ids else f"{lot_id}-{w + 1:02d}"
        wafer = ("wafer", wid)
        edges.append((fab_lot, wafer))
        for d in range(dies_per_wafer):
            x, y = d % side, d // side
            die = ("die", f"{wid}/{x},{y}")
            unit = ("unit", f"{pn}-{wid}-{x:03d}{y:03d}")
            edges += [(wafer, die), (die, unit), (assy, unit)]
            keys.append(
                {"node": die, "stage": "wafer_sort", "lot_id": lot_id, "wafer_id": wid, "x": x, "y": y}
            )
            keys.append({"node": unit, "stage": "final_test", "lot_id": f"{lot_id}-A", "part_id": unit[1]})
            units.append(unit)
    attrs = {}
    customer, country = CUSTOMERS.get(pn, ("Customer", "MX"))
    reels = [units[i : i + units_per_reel] for i in range(0, len(units), units_per_reel)]
    for r, members in enumerate(reels):
        reel = ("reel", f"{lot_id}-R{r + 1:03d}")
        edges += [(u, reel) for u in members]
        ship = ("shipment", f"SH-{lot_id}-{r // reels_per_shipment + 1:02d}")
        edges.append((reel, ship))
        attrs[ship] = {"customer": customer, "destination": country, "part_number": pn}
    return {"edges": edges, "tester_keys": keys, "attrs": attrs}


def synthetic_genealogy(units: int = 1_000_000, dies_per_wafer: int = 1000, wafers_per_lot: int = 25,
                        units_per_reel: int = 3000, reels_per_shipment: int = 5, material_lots: int = 40,
                        seed: int = 0) -> Genealogy:  # fmt: skip
    """A genealogy of ``units`` units built directly as arrays (no database), for benchmarks.

    Lots of ``wafers_per_lot`` wafers of ``dies_per_wafer`` dies, one unit per die; assembly lots
    of one fab lot each take 3 of ``material_lots`` material lots; units are reeled in a
    shuffled order (dies of a wafer spread over reels, as after final test binning and
    merging) and reels grouped into shipments.
    """
    rng = np.random.default_rng(seed)
    n_wafers = -(-units // dies_per_wafer)
    n_lots = -(-n_wafers // wafers_per_lot)
    n_reels = -(-units // units_per_reel)
    n_ships = -(-n_reels // reels_per_shipment)
    kinds_order = list(NODE_KINDS)
    counts = {"material_lot": material_lots, "lot": n_lots, "wafer": n_wafers, "die": units,
              "assembly_lot": n_lots, "unit": units, "reel": n_reels, "shipment": n_ships}  # fmt: skip
    base, start = {}, 0
    for k in kinds_order:
        base[k] = start
        start += counts[k]
    kinds = np.concatenate([np.full(counts[k], kinds_order.index(k), dtype=np.int16) for k in kinds_order])
    prefix = {"material_lot": "ML", "lot": "L", "wafer": "W", "die": "D", "assembly_lot": "AL", "unit": "U",
              "reel": "R", "shipment": "SH"}  # fmt: skip
    names = np.concatenate([np.strings.add(prefix[k], np.strings.zfill(np.arange(counts[k]).astype("T"), 7))
                            for k in kinds_order])  # fmt: skip
    die = np.arange(units)
    wafer = die // dies_per_wafer
    lot = wafer // wafers_per_lot
    reel_of_unit = rng.permutation(units) // units_per_reel
    parents, children = [], []

    def link(pk, p, ck, c):
        parents.append(base[pk] + np.asarray(p))
        children.append(base[ck] + np.asarray(c))

    lot_materials = rng.integers(0, material_lots, size=(n_lots, 3))
    link("material_lot", lot_materials[:, 0], "lot", np.arange(n_lots))
    link("material_lot", lot_materials[:, 1:].ravel(), "assembly_lot", np.repeat(np.arange(n_lots), 2))
    link("lot", np.arange(n_wafers) // wafers_per_lot, "wafer", np.arange(n_wafers))
    link("wafer", wafer, "die", die)
    link("die", die, "unit", die)
    link("assembly_lot", lot, "unit", die)
    link("unit", die, "reel", reel_of_unit)
    link("reel", np.arange(n_reels), "shipment", np.arange(n_reels) // reels_per_shipment)
    return Genealogy(kinds_order, kinds, names, np.concatenate(parents), np.concatenate(children))
