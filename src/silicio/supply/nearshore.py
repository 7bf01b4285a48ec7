"""Nearshoring: for each imported material or foreign routing step, the qualified local
suppliers, ranked; what national content and import concentration would become if the work
moved to the best of them; and the gap list of inputs no local supplier can take yet.

A candidate is *qualified* when it has the capability (the material by name or by HS
subheading, or the step's process), a certification valid on the date asked (ISO 9001;
IATF 16949 too for automotive products), and declared capacity for the product's weekly need.
Qualified candidates come first, then by shortest lead time, then by capacity headroom; MSMEs
are marked so a buyer can prefer them.

National content is :func:`silicio.origin.national_content_of` on the product's cost roll-up
with the moved line's country set to the home country (value added in Mexico over total
value); import concentration is the HHI of the imported value by country (DOJ/FTC scale).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from silicio.origin import national_content_of
from silicio.trace.model import MasterData, Product, cost_rollup

from .concentration import hhi, shares_pct
from .registry import MSME_CLASSES, Registry

AUTOMOTIVE_CERTIFICATION = "IATF 16949"
BASE_CERTIFICATION = "ISO 9001"


@dataclass
class NearshoreReport:
    """``candidates``: every local candidate for every imported input, ranked; ``moves``: per
    input, the best qualified candidate and the national-content and concentration change;
    ``gaps``: inputs with no qualified local candidate and why."""

    candidates: pl.DataFrame
    moves: pl.DataFrame
    gaps: pl.DataFrame

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).to_dicts() for name in ("candidates", "moves", "gaps")}


def _subheading(hs: str) -> str:
    return hs[:7]


def _imported_inputs(product: Product, master: MasterData, weekly: float, home: str) -> list[dict[str, Any]]:
    wafers = weekly / product.good_die_per_wafer()
    out = []
    for step in product.routing:
        site = master.sites[step.site]
        if site.country != home:
            out.append({"type": "step", "step": step.code, "input": step.kind, "hs_code": step.output_hs,
                        "current": site.company, "current_country": site.country,
                        "need_per_week": wafers if step.cost_basis == "wafer" else weekly})  # fmt: skip
    for m in product.bom:
        if m.country != home:
            out.append({"type": "material", "step": m.step, "input": m.material, "hs_code": m.hs_code,
                        "current": m.supplier, "current_country": m.country,
                        "need_per_week": m.quantity * (wafers if m.basis == "wafer" else weekly)})  # fmt: skip
    return out


def _moved_lines(product: Product, master: MasterData, item: dict[str, Any], home: str):
    lines = cost_rollup(product, master.sites)
    out = []
    for line in lines:
        moved = (item["type"] == "step" and line.kind == "process" and line.step == item["step"]) or (
            item["type"] == "material" and line.kind == "material" and line.step == item["step"]
            and line.name == item["input"]
        )  # fmt: skip
        out.append(dataclasses.replace(line, country=home) if moved else line)
    return lines, out


def _import_hhi(by_country: Mapping[str, float], home: str) -> float:
    imports = {c: v for c, v in by_country.items() if c != home and v > 0}
    return hhi(shares_pct(imports), unit="percent") if imports else 0.0


def nearshore(master: MasterData, registry: Registry, demand: Mapping[str, float], home: str = "MX",
              as_of: dt.date | None = None, automotive: Sequence[str] = ()) -> NearshoreReport:  # fmt: skip
    """Local options for every imported input of the products in ``demand`` (units per week)."""
    as_of = as_of or dt.date.today()
    orgs = registry.organisations.select("org_id", "name", "size_class")
    sites = registry.sites.filter(pl.col("country") == home).select("site_id", "state")
    local = registry.capabilities.join(sites, on="site_id").join(orgs, on="org_id")
    valid = registry.valid_certifications(as_of).group_by("org_id").agg(pl.col("standard").unique().sort())
    held = {r["org_id"]: set(r["standard"]) for r in valid.iter_rows(named=True)}
    cand_rows, move_rows, gap_rows = [], [], []
    for pn, weekly in demand.items():
        product = master.product(pn)
        required = [BASE_CERTIFICATION] + ([AUTOMOTIVE_CERTIFICATION] if pn in automotive else [])
        for item in _imported_inputs(product, master, float(weekly), home):
            if item["type"] == "step":
                match = local.filter((pl.col("type") == "process") & (pl.col("value") == item["input"]))
            else:
                match = local.filter(
                    ((pl.col("type") == "material") & (pl.col("value") == item["input"]))
                    | (
                        (pl.col("type") == "hs_code")
                        & (pl.col("value").str.slice(0, 7) == _subheading(item["hs_code"]))
                    )
                )
            # One row per organisation: its best (largest) capacity row for this input.
            match = match.sort("capacity_per_week", descending=True, nulls_last=True).unique(
                "org_id", keep="first"
            )
            rows = []
            for c in match.iter_rows(named=True):
                if c["name"] == item["current"]:
                    continue
                reasons = [f"no valid {s}" for s in required if s not in held.get(c["org_id"], set())]
                cap = c["capacity_per_week"]
                if cap is None or cap < item["need_per_week"]:
                    reasons.append(f"capacity {cap or 0:,.1f}/week < need {item['need_per_week']:,.1f}/week")
                rows.append({"product": pn, "input_type": item["type"], "step": item["step"], "input": item["input"],
                             "hs_code": item["hs_code"], "current_supplier": item["current"],
                             "current_country": item["current_country"], "need_per_week": item["need_per_week"],
                             "org_id": c["org_id"], "name": c["name"], "state": c["state"],
                             "size_class": c["size_class"], "msme": c["size_class"] in MSME_CLASSES,
                             "capacity_per_week": cap, "lead_time_weeks": c["lead_time_weeks"],
                             "headroom": (cap or 0.0) / item["need_per_week"] if item["need_per_week"] else None,
                             "certifications": ", ".join(sorted(held.get(c["org_id"], set()))),
                             "qualified": not reasons, "reasons": "; ".join(reasons)})  # fmt: skip
            rows.sort(key=lambda r: (not r["qualified"], r["lead_time_weeks"] if r["lead_time_weeks"] is not None
                                     else float("inf"), -(r["headroom"] or 0.0), r["org_id"]))  # fmt: skip
            for rank, r in enumerate(rows, start=1):
                r["rank"] = rank
            cand_rows += rows
            best = next((r for r in rows if r["qualified"]), None)
            if best is None:
                why = "no local supplier has the capability" if not rows else rows[0]["reasons"]
                gap_rows.append({"product": pn, "input_type": item["type"], "step": item["step"],
                                 "input": item["input"], "hs_code": item["hs_code"],
                                 "current_country": item["current_country"], "need_per_week": item["need_per_week"],
                                 "local_candidates": len(rows), "reason": why})  # fmt: skip
                continue
            before_lines, after_lines = _moved_lines(product, master, item, home)
            before, after = national_content_of(before_lines, home), national_content_of(after_lines, home)
            move_rows.append({"product": pn, "input_type": item["type"], "step": item["step"], "input": item["input"],
                              "from_country": item["current_country"], "to_org_id": best["org_id"],
                              "to_name": best["name"], "to_state": best["state"], "msme": best["msme"],
                              "national_content_before_pct": before.pct, "national_content_after_pct": after.pct,
                              "national_content_change_pct": after.pct - before.pct,
                              "import_hhi_before": _import_hhi(before.by_country, home),
                              "import_hhi_after": _import_hhi(after.by_country, home)})  # fmt: skip
    return NearshoreReport(_frame(cand_rows), _frame(move_rows), _frame(gap_rows))


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
