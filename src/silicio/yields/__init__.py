"""Yield analytics: yield and bins, wafer maps, parametric summaries, die per wafer and yield
models, and automotive screening (PAT, GDBN, NNR, AEC-Q002 SYL/SBL, and the screening rules
other packages register: :mod:`silicio.yields.rules`). Wafer maps, their orientation and the
SEMI G85 / E142 map files are :mod:`silicio.yields.wafermap`.

Pure functions over the tables :func:`silicio.stdf.tidy` and :func:`silicio.stdf.parts` give,
for one file or many files concatenated.
"""

from .aecq002 import statistical_bin_limits, statistical_yield_analysis, statistical_yield_limits
from .bins import (
    SiteComparison,
    bin_counts,
    bin_definitions,
    bin_pareto,
    reconcile_bins,
    site_yield_comparison,
)
from .die import (
    fit_defect_density,
    grid_die_per_wafer,
    gross_die_per_wafer,
    murphy_yield,
    negative_binomial_yield,
    poisson_yield,
    seeds_yield,
)
from .excursion import lot_parametric_shifts
from .gdbn import gdbn
from .nnr import nnr
from .parametric import per_test_statistics, units_per_hour
from .pat import dynamic_pat_limits, pat_outliers, static_pat_limits
from .recipe import Recipe, dumps_recipe, load_recipe, loads_recipe
from .rules import ScreeningRule, reason_codes, registered_rules
from .screening import ScreeningResult, screen
from .wafermap import (
    MapHeader,
    Orientation,
    WaferMap,
    bin_map,
    header_from_stdf,
    orientation_of,
    parametric_map,
    read_e142,
    read_g85,
    read_map,
    render_wafer_map,
    stacked_fail_map,
    write_e142,
    write_g85,
)
from .yield_ import consolidate_retests, consolidate_retests_tidy, yield_by

__all__ = [
    "MapHeader",
    "Orientation",
    "Recipe",
    "ScreeningResult",
    "ScreeningRule",
    "SiteComparison",
    "WaferMap",
    "bin_counts",
    "bin_definitions",
    "bin_map",
    "bin_pareto",
    "consolidate_retests",
    "consolidate_retests_tidy",
    "dumps_recipe",
    "dynamic_pat_limits",
    "fit_defect_density",
    "gdbn",
    "grid_die_per_wafer",
    "gross_die_per_wafer",
    "header_from_stdf",
    "load_recipe",
    "lot_parametric_shifts",
    "loads_recipe",
    "murphy_yield",
    "negative_binomial_yield",
    "nnr",
    "orientation_of",
    "parametric_map",
    "pat_outliers",
    "per_test_statistics",
    "poisson_yield",
    "read_e142",
    "read_g85",
    "read_map",
    "reason_codes",
    "reconcile_bins",
    "registered_rules",
    "render_wafer_map",
    "screen",
    "seeds_yield",
    "site_yield_comparison",
    "stacked_fail_map",
    "statistical_bin_limits",
    "statistical_yield_analysis",
    "statistical_yield_limits",
    "static_pat_limits",
    "units_per_hour",
    "write_e142",
    "write_g85",
    "yield_by",
]
