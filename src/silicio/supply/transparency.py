"""The public transparency view: aggregate figures of the supplier ecosystem that anyone may
see without logging in -- supplier counts by state, kind, size and capability, national
content and country concentration -- and no company's confidential numbers (capacities,
lead times, times to recover, certificate numbers, employees; see
:data:`silicio.supply.registry.CONFIDENTIAL_COLUMNS`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from silicio.trace.model import MasterData

from .registry import MSME_CLASSES, Registry

#: Employee ceilings of the micro, small and medium classes by sector, from Mexico's MSME
#: stratification (DOF 30-06-2009, "Acuerdo por el que se establece la estratificación de las micro,
#: pequeñas y medianas empresas", art. 3; the strata INEGI's ENAPROCE and economic censuses use):
#: micro up to 10 in every sector; small up to 50 in industry and services (30 in commerce, which
#: no kind of organisation here is); medium up to 250 in industry, 100 in services; large above.
#: (The Acuerdo also weighs annual sales; the registry holds employees only, so the class here is
#: by employees alone.)
EMPLOYEE_CEILINGS: dict[str, tuple[int, int, int]] = {"industry": (10, 50, 250), "services": (10, 50, 100)}
#: The DOF sector of each kind of organisation (:data:`~.registry.ORG_KINDS`): those that make
#: something are industry; carriers and customs brokers sell a service.
SECTOR_OF_KIND = {"logistics": "services", "customs_broker": "services"}


def size_class_by_employees(employees: int, kind: str) -> str:
    """micro, small, medium or large for a company of ``employees`` of organisation ``kind``, by the
    DOF 30-06-2009 employee strata of its sector (:data:`EMPLOYEE_CEILINGS`)."""
    if employees is None or employees < 0:
        raise ValueError(f"employees: expected a whole number of 0 or more, got {employees!r}")
    ceilings = EMPLOYEE_CEILINGS[SECTOR_OF_KIND.get(kind, "industry")]
    for size, ceiling in zip(("micro", "small", "medium"), ceilings, strict=True):
        if employees <= ceiling:
            return size
    return "large"


def _counts(frame: pl.DataFrame, by: str) -> dict[str, int]:
    if frame.is_empty():
        return {}
    grouped = frame.group_by(by).agg(pl.col("org_id").n_unique().alias("n")).sort(by)
    return {str(k): int(n) for k, n in grouped.iter_rows()}


def public_summary(registry: Registry, master: MasterData | None = None, demand: Mapping[str, float] | None = None,
                   home: str = "MX", as_of: dt.date | None = None) -> dict[str, Any]:  # fmt: skip
    """Aggregate ecosystem figures: counts of organisations (never their figures), and with
    the master data the national content of each product (:func:`silicio.origin.national_content`)
    and the demand-weighted country concentration of the value (HHI, DOJ/FTC scale)."""
    as_of = as_of or dt.date.today()
    orgs = registry.organisations
    local_sites = registry.sites.filter(pl.col("country") == home)
    local_orgs = orgs.filter(pl.col("org_id").is_in(local_sites["org_id"].unique().to_list()))
    caps = registry.capabilities.join(local_sites.select("site_id"), on="site_id")
    certs = registry.valid_certifications(as_of).filter(
        pl.col("org_id").is_in(local_orgs["org_id"].to_list())
    )
    out: dict[str, Any] = {
        "home_country": home,
        "as_of": as_of.isoformat(),
        "organisations": orgs.height,
        "local_organisations": local_orgs.height,
        "local_msmes": int(local_orgs["size_class"].is_in(list(MSME_CLASSES)).sum()),
        "organisations_by_country": _counts(orgs, "country"),
        "local_by_state": _counts(local_sites, "state"),
        "local_by_kind": _counts(local_orgs, "kind"),
        "local_by_size_class": _counts(local_orgs, "size_class"),
        "local_by_capability": _counts(
            caps.with_columns(capability=pl.col("type") + ":" + pl.col("value")), "capability"
        ),
        "local_with_valid_certification": _counts(certs, "standard"),
    }
    if master is not None:
        from silicio.origin import national_content

        from .network import country_concentration

        products = list(demand) if demand else sorted({p.part_number for p in master.products.values()})
        out["national_content_pct"] = {pn: national_content(master.product(pn), master.sites, home).pct
                                       for pn in products}  # fmt: skip
        conc = country_concentration(master, products, demand, home)
        out["value_hhi"] = conc["hhi_all"]
        out["import_hhi"] = conc["hhi_imports"]
        out["import_share_pct"] = conc["import_share_pct"]
    return out


#: Published counts below this are left out: a count of 1 or 2 points at one or two firms
#: (k-anonymity with k = 3, the threshold of the "rule of three" in statistical disclosure control).
MIN_PUBLIC_COUNT = 3
#: The count groups and totals of :func:`public_summary`.
COUNT_GROUPS = ("organisations_by_country", "local_by_state", "local_by_kind", "local_by_size_class",
                "local_by_capability", "local_with_valid_certification")  # fmt: skip
COUNT_TOTALS = ("organisations", "local_organisations", "local_msmes")


def publishable(summary: Mapping[str, Any], min_count: int = MIN_PUBLIC_COUNT) -> dict[str, Any]:
    """:func:`public_summary` as it may be published: each group's values counted fewer than
    ``min_count`` times left out and a total below it null (k-anonymity, k = ``min_count``);
    ``suppressed`` says how many values of each group, and which totals, were left out."""
    out = dict(summary)
    suppressed: dict[str, Any] = {"below": min_count, "values": {}, "totals": []}
    for group in COUNT_GROUPS:
        counts = summary.get(group, {})
        out[group] = {value: n for value, n in counts.items() if n >= min_count}
        if len(out[group]) < len(counts):
            suppressed["values"][group] = len(counts) - len(out[group])
    for key in COUNT_TOTALS:
        if key in summary and summary[key] < min_count:
            out[key] = None
            suppressed["totals"].append(key)
    out["suppressed"] = suppressed
    return out
