"""Correlation, retest and test-time analytics of tester data.

* :mod:`~silicio.correlate.agreement`: agreement of paired readings (bias, Bland-Altman limits of
  agreement, slope, R^2, paired t-test, pass / fail flips).
* :mod:`~silicio.correlate.paired`: tester-to-tester, site-to-site and file-to-file correlation of
  the same units, with a tolerance; gage R&R of a test across testers or sites (through
  :mod:`silicio.metrology`).
* :mod:`~silicio.correlate.matrix`: test-to-test correlation within a stage and redundant
  tests with the time they cost.
* :mod:`~silicio.correlate.stages`: wafer sort against final test, die by die through the genealogy.
* :mod:`~silicio.correlate.retest`: bin switching, recovery, retest rates, units per hour,
  multi-site efficiency.
"""

from .agreement import Agreement, agreement, agreement_by
from .matrix import CorrelationMatrix, correlation_matrix, redundant_tests, tsr_test_times
from .paired import (
    CorrelationReport,
    Tolerance,
    ate_gage_study,
    correlate,
    correlate_tables,
    correlate_within,
    label_sides,
)
from .retest import RetestReport, lot_retest, multi_site_efficiency, retest_analysis
from .stages import StageCorrelation, die_unit_pairs, lot_stage_correlation, stage_correlation

__all__ = [
    "Agreement",
    "CorrelationReport",
    "RetestReport",
    "StageCorrelation",
    "CorrelationMatrix",
    "Tolerance",
    "agreement",
    "agreement_by",
    "correlate",
    "correlate_tables",
    "correlate_within",
    "die_unit_pairs",
    "label_sides",
    "lot_retest",
    "lot_stage_correlation",
    "multi_site_efficiency",
    "redundant_tests",
    "retest_analysis",
    "stage_correlation",
    "correlation_matrix",
    "tsr_test_times",
    "ate_gage_study",
]
