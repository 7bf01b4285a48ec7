"""Metrology: measurement system analysis, measurement uncertainty, instruments and their calibration.

* :mod:`~silicio.metrology.msa`: gage R&R (average and range, ANOVA), bias, linearity (AIAG MSA).
* :mod:`~silicio.metrology.uncertainty`: uncertainty budgets (JCGM 100:2008, the GUM).
* :mod:`~silicio.metrology.records`: instruments, calibration certificates and their traceability,
  characteristics, operator qualifications, measurements; flags on measurements and affected lots.
* :mod:`~silicio.metrology.io`: reading those from CSV, Parquet and TOML files.
* :mod:`~silicio.metrology.report`: printable HTML reports.
"""

from .errors import MetrologyError
from .msa import bias, gage_rr_anova, gage_rr_average_range, linearity
from .uncertainty import Input, type_a, type_b, uncertainty_budget

__all__ = [
    "Input",
    "MetrologyError",
    "bias",
    "gage_rr_anova",
    "gage_rr_average_range",
    "linearity",
    "type_a",
    "type_b",
    "uncertainty_budget",
]
