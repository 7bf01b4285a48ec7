"""Rule sets as data: USMCA thresholds and product-specific tariff-shift rules, and the
'Hecho en México' criteria, read from TOML (``silicio/origin/rules/*.toml`` by default).

HS codes and ranges are written as in the tariff texts: ``8542`` (heading), ``8542.31``
(subheading), ``8541-8542`` or ``8542.31-8542.39`` (ranges, both ends included).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RULES_DIR = Path(__file__).with_name("rules")
LEVEL_DIGITS = {"chapter": 2, "heading": 4, "subheading": 6}
REQUIREMENTS = ("tariff_shift", "rvc", "tariff_shift_or_rvc", "tariff_shift_and_rvc")
_HS_TEXT = re.compile(r"^\d{2,4}(\.\d{2}(\d{2})?)?$")


class RuleError(ValueError):
    """A rule file that is not valid: the message names the file and the entry."""


def hs_digits(code: str) -> str:
    """``8542.31.00`` -> ``85423100``."""
    return code.replace(".", "")


def in_range(code: str, hs_range: str) -> bool:
    """Whether ``code`` falls in ``hs_range`` (``8542``, ``8541-8542``, ``8542.31-8542.39``),
    comparing at the precision of the range's ends."""
    lo, _, hi = hs_range.partition("-")
    hi = hi or lo
    digits = hs_digits(code)
    lo_d, hi_d = hs_digits(lo), hs_digits(hi)
    return lo_d <= digits[: len(lo_d)] and digits[: len(hi_d)] <= hi_d


@dataclass(frozen=True)
class TariffShift:
    """One alternative of a tariff-shift rule.

    ``level``: the material must be of another chapter / heading / subheading than the good.
    ``from_ranges``: the material must be classified in one of these. ``except_from``: never
    from these. ``requires="mounted_from_unmounted"``: the good is mounted (packaged) and the
    material an unmounted chip, die or wafer.
    """

    text: str
    level: str | None = None
    from_ranges: tuple[str, ...] = ()
    except_from: tuple[str, ...] = ()
    requires: str | None = None

    def satisfied(self, material_hs: str, good_hs: str, material_mounted: bool, good_mounted: bool) -> bool:
        if any(in_range(material_hs, r) for r in self.except_from):
            return False
        if self.from_ranges and not any(in_range(material_hs, r) for r in self.from_ranges):
            return False
        if self.requires == "mounted_from_unmounted" and not (good_mounted and not material_mounted):
            return False
        if self.level is not None:
            n = LEVEL_DIGITS[self.level]
            if hs_digits(material_hs)[:n] == hs_digits(good_hs)[:n]:
                return False
        return True


@dataclass(frozen=True)
class ProductRule:
    """A product-specific rule of origin: goods it applies to, what it requires, its alternatives."""

    id: str
    applies_to: tuple[str, ...]
    requirement: str
    alternatives: tuple[TariffShift, ...]
    rvc_transaction_value_min_pct: float | None = None
    rvc_net_cost_min_pct: float | None = None
    #: What a reader of a result or certificate under this rule must know (an unverified text).
    caveat: str = ""

    def applies(self, good_hs: str) -> bool:
        return any(in_range(good_hs, r) for r in self.applies_to)


@dataclass(frozen=True)
class UsmcaRules:
    name: str
    region: tuple[str, ...]
    rvc_transaction_value_min_pct: float
    rvc_net_cost_min_pct: float
    de_minimis_pct: float
    de_minimis_basis: str
    product_rules: tuple[ProductRule, ...]
    source: str

    def rule_for(self, good_hs: str) -> ProductRule:
        for rule in self.product_rules:
            if rule.applies(good_hs):
                return rule
        raise RuleError(f"{self.source}: no product-specific rule covers HS {good_hs}")


@dataclass(frozen=True)
class HechoEnMexicoRules:
    name: str
    country: str
    min_national_content_pct: float
    require_last_substantial_transformation_in_country: bool
    source: str


def _read(path: str | Path | None, default: str) -> tuple[dict[str, Any], str]:
    p = Path(path) if path is not None else RULES_DIR / default
    try:
        with open(p, "rb") as f:
            return tomllib.load(f), str(p)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{p}: not valid TOML: {exc}") from None


def _get(data: dict, source: str, dotted: str, kind: type | tuple[type, ...]):
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise RuleError(f"{source}: missing {dotted}")
        node = node[part]
    if not isinstance(node, kind) or isinstance(node, bool) and kind in ((int, float), float, int):
        raise RuleError(f"{source}: {dotted} must be {getattr(kind, '__name__', kind)}, got {node!r}")
    return node


def _pct(data: dict, source: str, dotted: str) -> float:
    value = float(_get(data, source, dotted, (int, float)))
    if not 0 <= value <= 100:
        raise RuleError(f"{source}: {dotted} must be a percentage between 0 and 100, got {value}")
    return value


def _ranges(values: Any, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise RuleError(f"{source}: {where} must be a list of HS codes or ranges")
    for v in values:
        ends = str(v).split("-")
        if len(ends) > 2 or not all(_HS_TEXT.match(e) for e in ends):
            raise RuleError(f"{source}: {where}: {v!r} is not an HS code or range such as 8541-8542")
    return tuple(str(v) for v in values)


def load_usmca_rules(path: str | Path | None = None) -> UsmcaRules:
    """The USMCA rule set in ``path`` (default: the packaged ``rules/usmca.toml``)."""
    data, source = _read(path, "usmca.toml")
    region = tuple(_get(data, source, "agreement.region", list))
    basis = _get(data, source, "de_minimis.basis", str)
    if basis not in ("transaction_value", "total_cost"):
        raise RuleError(
            f"{source}: de_minimis.basis must be 'transaction_value' or 'total_cost', got {basis!r}"
        )
    rules = []
    for i, r in enumerate(data.get("product_rule", []), start=1):
        where = f"product_rule #{i}"
        req = r.get("requirement", "tariff_shift")
        if req not in REQUIREMENTS:
            raise RuleError(
                f"{source}: {where}: requirement must be one of {', '.join(REQUIREMENTS)}, got {req!r}"
            )
        alts = []
        for j, a in enumerate(r.get("alternative", []), start=1):
            level = a.get("level")
            if level is not None and level not in LEVEL_DIGITS:
                raise RuleError(
                    f"{source}: {where} alternative #{j}: level must be chapter, heading or subheading"
                )
            if a.get("requires") not in (None, "mounted_from_unmounted"):
                raise RuleError(f"{source}: {where} alternative #{j}: unknown requires {a.get('requires')!r}")
            alts.append(TariffShift(a.get("text", ""), level, _ranges(a.get("from_ranges", []), source, where),
                                    _ranges(a.get("except_from", []), source, where), a.get("requires")))  # fmt: skip
        caveat = r.get("caveat", "")
        if not isinstance(caveat, str):
            raise RuleError(f"{source}: {where}: caveat must be text, got {caveat!r}")
        rules.append(ProductRule(r.get("id", where), _ranges(r.get("applies_to", []), source, where), req,
                                 tuple(alts), r.get("rvc_transaction_value_min_pct"), r.get("rvc_net_cost_min_pct"),
                                 " ".join(caveat.split())))  # fmt: skip
    return UsmcaRules(_get(data, source, "agreement.name", str), region,
                      _pct(data, source, "rvc.transaction_value_min_pct"), _pct(data, source, "rvc.net_cost_min_pct"),
                      _pct(data, source, "de_minimis.max_pct"), basis, tuple(rules), source)  # fmt: skip


def load_hecho_en_mexico_rules(path: str | Path | None = None) -> HechoEnMexicoRules:
    """The 'Hecho en México' criteria in ``path`` (default: the packaged ``rules/hecho_en_mexico.toml``)."""
    data, source = _read(path, "hecho_en_mexico.toml")
    return HechoEnMexicoRules(
        _get(data, source, "mark.name", str), _get(data, source, "mark.country", str),
        _pct(data, source, "criteria.min_national_content_pct"),
        _get(data, source, "criteria.require_last_substantial_transformation_in_country", bool), source)  # fmt: skip
