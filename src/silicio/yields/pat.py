"""Part Average Testing: static and dynamic PAT limits and the parts outside them.

PAT removes parts that pass the specification but whose result on a test lies far from the
rest of the population: such outliers are known to carry a larger share of early field
failures. Limits are set on a robust centre and spread of each test's results:

* **static PAT** (AEC-Q001 Rev-D): from the passing parts of at least six lots,
  ``robust mean ± 6 robust sigma`` with robust mean = median and robust sigma = (Q3 - Q1) / 1.35;
* **dynamic PAT** (AEC-Q001 Rev-D): per lot (or here per wafer), from the parts passing the
  specification *and* the static PAT limits, ``mean ± n sigma`` (the document's n is 6);

both clamped so a PAT limit never lies outside the specification limit it tightens.

Quantiles are numpy's ``method`` (Hyndman & Fan): the default ``"linear"`` is their type 7
(also R's and Excel's QUARTILE.INC default); any ``numpy.quantile`` method can be chosen.

A test whose spread is zero (IQR = 0 on quantized results, or sigma = 0 for dynamic limits)
would give limits equal to the median and reject every other value. ``iqr_zero`` says what to
do: ``"skip"`` leaves the test unscreened and says so; ``"resolution"`` uses the measurement
resolution (the smallest non-zero step between distinct results) as a floor of sigma, so a
spread of zero, or one smaller than a step, becomes one step, and says so.

Dynamic limits are then clamped inside the static limits of the test: AEC-Q001 Rev-D sets
dynamic limits from the parts that passed the static limits to *tighten* them, never to
widen them (§3.1.2). Without the clamp, ``mean ± 6 sigma`` of a wafer wider than the history
(or off its centre) would reach past the static limits and pass parts they reject.

Tests are identified by ``(test_num, test_name, pin)`` (``pin`` null except for MPR results),
parts by ``(lot_id, wafer_id, part_index)`` as in :func:`silicio.stdf.tidy`; only the last
execution of a test on a die counts (``is_last_test``).

A result the tester flagged with an alarm (STDF V4 PTR / MPR TEST_FLG bit 0, "alarm detected
during testing") is not a measurement to build limits on: by default (``alarmed="exclude"``)
it is left out of every population and is not judged; ``alarmed="include"`` keeps it.
:func:`alarmed_results` counts them, so a screening can say how many it left out.

References
----------
Automotive Electronics Council, *AEC-Q001 Rev-D: Guidelines for Part Average Testing*
(December 9, 2011): §2.4 robust mean = median, robust sigma = (Q3 - Q1) / 1.35; §3.1.1 static
PAT limits = robust mean ± 6 robust sigma, data from at least six lots (at least 30 parts
each); §3.1.2 dynamic PAT limits per lot or wafer from the parts that passed the static
limits, mean ± 6 sigma (or robust mean ± 6 robust sigma), never outside the static limits;
PAT limits never wider than the specification limits. (Section numbers as Rev-D numbers them.)

R. J. Hyndman and Y. Fan, "Sample quantiles in statistical packages", *The American
Statistician* 50(4), 361-365 (1996).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import numba as nb
import numpy as np
import polars as pl
import pyarrow as pa

__all__ = [
    "ALARM_POLICIES",
    "IQR_PER_SIGMA",
    "PART_KEY",
    "QUANTILE_METHODS",
    "TEST_KEY",
    "alarmed_results",
    "dynamic_pat_limits",
    "measurement_resolution",
    "measurements",
    "passing_measurements",
    "pat_limits",
    "pat_outliers",
    "robust_mean",
    "robust_sigma",
    "static_limits_per_lot",
    "static_pat_limits",
]

#: AEC-Q001 Rev-D: robust sigma = IQR / 1.35 (the IQR of a normal distribution is 1.349 sigma).
IQR_PER_SIGMA = 1.35
#: How a part is named in every table of the screening.
PART_KEY = ("lot_id", "wafer_id", "part_index")
#: How a test is named: MPR results are screened per pin.
TEST_KEY = ("test_num", "test_name", "pin")
#: ``numpy.quantile`` methods: the nine Hyndman-Fan types and numpy's four discontinuous ones.
QUANTILE_METHODS = (
    "inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
    "hazen", "weibull", "linear", "median_unbiased", "normal_unbiased",
    "lower", "higher", "midpoint", "nearest",
)  # fmt: skip
IQR_ZERO_POLICIES = ("skip", "resolution")
#: What a screening does with alarm-flagged results: leave them out (default) or keep them.
ALARM_POLICIES = ("exclude", "include")
#: STDF V4 PTR / MPR TEST_FLG bit 0: "alarm detected during testing".
TEST_FLG_ALARM = 0x01
DYNAMIC_SCOPES = ("wafer", "lot")
DYNAMIC_CENTERS = ("mean", "median")

_REASONS_SCHEMA = pa.schema(
    [
        ("lot_id", pa.string()),
        ("wafer_id", pa.string()),
        ("part_index", pa.int64()),
        ("rule", pa.string()),
        ("test_num", pa.uint32()),
        ("test_name", pa.string()),
        ("pin", pa.uint16()),
        ("value", pa.float64()),
        ("limit_lo", pa.float64()),
        ("limit_hi", pa.float64()),
    ]
)


# --------------------------------------------------------------------------------------------
# The formulas, over numpy arrays


def _check_method(method: str) -> None:
    if method not in QUANTILE_METHODS:
        raise ValueError(f"quantile method must be one of {', '.join(QUANTILE_METHODS)}; got {method!r}")


def robust_mean(values: np.ndarray) -> float:
    """Robust mean of AEC-Q001 Rev-D: the median of the results (NaN ignored)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else float("nan")


def robust_sigma(values: np.ndarray, method: str = "linear") -> float:
    """Robust sigma of AEC-Q001 Rev-D: (Q3 - Q1) / 1.35, quartiles by ``numpy.quantile(method=)``."""
    _check_method(method)
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not values.size:
        return float("nan")
    q1, q3 = np.quantile(values, [0.25, 0.75], method=method)
    return float((q3 - q1) / IQR_PER_SIGMA)


def measurement_resolution(values: np.ndarray) -> float:
    """The smallest non-zero step between distinct results: NaN when all results are equal.

    The floor of sigma with ``iqr_zero="resolution"``: quantized results move by at least one
    step, so a part one step away is not an outlier of zero-width limits.
    """
    distinct = np.unique(np.asarray(values, dtype=float))
    distinct = distinct[~np.isnan(distinct)]
    steps = np.diff(distinct)
    return float(steps.min()) if steps.size else float("nan")


def pat_limits(
    center: np.ndarray | float,
    sigma: np.ndarray | float,
    k: float = 6.0,
    lsl: np.ndarray | float | None = None,
    usl: np.ndarray | float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PAT limits ``center ± k sigma`` clamped to the specification (AEC-Q001 Rev-D).

    ``lsl`` / ``usl`` null or NaN mean no such specification limit. Returns (low limit, high
    limit, True where the low limit was clamped to LSL, True where the high one was clamped).
    """
    if not np.isfinite(k) or k <= 0:
        raise ValueError(f"k (sigmas either side) must be a positive number, got {k!r}")
    center = np.asarray(center, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    if np.any(sigma < 0):
        raise ValueError("sigma must be >= 0")
    lsl = np.asarray(np.nan if lsl is None else lsl, dtype=float)
    usl = np.asarray(np.nan if usl is None else usl, dtype=float)
    lo, hi = center - k * sigma, center + k * sigma
    # Both limits stay inside [LSL, USL], even for a centre outside the specification.
    new_lo = np.fmin(np.fmax(lo, lsl), usl)
    new_hi = np.fmax(np.fmin(hi, usl), lsl)
    return new_lo, new_hi, new_lo != lo, new_hi != hi


# --------------------------------------------------------------------------------------------
# Tables


def _frame(table: pa.Table | pl.DataFrame, what: str, needs: Iterable[str]) -> pl.DataFrame:
    frame = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"{what} must be an Arrow table or a polars DataFrame")
    missing = [c for c in needs if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks the column(s) {', '.join(missing)}; expected the tidy table's columns"
        )
    return frame


def _check_alarmed(alarmed: str) -> None:
    if alarmed not in ALARM_POLICIES:
        raise ValueError(f"alarmed must be one of {', '.join(ALARM_POLICIES)}; got {alarmed!r}")


def _alarm(frame: pl.DataFrame) -> pl.Expr:
    """True where TEST_FLG bit 0 (alarm) is set; a table without ``test_flg`` records no alarm."""
    if "test_flg" not in frame.columns:
        return pl.lit(False)
    return (pl.col("test_flg").cast(pl.UInt8) & TEST_FLG_ALARM).fill_null(0) != 0


#: The tidy columns :func:`measurements` reads.
_PARAMETRIC_COLUMNS = (
    *PART_KEY,
    *TEST_KEY,
    "test_type",
    "result",
    "lo_limit",
    "hi_limit",
    "part_passed",
    "is_last_test",
)


def _counts() -> pl.Expr:
    """True for the tidy rows :func:`measurements` keeps, alarms aside."""
    return (
        pl.col("is_last_test").fill_null(False)
        & pl.col("test_type").is_in(["P", "M"])
        & pl.col("part_index").is_not_null()
        & pl.col("result").is_finite()
    )


def _parametric(tidy: pa.Table | pl.DataFrame) -> pl.DataFrame:
    return _frame(tidy, "the tidy table", _PARAMETRIC_COLUMNS).filter(_counts())


def measurements(tidy: pa.Table | pl.DataFrame, alarmed: str = "exclude") -> pl.DataFrame:
    """The results that count from a tidy table: parametric (PTR / MPR), last execution of the
    test on the die, with a finite result, and (``alarmed="exclude"``) no alarm (TEST_FLG bit
    0). One row per (part, test, pin)."""
    _check_alarmed(alarmed)
    frame = _parametric(tidy)
    return frame if alarmed == "include" else frame.filter(~_alarm(frame))


def passing_measurements(tidy: pa.Table | pl.DataFrame, alarmed: str = "exclude") -> pl.DataFrame:
    """:func:`measurements` of the passing parts (``part_passed``): the population static and
    dynamic PAT set limits on, the results PAT judges and those NNR compares."""
    return measurements(tidy, alarmed).filter(pl.col("part_passed").fill_null(False))


def alarmed_results(
    tidy: pa.Table | pl.DataFrame, tests: str | Sequence[int] = "all", *, passing_only: bool = True
) -> int:
    """How many results :func:`measurements` leaves out for their alarm (TEST_FLG bit 0): last
    executions of the ``tests``, on passing parts unless ``passing_only=False``."""
    if "test_flg" not in _frame(tidy, "the tidy table", _PARAMETRIC_COLUMNS).columns:
        _tests_filter(pl.DataFrame(), tests)  # the same check of ``tests``; no column, no alarm
        return 0
    frame = _tests_filter(_parametric(tidy), tests)
    if passing_only:
        frame = frame.filter(pl.col("part_passed").fill_null(False))
    return int(frame.select(_alarm(frame).sum()).item()) if frame.height else 0


def _tests_filter(frame: pl.DataFrame, tests: str | Sequence[int]) -> pl.DataFrame:
    if isinstance(tests, str):
        if tests != "all":
            raise ValueError(f'tests must be "all" or a list of test numbers, got {tests!r}')
        return frame
    numbers = [int(t) for t in tests]
    return frame.filter(pl.col("test_num").is_in(numbers))


# --------------------------------------------------------------------------------------------
# Keys as integers: a screening groups, joins and looks up millions of results by their test,
# wafer and lot; on one integer code per key that is array indexing, not hashing strings.


def key_codes(
    frame: pl.DataFrame, keys: Sequence[str], *, in_runs: bool = False
) -> tuple[np.ndarray, pl.DataFrame]:
    """The key (columns ``keys``) of each row of ``frame`` as an integer code, and the keys by
    code (one row each): codes 0..n-1 follow the keys' sort order (nulls last), so a table in
    code order is sorted by its keys. ``in_runs``: the rows come in long runs of one key (the
    wafers of a lot's results), so only the first row of each run is looked at."""
    keys = list(keys)
    if not frame.height:
        return np.zeros(0, np.int64), frame.select(keys).clear()
    if in_runs:
        changed = frame.select(
            pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift()) for c in keys).alias("_new")
        )["_new"].to_numpy()
        changed[0] = True
        heads = np.flatnonzero(changed)
        head_codes, table = key_codes(frame.select(keys)[heads], keys)
        return head_codes[np.cumsum(changed) - 1], table
    found = _integer_key_codes(frame, keys)
    if found is not None:
        return found
    hashed = frame.select(pl.struct(keys).hash().alias("_hash"))
    firsts = hashed.with_row_index("_row").unique("_hash", keep="first")
    table = frame.select(keys)[firsts["_row"].to_numpy()]
    order = table.with_row_index("_i").sort(keys, nulls_last=True)["_i"].to_numpy()
    table = table[order]
    hashes = firsts["_hash"].to_numpy()[order]
    by_hash = np.argsort(hashes)
    codes = by_hash[np.searchsorted(hashes[by_hash], hashed["_hash"].to_numpy())].astype(np.int64)
    # Two keys sharing a hash would share a code: checked, and keyed by a join instead.
    if all(frame[c].eq_missing(table[c].gather(codes)).all() for c in keys):
        return codes, table
    table = frame.select(keys).unique().sort(keys, nulls_last=True)
    coded = frame.select(keys).join(
        table.with_row_index("_code"), on=keys, nulls_equal=True, maintain_order="left"
    )
    return coded["_code"].to_numpy().astype(np.int64), table


# Dense code tables of integer keys up to this many slots (a byte each): test numbers, pins.
_DENSE_SLOTS = 1 << 24


def _integer_key_codes(frame: pl.DataFrame, keys: list[str]) -> tuple[np.ndarray, pl.DataFrame] | None:
    """:func:`key_codes` when the key's integer columns alone tell the keys apart (a test's name
    follows its number and pin): their values coded through a dense table, no hashing of rows;
    the string columns are checked to follow them. None when that does not hold, or the integer
    values spread too wide for a dense table."""
    integers = [c for c in keys if frame.schema[c].is_integer()]
    if not integers:
        return None
    combined, slots = np.zeros(frame.height, np.int64), 1
    for column in integers:
        series = frame[column]
        low, high = series.min(), series.max()
        if low is None:  # all null
            low = high = 0
        radix = int(high) - int(low) + 2  # the values, then null
        slots *= radix
        if slots > _DENSE_SLOTS:
            return None
        values = (series.cast(pl.Int64) - int(low)).fill_null(radix - 1).to_numpy()
        combined = combined * radix + values
    present = np.zeros(slots, np.bool_)
    present[combined] = True
    code_of_slot = np.cumsum(present) - 1
    first_codes = code_of_slot[combined]
    some_row = np.empty(int(present.sum()), np.int64)
    some_row[first_codes] = np.arange(frame.height)
    others = [c for c in keys if c not in integers]
    if others:
        at = some_row[first_codes]
        # Rows spread over the table first: a key whose strings vary on their own shows it there.
        sample = np.arange(0, frame.height, max(1, frame.height // 4096))
        for rows in (sample, None):
            chosen = frame[others] if rows is None else frame[others][rows]
            same_as = frame[others][at if rows is None else at[rows]]
            if not all(chosen[c].eq_missing(same_as[c]).all() for c in others):
                return None
    table = frame.select(keys)[some_row]
    order = table.with_row_index("_i").sort(keys, nulls_last=True)["_i"].to_numpy()
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return rank[first_codes], table[order]


@nb.njit(cache=True, nogil=True)
def _group_rows(codes, n_codes):
    """Rows grouped by code (a stable counting sort): group c is ``rows[offsets[c]:offsets[c + 1]]``,
    its rows in table order."""
    offsets = np.zeros(n_codes + 1, np.int64)
    for c in codes:
        offsets[c + 1] += 1
    offsets = np.cumsum(offsets)
    fill = offsets[:-1].copy()
    rows = np.empty(codes.size, np.int64)
    for i in range(codes.size):
        rows[fill[codes[i]]] = i
        fill[codes[i]] += 1
    return offsets, rows


@nb.njit(cache=True, nogil=True)
def _groups_by_first_row(codes, n_codes):
    """Rows grouped by code, groups in the order of their first row, rows in table order:
    (offsets, rows, the code of each group)."""
    rank = np.full(n_codes, -1, np.int64)
    n_groups = 0
    for c in codes:
        if rank[c] < 0:
            rank[c] = n_groups
            n_groups += 1
    offsets = np.zeros(n_groups + 1, np.int64)
    for c in codes:
        offsets[rank[c] + 1] += 1
    offsets = np.cumsum(offsets)
    fill = offsets[:-1].copy()
    rows = np.empty(codes.size, np.int64)
    for i in range(codes.size):
        g = rank[codes[i]]
        rows[fill[g]] = i
        fill[g] += 1
    group_code = np.empty(n_groups, np.int64)
    for c in range(n_codes):
        if rank[c] >= 0:
            group_code[rank[c]] = c
    return offsets, rows, group_code


@nb.njit(cache=True, nogil=True, parallel=True)
def _sorted_groups(values, offsets):
    """``values`` (grouped as ``offsets`` says) with each group sorted."""
    out = values.copy()
    for g in nb.prange(offsets.size - 1):
        out[offsets[g] : offsets[g + 1]] = np.sort(out[offsets[g] : offsets[g + 1]])
    return out


#: The quantiles whose linear interpolation :func:`_quartile_groups` makes readable.
_LINEAR_QUANTILES = (0.25, 0.5, 0.75)


@nb.njit(cache=True, nogil=True, inline="always")
def _before(a, b):
    """``a`` sorts before ``b`` as ``np.sort`` orders floats: NaN last."""
    return a < b or (b != b and a == a)


@nb.njit(cache=True, nogil=True)
def _select(v, lo, hi, k, rounds):
    """Puts into ``v[k]`` the value a sort of ``v[lo:hi + 1]`` would put there, smaller or equal
    values before it and greater or equal ones after (Hoare's FIND, median-of-three pivot).
    After ``rounds`` partitions the rest is sorted: an order of values that defeats the pivot
    choice costs n log n, never n squared (introselect's guard)."""
    while hi - lo > 16:
        if rounds <= 0:
            v[lo : hi + 1] = np.sort(v[lo : hi + 1])
            return
        rounds -= 1
        mid = (lo + hi) >> 1
        if _before(v[mid], v[lo]):
            v[mid], v[lo] = v[lo], v[mid]
        if _before(v[hi], v[lo]):
            v[hi], v[lo] = v[lo], v[hi]
        if _before(v[hi], v[mid]):
            v[hi], v[mid] = v[mid], v[hi]
        pivot = v[mid]
        i, j = lo, hi
        while i <= j:
            while _before(v[i], pivot):
                i += 1
            while _before(pivot, v[j]):
                j -= 1
            if i <= j:
                v[i], v[j] = v[j], v[i]
                i += 1
                j -= 1
        # v[lo:j + 1] <= pivot <= v[i:hi + 1], and what lies between equals the pivot
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return
    for i in range(lo + 1, hi + 1):  # a short stretch: insertion sort
        x = v[i]
        j = i - 1
        while j >= lo and _before(x, v[j]):
            v[j + 1] = v[j]
            j -= 1
        v[j + 1] = x


@nb.njit(cache=True, nogil=True, parallel=True)
def _quartile_groups(values, offsets):
    """``values`` (grouped as ``offsets`` says) with, in each group of n, the order statistics
    that the linear quantiles 0.25, 0.5 and 0.75 read (ranks floor((n - 1) q) and the next) in the
    places a sort of the group would give them: a few selections instead of a sort, the same
    values bit for bit (each is one of the group's values)."""
    out = values.copy()
    for g in nb.prange(offsets.size - 1):
        start, n = offsets[g], offsets[g + 1] - offsets[g]
        done = -1  # ranks up to here are in place: the next selection starts after them
        rounds = 2 * int(np.log2(max(n, 2))) + 8
        for q in _LINEAR_QUANTILES:
            below = int(np.floor((n - 1) * q))
            for rank in (below, min(below + 1, n - 1)):
                if rank > done:
                    _select(out, start + done + 1, start + n - 1, start + rank, rounds)
                    done = rank
    return out


def _within_limits(value: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:func:`_within` on arrays: NaN is a missing limit (a comparison with NaN is False)."""
    return ~((value < lo) | (value > hi))


class Measurements:
    """:func:`passing_measurements` (``frame``) with their test, lot and wafer as integer codes
    (:func:`key_codes`), taken when first asked for: what the PAT and NNR rules group, join and
    look up by. ``tests``, ``lots``, ``wafers`` are the keys by code."""

    def __init__(self, frame: pl.DataFrame):
        self.frame = frame

    @functools.cached_property
    def _test_codes(self) -> tuple[np.ndarray, pl.DataFrame]:
        return key_codes(self.frame, TEST_KEY)

    @functools.cached_property
    def _lot_codes(self) -> tuple[np.ndarray, pl.DataFrame]:
        lot_of_wafer, lots = key_codes(self.wafers, ["lot_id"])
        return lot_of_wafer[self.wafer], lots

    @functools.cached_property
    def _wafer_codes(self) -> tuple[np.ndarray, pl.DataFrame]:
        return key_codes(self.frame, ["lot_id", "wafer_id"], in_runs=True)

    @property
    def test(self) -> np.ndarray:
        return self._test_codes[0]

    @property
    def tests(self) -> pl.DataFrame:
        return self._test_codes[1]

    @property
    def lot(self) -> np.ndarray:
        return self._lot_codes[0]

    @property
    def lots(self) -> pl.DataFrame:
        return self._lot_codes[1]

    @property
    def wafer(self) -> np.ndarray:
        return self._wafer_codes[0]

    @property
    def wafers(self) -> pl.DataFrame:
        return self._wafer_codes[1]

    @functools.cached_property
    def value(self) -> np.ndarray:
        return self.frame["result"].to_numpy().astype(np.float64, copy=False)

    def limit(self, column: str) -> np.ndarray:
        """A specification limit column as floats, NaN where there is none."""
        return self.frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()

    def tests_mask(self, tests: str | Sequence[int]) -> np.ndarray | None:
        """True for the results of ``tests`` ("all": None, every result)."""
        if isinstance(tests, str):
            _tests_filter(pl.DataFrame(), tests)  # the one check of ``tests``
            return None
        chosen = self.tests["test_num"].is_in([int(t) for t in tests]).to_numpy()
        return chosen[self.test]

    def owner(self, keys: Sequence[str]) -> tuple[np.ndarray, pl.DataFrame, list[str]]:
        """What a table keyed by ``keys`` (TEST_KEY, after ``lot_id`` or ``lot_id, wafer_id``)
        is per: the code of each result's wafer, lot, or 0 for all, with its table and columns."""
        if "wafer_id" in keys:
            return self.wafer, self.wafers, ["lot_id", "wafer_id"]
        if "lot_id" in keys:
            return self.lot, self.lots, ["lot_id"]
        return np.zeros(self.frame.height, np.int64), pl.DataFrame({"_all": [0]}), []

    def rows_of(self, table: pl.DataFrame, keys: Sequence[str], what: str) -> np.ndarray:
        """For each result, the row of ``table`` with its key (columns ``keys``), -1 where there is
        none: the left join of the results to a table of limits. A key twice in ``table`` is an
        error naming it (which limits would apply?)."""
        owner, owners, owner_keys = self.owner(keys)
        n_tests = self.tests.height
        found = (
            table.select(*keys)
            .with_row_index("_row")
            .join(self.tests.with_row_index("_test"), on=list(TEST_KEY), nulls_equal=True)
        )
        if owner_keys:
            found = found.join(owners.with_row_index("_owner"), on=owner_keys, nulls_equal=True)
        else:
            found = found.with_columns(pl.lit(0, pl.UInt32).alias("_owner"))
        slot = found["_owner"].to_numpy().astype(np.int64) * n_tests + found["_test"].to_numpy()
        if np.unique(slot).size != slot.size:
            twice = found.filter(pl.struct("_owner", "_test").is_duplicated()).row(0, named=True)
            raise ValueError(f"{what} hold the key {', '.join(f'{c} {twice[c]}' for c in keys)} twice")
        lookup = np.full(owners.height * n_tests, -1, np.int64)
        lookup[slot] = found["_row"].to_numpy()
        return lookup[owner * n_tests + self.test]

    def key_columns(self, owner_keys: Sequence[str], group_codes: np.ndarray) -> pl.DataFrame:
        """The key columns (``owner_keys`` then TEST_KEY) of group codes owner x n_tests + test."""
        n_tests = self.tests.height
        tests = self.tests[group_codes % n_tests]
        if not owner_keys:
            return tests
        owners = self.wafers if "wafer_id" in owner_keys else self.lots
        return pl.concat([owners[group_codes // n_tests], tests], how="horizontal")


def _measurements(passing: pl.DataFrame | Measurements) -> Measurements:
    return passing if isinstance(passing, Measurements) else Measurements(passing)


def _spread(values: np.ndarray, center: str, method: str) -> tuple[float, float, float, float]:
    """(centre, sigma, Q1, Q3) of one group: median and IQR / 1.35, or mean and sample sigma."""
    q1, q3 = np.quantile(values, [0.25, 0.75], method=method)
    if center == "median":
        return float(np.median(values)), float((q3 - q1) / IQR_PER_SIGMA), float(q1), float(q3)
    sigma = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return float(np.mean(values)), sigma, float(q1), float(q3)


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's quantile interpolation, operation for operation, so results match it bit for bit."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _linear_quartiles(ordered: np.ndarray, start: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q1 and Q3 by numpy's method "linear" of every group ``ordered[start:start + n]`` (each
    sorted), at once: the same indices and interpolation as ``numpy.quantile``, bit for bit."""

    def quantile(q: float) -> np.ndarray:
        virtual = (n - 1) * q
        below = np.floor(virtual).astype(np.int64)
        above = np.minimum(below + 1, n - 1)
        return _lerp(ordered[start + below], ordered[start + above], virtual - below)

    return quantile(0.25), quantile(0.75)


def _limit_rows(
    groups: pl.DataFrame,
    keys: Sequence[str],
    *,
    k: float,
    center: str,
    method: str,
    iqr_zero: str,
    min_parts: int,
) -> pl.DataFrame:
    """One row of limits per group of ``keys`` in ``groups`` (columns ``value``, ``lo_limit``,
    ``hi_limit``), sorted by ``keys``; LSL / USL are the group's tightest limits."""
    codes, table = key_codes(groups, keys)
    return _group_limits(
        codes, table.height, lambda present: table[present], groups["value"], groups["lo_limit"],
        groups["hi_limit"], k=k, center=center, method=method, iqr_zero=iqr_zero, min_parts=min_parts,
    )[0]  # fmt: skip


def _group_limits(
    codes: np.ndarray,
    n_codes: int,
    keys_of: Callable[[np.ndarray], pl.DataFrame],
    value: pl.Series,
    lo_limit: pl.Series,
    hi_limit: pl.Series,
    *,
    k: float,
    center: str,
    method: str,
    iqr_zero: str,
    min_parts: int,
) -> tuple[pl.DataFrame, np.ndarray]:
    """:func:`_limit_rows` of groups given as integer codes (0..``n_codes`` - 1, in the order of
    their keys); ``keys_of(codes)``: the key columns of those codes. Returns the limits of the
    codes that have values, in code order, and those codes.

    The values are grouped by a counting sort on the codes and each group sorted apart (compiled,
    parallel): no sort of the whole table. Quartiles of method "linear" are then read for all
    groups at once, other methods are numpy's per group, so every quantile method is available;
    mean, sample sigma and the tightest specification limits are polars' own aggregations.
    """
    offsets, rows = _group_rows(codes, n_codes)
    present = np.flatnonzero(np.diff(offsets))
    n = np.diff(offsets)[present]
    start = offsets[:-1][present]
    stop = start + n
    grouped = value.to_numpy().astype(np.float64, copy=False)[rows]
    # Median and linear quartiles read a few order statistics of each group: selected, not sorted.
    # np.quantile and the resolution's np.unique sort (a copy) themselves.
    ordered = (
        _quartile_groups(grouped, offsets)
        if method == "linear" and center == "median"
        else _sorted_groups(grouped, offsets)
    )
    aggregations = [pl.col("lo_limit").max().alias("lsl"), pl.col("hi_limit").min().alias("usl")]
    if center != "median":
        aggregations += [pl.col("value").mean().alias("_mean"), pl.col("value").std(ddof=1).alias("_std")]
    per_code = (
        pl.DataFrame(
            [
                pl.Series("_code", codes),
                value.alias("value"),
                lo_limit.alias("lo_limit"),
                hi_limit.alias("hi_limit"),
            ]
        )  # fmt: skip
        .group_by("_code")
        .agg(aggregations)
    )
    position = np.searchsorted(present, per_code["_code"].to_numpy())

    def by_group(column: str, null: float = np.nan) -> np.ndarray:
        out = np.full(present.size, np.nan)
        out[position] = per_code[column].cast(pl.Float64).fill_null(null).to_numpy()
        return out

    lsl, usl = by_group("lsl"), by_group("usl")
    n_rows = n.size
    out_center = np.full(n_rows, np.nan)
    out_sigma = np.full(n_rows, np.nan)
    q1 = np.full(n_rows, np.nan)
    q3 = np.full(n_rows, np.nan)
    source = np.full(n_rows, None, dtype=object)
    reason = np.full(n_rows, None, dtype=object)
    spread_name = "IQR" if center == "median" else "sigma"
    enough = n >= min_parts
    if method == "linear" and enough.any():
        first_quartile, third_quartile = _linear_quartiles(ordered, start, n)
        if center == "median":
            middle_lo, middle_hi = ordered[start + (n - 1) // 2], ordered[start + n // 2]
            found_center = np.where(n % 2 == 1, middle_lo, (middle_lo + middle_hi) / 2)  # as np.median
            found_sigma = (third_quartile - first_quartile) / IQR_PER_SIGMA
        else:
            found_center = by_group("_mean")
            found_sigma = np.where(n > 1, by_group("_std", 0.0), 0.0)
        for column, found in zip((out_center, out_sigma, q1, q3),
                                 (found_center, found_sigma, first_quartile, third_quartile), strict=True):  # fmt: skip
            column[enough] = found[enough]
    else:
        for i in np.flatnonzero(enough):
            out_center[i], out_sigma[i], q1[i], q3[i] = _spread(ordered[start[i] : stop[i]], center, method)
    for i, (a, b) in enumerate(zip(start, stop, strict=True)):
        if not enough[i]:
            reason[i] = f"{b - a} parts, fewer than the {min_parts} needed"
            continue
        source[i] = "iqr" if center == "median" else "sigma"
        if iqr_zero == "resolution":
            v = ordered[a:b]
            # The resolution is a floor: quantized results cannot be judged finer than one step.
            step = measurement_resolution(v)
            if np.isfinite(step) and step > out_sigma[i]:
                what = "= 0" if out_sigma[i] == 0 else "below the resolution"
                out_sigma[i], source[i] = step, "resolution"
                reason[i] = f"{spread_name} {what}: sigma set to the resolution {step:g}"
                continue
            if out_sigma[i] > 0:
                continue
            reason[i] = f"{spread_name} = 0 and all results equal: no resolution step, not screened"
        elif out_sigma[i] > 0:
            continue
        else:
            reason[i] = f"{spread_name} = 0 (quantized results), not screened"
        out_sigma[i], source[i] = np.nan, None
    skipped = np.isnan(out_sigma)
    lo, hi, clamped_lo, clamped_hi = pat_limits(out_center, np.where(skipped, 0.0, out_sigma), k, lsl, usl)
    limits = keys_of(present).with_columns(
        pl.Series("n_parts", n, dtype=pl.Int64),
        pl.Series("center", out_center).fill_nan(None),
        pl.Series("q1", q1).fill_nan(None),
        pl.Series("q3", q3).fill_nan(None),
        pl.Series("sigma", out_sigma).fill_nan(None),
        pl.Series("sigma_source", source.tolist(), dtype=pl.String),
        pl.Series("lsl", lsl).fill_nan(None),
        pl.Series("usl", usl).fill_nan(None),
        pl.Series("limit_lo", np.where(skipped, np.nan, lo)).fill_nan(None),
        pl.Series("limit_hi", np.where(skipped, np.nan, hi)).fill_nan(None),
        pl.Series("clamped_lo", clamped_lo & ~skipped),
        pl.Series("clamped_hi", clamped_hi & ~skipped),
        pl.Series("skipped", skipped),
        pl.Series("reason", reason.tolist(), dtype=pl.String),
    )
    return limits, present


def _check_common(k: float, iqr_zero: str, quantile_method: str) -> None:
    if not isinstance(k, int | float) or not np.isfinite(k) or k <= 0:
        raise ValueError(f"k (sigmas either side) must be a positive number, got {k!r}")
    if iqr_zero not in IQR_ZERO_POLICIES:
        raise ValueError(f"iqr_zero must be one of {', '.join(IQR_ZERO_POLICIES)}; got {iqr_zero!r}")
    _check_method(quantile_method)


def static_pat_limits(
    tidy: pa.Table | pl.DataFrame,
    *,
    k: float = 6.0,
    min_lots: int = 6,
    tests: str | Sequence[int] = "all",
    iqr_zero: str = "skip",
    quantile_method: str = "linear",
    alarmed: str = "exclude",
) -> pa.Table:
    """Static PAT limits of each test from the passing parts of ``min_lots`` or more lots.

    AEC-Q001 Rev-D: limits = robust mean ± 6 robust sigma, robust mean = median, robust sigma =
    (Q3 - Q1) / 1.35, from at least six lots, clamped to the specification limits.

    ``tidy`` is a tidy table (:func:`silicio.stdf.tidy`) of one or more lots; the population
    is the last result of each test on each passing part (``part_passed``), alarm-flagged
    results left out unless ``alarmed="include"``. Fewer than
    ``min_lots`` lots in all raises ValueError; a test seen in fewer lots is kept, skipped,
    with the reason. LSL / USL are the tightest limits the data records for the test.

    Returns one row per test: ``test_num, test_name, pin, n_lots, n_parts, robust_mean, q1,
    q3, robust_sigma, sigma_source`` ("iqr" or "resolution"), ``lsl, usl, pat_lo, pat_hi,
    clamped_lo, clamped_hi, skipped, reason``.
    """
    _check_common(k, iqr_zero, quantile_method)
    if int(min_lots) < 1:
        raise ValueError(f"min_lots must be >= 1, got {min_lots!r}")
    return _static_limits(
        passing_measurements(tidy, alarmed), k=k, min_lots=min_lots, tests=tests, iqr_zero=iqr_zero,
        quantile_method=quantile_method,
    ).to_arrow()  # fmt: skip


def _static_limits(
    passing: pl.DataFrame | Measurements,
    *,
    k: float,
    min_lots: int,
    tests: str | Sequence[int],
    iqr_zero: str,
    quantile_method: str,
    lots: np.ndarray | None = None,
) -> pl.DataFrame:
    """:func:`static_pat_limits` of :func:`passing_measurements` already taken (``lots``: of the
    lots with these codes only)."""
    data = _measurements(passing)
    chosen = data.tests_mask(tests)
    if lots is not None:
        of_lots = np.isin(data.lot, lots)
        chosen = of_lots if chosen is None else chosen & of_lots
    test, lot = (data.test, data.lot) if chosen is None else (data.test[chosen], data.lot[chosen])
    n_tests, seen_lots = data.tests.height, max(data.lots.height, 1)
    # The lots of each test: one flag per (test, lot) seen.
    seen = np.zeros(n_tests * seen_lots, np.bool_)
    seen[test * seen_lots + lot] = True
    seen = seen.reshape(n_tests, seen_lots)
    n_lots = int(seen.any(axis=0).sum())
    if n_lots < min_lots:
        raise ValueError(
            f"static PAT limits need passing parts of at least {min_lots} lots (AEC-Q001 Rev-D); "
            f"got {n_lots}. Give static limits computed from the lot history instead."
        )
    keys = list(TEST_KEY)
    columns = [data.frame["result"], data.frame["lo_limit"], data.frame["hi_limit"]]
    if chosen is not None:
        mask = pl.Series(chosen)
        columns = [c.filter(mask) for c in columns]
    limits, present = _group_limits(
        test, n_tests, lambda codes: data.tests[codes], *columns, k=k, center="median",
        method=quantile_method, iqr_zero=iqr_zero, min_parts=1,
    )  # fmt: skip
    limits = limits.with_columns(pl.Series("n_lots", seen.sum(axis=1)[present], dtype=pl.UInt32))
    few = pl.col("n_lots") < min_lots
    limits = limits.with_columns(
        pl.when(few).then(pl.lit(f"fewer than {min_lots} lots (AEC-Q001 Rev-D), not screened"))
        .otherwise(pl.col("reason")).alias("reason"),
        *(pl.when(few).then(None).otherwise(pl.col(c)).alias(c) for c in ("limit_lo", "limit_hi")),
        *(pl.when(few).then(False).otherwise(pl.col(c)).alias(c) for c in ("clamped_lo", "clamped_hi")),
        (pl.col("skipped") | few).alias("skipped"),
    )  # fmt: skip
    return limits.select(
        *keys, "n_lots", "n_parts",
        pl.col("center").alias("robust_mean"), "q1", "q3",
        pl.col("sigma").alias("robust_sigma"), "sigma_source", "lsl", "usl",
        pl.col("limit_lo").alias("pat_lo"), pl.col("limit_hi").alias("pat_hi"),
        "clamped_lo", "clamped_hi", "skipped", "reason",
    )  # fmt: skip


def static_limits_per_lot(
    passing: pl.DataFrame | Measurements,
    baselines: dict[str, Sequence[str]],
    *,
    k: float,
    min_lots: int,
    tests: str | Sequence[int],
    iqr_zero: str,
    quantile_method: str,
) -> pl.DataFrame:
    """Static PAT limits of each lot from its own baseline: ``baselines`` maps a lot to the lots
    its limits come from (AEC-Q001 Rev-D §3.1.1: at least six earlier lots, never the lot
    judged); ``passing`` (:func:`passing_measurements`) holds the results of all of them.

    One row per (lot, test): ``lot_id``, the columns of :func:`static_pat_limits`, and
    ``baseline_lots`` (the lots the limits come from, sorted). Lots sharing a baseline (every lot
    judged against one stored version) share one computation. A lot whose baseline has fewer than
    ``min_lots`` lots of results raises ValueError naming it.
    """
    shared: dict[tuple[str, ...], list[str]] = {}
    for lot, baseline in baselines.items():
        if lot in baseline:
            raise ValueError(f"the baseline of lot {lot} holds the lot itself: static PAT limits come from "
                             "earlier lots only (AEC-Q001 Rev-D)")  # fmt: skip
        shared.setdefault(tuple(sorted(set(baseline))), []).append(lot)
    pieces = []
    data = _measurements(passing)
    for baseline, lots in shared.items():
        lot_codes = np.flatnonzero(data.lots["lot_id"].is_in(list(baseline)).to_numpy())
        try:
            limits = _static_limits(data, k=k, min_lots=min_lots, tests=tests, iqr_zero=iqr_zero,
                                    quantile_method=quantile_method, lots=lot_codes)  # fmt: skip
        except ValueError as exc:
            raise ValueError(f"lot(s) {', '.join(sorted(lots))}: {exc}") from exc
        pieces.append(limits_of_lots(limits, lots, baseline))
    if not pieces:
        return pl.DataFrame(
            schema={"lot_id": pl.String, **STATIC_SCHEMA, "baseline_lots": pl.List(pl.String)}
        )
    return pl.concat(pieces).sort("lot_id", maintain_order=True)


def limits_of_lots(limits: pl.DataFrame, lots: Sequence[str], baseline: Sequence[str]) -> pl.DataFrame:
    """Static limits (:func:`static_pat_limits`' columns) as the limits of each of ``lots``: the
    rows of :func:`static_limits_per_lot`, with the ``baseline`` lots they come from."""
    judged = pl.DataFrame({"lot_id": sorted(lots)}, schema={"lot_id": pl.String})
    from_lots = pl.Series("baseline_lots", [sorted(baseline)], dtype=pl.List(pl.String))
    return judged.join(limits.cast(STATIC_SCHEMA), how="cross").with_columns(
        pl.lit(from_lots).first().alias("baseline_lots")
    )


#: The columns of :func:`static_pat_limits`.
STATIC_SCHEMA = {
    "test_num": pl.UInt32, "test_name": pl.String, "pin": pl.UInt16, "n_lots": pl.UInt32, "n_parts": pl.Int64,
    "robust_mean": pl.Float64, "q1": pl.Float64, "q3": pl.Float64, "robust_sigma": pl.Float64,
    "sigma_source": pl.String, "lsl": pl.Float64, "usl": pl.Float64, "pat_lo": pl.Float64, "pat_hi": pl.Float64,
    "clamped_lo": pl.Boolean, "clamped_hi": pl.Boolean, "skipped": pl.Boolean, "reason": pl.String,
}  # fmt: skip


def _static_frame(static_limits: pa.Table | pl.DataFrame) -> pl.DataFrame:
    return _frame(static_limits, "static_limits", (*TEST_KEY, "pat_lo", "pat_hi", "skipped"))


def static_keys(static: pl.DataFrame) -> list[str]:
    """How static limits are joined to results: per test, or per (lot, test) when they carry a
    ``lot_id`` (each lot's limits from its own history, :func:`static_limits_per_lot`)."""
    return ["lot_id", *TEST_KEY] if "lot_id" in static.columns else list(TEST_KEY)


def _within(value: pl.Expr, lo: str, hi: str) -> pl.Expr:
    """True unless ``value`` lies outside a limit that exists (null limit: no limit)."""
    return ~((value < pl.col(lo)).fill_null(False) | (value > pl.col(hi)).fill_null(False))


def dynamic_pat_limits(
    tidy: pa.Table | pl.DataFrame,
    static_limits: pa.Table | pl.DataFrame,
    *,
    scope: str = "wafer",
    n: float = 6.0,
    center: str = "mean",
    min_parts: int = 30,
    iqr_zero: str = "skip",
    quantile_method: str = "linear",
    alarmed: str = "exclude",
) -> pa.Table:
    """Dynamic PAT limits of each test on each wafer (``scope="wafer"``) or lot (``"lot"``).

    AEC-Q001 Rev-D §3.1.2: dynamic limits = mean ± 6 sigma of the parts of the lot that pass the
    specification and the static PAT limits, never outside the static limits: each limit is
    clamped to the specification limits, then inside the static limits of its test
    (``clamped_static_lo`` / ``clamped_static_hi`` say where the static limit won).

    ``n`` replaces the 6; ``center="median"`` uses the robust mean and sigma instead of the
    mean and sample standard deviation (ddof = 1). The tests are those of ``static_limits``; a
    test skipped there is screened dynamically with the specification alone as its filter.
    A group of fewer than ``min_parts`` parts gets no limits (skipped, with the reason). Note
    that with mean and sample sigma no value of n parts lies more than (n - 1) / sqrt(n) sigma
    from the mean, so ``mean ± 6 sigma`` cannot reject anything in a group of fewer than 38.

    Returns one row per (lot_id[, wafer_id], test): ``n_parts, center, q1, q3, sigma,
    sigma_source, lsl, usl, static_lo, static_hi, limit_lo, limit_hi, clamped_lo, clamped_hi,
    clamped_static_lo, clamped_static_hi, skipped, reason``.
    """
    _check_common(n, iqr_zero, quantile_method)
    if scope not in DYNAMIC_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(DYNAMIC_SCOPES)}; got {scope!r}")
    if center not in DYNAMIC_CENTERS:
        raise ValueError(f"center must be one of {', '.join(DYNAMIC_CENTERS)}; got {center!r}")
    if int(min_parts) < 2:
        raise ValueError(f"min_parts must be >= 2, got {min_parts!r}")
    return _dynamic_limits(
        passing_measurements(tidy, alarmed), static_limits, scope=scope, n=n, center=center,
        min_parts=min_parts, iqr_zero=iqr_zero, quantile_method=quantile_method,
    ).to_arrow()  # fmt: skip


def _dynamic_limits(
    passing: pl.DataFrame | Measurements,
    static_limits: pa.Table | pl.DataFrame,
    *,
    scope: str,
    n: float,
    center: str,
    min_parts: int,
    iqr_zero: str,
    quantile_method: str,
) -> pl.DataFrame:
    """:func:`dynamic_pat_limits` of :func:`passing_measurements` already taken."""
    static = _static_frame(static_limits)
    joined_on = static_keys(static)
    static = static.select(
        *joined_on,
        pl.when(pl.col("skipped")).then(None).otherwise(pl.col("pat_lo")).alias("_static_lo"),
        pl.when(pl.col("skipped")).then(None).otherwise(pl.col("pat_hi")).alias("_static_hi"),
    )
    data = _measurements(passing)
    # The population: results with static limits of their (lot and) test, inside them and inside
    # the specification (a null limit is no limit).
    row = data.rows_of(static, joined_on, "static_limits")
    has = row >= 0
    value = data.value
    static_lo = static["_static_lo"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    static_hi = static["_static_hi"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    at = np.where(has, row, 0)
    chosen = (
        has
        & _within_limits(value, data.limit("lo_limit"), data.limit("hi_limit"))
        & _within_limits(value, np.where(has, static_lo[at] if static_lo.size else np.nan, np.nan),
                         np.where(has, static_hi[at] if static_hi.size else np.nan, np.nan))
    )  # fmt: skip
    owner_keys = ["lot_id", "wafer_id"] if scope == "wafer" else ["lot_id"]
    owner, owners, _ = data.owner(owner_keys)
    n_tests = data.tests.height
    mask = pl.Series(chosen)
    limits, _ = _group_limits(
        (owner * n_tests + data.test)[chosen], owners.height * n_tests,
        lambda codes: data.key_columns(owner_keys, codes),
        *(data.frame[c].filter(mask) for c in ("result", "lo_limit", "hi_limit")),
        k=n, center=center, method=quantile_method, iqr_zero=iqr_zero, min_parts=int(min_parts),
    )  # fmt: skip
    return _inside_static(limits, static)


def _inside_static(limits: pl.DataFrame, static: pl.DataFrame) -> pl.DataFrame:
    """Dynamic limits clamped inside the static ones of their test (AEC-Q001 Rev-D §3.1.2: the
    dynamic limits tighten the static limits, never widen them). A test skipped statically
    (null static limits) keeps its dynamic limits."""
    keys = static_keys(static)
    static = static.select(
        *keys, pl.col("_static_lo").alias("static_lo"), pl.col("_static_hi").alias("static_hi")
    )
    joined = limits.join(static, on=keys, how="left", nulls_equal=True, maintain_order="left")
    lo, hi = pl.col("limit_lo"), pl.col("limit_hi")
    # The population lies inside the static limits, so its centre does too and the clamped
    # interval is never empty.
    above = (lo < pl.col("static_lo")).fill_null(False)
    below = (hi > pl.col("static_hi")).fill_null(False)
    columns = [c for c in limits.columns if c not in ("skipped", "reason")]
    at = columns.index("limit_lo")
    return joined.with_columns(
        pl.when(above).then(pl.col("static_lo")).otherwise(lo).alias("limit_lo"),
        pl.when(below).then(pl.col("static_hi")).otherwise(hi).alias("limit_hi"),
        above.alias("clamped_static_lo"),
        below.alias("clamped_static_hi"),
    ).select(
        *columns[:at], "static_lo", "static_hi", *columns[at:], "clamped_static_lo", "clamped_static_hi",
        "skipped", "reason",
    )  # fmt: skip


def pat_outliers(
    tidy: pa.Table | pl.DataFrame,
    static_limits: pa.Table | pl.DataFrame,
    dynamic_limits: pa.Table | pl.DataFrame | None = None,
    *,
    alarmed: str = "exclude",
) -> pa.Table:
    """Passing parts whose result lies outside the static (rule ``PAT_STATIC``) or dynamic
    (``PAT_DYNAMIC``) PAT limits of a test: one row per (part, rule, test) with the value and
    the limits it crossed. A dynamic limit clamped to the static one (``clamped_static_lo`` /
    ``_hi``) gives no PAT_DYNAMIC reason: that crossing is PAT_STATIC's. Skipped tests screen nothing; an alarm-flagged result is not judged
    unless ``alarmed="include"`` (its value is not a trustworthy measurement)."""
    return _outliers(passing_measurements(tidy, alarmed), static_limits, dynamic_limits).to_arrow()


def _outliers(
    good: pl.DataFrame | Measurements,
    static_limits: pa.Table | pl.DataFrame,
    dynamic_limits: pa.Table | pl.DataFrame | None,
) -> pl.DataFrame:
    """:func:`pat_outliers` of :func:`passing_measurements` already taken."""
    data = _measurements(good)
    found = []
    static = _static_frame(static_limits).filter(~pl.col("skipped"))
    keys = static_keys(static)
    static = static.select(*keys, pl.col("pat_lo").alias("limit_lo"), pl.col("pat_hi").alias("limit_hi"))
    found.append(_outside(data, static, keys, "PAT_STATIC", "static_limits"))
    if dynamic_limits is not None:
        dynamic = _frame(
            dynamic_limits, "dynamic_limits", ("lot_id", *TEST_KEY, "limit_lo", "limit_hi", "skipped")
        )
        dynamic = dynamic.filter(~pl.col("skipped"))
        keys = [c for c in ("lot_id", "wafer_id") if c in dynamic.columns] + list(TEST_KEY)
        # A side clamped to the static limit is the static limit: crossing it is PAT_STATIC's reason.
        tighter = [
            pl.when(pl.col(f"clamped_static_{side}").fill_null(False)).then(None).otherwise(pl.col(f"limit_{side}"))
            if f"clamped_static_{side}" in dynamic.columns else pl.col(f"limit_{side}")
            for side in ("lo", "hi")
        ]  # fmt: skip
        dynamic = dynamic.select(
            *keys, tighter[0].alias("_lo"), tighter[1].alias("_hi"), "limit_lo", "limit_hi"
        )
        found.append(_outside(data, dynamic, keys, "PAT_DYNAMIC", "dynamic_limits", judged=("_lo", "_hi")))
    return pl.from_arrow(pl.concat(found).to_arrow().cast(_REASONS_SCHEMA))


def _outside(
    data: Measurements,
    limits: pl.DataFrame,
    keys: list[str],
    rule: str,
    what: str,
    judged: tuple[str, str] = ("limit_lo", "limit_hi"),
) -> pl.DataFrame:
    """Results outside the ``judged`` limit columns of their row of ``limits`` (keyed by ``keys``),
    in the order of the results, reported with ``limit_lo`` / ``limit_hi``."""
    row = data.rows_of(limits, keys, what)
    has = row >= 0
    at = np.where(has, row, 0)

    def bound(column: str) -> np.ndarray:
        values = limits[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
        return np.where(has, values[at], np.nan) if values.size else np.full(row.size, np.nan)

    out = np.flatnonzero(has & ~_within_limits(data.value, bound(judged[0]), bound(judged[1])))
    of_row = limits[row[out]]
    return data.frame[out].select(
        *PART_KEY,
        pl.lit(rule).alias("rule"),
        *TEST_KEY,
        pl.col("result").alias("value"),
        of_row["limit_lo"].alias("limit_lo"),
        of_row["limit_hi"].alias("limit_hi"),
    )
