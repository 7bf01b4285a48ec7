"""Calibration: a linear calibration curve with its uncertainty (GUM Annex H.3), and the
calibration schedule of a lab's instruments (what is due, what is overdue, which lots were
measured while an instrument's calibration had lapsed).

Curve: b(t) = y1 + y2·(t − t0) fitted by least squares (JCGM 100:2008 H.3.2); the standard
uncertainty of a predicted value combines u(y1), u(y2) and their correlation (GUM H.3.4,
eq. H.16): u²(b) = u²(y1) + (t − t0)²·u²(y2) + 2(t − t0)·u(y1)·u(y2)·r(y1, y2).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import MetrologyError


@dataclass(frozen=True)
class CalibrationCurve:
    """A straight-line calibration y = intercept + slope·(x − x0) with the uncertainty of its
    parameters (GUM H.3). ``residual_sd`` is the s of GUM H.3.3 (n − 2 degrees of freedom)."""

    x0: float
    intercept: float
    slope: float
    u_intercept: float
    u_slope: float
    correlation: float
    residual_sd: float
    n: int

    @property
    def dof(self) -> int:
        return self.n - 2

    def predict(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """(value, standard uncertainty) of the curve at x (GUM H.3.4, eq. H.16)."""
        d = np.asarray(x, dtype=float) - self.x0
        value = self.intercept + self.slope * d
        variance = (self.u_intercept**2 + d**2 * self.u_slope**2
                    + 2 * d * self.u_intercept * self.u_slope * self.correlation)  # fmt: skip
        return value, np.sqrt(variance)

    def inverse(self, y: float, u_y: float = 0.0) -> tuple[float, float]:
        """(x, standard uncertainty) of the x at which the curve gives y, an observation with
        standard uncertainty ``u_y`` (first-order propagation, GUM 5.1.2, through
        x = x0 + (y − y1)/y2, with the covariance of y1 and y2)."""
        if self.slope == 0:
            raise MetrologyError("calibration curve: slope 0 cannot be inverted")
        d = (y - self.intercept) / self.slope
        c_y, c_intercept, c_slope = 1 / self.slope, -1 / self.slope, -d / self.slope
        covariance = self.correlation * self.u_intercept * self.u_slope
        variance = ((c_y * u_y) ** 2 + (c_intercept * self.u_intercept) ** 2 + (c_slope * self.u_slope) ** 2
                    + 2 * c_intercept * c_slope * covariance)  # fmt: skip
        return self.x0 + d, math.sqrt(variance)


def linear_calibration(x: Any, y: Any, x0: float = 0.0) -> CalibrationCurve:
    """Least-squares line through (x, y) about x0, GUM H.3.2 (eqs. H.13a-H.15)."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1 or xs.size < 3:
        raise MetrologyError(f"calibration curve: expected two equally long series of at least 3 points, "
                             f"got {xs.size} and {ys.size}")  # fmt: skip
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise MetrologyError("calibration curve: empty or non-numeric value in the points")
    d = xs - x0
    n = xs.size
    denominator = n * (d**2).sum() - d.sum() ** 2
    if denominator == 0:
        raise MetrologyError("calibration curve: every point has the same x; a line needs two")
    slope = (n * (d * ys).sum() - d.sum() * ys.sum()) / denominator
    intercept = ((d**2).sum() * ys.sum() - d.sum() * (d * ys).sum()) / denominator
    residuals = ys - intercept - slope * d
    s2 = float((residuals**2).sum() / (n - 2))
    u_intercept = math.sqrt(s2 * (d**2).sum() / denominator)
    u_slope = math.sqrt(s2 * n / denominator)
    correlation = float(-d.sum() / math.sqrt(n * (d**2).sum()))
    return CalibrationCurve(float(x0), float(intercept), float(slope), u_intercept, u_slope, correlation,
                            math.sqrt(s2), n)  # fmt: skip


#: Status of an instrument in :func:`calibration_schedule`, from worst to best.
STATUSES = ("never calibrated", "overdue", "due soon", "current")


def calibration_schedule(instruments: pa.Table | None, calibrations: pa.Table, on: dt.date,
                         within_days: int = 30) -> pa.Table:  # fmt: skip
    """One row per instrument: its last certificate, when it is due and its status on ``on``:

    * ``overdue``: the last certificate's due date has passed (ISO/IEC 17025:2017 6.4.7: equipment
      is recalibrated on an established programme; a lapsed one must not be used);
    * ``due soon``: due within ``within_days`` days;
    * ``current``; ``never calibrated``: listed in ``instruments`` with no certificate at all.

    A certificate dated after ``on`` is not yet issued on that day and does not count.
    Rows are sorted by status (worst first), then days left.
    """
    if within_days < 0:
        raise MetrologyError(f"calibration schedule: within {within_days} days: expected 0 or more")
    latest: dict[str, dict[str, Any]] = {}
    for row in calibrations.to_pylist():
        if row["calibrated_on"] is None or row["calibrated_on"] > on:
            continue
        held = latest.get(row["instrument_id"])
        if held is None or (row["due_on"], row["calibrated_on"]) > (held["due_on"], held["calibrated_on"]):
            latest[row["instrument_id"]] = row
    known = [] if instruments is None else instruments.column("instrument_id").to_pylist()
    ids = sorted(set(known) | set(calibrations.column("instrument_id").to_pylist()))
    rows = []
    for instrument in ids:
        certificate = latest.get(instrument)
        if certificate is None:
            rows.append({"instrument_id": instrument, "certificate_id": None, "calibrated_on": None,
                         "due_on": None, "days_left": None, "status": "never calibrated"})  # fmt: skip
            continue
        days_left = (certificate["due_on"] - on).days
        status = "overdue" if days_left < 0 else "due soon" if days_left <= within_days else "current"
        rows.append({"instrument_id": instrument, "certificate_id": certificate["certificate_id"],
                     "calibrated_on": certificate["calibrated_on"], "due_on": certificate["due_on"],
                     "days_left": days_left, "status": status})  # fmt: skip
    rows.sort(key=lambda r: (STATUSES.index(r["status"]), r["days_left"] if r["days_left"] is not None else 0,
                             r["instrument_id"]))  # fmt: skip
    schema = pa.schema([("instrument_id", pa.string()), ("certificate_id", pa.string()),
                        ("calibrated_on", pa.date32()), ("due_on", pa.date32()), ("days_left", pa.int32()),
                        ("status", pa.string())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)
