"""Statistical process control: control charts, run rules, capability.

Non-normal capability (fitted distributions, Box-Cox, Johnson, percentiles) is in
:mod:`silicio.spc.nonnormal`; Laney p'/u' in :mod:`silicio.spc.laney`; T^2 and MEWMA in
:mod:`silicio.spc.multivariate`.

Pure functions over numpy arrays; limits are estimated from a baseline (phase I) and applied to
new data (phase II) with :func:`apply`. :func:`chart` does both for any chart kind
(:data:`CHART_KINDS`).
"""

from .capability import (
    BetweenWithin,
    Capability,
    between_within,
    capability,
    cp,
    cp_interval,
    cpk,
    cpk_interval,
    normality,
    within_sigma,
)
from .charts import (
    BetweenWithinLimits,
    Chart,
    CountLimits,
    IndividualsLimits,
    NumberDefectiveLimits,
    PointError,
    ProportionLimits,
    RateLimits,
    ShortRunLimits,
    SubgroupLimits,
    apply,
    c_limits,
    imr_limits,
    imr_rs_limits,
    moving_range,
    np_limits,
    p_limits,
    subgroups,
    u_limits,
    xbar_r_limits,
    xbar_s_limits,
    zmr_limits,
)
from .constants import c4, chart_constants, d2, d3
from .descriptive import Anova, Description, describe, one_way_anova
from .dispatch import (
    CHART_KINDS,
    MULTIVARIATE_KINDS,
    SUBGROUP_KINDS,
    ChartResult,
    chart,
    default_subgroup_chart,
)
from .laney import LaneyProportionLimits, LaneyRateLimits, laney_p_limits, laney_u_limits
from .multivariate import HotellingLimits, MewmaLimits, hotelling_limits, mewma_arl, mewma_h, mewma_limits
from .nonnormal import METHODS as CAPABILITY_METHODS
from .nonnormal import DistributionCapability, Fit, distribution_capability, identify
from .rules import RULES, Violations, run_rules, select_rules
from .timeweighted import CusumLimits, EwmaLimits, cusum_limits, ewma, ewma_limits

__all__ = [
    "CAPABILITY_METHODS",
    "CHART_KINDS",
    "MULTIVARIATE_KINDS",
    "SUBGROUP_KINDS",
    "BetweenWithin",
    "BetweenWithinLimits",
    "DistributionCapability",
    "Fit",
    "HotellingLimits",
    "LaneyProportionLimits",
    "LaneyRateLimits",
    "MewmaLimits",
    "PointError",
    "ShortRunLimits",
    "between_within",
    "default_subgroup_chart",
    "distribution_capability",
    "hotelling_limits",
    "identify",
    "imr_rs_limits",
    "laney_p_limits",
    "laney_u_limits",
    "mewma_arl",
    "mewma_h",
    "mewma_limits",
    "zmr_limits",
    "RULES",
    "Anova",
    "Capability",
    "Chart",
    "ChartResult",
    "CountLimits",
    "CusumLimits",
    "Description",
    "EwmaLimits",
    "IndividualsLimits",
    "NumberDefectiveLimits",
    "ProportionLimits",
    "RateLimits",
    "SubgroupLimits",
    "Violations",
    "apply",
    "c4",
    "c_limits",
    "capability",
    "chart",
    "chart_constants",
    "cp",
    "cp_interval",
    "cpk",
    "cpk_interval",
    "cusum_limits",
    "d2",
    "d3",
    "describe",
    "ewma",
    "ewma_limits",
    "imr_limits",
    "moving_range",
    "normality",
    "np_limits",
    "one_way_anova",
    "p_limits",
    "run_rules",
    "select_rules",
    "subgroups",
    "u_limits",
    "within_sigma",
    "xbar_r_limits",
    "xbar_s_limits",
]
