"""National content, USMCA regional value content and origin, and the 'Hecho en México' test.

Values are per good unit (USD), from a product's cost roll-up
(:func:`silicio.trace.model.cost_rollup`): each routing step's value added and each BOM
material, with the country of the site or of the material's origin.

References
----------
USMCA (Agreement between the United States of America, the United Mexican States, and Canada),
Chapter 4, Rules of Origin:

* Article 4.2 -- originating goods: (a) wholly obtained or produced; (b) produced from
  non-originating materials that satisfy Annex 4-B; (c) produced exclusively from originating
  materials; (d) the RVC alternative for goods whose materials cannot change classification.
* Article 4.5 -- regional value content: transaction value method
  RVC = (TV - VNM) / TV x 100; net cost method RVC = (NC - VNM) / NC x 100. VNM includes
  materials of undetermined origin.
* Article 4.12 -- de minimis: non-originating materials that do not undergo the required
  change in tariff classification are disregarded when their value is not more than 10 % of
  the transaction value or of the total cost of the good.

19 CFR 102.20 -- tariff-shift rules (USMCA marking rules), rule 8541-8542.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from silicio.trace.model import CostLine, MasterDataError, Product, Site, cost_rollup

from .rules import HechoEnMexicoRules, UsmcaRules, load_hecho_en_mexico_rules, load_usmca_rules


class OriginError(ValueError):
    """Figures that cannot give a regional value content (a zero transaction value, say)."""


def _finite_nonneg(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise OriginError(f"{name} must be a finite non-negative value, got {value!r}")
    return v


def rvc_transaction_value(tv: float, vnm: float) -> float:
    """RVC = (TV - VNM) / TV x 100, in percent (USMCA Article 4.5.2)."""
    tv, vnm = _finite_nonneg("TV", tv), _finite_nonneg("VNM", vnm)
    if tv == 0:
        raise OriginError("TV (transaction value) must be positive for the transaction value method")
    return (tv - vnm) / tv * 100.0


def rvc_net_cost(nc: float, vnm: float) -> float:
    """RVC = (NC - VNM) / NC x 100, in percent (USMCA Article 4.5.3)."""
    nc, vnm = _finite_nonneg("NC", nc), _finite_nonneg("VNM", vnm)
    if nc == 0:
        raise OriginError("NC (net cost) must be positive for the net cost method")
    return (nc - vnm) / nc * 100.0


def within_de_minimis(value_not_shifting: float, basis_value: float, max_pct: float = 10.0) -> bool:
    """Whether non-originating materials that fail the tariff shift are disregarded: their value
    is not more than ``max_pct`` % of the basis (TV or total cost) (USMCA Article 4.12.1)."""
    value = _finite_nonneg("value of non-originating materials", value_not_shifting)
    basis = _finite_nonneg("de minimis basis", basis_value)
    if basis == 0:
        raise OriginError("the de minimis basis (transaction value or total cost) must be positive")
    return value <= basis * max_pct / 100.0


# -- national content ---------------------------------------------------------------------------


@dataclass
class NationalContent:
    """Value added in ``country`` over the total value of a unit, and where the rest comes from."""

    country: str
    domestic_value: float
    total_value: float
    domestic_materials: float
    domestic_process: float
    by_country: dict[str, float]

    @property
    def pct(self) -> float:
        return self.domestic_value / self.total_value * 100.0

    def import_dependence(self) -> list[dict[str, Any]]:
        """Foreign countries by share of the unit's value, largest first."""
        rows = [{"country": c, "value": v, "pct": v / self.total_value * 100.0}
                for c, v in self.by_country.items() if c != self.country]  # fmt: skip
        return sorted(rows, key=lambda r: -r["value"])

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pct": self.pct, "import_dependence": self.import_dependence()}


def national_content_of(lines: list[CostLine], country: str = "MX") -> NationalContent:
    """National content = (materials originating in ``country`` + value added by steps at sites
    in ``country``) / total value, total value = all materials + all steps' value added."""
    total = math.fsum(line.per_unit for line in lines)
    if total <= 0:
        raise OriginError("the product's total value is zero: no costs in its routing or BOM")
    mats = math.fsum(line.per_unit for line in lines if line.kind == "material" and line.country == country)
    proc = math.fsum(line.per_unit for line in lines if line.kind == "process" and line.country == country)
    by_country: dict[str, float] = {}
    for line in lines:
        by_country[line.country] = by_country.get(line.country, 0.0) + line.per_unit
    return NationalContent(country, mats + proc, total, mats, proc, by_country)


def national_content(product: Product, sites: dict[str, Site], country: str = "MX") -> NationalContent:
    """National content of one unit of ``product`` from its routing and BOM (see :func:`national_content_of`)."""
    return national_content_of(cost_rollup(product, sites), country)


# -- USMCA origin -------------------------------------------------------------------------------


@dataclass
class OriginInput:
    """A material as the origin rules see it: its classification, origin and value per unit.
    A foreign step's output that comes back (a foundry wafer, an OSAT-assembled device) is one
    non-originating material carrying all the value accumulated up to it."""

    description: str
    hs_code: str
    country: str
    value: float
    originating: bool
    mounted: bool
    tariff_shift: bool | None = None  # None for originating materials (the rule does not apply)
    rule_text: str = ""


@dataclass
class OriginDetermination:
    """Whether a good is originating under USMCA, and the figures behind it."""

    part_number: str
    hs_code: str
    producer_country: str
    tv: float
    nc: float
    vnm: float
    rvc_tv_pct: float
    rvc_nc_pct: float
    rule_id: str
    requirement: str
    inputs: list[OriginInput]
    not_shifting_value: float
    de_minimis_limit: float
    de_minimis_applied: bool
    tariff_shift_met: bool
    rvc_met: bool | None
    originating: bool
    criterion: str | None
    reasons: list[str] = field(default_factory=list)
    #: What the rule applied cannot promise (USMCA Annex 4-B text not verified): shown with the result.
    caveats: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def origin_inputs(
    product: Product, sites: dict[str, Site], region: tuple[str, ...]
) -> tuple[list[OriginInput], str]:
    """The materials of the last production in the region, and the producer's country.

    Steps after the last one done outside ``region`` are the production in the territory; what
    came before reaches it as one material (the foreign step's output: its HS code and form,
    the accumulated value, the foreign country). Steps within the region add originating value.
    """
    lines = cost_rollup(product, sites)
    if not product.routing:
        raise MasterDataError(f"product {product.key}: no routing")
    last_foreign = None
    for step in product.routing:
        if sites[step.site].country not in region:
            last_foreign = step
    if last_foreign is not None and last_foreign is product.routing[-1]:
        raise OriginError(f"product {product.key}: its last step ({last_foreign.code}) is outside the region; "
                          "the good is not produced in the territory (Article 4.2)")  # fmt: skip
    inputs: list[OriginInput] = []
    if last_foreign is not None:
        before = [line for line in lines if line.seq <= last_foreign.seq]
        country = sites[last_foreign.site].country
        inputs.append(OriginInput(
            f"{last_foreign.name or last_foreign.kind} output from {sites[last_foreign.site].company} ({country})",
            last_foreign.output_hs, country, math.fsum(line.per_unit for line in before), False,
            last_foreign.output_form == "package"))  # fmt: skip
        lines = [line for line in lines if line.seq > last_foreign.seq]
    for line in lines:
        if line.kind == "material":
            inputs.append(OriginInput(line.name, line.hs_code, line.country, line.per_unit, line.country in region,
                                      False))  # fmt: skip
    producer = sites[product.routing[-1].site].country
    return inputs, producer


def usmca_origin(
    product: Product, sites: dict[str, Site], rules: UsmcaRules | None = None
) -> OriginDetermination:
    """USMCA origin of one unit of ``product``.

    1. Non-originating materials (VNM, Article 4.5) must each satisfy one tariff-shift
       alternative of the product-specific rule; those that do not are disregarded when their
       total is within de minimis (Article 4.12).
    2. Where the rule asks for an RVC, the transaction value or the net cost method must reach
       its threshold (Article 4.5). TV = the product's price; NC = its cost roll-up (no sales
       promotion, royalty, shipping or interest costs are recorded to deduct).
    3. Criterion (Article 4.2): C when every material is originating, else B.
    """
    rules = rules or load_usmca_rules()
    rule = rules.rule_for(product.hs_code)
    tv = float(product.price)
    if not math.isfinite(tv) or tv <= 0:
        # Article 4.5.2 divides by TV; a good given away has no transaction value to judge.
        raise OriginError(f"product {product.key}: price {product.price!r} USD is not a transaction value "
                          "(USMCA Article 4.5.2 needs a positive one); set the product's price "
                          "in the master data before determining its origin")  # fmt: skip
    inputs, producer = origin_inputs(product, sites, rules.region)
    nc = math.fsum(line.per_unit for line in cost_rollup(product, sites))
    good_mounted = product.routing[-1].output_form == "package"
    reasons: list[str] = []
    for m in inputs:
        if m.originating:
            continue
        hits = [
            a for a in rule.alternatives if a.satisfied(m.hs_code, product.hs_code, m.mounted, good_mounted)
        ]
        m.tariff_shift = bool(hits)
        m.rule_text = hits[0].text if hits else ""
    vnm = math.fsum(m.value for m in inputs if not m.originating)
    not_shifting = math.fsum(m.value for m in inputs if m.tariff_shift is False)
    basis_value = tv if rules.de_minimis_basis == "transaction_value" else nc
    limit = basis_value * rules.de_minimis_pct / 100.0
    de_minimis = not_shifting > 0 and within_de_minimis(not_shifting, basis_value, rules.de_minimis_pct)
    shift_met = not_shifting == 0 or de_minimis
    for m in inputs:
        if m.tariff_shift is False:
            reasons.append(f"{m.description} (HS {m.hs_code}, {m.country}, {m.value:.4f} USD) does not undergo "
                           f"a change of tariff classification to {product.hs_code} under {rule.id}")  # fmt: skip
    if not_shifting > 0:
        reasons.append(f"non-shifting materials {not_shifting:.4f} USD {'within' if de_minimis else 'exceed'} "
                       f"de minimis {rules.de_minimis_pct:g} % of {rules.de_minimis_basis.replace('_', ' ')} "
                       f"({limit:.4f} USD; Article 4.12)")  # fmt: skip
    rvc_tv = rvc_transaction_value(tv, vnm)
    rvc_nc = rvc_net_cost(nc, vnm)
    tv_min = rule.rvc_transaction_value_min_pct or rules.rvc_transaction_value_min_pct
    nc_min = rule.rvc_net_cost_min_pct or rules.rvc_net_cost_min_pct
    rvc_met = None
    if "rvc" in rule.requirement:
        rvc_met = rvc_tv >= tv_min or rvc_nc >= nc_min
        reasons.append(f"RVC {rvc_tv:.1f} % (TV method, min {tv_min:g} %) / {rvc_nc:.1f} % (NC method, "
                       f"min {nc_min:g} %): {'met' if rvc_met else 'not met'} (Article 4.5)")  # fmt: skip
    originating = {
        "tariff_shift": shift_met,
        "rvc": bool(rvc_met),
        "tariff_shift_or_rvc": shift_met or bool(rvc_met),
        "tariff_shift_and_rvc": shift_met and bool(rvc_met),
    }[rule.requirement]
    if producer not in rules.region:
        originating = False
        reasons.append(f"the last production step is in {producer}, outside the region")
    criterion = None
    if originating:
        criterion = "C" if vnm == 0 else "B"
    return OriginDetermination(product.part_number, product.hs_code, producer, tv, nc, vnm, rvc_tv, rvc_nc, rule.id,
                               rule.requirement, inputs, not_shifting, limit, de_minimis, shift_met, rvc_met,
                               originating, criterion, reasons, [rule.caveat] if rule.caveat else [])  # fmt: skip


# -- Hecho en México ----------------------------------------------------------------------------


@dataclass
class HechoEnMexico:
    qualifies: bool
    claim: str | None  # "made", "manufactured" or "assembled" in Mexico
    national_content_pct: float
    min_national_content_pct: float
    last_substantial_transformation: dict[str, str] | None
    reasons: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hecho_en_mexico(
    product: Product, sites: dict[str, Site], rules: HechoEnMexicoRules | None = None
) -> HechoEnMexico:
    """The 'Hecho en México' criteria of ``rules`` applied to ``product``.

    Claim: "made" when every substantial transformation (wafer fab, assembly) is done in the
    country, "manufactured" when the last is a fab step there, "assembled" when it is an
    assembly step there.
    """
    rules = rules or load_hecho_en_mexico_rules()
    nc = national_content(product, sites, rules.country)
    transforming = [s for s in product.routing if s.substantial_transformation]
    last = transforming[-1] if transforming else None
    reasons = []
    ok_content = nc.pct >= rules.min_national_content_pct
    reasons.append(
        f"national content {nc.pct:.1f} % {'>=' if ok_content else '<'} {rules.min_national_content_pct:g} %"
    )
    last_info = None
    ok_transform = True
    if last is None:
        ok_transform = not rules.require_last_substantial_transformation_in_country
        reasons.append("no routing step is marked as a substantial transformation")
    else:
        country = sites[last.site].country
        last_info = {"step": last.code, "kind": last.kind, "site": last.site, "country": country}
        if rules.require_last_substantial_transformation_in_country:
            ok_transform = country == rules.country
            reasons.append(f"last substantial transformation: {last.kind} at {last.site} ({country})"
                           f"{'' if ok_transform else ', outside ' + rules.country}")  # fmt: skip
    claim = None
    qualifies = ok_content and ok_transform
    if qualifies and last is not None:
        if all(sites[s.site].country == rules.country for s in transforming):
            claim = "made"
        else:
            claim = "manufactured" if last.kind == "fab" else "assembled"
    return HechoEnMexico(qualifies, claim, nc.pct, rules.min_national_content_pct, last_info, reasons)


def origin_report(product: Product, sites: dict[str, Site], usmca: UsmcaRules | None = None,
                  hem: HechoEnMexicoRules | None = None, country: str = "MX") -> dict[str, Any]:  # fmt: skip
    """Everything about one product's origin as plain data: national content and import
    dependence, USMCA determination, 'Hecho en México'."""
    return {
        "part_number": product.part_number,
        "revision": product.revision,
        "hs_code": product.hs_code,
        "national_content": national_content(product, sites, country).as_dict(),
        "usmca": usmca_origin(product, sites, usmca).as_dict(),
        "hecho_en_mexico": hecho_en_mexico(product, sites, hem).as_dict(),
    }
