"""silicio's own alert rules, each registered in ``silicio.alert_rules`` (:mod:`.registry`).

* ``yield_below_syl`` / ``bin_above_sbl``: a lot (or one of its wafers) below the statistical
  yield limit or a bin above its statistical bin limit of the lots tested before it (AEC-Q002
  Rev-B, as the disposition rules judge it: :mod:`silicio.yields.disposition`);
* ``pat_outlier_rate``: the share of a wafer-sort lot's parts PAT rejected (AEC-Q001) above a limit;
* ``spc_violation``: a run rule (Western Electric / Nelson) broken by a lot's or wafer's yield on
  the individuals chart of the product's earlier lots (:mod:`silicio.spc`);
* ``spatial_signature``: a wafer of the lot whose map has a signature (WM-811K class,
  :mod:`silicio.spatial`) the product's classified wafers never had;
* ``quarantined_file``: a file the ingest quarantined;
* ``site_drift``: a test site whose first-pass yield differs from the other sites of the lot
  beyond chance (two-proportion z test) and beyond a gap: the sites no longer agree.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
import polars as pl

from silicio.i18n import C_

from .base import AlertContext, AlertRule, Finding, plain
from .ingested import column_array, wafer_codes

__all__ = [
    "BinAboveSbl",
    "NewSpatialSignature",
    "PatOutlierRate",
    "QuarantinedFileRule",
    "SiteDrift",
    "SpcViolation",
    "YieldBelowSyl",
    "two_proportion_z",
]

_LEVELS = ("SYL1", "SYL2", "SBL1", "SBL2")


def _lot_subject(product: str | None, lot: str, stage: str) -> str:
    return f"{product or '-'}/{lot}/{stage}"


class _HoldReasonRule(AlertRule):
    """A rule that fires on the disposition rules' hold reasons of one kind."""

    reads_lot_history = True

    reason = ""
    kind = ""  # "SYL" or "SBL"

    def check(self, params: dict[str, Any]) -> None:
        allowed = tuple(level for level in _LEVELS if level.startswith(self.kind))
        if params["level"] not in allowed:
            raise ValueError(f"level must be one of {', '.join(allowed)}, got {params['level']!r}")

    def _wanted(self, evidence: dict[str, Any], params: dict[str, Any]) -> bool:
        # Level 2 (4 sigma) is beyond level 1 (3 sigma): asking for level 1 takes both.
        return params["level"].endswith("1") or evidence.get("level", "").endswith("2")

    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        out = []
        for hold in context.holds().holds:
            reasons = [r for r in hold.reasons if r.rule == self.reason and self._wanted(r.evidence, params)]
            reasons += [
                r for r in hold.reasons if r.rule == "final_yield" and params.get("include_final_yield")
            ]
            if not reasons:
                continue
            texts = [r.text for r in reasons]
            out.append(Finding(
                subject=_lot_subject(hold.product, hold.lot_id, hold.stage),
                title=(C_("lot %(lot)s (%(stage)s): %(reason)s (+%(more)s more)") if len(texts) > 1
                       else C_("lot %(lot)s (%(stage)s): %(reason)s"))
                % {"lot": hold.lot_id, "stage": hold.stage, "reason": texts[0], "more": len(texts) - 1},
                detail={"reasons": plain([{"rule": r.rule, "text": r.text, "evidence": r.evidence} for r in reasons]),
                        "final_yield": plain(hold.final_yield)},
                product=hold.product, lot=hold.lot_id, stage=hold.stage))  # fmt: skip
        return out


class YieldBelowSyl(_HoldReasonRule):
    """A lot or wafer yield below SYL1 (or SYL2) of the lots tested before it (AEC-Q002 Rev-B);
    ``include_final_yield`` adds the disposition rules' minimum final yield."""

    name = "yield_below_syl"
    title = "Yield below the statistical yield limit (AEC-Q002 SYL)"
    parameters = {"level": "SYL1", "include_final_yield": False}
    reason, kind = "aec_q002_syl", "SYL"


class BinAboveSbl(_HoldReasonRule):
    """A bin's fallout above SBL1 (or SBL2) of the lots tested before it (AEC-Q002 Rev-B);
    ``bins`` limits it to those bins (empty: any)."""

    name = "bin_above_sbl"
    title = "Bin fallout above the statistical bin limit (AEC-Q002 SBL)"
    parameters = {"level": "SBL1", "bins": []}
    reason, kind = "aec_q002_sbl", "SBL"

    def check(self, params: dict[str, Any]) -> None:
        super().check(params)
        if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in params["bins"]):
            raise ValueError(f"bins must be a list of bin numbers (integers >= 0), got {params['bins']!r}")

    def _wanted(self, evidence: dict[str, Any], params: dict[str, Any]) -> bool:
        return super()._wanted(evidence, params) and (
            not params["bins"] or evidence.get("bin") in params["bins"]
        )


class PatOutlierRate(AlertRule):
    """The share of a wafer-sort lot's parts that PAT rejected (AEC-Q001) above ``max_share``;
    the screening recipe is ``recipe`` (a TOML path; empty: the automotive wafer-sort recipe
    shipped with silicio).

    A lot judged against a stored version of its lot history (``silicio limits update``) is
    screened alone, with that version's static PAT limits: the cost of reading one lot. A lot
    without one is screened with its product's lots, its static limits from the lots tested before
    it (what ``silicio holds`` does): the cost grows with the product's history. So an evaluation
    with this rule first stores its program's first version when it has none and the lot has its
    six earlier lots (:meth:`~silicio.alerts.base.AlertContext.establish_limits`); a product with
    fewer wafer-sort lots than the recipe's ``min_lots`` has no PAT share, known without
    screening."""

    name = "pat_outlier_rate"
    title = "PAT outlier rate above its limit (AEC-Q001)"
    parameters = {"max_share": 0.01, "recipe": ""}
    reads_lot_history = True

    def check(self, params: dict[str, Any]) -> None:
        if not 0 <= params["max_share"] <= 1:
            raise ValueError(f"max_share is a fraction 0..1, got {params['max_share']}")

    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        from silicio.yields import disposition as rules

        from .base import load_recipe_once

        keys = context.lot_keys(rules.SCREENED_STAGE)
        if not keys:
            return []
        recipe = _pat_family(load_recipe_once(params["recipe"] or rules.default_recipe_path()))
        if not recipe.rules:  # a recipe without PAT rejects no part by PAT: no share above the limit
            return []
        shares, unscreened = _stored_limit_shares(context, keys, recipe)
        unscreened = [key for key in unscreened if not _too_few_lots(context, key[0], recipe)]
        if unscreened:
            screening = rules.screen_lake(context.lake, recipe, products={k[0] for k in unscreened})
            wanted = {(p, lot) for p, lot, _ in unscreened}
            shares += [r for r in rules.pat_shares(screening.results).iter_rows(named=True)
                       if (r["product"], r["lot_id"]) in wanted]  # fmt: skip
        out = []
        for row in shares:
            share = row["pat_fraction"]
            if share is not None and share > params["max_share"]:
                out.append(Finding(
                    subject=_lot_subject(row["product"], row["lot_id"], row["stage"]),
                    title=C_("lot %(lot)s: PAT outliers %(parts)s (%(share)s of parts) > %(limit)s")
                    % {"lot": row["lot_id"], "parts": row["pat_parts"], "share": f"{share:.2%}",
                       "limit": f"{params['max_share']:.2%}"},
                    detail={"pat_parts": row["pat_parts"], "parts": row["n_parts"], "share": share,
                            "limit": params["max_share"], "recipe": recipe.name},
                    product=row["product"], lot=row["lot_id"], stage=row["stage"]))  # fmt: skip
        return out


def _too_few_lots(context: AlertContext, product: str | None, recipe) -> bool:
    """Whether ``product`` has fewer wafer-sort lots than the static PAT limits need
    (AEC-Q001 Rev-D §3.1.1): its screening (:func:`silicio.yields.disposition.screen_lake`)
    then screens none of its lots (a lot without its own earlier lots gets limits from the lots
    screened, which are too few), so no lot of it has a PAT share; known from the catalog's lots
    without reading them. Only for a recipe whose one PAT-family rule is "pat"."""
    from silicio.yields import disposition as rules

    if recipe.pat is None or any(name != "pat" for name, _ in recipe.rules):
        return False
    return len(context.history_lots(product, rules.SCREENED_STAGE)) < recipe.pat.min_lots


def _pat_family(recipe):
    """``recipe`` with only its PAT-family rules: the other rules (NNR, GDBN, AEC-Q002) judge
    the original verdicts too, so leaving them out changes no PAT verdict and spares their cost
    (NNR took ~2.9 s of an 18.7 s screening of a lot without stored limits)."""
    from dataclasses import replace

    from silicio.yields.rules import registered_rules

    registered = registered_rules()
    return replace(recipe, rules=tuple((n, p) for n, p in recipe.rules if registered[n].kind == "pat"))


def _stored_limit_shares(context: AlertContext, keys, recipe) -> tuple[list[dict], list[tuple]]:
    """PAT shares of the lots with stored static limits, each lot alone; and the other lots.

    At ingest (``context.ingested``) a lot of one new file is counted against those limits by
    :func:`silicio.alerts.ingested.pat_share_of_lot`: a comparison with the static limits and
    each wafer's dynamic ones; otherwise, and for a recipe that function leaves to the
    screening, the lot is screened (:func:`silicio.yields.screen`): the same counts."""
    from silicio.yields import disposition as rules
    from silicio.yields.screening import screen

    from .ingested import PAT_COLUMNS, pat_share_of_lot

    shares, rest = [], []
    for product, lot, stage in keys:
        static = context.static_pat_limits(product, stage, lot) if recipe.pat is not None else None
        if static is None:
            rest.append((product, lot, stage))
            continue
        parts = context.lot_parts(lot, stage)
        counted = None
        if context.ingested is not None:
            results = context.ingested_results(lot, stage, PAT_COLUMNS)
            try:
                counted = None if results is None else pat_share_of_lot(results, parts, static, recipe)
            except ValueError:
                counted = None
        if counted is not None:
            pat_parts, n_parts = counted
            if n_parts:
                shares.append({"product": product, "lot_id": lot, "stage": stage, "n_parts": n_parts,
                               "pat_parts": pat_parts, "pat_fraction": pat_parts / n_parts})  # fmt: skip
            continue
        tidy = context.lot_tidy(lot, stage, rules.SCREEN_COLUMNS)
        try:
            result = screen(tidy.with_columns(pl.lit(lot).alias("lot_id")), recipe, static, parts=parts)
        except ValueError:
            rest.append((product, lot, stage))
            continue
        for row in rules.pat_shares({product: result}, stage=stage).iter_rows(named=True):
            shares.append(row)
    return shares, rest


class SpcViolation(AlertRule):
    """A run rule broken by an ingested lot's yield (``statistic = "lot_yield"``) or one of its
    wafers' (``"wafer_yield"``) on the individuals chart of the product's yields at the stage:
    centre and sigma (MR-bar / d2, Montgomery 8th ed. eq. 6.33) from the points before the
    ingested lots, at least ``min_points`` of them; ``rules`` selects the run rules
    (:func:`silicio.spc.rules.select_rules`: "we", "nelson", codes)."""

    name = "spc_violation"
    title = "SPC run rule broken by a lot or wafer statistic"
    parameters = {"statistic": "lot_yield", "rules": "we", "min_points": 8}

    def check(self, params: dict[str, Any]) -> None:
        from silicio.spc.rules import select_rules

        if params["statistic"] not in ("lot_yield", "wafer_yield"):
            raise ValueError(f"statistic must be lot_yield or wafer_yield, got {params['statistic']!r}")
        if params["min_points"] < 2:
            raise ValueError(
                f"min_points must be 2 or more (an I-MR chart needs two), got {params['min_points']}"
            )
        select_rules(params["rules"])

    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        from silicio.spc.charts import imr_limits
        from silicio.spc.rules import RULES, run_rules

        out = []
        by_series: dict[tuple, set[str]] = {}
        for product, lot, stage in context.lot_keys():
            by_series.setdefault((product, stage), set()).add(lot)
        for (product, stage), lots in by_series.items():
            wafer = params["statistic"] == "wafer_yield"
            series = context.yield_series(product, stage, wafer)
            if series["final_yield"].null_count():
                series = series.filter(pl.col("final_yield").is_not_null())
            new = np.array([lot in lots for lot in series["lot"].to_list()], np.bool_)
            values = series["final_yield"].to_numpy()
            baseline = values[~new]
            if baseline.size < params["min_points"]:
                continue
            limits = imr_limits(baseline)
            if not limits.sigma > 0:
                continue
            violations = run_rules(values, limits.mean, limits.sigma, params["rules"])
            hits: dict[str, list[dict]] = {}
            for code, points in violations.points.items():
                for point in points.tolist():
                    if new[point]:
                        row = series.row(point, named=True)
                        hits.setdefault(row["lot"], []).append({
                            "rule": code, "description": RULES[code].description, "point": point,
                            "wafer_id": row.get("wafer_id"), "value": row["final_yield"]})  # fmt: skip
            for lot, found in hits.items():
                codes = sorted({h["rule"] for h in found})
                out.append(Finding(
                    subject=f"{_lot_subject(product, lot, stage)}/{params['statistic']}",
                    title=C_("lot %(lot)s (%(stage)s): %(statistic)s breaks %(rules)s")
                    % {"lot": lot, "stage": stage, "statistic": params["statistic"].replace("_", " "),
                       "rules": ", ".join(codes)},
                    detail={"statistic": params["statistic"], "mean": limits.mean, "sigma": limits.sigma,
                            "baseline_points": int(baseline.size), "violations": plain(found)},
                    product=product, lot=lot, stage=stage))  # fmt: skip
        return out


class NewSpatialSignature(AlertRule):
    """A wafer of an ingested lot (at ``stage``) whose map signature (WM-811K class, silicio's
    classifier) has at least ``min_confidence`` and is a class the product's classified wafers
    (the catalog's ``wafer_signatures``, other lots) never had; classes in ``ignore`` never fire."""

    name = "spatial_signature"
    title = "New spatial signature on a wafer map"
    parameters = {"stage": "wafer_sort", "min_confidence": 0.6, "ignore": ["none"]}

    def check(self, params: dict[str, Any]) -> None:
        from silicio.spatial import CLASSES

        if not 0 <= params["min_confidence"] <= 1:
            raise ValueError(f"min_confidence is a probability 0..1, got {params['min_confidence']}")
        unknown = [c for c in params["ignore"] if c not in CLASSES]
        if unknown:
            raise ValueError(f"ignore: unknown class(es) {unknown}; known: {', '.join(CLASSES)}")

    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        from silicio.spatial import classify

        keys = context.lot_keys(params["stage"])
        if not keys:
            return []
        seen = context.known_signatures(params["stage"])
        out = []
        for product, lot, stage in keys:
            wafers, maps = _wafer_maps(context.lot_parts(lot, stage))
            if not maps:
                continue
            found = []
            signatures = classify(maps)  # its label and confidence read, not each class's probability
            for wafer, label, confidence in zip(wafers, signatures["label"].to_pylist(),
                                                signatures["confidence"].to_pylist(), strict=True):  # fmt: skip
                if (label not in params["ignore"] and confidence >= params["min_confidence"]
                        and label not in seen.get(product, set())):  # fmt: skip
                    found.append({"wafer_id": wafer, "label": label, "confidence": confidence})
            if found:
                labels = sorted({f["label"] for f in found})
                out.append(Finding(
                    subject=f"{_lot_subject(product, lot, stage)}/{'+'.join(labels)}",
                    title=C_("lot %(lot)s: new wafer-map signature %(labels)s on %(count)s wafer(s)")
                    % {"lot": lot, "labels": ", ".join(labels), "count": len(found)},
                    detail={"wafers": plain(found), "known": sorted(seen.get(product, set()))},
                    product=product, lot=lot, stage=stage))  # fmt: skip
        return out


def _wafer_maps(parts: pl.DataFrame) -> tuple[list[str], list[np.ndarray]]:
    """Each wafer's final dies as the classifier's int8 map (-1 no die, 0 pass, 1 fail), x to
    columns and y to rows as tested (the classifier's features do not depend on the turn); the
    wafers in the order they were first tested."""
    # numpy and Arrow: a polars operation wakes its threads, which cost more CPU than a lot's maps
    final = column_array(parts, "is_last_test", False)
    for axis in ("x", "y"):
        if parts[axis].null_count():
            final = final & parts[axis].to_arrow().is_valid().to_numpy(zero_copy_only=False)
    wafer, values = wafer_codes(parts)
    buffer, offsets, shapes, first_rows = _wafer_grids(wafer, len(values), final, column_array(parts, "x", 0),
                                                       column_array(parts, "y", 0), column_array(parts, "passed", False))  # fmt: skip
    if not first_rows.size:
        return [], []
    ids = [values[code] for code in wafer[first_rows].tolist()]
    return ids, [
        buffer[at : at + rows * cols].reshape(rows, cols)
        for at, (rows, cols) in zip(offsets, shapes, strict=True)
    ]


@nb.njit(cache=True, nogil=True)
def _wafer_grids(wafer, n_codes, final, x, y, passed):
    """The final dies' maps of the wafers (``wafer``: each row's code 0..n_codes-1), in the order
    of each wafer's first final die: one int8 buffer, each map's offset and (rows, cols), and each
    wafer's first final row. A die tested twice as final takes its last row. The rows come wafer
    by wafer: a wafer's place is looked up where the code changes."""
    slot = np.full(n_codes, -1, np.int64)
    first = np.empty(n_codes, np.int64)
    low = np.empty((n_codes, 2), np.int64)  # (y, x) of the map's top left die
    high = np.empty((n_codes, 2), np.int64)
    n, code, w = 0, -1, -1
    for i in range(wafer.size):
        if not final[i]:
            continue
        row, col = np.int64(y[i]), np.int64(x[i])
        if wafer[i] != code:
            code = wafer[i]
            w = slot[code]
            if w < 0:
                w = slot[code] = n
                first[w] = i
                low[w, 0] = high[w, 0] = row
                low[w, 1] = high[w, 1] = col
                n += 1
        if row < low[w, 0]:
            low[w, 0] = row
        if row > high[w, 0]:
            high[w, 0] = row
        if col < low[w, 1]:
            low[w, 1] = col
        if col > high[w, 1]:
            high[w, 1] = col
    shapes = high[:n] - low[:n] + 1
    offsets = np.zeros(n, np.int64)
    for w in range(1, n):
        offsets[w] = offsets[w - 1] + shapes[w - 1, 0] * shapes[w - 1, 1]
    buffer = np.full(offsets[n - 1] + shapes[n - 1, 0] * shapes[n - 1, 1] if n else 0, -1, np.int8)
    code = -1
    at, top, left, cols = 0, 0, 0, 0
    for i in range(wafer.size):
        if final[i]:
            if wafer[i] != code:
                code = wafer[i]
                w = slot[code]
                at, top, left, cols = offsets[w], low[w, 0], low[w, 1], shapes[w, 1]
            buffer[at + (np.int64(y[i]) - top) * cols + np.int64(x[i]) - left] = 0 if passed[i] else 1
    return buffer, offsets, shapes, first[:n]


class QuarantinedFileRule(AlertRule):
    """A file the ingest quarantined (nothing of it could be read)."""

    name = "quarantined_file"
    title = "File quarantined at ingest"
    parameters: dict[str, Any] = {}

    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        return [Finding(subject=f.sha256 or f.path, title=C_("quarantined %(path)s: %(reason)s") % {"path": f.path, "reason": f.reason},
                        detail={"path": f.path, "sha256": f.sha256, "reason": f.reason})
                for f in context.quarantined]  # fmt: skip


def two_proportion_z(good_a: int, n_a: int, good_b: int, n_b: int) -> float:
    """z of the difference of two proportions with the pooled proportion (NIST/SEMATECH
    e-Handbook of Statistical Methods, 7.3.3): (p_a - p_b) / sqrt(p (1 - p) (1/n_a + 1/n_b))."""
    p_a, p_b = good_a / n_a, good_b / n_b
    pooled = (good_a + good_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return 0.0
    return (p_a - p_b) / spread


def _site_counts(parts: pl.DataFrame) -> list[tuple[tuple[Any, Any], int, int]]:
    """((head, site), first-pass parts, good of them) of each site, in (head, site) order (a null
    head or site first)."""
    first = column_array(parts, "is_first_test", False)
    if parts["head"].dtype == parts["site"].dtype == pl.UInt8 and not (
        parts["head"].null_count() or parts["site"].null_count()
    ):
        n, good = _first_pass_by_site(first, column_array(parts, "head", 0), column_array(parts, "site", 0),
                                      column_array(parts, "passed", False))  # fmt: skip
        return [((k // 256, k % 256), int(n[k]), int(good[k])) for k in np.flatnonzero(n).tolist()]
    # a null head or site (a group of its own), or numbers wider than STDF's (U1): polars
    sites = (
        parts.filter(pl.Series(first))
        .group_by("head", "site")
        .agg(pl.len().alias("n"), pl.col("passed").sum().alias("good"))
    )
    return [((r["head"], r["site"]), int(r["n"]), int(r["good"]))
            for r in sites.sort("head", "site").iter_rows(named=True)]  # fmt: skip


@nb.njit(cache=True, nogil=True)
def _first_pass_by_site(first, head, site, passed):
    """The ``first`` rows and the passed ones of each (head, site) of STDF (0..255 each), at
    head * 256 + site: one pass, no sort; the tables up to the highest key (fresh pages of the
    whole 65,536 cost more than the count)."""
    top = -1
    for i in range(first.size):
        if first[i]:
            top = max(top, np.int64(head[i]) * 256 + np.int64(site[i]))
    n, good = np.zeros(top + 1, np.int64), np.zeros(top + 1, np.int64)
    for i in range(first.size):
        if first[i]:
            key = np.int64(head[i]) * 256 + np.int64(site[i])
            n[key] += 1
            good[key] += passed[i]
    return n, good


class SiteDrift(AlertRule):
    """A test site of an ingested lot whose first-pass yield differs from the lot's other sites
    by more than ``max_gap`` and by more than ``z`` (two-proportion z test), each side with at
    least ``min_parts`` parts: the sites no longer correlate (a probe-card needle, a socket)."""

    name = "site_drift"
    title = "Test site drifting from the other sites"
    parameters = {"min_parts": 30, "max_gap": 0.10, "z": 4.0}

    def check(self, params: dict[str, Any]) -> None:
        if params["min_parts"] < 1 or not 0 < params["max_gap"] <= 1 or params["z"] <= 0:
            raise ValueError("site_drift: min_parts >= 1, max_gap in (0, 1] and z > 0 expected, got "
                             f"{params['min_parts']}, {params['max_gap']}, {params['z']}")  # fmt: skip

    def evaluate(self, context: AlertContext, params: dict[str, Any]) -> list[Finding]:
        out = []
        for product, lot, stage in context.lot_keys():
            sites = _site_counts(context.lot_parts(lot, stage))
            if not sites:
                continue
            total_n, total_good = sum(n for _, n, _ in sites), sum(good for _, _, good in sites)
            drifting = []
            for (head, site), n, good in sites:
                rest_n, rest_good = total_n - n, total_good - good
                if n < params["min_parts"] or rest_n < params["min_parts"]:
                    continue
                z = two_proportion_z(good, n, rest_good, rest_n)
                gap = good / n - rest_good / rest_n
                if abs(z) > params["z"] and abs(gap) > params["max_gap"]:
                    drifting.append({"head": head, "site": site, "parts": n, "yield": good / n,
                                     "others_yield": rest_good / rest_n, "gap": gap, "z": z})  # fmt: skip
            for d in drifting:
                out.append(Finding(
                    subject=f"{_lot_subject(product, lot, stage)}/site {d['head']}.{d['site']}",
                    title=C_("lot %(lot)s (%(stage)s): site %(site)s first-pass yield %(yield)s vs %(others)s on the "
                             "other sites (z %(z)s)")
                    % {"lot": lot, "stage": stage, "site": d["site"], "yield": f"{d['yield']:.2%}",
                       "others": f"{d['others_yield']:.2%}", "z": f"{d['z']:.1f}"},
                    detail=plain(d), product=product, lot=lot, stage=stage))  # fmt: skip
        return out
