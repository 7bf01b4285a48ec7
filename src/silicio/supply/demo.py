"""The demo fab's supplier ecosystem, and synthetic multi-tier networks for benchmarks.

:func:`demo_ecosystem` registers the companies :func:`silicio.trace.demo_master_data` names
(the fab and test sites, the assembly partners, every BOM supplier, under the same names) and
about thirty more: Mexican MSMEs in Querétaro, Jalisco, Nuevo León, Chihuahua and Baja
California that could take over imported work, and foreign suppliers in Taiwan, Malaysia,
Japan, the USA, China and Korea. Capacities are set from the demo demand (a multiple of what
the products need), so the figures stay consistent with the master data. Companies are
fictitious; the numbers are plausible, not any company's.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from silicio.trace import demo_master_data
from silicio.trace.model import MasterData

from .network import Alternate, build_network, required_rates, set_inventory
from .registry import Registry, table_from_rows

#: Weekly demand of the demo products (units per week).
DEMO_DEMAND = {"SLC-TV100": 40_000.0, "SLC-MC200": 60_000.0, "SLC-PM300A": 25_000.0}
#: The date the demo's certifications are judged on.
DEMO_DATE = dt.date(2025, 6, 30)

_PLACES = {  # state or city -> (latitude, longitude)
    "Querétaro": (20.59, -100.39), "Jalisco": (20.67, -103.35), "Nuevo León": (25.69, -100.32),
    "Chihuahua": (31.69, -106.42), "Baja California": (32.51, -117.04), "Guanajuato": (21.12, -101.68),
    "Zacatecas": (22.77, -102.58), "Hsinchu": (24.80, 120.97), "Kaohsiung": (22.63, 120.30),
    "Pulau Pinang": (5.35, 100.30), "Selangor": (3.07, 101.52), "Tokyo": (35.68, 139.69), "Osaka": (34.69, 135.50),
    "Kyushu": (33.59, 130.40), "Illinois": (41.88, -87.63), "Texas": (30.27, -97.74), "Arizona": (33.45, -112.07),
    "Guangdong": (22.54, 114.06), "Jiangsu": (31.30, 120.59), "Gyeonggi": (37.27, 127.01),
}  # fmt: skip

# org_id, name, kind, size class, employees, country, state, site code (None: <org_id>-1)
_ORGS = [
    ("silicio", "Silicio Semiconductores S.A. de C.V.", "idm", "large", 850, "MX", "Querétaro", None),
    ("eeo", "Ensambles Electrónicos de Occidente S.A. de C.V.", "atp_osat", "medium", 230, "MX", "Jalisco", "GDL-ATP"),
    ("formosa-foundry", "Formosa Specialty Foundry Co., Ltd.", "foundry", "large", 4200, "TW", "Hsinchu", "HSC-FDY"),
    ("penang-atp", "Penang Assembly & Test Sdn. Bhd.", "atp_osat", "large", 3100, "MY", "Pulau Pinang", "PEN-OSAT"),
    ("shin-kanto", "Shin-Kanto Silicon", "materials", "large", 5200, "JP", "Tokyo", None),
    ("qib", "Química Industrial del Bajío", "materials", "medium", 140, "MX", "Guanajuato", None),
    ("mpz", "Metales Preciosos de Zacatecas", "materials", "small", 45, "MX", "Zacatecas", None),
    ("nippon-flex", "Nippon Flex Film", "materials", "large", 1900, "JP", "Osaka", None),
    ("resinas-jal", "Resinas de Jalisco", "materials", "small", 38, "MX", "Jalisco", None),
    ("etq", "Empaques Técnicos de Querétaro", "materials", "micro", 9, "MX", "Querétaro", None),
    ("leadframe-tech", "Leadframe Tech Co.", "materials", "large", 1500, "TW", "Kaohsiung", None),
    ("midwest-wire", "Midwest Bonding Wire LLC", "materials", "large", 420, "US", "Illinois", None),
    ("sumika-mold", "Sumika Mold Materials", "materials", "large", 2600, "JP", "Osaka", None),
    ("penang-leadframe", "Penang Leadframe Sdn. Bhd.", "materials", "large", 800, "MY", "Pulau Pinang", None),
    ("korea-wire", "Korea Precision Wire", "materials", "large", 650, "KR", "Gyeonggi", None),
    # Mexican MSMEs and local companies that could take imported work
    ("troquelados-nl", "Troquelados de Precisión del Norte", "materials", "small", 48, "MX", "Nuevo León", None),
    ("alambres-chih", "Alambres Finos de Chihuahua", "materials", "medium", 120, "MX", "Chihuahua", None),
    ("epoxicos-mty", "Compuestos Epóxicos de Monterrey", "materials", "medium", 95, "MX", "Nuevo León", None),
    ("peliculas-bc", "Películas Técnicas de Baja California", "materials", "small", 33, "MX", "Baja California", None),
    ("quimica-nl", "Química Fina de Nuevo León", "materials", "small", 41, "MX", "Nuevo León", None),
    ("gases-qro", "Gases Industriales de Querétaro", "materials", "medium", 160, "MX", "Querétaro", None),
    ("embalajes-jal", "Empaques y Embalajes de Jalisco", "materials", "micro", 8, "MX", "Jalisco", None),
    ("flex-gdl", "Circuitos Flexibles de Guadalajara", "materials", "small", 50, "MX", "Jalisco", None),
    ("ensamble-tij", "Ensamble y Prueba Tijuana", "atp_osat", "medium", 210, "MX", "Baja California", None),
    ("prueba-norte", "Prueba Eléctrica del Norte", "atp_osat", "small", 27, "MX", "Chihuahua", None),
    ("metrologia-bajio", "Laboratorio de Metrología del Bajío", "equipment", "micro", 7, "MX", "Querétaro", None),
    ("mantto-jal", "Mantenimiento de Equipos Semiconductores de Jalisco", "equipment", "small", 22, "MX", "Jalisco", None),
    ("automatiza-qro", "Automatización y Refacciones Querétaro", "equipment", "small", 19, "MX", "Querétaro", None),
    ("transportes-bajio", "Transportes Refrigerados del Bajío", "logistics", "medium", 180, "MX", "Querétaro", None),
    ("logistica-mty", "Logística Industrial Regiomontana", "logistics", "small", 46, "MX", "Nuevo León", None),
    ("aduanal-norte", "Agencia Aduanal Frontera Norte", "customs_broker", "small", 18, "MX", "Chihuahua", None),
    ("aduanal-pacifico", "Despachos Aduanales del Pacífico", "customs_broker", "micro", 6, "MX", "Baja California", None),
    # foreign suppliers
    ("hanbit-silicon", "Hanbit Silicon Wafer Co.", "materials", "large", 2100, "KR", "Gyeonggi", None),
    ("zhongyuan-lf", "Zhongyuan Leadframe Co., Ltd.", "materials", "large", 1300, "CN", "Guangdong", None),
    ("jiangsu-mold", "Jiangsu Mold Compound Co., Ltd.", "materials", "large", 900, "CN", "Jiangsu", None),
    ("kyushu-wire", "Kyushu Bonding Wire K.K.", "materials", "large", 700, "JP", "Kyushu", None),
    ("texas-gases", "Texas Specialty Gases Inc.", "materials", "large", 600, "US", "Texas", None),
    ("selangor-test", "Selangor Test Services Sdn. Bhd.", "atp_osat", "large", 1200, "MY", "Selangor", None),
    ("suzhou-osat", "Suzhou Advanced Packaging Co., Ltd.", "atp_osat", "large", 5400, "CN", "Jiangsu", None),
    ("hsinchu-probe", "Hsinchu Probe Card Corp.", "equipment", "large", 780, "TW", "Hsinchu", None),
    ("tokyo-test-eq", "Tokyo Test Equipment K.K.", "equipment", "large", 3300, "JP", "Tokyo", None),
    ("pacific-freight", "Pacific Freight Forwarders Inc.", "logistics", "large", 2500, "US", "Arizona", None),
]  # fmt: skip

# Materials: (org_id, material name or None for a capability by HS code only, hs_code, capacity as a
# multiple of the demo's weekly need of the ``basis`` material, lead time weeks, regime, basis).
_MATERIALS = [
    ("shin-kanto", "Prime Si wafer 200 mm, P<100>", "3818.00", 1.6, 8, "immex_temporary_import", None),
    ("shin-kanto", "Epi Si wafer 200 mm", "3818.00", 1.5, 10, "definitive_import", None),
    ("qib", "Process gases and chemicals", "2811.19", 1.4, 2, "domestic_purchase", None),
    ("mpz", "Gold for bumps (mg)", "7108.13", 1.5, 3, "domestic_purchase", None),
    ("nippon-flex", "Polyimide COF tape (per site)", "3920.99", 1.8, 9, "immex_temporary_import", None),
    ("resinas-jal", "Underfill epoxy", "3907.30", 1.3, 2, "domestic_purchase", None),
    ("resinas-jal", "Die attach film", "3506.91", 1.3, 2, "domestic_purchase", None),
    ("etq", "Carrier tape and reel (share)", "3923.40", 1.2, 1, "domestic_purchase", None),
    ("etq", "Carrier tape, reel, dry pack (share)", "3923.40", 1.2, 1, "domestic_purchase", None),
    ("leadframe-tech", "QFN40 copper leadframe", "8542.90", 1.7, 7, "immex_temporary_import", None),
    ("midwest-wire", "Copper bond wire 20 um (m)", "7408.11", 2.0, 4, "immex_temporary_import", None),
    ("sumika-mold", "Epoxy mold compound (g)", "3907.30", 2.0, 8, "immex_temporary_import", None),
    ("sumika-mold", "Green mold compound (g)", "3907.30", 2.0, 8, "definitive_import", None),
    ("penang-leadframe", "HTQFP48 leadframe, exposed pad", "8542.90", 1.6, 6, "definitive_import", None),
    ("korea-wire", "Gold bond wire 25 um (m)", "7108.13", 1.8, 6, "definitive_import", None),
    # approved second sources
    ("quimica-nl", "Process gases and chemicals", "2811.19", 0.8, 2, "domestic_purchase", None),
    ("embalajes-jal", "Carrier tape and reel (share)", "3923.40", 0.7, 1, "domestic_purchase", None),
    ("hanbit-silicon", "Prime Si wafer 200 mm, P<100>", "3818.00", 1.2, 9, "immex_temporary_import", None),
    # local candidates and foreign suppliers that offer an HS subheading
    ("troquelados-nl", None, "8542.90", 1.2, 3, "domestic_purchase", "QFN40 copper leadframe"),
    ("alambres-chih", None, "7408.11", 1.5, 2, "domestic_purchase", "Copper bond wire 20 um (m)"),
    ("alambres-chih", None, "7108.13", 1.1, 3, "domestic_purchase", "Gold bond wire 25 um (m)"),
    ("epoxicos-mty", None, "3907.30", 1.2, 3, "domestic_purchase", "Green mold compound (g)"),
    ("peliculas-bc", None, "3920.99", 1.3, 4, "domestic_purchase", "Polyimide COF tape (per site)"),
    ("flex-gdl", None, "3920.99", 0.4, 3, "domestic_purchase", "Polyimide COF tape (per site)"),
    ("gases-qro", None, "2811.19", 1.0, 1, "domestic_purchase", "Process gases and chemicals"),
    ("zhongyuan-lf", None, "8542.90", 3.0, 8, "immex_temporary_import", "QFN40 copper leadframe"),
    ("jiangsu-mold", None, "3907.30", 3.0, 9, "immex_temporary_import", "Epoxy mold compound (g)"),
    ("kyushu-wire", None, "7108.13", 2.0, 7, "definitive_import", "Gold bond wire 25 um (m)"),
    ("texas-gases", None, "2811.19", 2.0, 3, "definitive_import", "Process gases and chemicals"),
]  # fmt: skip

# Process capabilities: (org_id, site or None, step kind, capacity as a multiple of the demo need, lead time weeks)
_PROCESSES = [
    ("silicio", "QRO-FAB", "fab", 1.25, 8), ("silicio", "QRO-TEST", "wafer_sort", 1.4, 1),
    ("silicio", "QRO-TEST", "final_test", 1.3, 1), ("silicio", "QRO-TEST", "qa", 1.5, 0.2),
    ("silicio", "QRO-TEST", "pack", 1.5, 0.2), ("eeo", "GDL-ATP", "bump_dice", 1.3, 1),
    ("eeo", "GDL-ATP", "assembly", 1.2, 2), ("formosa-foundry", "HSC-FDY", "fab", 2.0, 10),
    ("penang-atp", "PEN-OSAT", "assembly", 1.8, 3), ("ensamble-tij", None, "assembly", 1.1, 3),
    ("ensamble-tij", None, "final_test", 0.8, 1), ("prueba-norte", None, "final_test", 0.5, 1),
    ("selangor-test", None, "final_test", 2.0, 2), ("suzhou-osat", None, "assembly", 3.0, 4),
]  # fmt: skip

# Certifications: org_id -> [(standard, expiry)]
_AUTOMOTIVE = {"silicio", "eeo", "penang-atp", "shin-kanto", "qib", "sumika-mold", "penang-leadframe", "korea-wire",
               "troquelados-nl", "epoxicos-mty", "ensamble-tij", "hanbit-silicon", "kyushu-wire", "suzhou-osat",
               "leadframe-tech", "formosa-foundry", "etq", "resinas-jal", "quimica-nl"}  # fmt: skip
_EXPIRED_IATF = {"alambres-chih": dt.date(2025, 1, 31)}  # lapsed: not qualified for automotive work
_LABS = {"metrologia-bajio", "silicio", "prueba-norte"}
_ENVIRONMENT = {"silicio", "formosa-foundry", "shin-kanto", "sumika-mold", "gases-qro", "quimica-nl", "eeo"}

#: Approved second sources already qualified for a BOM line (the rest are single-sourced).
DEMO_ALTERNATES = (
    Alternate("SLC-TV100", "FAB", "Prime Si wafer 200 mm, P<100>", "hanbit-silicon"),
    Alternate("SLC-TV100", "FAB", "Process gases and chemicals", "quimica-nl"),
    Alternate("SLC-PM300A", "FAB", "Process gases and chemicals", "quimica-nl"),
    Alternate("SLC-TV100", "PACK", "Carrier tape and reel (share)", "embalajes-jal"),
)


@dataclass
class Ecosystem:
    """The registry, the master data it serves, the demand, and the approved second sources."""

    registry: Registry
    master: MasterData
    demand: dict[str, float]
    alternates: tuple[Alternate, ...] = ()
    inventory_weeks: float = 2.0
    as_of: dt.date = DEMO_DATE
    #: Products whose suppliers must hold IATF 16949 (automotive).
    automotive: tuple[str, ...] = field(default_factory=lambda: ("SLC-PM300A",))

    def network(self) -> nx.DiGraph:
        return build_network(self.master, self.registry, self.demand, self.inventory_weeks, self.alternates)


def _needs(master: MasterData, demand: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Weekly need per material (in its units) and per step kind (wafers or units)."""
    by_material: dict[str, float] = {}
    by_step: dict[str, float] = {}
    for pn, weekly in demand.items():
        p = master.product(pn)
        wafers = weekly / p.good_die_per_wafer()
        for s in p.routing:
            by_step[s.kind] = by_step.get(s.kind, 0.0) + (wafers if s.cost_basis == "wafer" else weekly)
        for m in p.bom:
            need = m.quantity * (wafers if m.basis == "wafer" else weekly)
            by_material[m.material] = by_material.get(m.material, 0.0) + need
    return by_material, by_step


def demo_ecosystem(seed: int = 0) -> Ecosystem:
    """The demo ecosystem: 42 organisations (22 of them Mexican MSMEs), their sites, capabilities,
    certifications and requests, consistent with :func:`silicio.trace.demo_master_data`;
    deterministic by ``seed`` (capacities, lead times, TTRs, dates and coordinates vary)."""
    rng = np.random.default_rng(seed)
    master = demo_master_data()
    by_material, by_step = _needs(master, DEMO_DEMAND)
    orgs, sites, caps, certs = [], [], [], []
    site_of: dict[str, str] = {}
    for org_id, name, kind, size, employees, country, state, site in _ORGS:
        orgs.append({"org_id": org_id, "name": name, "kind": kind, "size_class": size, "country": country,
                     "state": state, "employees": employees})  # fmt: skip
        codes = [site or f"{org_id.upper()}-1"]
        if org_id == "silicio":
            codes = ["QRO-FAB", "QRO-TEST"]
        for code in codes:
            place = master.sites[code].state if code in master.sites else state
            lat, lon = _PLACES.get(place, _PLACES.get(state, (0.0, 0.0)))
            ttr = {"foundry": (10, 18), "idm": (12, 20), "atp_osat": (5, 10), "materials": (3, 9)}.get(
                kind, (1, 4)
            )
            if size != "large":
                ttr = (ttr[0] * 0.6, ttr[1] * 0.8)  # small shops rebuild faster, with less
            sites.append({"site_id": code, "org_id": org_id, "name": master.sites[code].company if code in master.sites
                          else name, "country": country, "state": place, "city": master.sites[code].city
                          if code in master.sites else "", "latitude": round(lat + rng.normal(0, 0.05), 4),
                          "longitude": round(lon + rng.normal(0, 0.05), 4),
                          "ttr_weeks": round(float(rng.uniform(*ttr)), 1)})  # fmt: skip
        site_of[org_id] = codes[0]
    for org_id, material, hs, factor, lead, regime, basis in _MATERIALS:
        capacity = by_material[basis or material] * factor * float(rng.uniform(0.95, 1.05))
        row = {"org_id": org_id, "site_id": site_of[org_id], "hs_code": hs, "unit": "per BOM unit",
               "capacity_per_week": round(capacity, 3), "lead_time_weeks": float(lead + rng.integers(0, 2)),
               "regime": regime}  # fmt: skip
        caps.append(
            {**row, "type": "material", "value": material}
            if material
            else {**row, "type": "hs_code", "value": hs}
        )
    for org_id, site, kind, factor, lead in _PROCESSES:
        caps.append({"org_id": org_id, "site_id": site or site_of[org_id], "type": "process", "value": kind,
                     "capacity_per_week": round(by_step[kind] * factor * float(rng.uniform(0.95, 1.05)), 3),
                     "unit": "wafers" if kind in ("fab", "wafer_sort") else "units", "lead_time_weeks": float(lead),
                     "regime": None})  # fmt: skip
    for org_id, *_ in _ORGS:

        def cert(standard: str, expires: dt.date, org_id: str = org_id) -> dict:
            return {"org_id": org_id, "site_id": site_of[org_id], "standard": standard,
                    "certificate": f"{standard.split()[-1].replace('/', '')}-{org_id.upper()[:6]}-{rng.integers(1000, 9999)}",
                    "issued": expires.replace(year=expires.year - 3), "expires": expires}  # fmt: skip

        def later() -> dt.date:
            return DEMO_DATE + dt.timedelta(days=int(rng.integers(60, 900)))

        certs.append(cert("ISO 9001", later()))
        if org_id in _AUTOMOTIVE:
            certs.append(cert("IATF 16949", later()))
        if org_id in _EXPIRED_IATF:
            certs.append(cert("IATF 16949", _EXPIRED_IATF[org_id]))
        if org_id in _LABS:
            certs.append(cert("ISO/IEC 17025", later()))
        if org_id in _ENVIRONMENT:
            certs.append(cert("ISO 14001", later()))
    requests = [
        ("RFQ-2025-001", "silicio", "troquelados-nl", "rfq", "QFN40 copper leadframe, 60k/week", "open"),
        ("RFQ-2025-002", "silicio", "alambres-chih", "rfq", "Copper bond wire 20 um", "answered"),
        ("RFQ-2025-003", "silicio", "epoxicos-mty", "rfq", "Epoxy mold compound, automotive grade", "open"),
        (
            "QUAL-2025-004",
            "silicio",
            "ensamble-tij",
            "qualification",
            "HTQFP48 assembly, AEC-Q100 lot",
            "open",
        ),
        ("CAR-2025-005", "silicio", "etq", "corrective_action", "Cover tape peel force out of spec", "open"),
        (
            "CAP-2025-006",
            "silicio",
            "resinas-jal",
            "capacity_survey",
            "Capacity and TTR survey 2025",
            "answered",
        ),
        ("CAP-2025-007", "silicio", "mpz", "capacity_survey", "Capacity and TTR survey 2025", "open"),
        ("RFQ-2025-008", "eeo", "peliculas-bc", "rfq", "Polyimide COF tape", "open"),
    ]
    reqs = [{"request_id": r, "from_org": a, "to_org": b, "kind": k, "subject": s, "status": st,
             "created": DEMO_DATE - dt.timedelta(days=int(rng.integers(5, 120)))}
            for r, a, b, k, s, st in requests]  # fmt: skip
    registry = Registry(
        organisations=table_from_rows("organisations", orgs), sites=table_from_rows("sites", sites),
        capabilities=table_from_rows("capabilities", caps), certifications=table_from_rows("certifications", certs),
        requests=table_from_rows("requests", reqs),
    )  # fmt: skip
    return Ecosystem(registry, master, dict(DEMO_DEMAND), DEMO_ALTERNATES)


# -- synthetic networks for benchmarks -----------------------------------------------------------

_COUNTRIES = ("MX", "US", "TW", "MY", "JP", "CN", "KR", "DE")


def synthetic_network(n_nodes: int = 1000, products: int = 10, tiers: int = 5, seed: int = 0) -> nx.DiGraph:
    """A layered multi-tier network of ``n_nodes`` nodes: ``products`` finished products, the rest
    spread over ``tiers`` supplier tiers; each node needs 1-3 material types, each made by 1-3
    sources of the next tier. Capacities are 1.2-2.5x the required rate, inventories 0-4
    weeks, TTRs 1-16 weeks; random but deterministic by ``seed``."""
    if products < 1 or tiers < 1 or n_nodes < products + tiers:
        raise ValueError(f"need at least one product and one node per tier: n_nodes={n_nodes}, products={products}, "
                         f"tiers={tiers}")  # fmt: skip
    rng = np.random.default_rng(seed)
    rest = n_nodes - products
    per_tier = np.full(tiers, rest // tiers)
    per_tier[: rest % tiers] += 1
    layers = [[f"P{i:04d}" for i in range(products)]]
    layers += [[f"T{t + 1}-{i:04d}" for i in range(int(k))] for t, k in enumerate(per_tier)]
    g = nx.DiGraph()
    for t, layer in enumerate(layers):
        for name in layer:
            country = _COUNTRIES[int(rng.integers(0, len(_COUNTRIES)))]
            g.add_node(name, kind="product" if t == 0 else "material", label=name, facility=name, org_id=name,
                       country=country, state="", region=country, capacity=math.inf, inventory=0.0,
                       ttr=float(rng.uniform(1, 16)), lead_time=float(rng.uniform(1, 8)),
                       demand=float(rng.uniform(100, 1000)) if t == 0 else 0.0,
                       profit=float(rng.uniform(5, 50)) if t == 0 else 0.0)  # fmt: skip
    for t in range(len(layers) - 1):
        consumers, suppliers = layers[t], list(rng.permutation(layers[t + 1]))
        # Cut the supplier tier into material types of 1-3 sources each.
        types: list[list[str]] = []
        while suppliers:
            q = int(rng.integers(1, 4))
            types.append([str(s) for s in suppliers[:q]])
            suppliers = suppliers[q:]
        uses: dict[str, list[int]] = {c: [] for c in consumers}
        for k in range(len(types)):  # every type has a customer
            uses[consumers[int(rng.integers(0, len(consumers)))]].append(k)
        for c in consumers:  # and every consumer 1-3 inputs
            while len(uses[c]) < int(rng.integers(1, 4)):
                k = int(rng.integers(0, len(types)))
                if k not in uses[c]:
                    uses[c].append(k)
        for c, ks in uses.items():
            for k in ks:
                r = float(rng.integers(1, 4))
                for s in types[k]:
                    g.add_edge(s, c, material=f"M{t + 1}-{k}", units=r)
    rates = required_rates(g)
    for n in g:
        g.nodes[n]["capacity"] = max(rates[n], 1.0) * float(rng.uniform(1.2, 2.5))
    set_inventory(g, {n: float(rng.uniform(0, 4)) for n in g})
    return g
