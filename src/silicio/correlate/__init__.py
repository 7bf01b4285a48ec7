"""Correlation, retest and test-time analytics of tester data.

* :mod:`~silicio.correlate.agreement`: agreement of paired readings (bias, Bland-Altman limits of
  agreement, slope, R^2, paired t-test, pass / fail flips).
* :mod:`~silicio.correlate.paired`: tester-to-tester, site-to-site and file-to-file correlation of
  the same units, with a tolerance; gage R&R of a test across testers or sites (through
  :mod:`silicio.metrology`).
* :mod:`~silicio.correlate.tests_matrix`: test-to-test correlation within a stage and redundant
  tests with the time they cost.
* :mod:`~silicio.correlate.stages`: wafer sort against final test, die by die through the genealogy.
* :mod:`~silicio.correlate.retest`: bin switching, recovery, retest rates, units per hour,
  multi-site efficiency.
"""

from .agreement import Agreement, agreement, agreement_by
from .paired import CorrelationReport, Tolerance, correlate, correlate_tables, label_sides, tester_gage_study
from .retest import RetestReport, multi_site_efficiency, retest_analysis
from .tests_matrix import TestCorrelation, redundant_tests, test_correlation, test_times

__all__ = [
    "Agreement",
    "CorrelationReport",
    "RetestReport",
    "TestCorrelation",
    "Tolerance",
    "agreement",
    "agreement_by",
    "correlate",
    "correlate_tables",
    "label_sides",
    "multi_site_efficiency",
    "redundant_tests",
    "retest_analysis",
    "test_correlation",
    "test_times",
    "tester_gage_study",
]
