"""What the public transparency page shows (:class:`~silicio.web.public_models.TransparencyPage`),
from the supplier registry (:mod:`silicio.supply`) and the master data (:mod:`silicio.origin`'s
national content): counts of organisations by state, size, capability and kind, in words a reader
knows (no registry codes), and the national content of each product.

Disclosure: a group of fewer than :data:`MIN_PUBLIC_COUNT` organisations would point at one or two
firms, so such groups are pooled into one "other" row, shown only when the pool itself has three
or more (k-anonymity, k = 3); a total below three is not shown. No company's own figures
(capacities, lead times, employees, certificate numbers) reach the page.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import polars as pl

from silicio.i18n import N_, translation
from silicio.supply.transparency import MIN_PUBLIC_COUNT, size_class_by_employees

from . import public_models as pm

#: The country whose ecosystem the page describes (its sites are "local").
HOME_COUNTRY = "MX"
#: The open data's licence: anyone may reuse the files, citing the source.
LICENCE = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
MSME_CLASSES = ("micro", "small", "medium")
SIZE_ORDER = ("micro", "small", "medium", "large")

#: Routing step kinds (silicio.trace.model.STEP_KINDS) as a reader names them.
PROCESS_NAMES = {
    "fab": N_("Wafer fabrication"),
    "wafer_sort": N_("Wafer sort (probe test)"),
    "bump_dice": N_("Bumping and dicing"),
    "assembly": N_("Assembly and packaging"),
    "final_test": N_("Final test of packaged devices"),
    "qa": N_("Outgoing quality inspection"),
    "pack": N_("Tape and reel packing"),
}
#: HS 2022 subheadings (WCO Harmonized System; Mexico's TIGIE for the Spanish) of the goods a
#: semiconductor supply chain buys, in words; a code not listed falls back to its heading.
HS_SUBHEADINGS = {
    "2804.29": N_("Rare gases (other than argon)"),
    "2804.61": N_("Silicon, at least 99.99 % pure"),
    "2811.19": N_("Other inorganic acids"),
    "2811.29": N_("Other inorganic oxygen compounds of non-metals"),
    "3506.91": N_("Adhesives based on polymers or rubber"),
    "3818.00": N_("Chemical elements doped for electronics (wafers)"),
    "3907.30": N_("Epoxide resins"),
    "3920.99": N_("Plastic film and sheet, other plastics"),
    "3923.40": N_("Plastic spools, reels and similar supports"),
    "7108.13": N_("Gold, semi-manufactured"),
    "7408.11": N_("Refined copper wire, over 6 mm across"),
    "7408.19": N_("Refined copper wire, up to 6 mm across"),
    "8541.10": N_("Diodes"),
    "8541.21": N_("Transistors, under 1 W"),
    "8541.29": N_("Other transistors"),
    "8542.31": N_("Processors and controllers (integrated circuits)"),
    "8542.32": N_("Memories (integrated circuits)"),
    "8542.33": N_("Amplifiers (integrated circuits)"),
    "8542.39": N_("Other electronic integrated circuits"),
    "8542.90": N_("Parts of electronic integrated circuits (lead frames)"),
}
HS_HEADINGS = {
    "2804": N_("Hydrogen, rare gases and other non-metals"),
    "2811": N_("Other inorganic acids and oxygen compounds of non-metals"),
    "3506": N_("Glues and adhesives"),
    "3818": N_("Chemical elements doped for electronics (wafers)"),
    "3907": N_("Polyacetals, polyethers and epoxide resins"),
    "3920": N_("Plastic film and sheet"),
    "3923": N_("Plastic packing and conveyance articles"),
    "7108": N_("Gold"),
    "7408": N_("Copper wire"),
    "8541": N_("Semiconductor devices"),
    "8542": N_("Electronic integrated circuits"),
}
#: A code in neither list.
HS_OTHER = N_("Goods of HS subheading %(code)s")
#: Kinds of organisation (silicio.supply.ORG_KINDS) in words.
KIND_NAMES = {
    "idm": N_("Integrated device makers"),
    "foundry": N_("Wafer foundries"),
    "atp_osat": N_("Assembly and test (OSAT)"),
    "materials": N_("Materials and chemicals"),
    "equipment": N_("Equipment, metrology and maintenance"),
    "logistics": N_("Logistics"),
    "customs_broker": N_("Customs brokers"),
}
SIZE_NAMES = {"micro": N_("Micro"), "small": N_("Small"), "medium": N_("Medium"), "large": N_("Large")}
STATE_NOT_GIVEN = N_("State not given")
#: The pooled row of each data set: its groups of fewer than three organisations together.
OTHER_NAMES = {
    "by_state": N_("Other states (fewer than 3 organisations each)"),
    "by_size": N_("Other sizes (fewer than 3 organisations each)"),
    "by_capability": N_("Other capabilities (fewer than 3 organisations each)"),
    "by_kind": N_("Other kinds (fewer than 3 organisations each)"),
}

#: The data dictionary: each open data column's meaning, by (data set, column) or by column alone.
COLUMN_MEANINGS: dict[tuple[str, str] | str, str] = {
    "name": N_("The group, in English"),
    "name_es": N_("The group, in Spanish"),
    "organisations": N_("Organisations in the group, each counted once"),
    "pooled": N_("true for the row that pools the groups of fewer than 3 organisations"),
    ("by_state", "name"): N_("The Mexican state where the organisation has a site, in English"),
    ("by_state", "organisations"): N_("Organisations with at least one site in the state"),
    ("by_size", "size_class"): N_("micro, small, medium or large (DOF 30-06-2009 employee strata)"),
    ("by_size", "organisations"): N_("Local organisations of the size class"),
    ("by_capability", "hs_subheading"): N_(
        "Harmonized System subheading of the goods, when the capability is goods"
    ),
    ("by_capability", "organisations"): N_("Local organisations with a site offering the capability"),
    ("by_kind", "organisations"): N_("Local organisations of the kind"),
    "part_number": N_("The product's part number"),
    "description": N_("What the product is"),
    ("national_content", "hs_subheading"): N_("Harmonized System subheading of the product"),
    "national_content_pct": N_("Value added in Mexico over the unit's total value, in percent, one decimal"),
    "hecho_en_mexico_min_pct": N_("National content the 'Hecho en México' rule asks for, in percent"),
    "hecho_en_mexico": N_("true when the product meets the 'Hecho en México' rule"),
    "usmca_rule": N_("The USMCA product-specific rule applied"),
    "usmca_rvc_pct": N_("USMCA regional value content, transaction value method, in percent, one decimal"),
    "usmca_originating": N_(
        "true when the product is originating under USMCA; empty when it cannot be determined"
    ),
    "dataset": N_("The data set the column belongs to"),
    "column": N_("The column's name in the CSV and JSON files"),
    "kind": N_("text, integer, number (decimal) or true/false"),
    "meaning": N_("What the column holds, in English"),
    "meaning_es": N_("What the column holds, in Spanish"),
}
#: The data sets of the page, in the order shown.
DATASETS = ("by_state", "by_size", "by_capability", "by_kind", "national_content", "dictionary")


def _spanish(english: str) -> str:
    return translation("es").gettext(english)


def _named(english: str, **fields: Any) -> dict[str, Any]:
    return {"name": english, "name_es": _spanish(english), **fields}


def hs_name(code: str) -> tuple[str, str]:
    """(English, Spanish) words of an HS code (8542, 8542.39 or 8542.39.01): its subheading's,
    else its heading's, else the code itself."""
    subheading = code[:7]
    english = HS_SUBHEADINGS.get(subheading) or HS_HEADINGS.get(code[:4])
    if english is not None:
        return english, _spanish(english)
    return HS_OTHER % {"code": subheading}, _spanish(HS_OTHER) % {"code": subheading}


def pooled_groups(
    pairs: Iterable[tuple[Any, str]],
    describe: Callable[[Any], dict[str, Any]],
    other: str,
    order: Callable[[Any, int], Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Rows of (group, organisations) from (group, org_id) pairs, each organisation once a group:
    groups of :data:`MIN_PUBLIC_COUNT` or more by themselves, the rest pooled into one ``other``
    row when the pool (its organisations, each once) reaches the minimum too; and how many groups
    were left out (a pool below the minimum). ``order(group, count)``: the sort key (default:
    largest first, then by name)."""
    members: dict[Any, set[str]] = {}
    for group, org_id in pairs:
        members.setdefault(group, set()).add(org_id)
    shown = {g: orgs for g, orgs in members.items() if len(orgs) >= MIN_PUBLIC_COUNT}
    small = [orgs for orgs in members.values() if len(orgs) < MIN_PUBLIC_COUNT]
    rows = [{**describe(g), "organisations": len(orgs)} for g, orgs in shown.items()]
    if order is None:
        rows.sort(key=lambda r: (-r["organisations"], r["name"]))
    else:
        keyed = sorted(zip(shown, rows, strict=True), key=lambda gr: order(gr[0], gr[1]["organisations"]))
        rows = [r for _, r in keyed]
    pool = set().union(*small)
    if len(pool) >= MIN_PUBLIC_COUNT:
        rows.append(_named(other, organisations=len(pool), pooled=True))
        return rows, 0
    return rows, len(small)


def _capability_group(kind: str, value: str, hs_code: str | None) -> tuple[str, str]:
    """A capability row's public group: a process step, goods of an HS subheading, or a material
    named by the supplier (no HS code given)."""
    if kind == "process":
        return "process", value
    code = hs_code or (value if kind == "hs_code" else None)
    if code:
        return "hs", code[:7] if len(code) >= 7 else code
    return "material", value


def _describe_capability(group: tuple[str, str]) -> dict[str, Any]:
    kind, value = group
    if kind == "process":
        return _named(PROCESS_NAMES.get(value, value.replace("_", " ")))
    if kind == "hs":
        english, spanish = hs_name(value)
        return {"name": english, "name_es": spanish, "hs_subheading": value}
    return {"name": value, "name_es": value}


def size_classes(organisations: pl.DataFrame) -> dict[str, str]:
    """org_id -> size class: by employees (DOF 30-06-2009 strata of its sector) where the registry
    has them, else the class the organisation declared."""
    return {
        o["org_id"]: size_class_by_employees(o["employees"], o["kind"])
        if o["employees"] is not None
        else o["size_class"]
        for o in organisations.iter_rows(named=True)
    }


def _public_total(n: int) -> int | None:
    return n if n >= MIN_PUBLIC_COUNT else None


def _column_kind(annotation: Any) -> str:
    types = set(typing.get_args(annotation)) - {type(None)} or {annotation}
    if bool in types:
        return "true/false"
    if int in types:
        return "integer"
    if float in types:
        return "number"
    return "text"


def data_dictionary() -> list[pm.DictionaryEntry]:
    """Every column of every open data file, with its type and meaning in both languages."""
    rows = []
    for dataset in DATASETS:
        model = typing.get_args(pm.TransparencyPage.model_fields[dataset].annotation)[0]
        for column, field in model.model_fields.items():
            if column == "url":
                continue
            meaning = COLUMN_MEANINGS.get((dataset, column)) or COLUMN_MEANINGS[column]
            rows.append(pm.DictionaryEntry(dataset=dataset, column=column, kind=_column_kind(field.annotation),
                                           meaning=meaning, meaning_es=_spanish(meaning)))  # fmt: skip
    return rows


def national_content_rows(master, products: Iterable[str]) -> list[pm.ProductContent]:
    """Each product's national content and verdicts, as :mod:`silicio.origin` computes them."""
    from silicio.origin import OriginError, hecho_en_mexico, national_content, usmca_origin
    from silicio.origin.rules import RuleError, load_hecho_en_mexico_rules, load_usmca_rules

    hem_rules, usmca_rules = load_hecho_en_mexico_rules(), load_usmca_rules()
    rows = []
    for pn in products:
        product = master.product(pn)
        content = national_content(product, master.sites, HOME_COUNTRY)
        verdict = hecho_en_mexico(product, master.sites, hem_rules)
        try:
            usmca = usmca_origin(product, master.sites, usmca_rules)
            rule, rvc, originating = usmca.rule_id, round(usmca.rvc_tv_pct, 1), usmca.originating
        except (OriginError, RuleError):  # no price, no rule for its HS code: no verdict to publish
            rule, rvc, originating = "", None, None
        rows.append(pm.ProductContent(
            part_number=product.part_number, description=product.description or None,
            hs_subheading=product.hs_code, national_content_pct=round(content.pct, 1),
            hecho_en_mexico_min_pct=hem_rules.min_national_content_pct, hecho_en_mexico=verdict.qualifies,
            usmca_rule=rule, usmca_rvc_pct=rvc, usmca_originating=originating))  # fmt: skip
    return rows


def transparency_page(registry, master, plan: Mapping[str, Any]) -> pm.TransparencyPage:
    """The public page of ``registry`` (silicio.supply.Registry) and ``master`` (the trace master
    data) as of ``plan["as_of"]``, national content for the products of ``plan["demand"]``."""
    orgs = registry.organisations
    local_sites = registry.sites.filter(pl.col("country") == HOME_COUNTRY)
    local_ids = set(local_sites["org_id"].to_list())
    local = orgs.filter(pl.col("org_id").is_in(sorted(local_ids)))
    sizes = size_classes(local)
    caps = registry.capabilities.filter(pl.col("site_id").is_in(local_sites["site_id"].to_list()))

    by_state, state_out = pooled_groups(
        ((s["state"], s["org_id"]) for s in local_sites.iter_rows(named=True)),
        lambda state: _named(STATE_NOT_GIVEN) if state is None else {"name": state, "name_es": state},
        OTHER_NAMES["by_state"],
    )
    by_size, size_out = pooled_groups(
        ((sizes[o], o) for o in local["org_id"].to_list()),
        lambda size: _named(SIZE_NAMES[size], size_class=size),
        OTHER_NAMES["by_size"],
        order=lambda size, _: SIZE_ORDER.index(size),
    )
    by_capability, capability_out = pooled_groups(
        ((_capability_group(c["type"], c["value"], c["hs_code"]), c["org_id"]) for c in caps.iter_rows(named=True)),
        _describe_capability,
        OTHER_NAMES["by_capability"],
    )  # fmt: skip
    by_kind, kind_out = pooled_groups(
        ((o["kind"], o["org_id"]) for o in local.iter_rows(named=True)),
        lambda kind: _named(KIND_NAMES.get(kind, kind.replace("_", " "))),
        OTHER_NAMES["by_kind"],
    )
    left_out = {
        "by_state": state_out,
        "by_size": size_out,
        "by_capability": capability_out,
        "by_kind": kind_out,
    }
    products = (
        sorted(plan["demand"])
        if plan.get("demand")
        else sorted({p.part_number for p in master.products.values()})
    )
    return pm.TransparencyPage(
        home_country=HOME_COUNTRY, as_of=plan["as_of"].isoformat(),
        organisations=_public_total(orgs.height), local_organisations=_public_total(local.height),
        local_msmes=_public_total(sum(1 for size in sizes.values() if size in MSME_CLASSES)),
        sized_by_declaration=int(local["employees"].is_null().sum()),
        by_state=[pm.StateCount(**r) for r in by_state], by_size=[pm.SizeCount(**r) for r in by_size],
        by_capability=[pm.CapabilityCount(**r) for r in by_capability], by_kind=[pm.KindCount(**r) for r in by_kind],
        national_content=national_content_rows(master, products), dictionary=data_dictionary(),
        left_out={k: v for k, v in left_out.items() if v}, licence=LICENCE, licence_url=LICENCE_URL,
    )  # fmt: skip
