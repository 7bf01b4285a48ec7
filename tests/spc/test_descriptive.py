"""NIST StRD certified values: univariate summary statistics and the SiRstv one-way ANOVA."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from silicio.spc import describe, one_way_anova

# Certified values (NIST StRD, as listed in shared/data/quality/MANIFEST.tsv): mean, sd, lag-1 autocorrelation.
CERTIFIED = {
    "strd_pidigits.csv": (4.53480000000000, 2.86733906028871, -0.00355099287237972),
    "strd_lottery.csv": (518.958715596330, 291.699727470969, -0.120948622967393),
    "strd_lew.csv": (-177.435000000000, 277.332168044316, -0.307304800605679),
    "strd_mavro.csv": (2.00185600000000, 0.000429123454003053, 0.937989183438248),
    "strd_michelso.csv": (299.852400000000, 0.0790105478190518, 0.535199668621283),
    "strd_numacc1.csv": (10000002.0, 1.0, -0.5),
    "strd_numacc2.csv": (1.2, 0.1, -0.999),
    "strd_numacc3.csv": (1000000.2, 0.1, -0.999),
    "strd_numacc4.csv": (10000000.2, 0.1, -0.999),
}

# Digits attainable from binary floats, limited by the rounding of the input itself (a spread of 0.1 on
# 1e6 / 1e7 carries errors of 1e-10 / 1e-9 from parsing): the exact decimal path gets every certified digit.
FLOAT_SD_DIGITS = {"strd_numacc3.csv": 9, "strd_numacc4.csv": 8}


def digits(got: float, certified: float) -> float:
    """Log relative error, the StRD measure of agreement (LRE): number of correct significant digits."""
    if got == certified:
        return 15.0
    return -math.log10(abs(got - certified) / abs(certified))


@pytest.mark.parametrize("name", list(CERTIFIED))
def test_strd_univariate_exact_decimal_path(quality, name):
    values = quality(name, y=pa.decimal128(20, 10)).column("y")
    got = describe(values)
    mean, sd, r1 = CERTIFIED[name]
    # The certified values have 15 significant digits; rounding them leaves ~1e-15 relative.
    assert digits(got.mean, mean) >= 14.5
    assert digits(got.sd, sd) >= 14.5
    assert digits(got.lag1_autocorrelation, r1) >= 14.5


@pytest.mark.parametrize("name", list(CERTIFIED))
def test_strd_univariate_float_path(quality, name):
    got = describe(quality(name).column("y").to_numpy())
    mean, sd, r1 = CERTIFIED[name]
    assert digits(got.mean, mean) >= 14
    assert digits(got.sd, sd) >= FLOAT_SD_DIGITS.get(name, 13)
    assert digits(got.lag1_autocorrelation, r1) >= 13


def test_strd_anova_sirstv(quality):
    table = quality("strd_anova_sirstv.csv")
    a = one_way_anova(table.column("resistivity").to_numpy(), table.column("instrument").to_numpy())
    assert (a.df_between, a.df_within) == (4, 20)
    certified = {
        "ss_between": 5.11462616000000e-02,
        "ms_between": 1.27865654000000e-02,
        "ss_within": 2.16636560000000e-01,
        "ms_within": 1.08318280000000e-02,
        "f": 1.18046237440255,
        "r_squared": 1.90999039051129e-01,
        "residual_sd": 1.04076068334656e-01,
    }
    for name, value in certified.items():
        assert getattr(a, name) == pytest.approx(value, rel=1e-12), name


def test_bad_input():
    with pytest.raises(ValueError, match="index 1 is 'x'"):
        describe(["1.5", "x"])
    with pytest.raises(ValueError, match="one label per value"):
        one_way_anova([1.0, 2.0, 3.0], [1, 2])
