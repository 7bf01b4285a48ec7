"""Product and process master data: products, sites, routings, bills of materials, operators.

Plain dataclasses, validated on construction, so the origin analyses (:mod:`silicio.origin`)
are pure functions of them; :mod:`silicio.trace.store` keeps them in the database.

Money is in US dollars; lengths in mm as in :mod:`silicio.yields.die`. A cost or a material
quantity is given per wafer (fab, sort: the wafer is the unit of work) or per unit (a
packaged device: assembly, test, pack); the roll-up spreads per-wafer amounts over the good
dies of a wafer.

References
----------
de Vries, D. K. "Investigation of gross die per wafer formulas", IEEE Trans. Semicond. Manuf.
18(1), 136-139 (2005) -- gross die per wafer, through :func:`silicio.yields.gross_die_per_wafer`.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date

from silicio.yields.die import YIELD_MODELS, grid_die_per_wafer, gross_die_per_wafer

#: Kinds of routing steps, in the order a device meets them.
STEP_KINDS = ("fab", "wafer_sort", "bump_dice", "assembly", "final_test", "qa", "pack")
#: Customs regimes of a material: definitive import (A1), IMMEX temporary import (IN), or
#: bought in Mexico.
REGIMES = ("definitive_import", "immex_temporary_import", "domestic_purchase")
#: What a step's output is: a wafer or die not yet mounted, or a mounted (packaged) device.
FORMS = ("wafer", "die", "package")
BASES = ("wafer", "unit")

_HS = re.compile(r"^\d{4}(\.\d{2}(\d{2})?)?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class MasterDataError(ValueError):
    """Master data that is not valid: the message names the record and the field."""


def _require(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise MasterDataError(f"{where}: {message}")


def check_hs(code: str, where: str) -> str:
    """An HS code written ``8542``, ``8542.31`` or ``8542.31.00`` (heading, subheading, item)."""
    _require(isinstance(code, str) and bool(_HS.match(code)), where,
             f"HS code must look like 8542, 8542.31 or 8542.31.00, got {code!r}")  # fmt: skip
    return code


def check_country(code: str, where: str) -> str:
    _require(isinstance(code, str) and bool(_COUNTRY.match(code)), where,
             f"country must be an ISO 3166 alpha-2 code such as MX, got {code!r}")  # fmt: skip
    return code


def _nonnegative(value: float, where: str, name: str) -> None:
    _require(isinstance(value, int | float) and math.isfinite(value) and value >= 0, where,
             f"{name} must be a non-negative number, got {value!r}")  # fmt: skip


@dataclass(frozen=True)
class Site:
    """Where a step is done: the company, and its country (ISO alpha-2) and state."""

    code: str
    company: str
    country: str
    state: str = ""
    city: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.code), "site", "code is empty")
        check_country(self.country, f"site {self.code}")


@dataclass(frozen=True)
class RoutingStep:
    """One step of a product's routing, at a site, with the cost (value added) it books.

    ``output_hs`` and ``output_form`` describe what leaves the step (a processed wafer is
    8542.31 unmounted, an assembled device 8542.31 mounted); the origin rules need them when a
    step is done outside the region and its output comes back as a material.
    ``substantial_transformation`` marks steps that make a new article (fab, assembly), not
    those that test, inspect or pack one.
    """

    seq: int
    code: str
    kind: str
    site: str
    cost: float
    cost_basis: str = "unit"
    output_hs: str = "8542.31"
    output_form: str = "package"
    substantial_transformation: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        where = f"routing step {self.code!r}"
        _require(
            self.kind in STEP_KINDS, where, f"kind must be one of {', '.join(STEP_KINDS)}, got {self.kind!r}"
        )
        _require(
            self.cost_basis in BASES, where, f"cost_basis must be 'wafer' or 'unit', got {self.cost_basis!r}"
        )
        _require(self.output_form in FORMS, where, f"output_form must be one of {', '.join(FORMS)}")
        _nonnegative(self.cost, where, "cost")
        check_hs(self.output_hs, where)


@dataclass(frozen=True)
class BomLine:
    """A material consumed at a step: who supplies it, where it originates, how it enters Mexico."""

    step: str
    material: str
    supplier: str
    country: str
    hs_code: str
    quantity: float
    unit_cost: float
    basis: str = "unit"
    regime: str = "definitive_import"
    uom: str = "ea"

    def __post_init__(self) -> None:
        where = f"BOM line {self.material!r} at step {self.step!r}"
        check_country(self.country, where)
        check_hs(self.hs_code, where)
        _nonnegative(self.quantity, where, "quantity")
        _nonnegative(self.unit_cost, where, "unit_cost")
        _require(self.basis in BASES, where, f"basis must be 'wafer' or 'unit', got {self.basis!r}")
        _require(
            self.regime in REGIMES, where, f"regime must be one of {', '.join(REGIMES)}, got {self.regime!r}"
        )

    @property
    def cost(self) -> float:
        return self.quantity * self.unit_cost


@dataclass(frozen=True)
class Product:
    """A design: part number and revision, die and wafer geometry, yield target, price, routing, BOM.

    ``price`` is the transaction value of one unit (USD, ex works: no international freight).
    ``d0`` is the target defect density (/cm^2) of ``yield_model`` (a name of
    :data:`silicio.yields.die.YIELD_MODELS`; ``alpha`` for the negative binomial).
    """

    part_number: str
    revision: str
    description: str
    hs_code: str
    die_width: float
    die_height: float
    wafer_diameter: float = 200.0
    scribe: float = 0.1
    edge_exclusion: float = 3.0
    d0: float = 0.1
    yield_model: str = "murphy"
    alpha: float | None = None
    price: float = 0.0
    routing: tuple[RoutingStep, ...] = ()
    bom: tuple[BomLine, ...] = ()

    def __post_init__(self) -> None:
        where = f"product {self.part_number} rev {self.revision}"
        _require(
            bool(self.part_number) and bool(self.revision), where, "part number and revision are required"
        )
        check_hs(self.hs_code, where)
        _require(self.yield_model in YIELD_MODELS, where,
                 f"yield_model must be one of {', '.join(YIELD_MODELS)}, got {self.yield_model!r}")  # fmt: skip
        _nonnegative(self.price, where, "price")
        object.__setattr__(self, "routing", tuple(sorted(self.routing, key=lambda s: s.seq)))
        object.__setattr__(self, "bom", tuple(self.bom))
        codes = [s.code for s in self.routing]
        _require(len(codes) == len(set(codes)), where, "routing step codes must be unique")
        for line in self.bom:
            _require(line.step in codes, where,
                     f"BOM line {line.material!r} names step {line.step!r}, not in the routing ({', '.join(codes)})")  # fmt: skip
        # Geometry is checked by the die-per-wafer functions themselves.
        self.gross_die()

    @property
    def key(self) -> str:
        return f"{self.part_number}/{self.revision}"

    # -- die per wafer and yield

    def gross_die(self) -> int:
        """Gross die per wafer by the standard formula (de Vries 2005, eq. 2)."""
        return gross_die_per_wafer(self.die_width, self.die_height, self.wafer_diameter, self.scribe,
                                   self.edge_exclusion)  # fmt: skip

    def grid_die(self) -> int:
        """Whole dies on the best grid placement (exact count)."""
        return grid_die_per_wafer(self.die_width, self.die_height, self.wafer_diameter, self.scribe,
                                  self.edge_exclusion).count  # fmt: skip

    @property
    def die_area_cm2(self) -> float:
        return self.die_width * self.die_height / 100.0

    def die_yield(self) -> float:
        """Target die yield of the product's yield model at its D0."""
        fn = YIELD_MODELS[self.yield_model]
        if self.yield_model == "negative_binomial":
            return float(fn(self.die_area_cm2, self.d0, self.alpha if self.alpha is not None else 2.0))
        return float(fn(self.die_area_cm2, self.d0))

    def good_die_per_wafer(self) -> float:
        return self.gross_die() * self.die_yield()

    def step(self, code: str) -> RoutingStep:
        for s in self.routing:
            if s.code == code:
                return s
        raise MasterDataError(f"product {self.key}: no routing step {code!r}")


@dataclass(frozen=True)
class CostLine:
    """One line of a unit's cost roll-up: a step's value added or a material, per good unit."""

    kind: str  # "process" or "material"
    step: str
    seq: int
    name: str
    country: str
    site: str
    hs_code: str
    regime: str
    per_unit: float


def cost_rollup(product: Product, sites: dict[str, Site]) -> list[CostLine]:
    """Cost per good unit, line by line, in routing order (process step, then its materials).

    Per-wafer amounts are divided by the good dies per wafer, gross die x target die yield;
    per-unit amounts are taken as they are. Yield losses after wafer sort are not modelled.
    """
    good = product.good_die_per_wafer()
    if good <= 0:
        raise MasterDataError(f"product {product.key}: no good die per wafer (gross {product.gross_die()})")
    lines: list[CostLine] = []
    for step in product.routing:
        site = sites.get(step.site)
        if site is None:
            raise MasterDataError(f"product {product.key}, step {step.code!r}: unknown site {step.site!r}")
        per = step.cost / good if step.cost_basis == "wafer" else step.cost
        lines.append(CostLine("process", step.code, step.seq, step.name or step.kind, site.country, site.code,
                              step.output_hs, "", per))  # fmt: skip
        for m in product.bom:
            if m.step == step.code:
                per_m = m.cost / good if m.basis == "wafer" else m.cost
                lines.append(CostLine("material", step.code, step.seq, m.material, m.country, site.code,
                                      m.hs_code, m.regime, per_m))  # fmt: skip
    return lines


def unit_cost(product: Product, sites: dict[str, Site]) -> float:
    """Total cost of one good unit (the sum of :func:`cost_rollup`)."""
    return math.fsum(line.per_unit for line in cost_rollup(product, sites))


@dataclass(frozen=True)
class Operator:
    badge: str
    name: str
    site: str = ""


@dataclass(frozen=True)
class Qualification:
    """A training record: ``badge`` may run steps of ``step_kind`` from ``valid_from`` to ``valid_until``."""

    badge: str
    step_kind: str
    valid_from: date
    valid_until: date
    record: str = ""

    def __post_init__(self) -> None:
        where = f"qualification of {self.badge} for {self.step_kind}"
        _require(self.step_kind in STEP_KINDS, where, f"step_kind must be one of {', '.join(STEP_KINDS)}")
        _require(self.valid_until >= self.valid_from, where, "valid_until is before valid_from")

    def covers(self, step_kind: str, on: date) -> bool:
        return self.step_kind == step_kind and self.valid_from <= on <= self.valid_until


@dataclass
class MasterData:
    """Everything :func:`silicio.trace.demo_master_data` makes and a store holds."""

    sites: dict[str, Site] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    operators: dict[str, Operator] = field(default_factory=dict)
    qualifications: list[Qualification] = field(default_factory=list)

    def product(self, part_number: str, revision: str | None = None) -> Product:
        """The product by part number (the latest revision when none is given)."""
        matches = [p for p in self.products.values() if p.part_number == part_number
                   and (revision is None or p.revision == revision)]  # fmt: skip
        if not matches:
            known = ", ".join(sorted(self.products)) or "none"
            raise MasterDataError(
                f"no product {part_number}{'/' + revision if revision else ''}; known: {known}"
            )
        return max(matches, key=lambda p: p.revision)


def to_record(obj) -> dict:
    """A master-data object as a plain dict (dates as ISO text), for JSON and the audit log."""
    out = asdict(obj)
    for k, v in list(out.items()):
        if isinstance(v, date):
            out[k] = v.isoformat()
    return out
