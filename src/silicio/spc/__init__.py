"""Statistical process control: control charts, run rules, capability.

Pure functions over numpy arrays; limits are estimated from a baseline (phase I) and applied to
new data (phase II) with :func:`apply`. :func:`chart` does both for any chart kind
(:data:`CHART_KINDS`).
"""

from .capability import Capability, capability, cp, cp_interval, cpk, cpk_interval, normality, within_sigma
from .charts import (
    Chart,
    CountLimits,
    IndividualsLimits,
    NumberDefectiveLimits,
    ProportionLimits,
    RateLimits,
    SubgroupLimits,
    apply,
    c_limits,
    imr_limits,
    moving_range,
    np_limits,
    p_limits,
    subgroups,
    u_limits,
    xbar_r_limits,
    xbar_s_limits,
)
from .constants import c4, chart_constants, d2, d3
from .descriptive import Anova, Description, describe, one_way_anova
from .dispatch import CHART_KINDS, ChartResult, chart
from .rules import RULES, Violations, run_rules, select_rules
from .timeweighted import CusumLimits, EwmaLimits, cusum_limits, ewma, ewma_limits

__all__ = [
    "CHART_KINDS",
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
