"""A small, realistic wafer-sort lot as an STDF file, generated from a seed.

The device is a display timing controller sold both into TVs and, AEC-Q100 qualified, into
automotive clusters: the test program mixes continuity, supply current, leakage, analog
references, an ADC, LVDS and CAN drivers and clocks. Sort runs hot (125 C) on two sites.

What makes it look like tester output rather than noise:

* limits and units ride on the first PTR of each test only; later PTRs carry the result;
* stop-on-first-fail, so failing dies have fewer tests and a bin named after the failed test;
* each wafer has its own process offset, site 2 reads a touch differently from site 1, a few
  dies carry random defects and dies near the wafer edge drift on edge-sensitive tests;
* wafer, bin, part count and test summaries (WRR, HBR, SBR, PCR, TSR) add up to the parts.

:func:`simulate_lot` makes the numbers, :func:`write_demo_stdf` writes them; tests check what
the reader gives back against the former.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from silicio.stdf.writer import StdfWriter

#: 2024-06-03 06:00 UTC, a Monday morning shift; the lot of seed n starts n days later.
FIRST_START = 1_717_394_400
SITES = (1, 2)
PASS_BIN = 1

# Timing of the prober: seconds per touchdown and to change wafers.
TOUCHDOWN_SECONDS = 0.9
WAFER_CHANGE_SECONDS = 240


@dataclass(frozen=True)
class DemoTest:
    """One parametric test: limits in SI units, how the population spreads, where fails bin."""

    number: int
    name: str
    units: str
    scale: int  # RES_SCAL/LLM_SCAL/HLM_SCAL: power of ten to show (3: milli, 6: micro)
    low: float
    high: float
    typical: float
    sigma: float
    edge_drift: float  # shift, in sigmas, of dies at the wafer edge
    site_offset: float  # shift, in sigmas, of site 2 against site 1
    soft_bin: int
    soft_bin_name: str
    hard_bin: int


#: The test program, in execution order.
TESTS: tuple[DemoTest, ...] = (
    DemoTest(1000, "CONT_VDDIO", "V", 3, -0.9, -0.4, -0.65, 0.03, 0.0, 0.0, 10, "CONT_OPEN_SHORT", 2),
    DemoTest(1010, "CONT_LVDS_RX", "V", 3, -0.9, -0.4, -0.64, 0.03, 0.0, 0.0, 10, "CONT_OPEN_SHORT", 2),
    DemoTest(2000, "IDDQ_VDDC", "A", 6, 0.0, 30e-6, 12e-6, 2.5e-6, 3.5, 0.0, 20, "IDDQ", 3),
    DemoTest(2010, "IDD_ACTIVE_VDDC", "A", 3, 60e-3, 110e-3, 85e-3, 4e-3, 1.0, 0.2, 21, "IDD_ACTIVE", 3),
    DemoTest(2100, "IIL_RESETN", "A", 9, -100e-9, 100e-9, 5e-9, 12e-9, 2.0, 0.0, 22, "LEAKAGE", 3),
    DemoTest(3000, "VREF_BANDGAP", "V", 3, 1.176, 1.224, 1.2, 0.006, -2.0, 0.0, 30, "VREF", 4),
    DemoTest(3010, "LDO_3V3_OUT", "V", 3, 3.234, 3.366, 3.3, 0.014, -1.0, 0.3, 31, "LDO", 4),
    DemoTest(3100, "ADC_OFFSET", "V", 3, -5e-3, 5e-3, 0.4e-3, 1.2e-3, 0.5, 0.5, 32, "ADC", 4),
    DemoTest(4000, "LVDS_VOD", "V", 3, 0.3, 0.4, 0.35, 0.011, 0.0, 0.6, 40, "LVDS", 5),
    DemoTest(4010, "CAN_VDIFF_DOM", "V", 0, 1.5, 3.0, 2.25, 0.09, 0.0, 0.0, 41, "CAN", 5),
    DemoTest(5000, "PLL_LOCK_FREQ", "Hz", 6, 148.0e6, 149.0e6, 148.5e6, 0.06e6, 0.0, 0.0, 50, "PLL", 5),
    DemoTest(5010, "RING_OSC_FREQ", "Hz", 6, 360e6, 460e6, 410e6, 11e6, -2.5, 0.0, 51, "SPEED", 5),
)  # fmt: skip

HARD_BIN_NAMES = {1: "PASS", 2: "CONTINUITY", 3: "DC_CURRENT", 4: "ANALOG", 5: "IO_CLOCK"}

# Random defects (particles, scratches): share of dies hit, and how far out they push a test.
DEFECT_RATE = 0.035
DEFECT_SIGMAS = 12.0
# Dies whose centre lies beyond this fraction of the wafer radius count as edge dies.
EDGE_FRACTION = 0.8


@dataclass(frozen=True)
class DemoWafer:
    """One wafer's dies in test order; per die arrays, results NaN where a test did not run."""

    wafer_id: str
    fab_wafer_id: str
    x: np.ndarray
    y: np.ndarray
    site: np.ndarray
    results: np.ndarray  # (dies, tests) float32
    tests_run: np.ndarray  # tests executed per die (stop on first fail)
    soft_bin: np.ndarray
    hard_bin: np.ndarray
    started: int
    finished: int

    @property
    def passed(self) -> np.ndarray:
        return self.soft_bin == PASS_BIN

    @property
    def dies(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class DemoLot:
    lot_id: str
    part_type: str
    tests: tuple[DemoTest, ...]
    wafers: tuple[DemoWafer, ...]
    started: int
    finished: int
    dies_per_side: int

    @property
    def parts(self) -> int:
        return sum(w.dies for w in self.wafers)

    @property
    def good_parts(self) -> int:
        return int(sum(w.passed.sum() for w in self.wafers))


def wafer_map(dies_per_side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dies of a round wafer on a square grid, in serpentine prober order: x, y, edge flag."""
    centre = dies_per_side / 2
    xs, ys, edge = [], [], []
    for y in range(dies_per_side):
        row = range(dies_per_side) if y % 2 == 0 else reversed(range(dies_per_side))
        for x in row:
            radius = np.hypot(x + 0.5 - centre, y + 0.5 - centre) / centre
            if radius <= 1.0:
                xs.append(x)
                ys.append(y)
                edge.append(radius > EDGE_FRACTION)
    return np.array(xs, np.int16), np.array(ys, np.int16), np.array(edge)


def simulate_lot(
    *, seed: int = 0, wafers: int = 2, dies_per_side: int = 16, tests: int = len(TESTS)
) -> DemoLot:
    """The lot's numbers; deterministic for given arguments."""
    if not 1 <= tests <= len(TESTS):
        raise ValueError(f"tests must be from 1 to {len(TESTS)}, got {tests}")
    if wafers < 1 or dies_per_side < 2:
        raise ValueError(f"need at least one wafer and 2 dies per side, got {wafers} and {dies_per_side}")
    program = TESTS[:tests]
    rng = np.random.default_rng(seed)
    lot_id = f"TK{41870 + seed}"
    x, y, edge = wafer_map(dies_per_side)
    site = np.array(SITES * (len(x) // len(SITES) + 1), np.uint8)[: len(x)]
    typical = np.array([t.typical for t in program])
    sigma = np.array([t.sigma for t in program])
    edge_drift = np.array([t.edge_drift for t in program])
    site_offset = np.array([t.site_offset for t in program])
    low = np.array([t.low for t in program], np.float32)
    high = np.array([t.high for t in program], np.float32)

    started = FIRST_START + 86_400 * seed
    clock = started
    made = []
    for number in range(1, wafers + 1):
        wafer_offset = rng.normal(0.0, 0.4, size=len(program))
        z = rng.normal(0.0, 1.0, size=(len(x), len(program)))
        z += wafer_offset + np.outer(edge, edge_drift) + np.outer(site == 2, site_offset)
        defective = rng.random(len(x)) < DEFECT_RATE
        hit_test = rng.integers(0, len(program), size=len(x))
        hit_sign = rng.choice([-1.0, 1.0], size=len(x))
        z[defective, hit_test[defective]] += hit_sign[defective] * DEFECT_SIGMAS
        values = (typical + z * sigma).astype(np.float32)

        # Compare in float32, as stored, so the flags agree with the values a reader sees.
        failed = (values < low) | (values > high)
        any_fail = failed.any(axis=1)
        first_fail = np.where(any_fail, failed.argmax(axis=1), len(program))
        tests_run = np.minimum(first_fail + 1, len(program))
        results = values.copy()
        results[np.arange(len(program)) >= tests_run[:, None]] = np.nan
        soft_bin = np.array(
            [program[i].soft_bin if i < len(program) else PASS_BIN for i in first_fail], np.uint16
        )
        hard_bin = np.array(
            [program[i].hard_bin if i < len(program) else PASS_BIN for i in first_fail], np.uint16
        )

        wafer_start = clock
        touchdowns = -(-len(x) // len(SITES))
        clock += int(round(touchdowns * TOUCHDOWN_SECONDS))
        made.append(
            DemoWafer(
                wafer_id=f"{lot_id}-{number:02d}",
                fab_wafer_id=f"FW{seed:03d}A{number:02d}",
                x=x,
                y=y,
                site=site,
                results=results,
                tests_run=tests_run.astype(np.uint16),
                soft_bin=soft_bin,
                hard_bin=hard_bin,
                started=wafer_start,
                finished=clock,
            )
        )
        clock += WAFER_CHANGE_SECONDS
    return DemoLot(lot_id, "TCX4417-Q1", program, tuple(made), started, clock, dies_per_side)


def write_demo_stdf(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    wafers: int = 2,
    dies_per_side: int = 16,
    tests: int = len(TESTS),
) -> Path:
    """Write the demo lot (see :func:`simulate_lot`) as a little-endian STDF V4 file."""
    lot = simulate_lot(seed=seed, wafers=wafers, dies_per_side=dies_per_side, tests=tests)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with StdfWriter(path, byteorder="<") as out:
        _write_lot(out, lot)
    return path


def _write_lot(out: StdfWriter, lot: DemoLot) -> None:
    out.record(
        "MIR",
        SETUP_T=lot.started - 900, START_T=lot.started, STAT_NUM=7, MODE_COD="P", RTST_COD="N",
        PROT_COD=" ", BURN_TIM=65535, CMOD_COD=" ", LOT_ID=lot.lot_id, PART_TYP=lot.part_type,
        NODE_NAM="ws-t93k-07", TSTR_TYP="93000", JOB_NAM="TCX4417_WS1", JOB_REV="3.2.1", SBLOT_ID="",
        OPER_NAM="op1042", EXEC_TYP="SmarTest", EXEC_VER="8.5.2", TEST_COD="WS1", TST_TEMP="125",
        USER_TXT="", AUX_FILE="", PKG_TYP="", FAMLY_ID="TCX44", DATE_COD="", FACIL_ID="SORT2",
        FLOOR_ID="B1", PROC_ID="BCD110", OPER_FRQ="", SPEC_NAM="TCX4417-Q1 datasheet", SPEC_VER="C",
        FLOW_ID="WS1_HOT", SETUP_ID="", DSGN_REV="B1",
    )  # fmt: skip
    out.record(
        "SDR", HEAD_NUM=1, SITE_GRP=1, SITE_CNT=len(SITES), SITE_NUM=list(SITES), HAND_TYP="TEL P12XLn+",
        HAND_ID="PRB-07", CARD_TYP="cantilever", CARD_ID="PC-TCX44-0042",
    )  # fmt: skip
    die_size = 200.0 / lot.dies_per_side
    centre = lot.dies_per_side // 2
    out.record(
        "WCR", WAFR_SIZ=200.0, DIE_HT=die_size, DIE_WID=die_size, WF_UNITS=3, WF_FLAT="D",
        CENTER_X=centre, CENTER_Y=centre, POS_X="R", POS_Y="D",
    )  # fmt: skip

    limits_written: set[int] = set()
    part_id = 0
    for wafer in lot.wafers:
        out.record("WIR", HEAD_NUM=1, SITE_GRP=255, START_T=wafer.started, WAFER_ID=wafer.wafer_id)
        for first in range(0, wafer.dies, len(SITES)):
            touchdown = range(first, min(first + len(SITES), wafer.dies))
            for die in touchdown:
                out.record("PIR", HEAD_NUM=1, SITE_NUM=int(wafer.site[die]))
            for index, test in enumerate(lot.tests):
                for die in touchdown:
                    if index < wafer.tests_run[die]:
                        _write_ptr(
                            out, test, int(wafer.site[die]), float(wafer.results[die, index]), limits_written
                        )
            for die in touchdown:
                part_id += 1
                passed = bool(wafer.passed[die])
                out.record(
                    "PRR", HEAD_NUM=1, SITE_NUM=int(wafer.site[die]), PART_FLG=0 if passed else 0x08,
                    NUM_TEST=int(wafer.tests_run[die]), HARD_BIN=int(wafer.hard_bin[die]),
                    SOFT_BIN=int(wafer.soft_bin[die]), X_COORD=int(wafer.x[die]), Y_COORD=int(wafer.y[die]),
                    TEST_T=int(40 + 18 * wafer.tests_run[die]), PART_ID=str(part_id),
                )  # fmt: skip
        out.record(
            "WRR", HEAD_NUM=1, SITE_GRP=255, FINISH_T=wafer.finished, PART_CNT=wafer.dies, RTST_CNT=0,
            ABRT_CNT=0, GOOD_CNT=int(wafer.passed.sum()), FUNC_CNT=0xFFFFFFFF, WAFER_ID=wafer.wafer_id,
            FABWF_ID=wafer.fab_wafer_id,
        )  # fmt: skip
    _write_summaries(out, lot)
    out.record("MRR", FINISH_T=lot.finished, DISP_COD=" ")


def _write_ptr(out: StdfWriter, test: DemoTest, site: int, value: float, limits_written: set[int]) -> None:
    stored = np.float32(value)
    above, below = stored > np.float32(test.high), stored < np.float32(test.low)
    # PARM_FLG bits 6 and 7: limits are inclusive; bits 3/4: above high / below low limit.
    parm_flg = 0xC0 | (0x08 if above else 0) | (0x10 if below else 0)
    test_flg = 0x80 if (above or below) else 0
    common = dict(
        TEST_NUM=test.number, HEAD_NUM=1, SITE_NUM=site, TEST_FLG=test_flg, PARM_FLG=parm_flg,
        RESULT=value, TEST_TXT=test.name,
    )  # fmt: skip
    if test.number in limits_written:
        out.record("PTR", **common)
        return
    limits_written.add(test.number)
    fmt = "%9.3f"
    out.record(
        "PTR", **common, ALARM_ID="",
        OPT_FLAG=0x0E,  # scales and limits valid; bit 1 reserved (1); bits 2, 3: no spec limits
        RES_SCAL=test.scale, LLM_SCAL=test.scale, HLM_SCAL=test.scale,
        LO_LIMIT=test.low, HI_LIMIT=test.high, UNITS=test.units,
        C_RESFMT=fmt, C_LLMFMT=fmt, C_HLMFMT=fmt,
    )  # fmt: skip


def _write_summaries(out: StdfWriter, lot: DemoLot) -> None:
    site = np.concatenate([w.site for w in lot.wafers])
    hard = np.concatenate([w.hard_bin for w in lot.wafers])
    soft = np.concatenate([w.soft_bin for w in lot.wafers])
    # HEAD_NUM 255: counts over all heads and sites (spec, HBR/SBR/PCR).
    for number, count in zip(*np.unique(hard, return_counts=True), strict=True):
        out.record(
            "HBR", HEAD_NUM=255, SITE_NUM=0, HBIN_NUM=int(number), HBIN_CNT=int(count),
            HBIN_PF="P" if number == PASS_BIN else "F", HBIN_NAM=HARD_BIN_NAMES[int(number)],
        )  # fmt: skip
    soft_names = {t.soft_bin: t.soft_bin_name for t in lot.tests} | {PASS_BIN: "PASS"}
    for number, count in zip(*np.unique(soft, return_counts=True), strict=True):
        out.record(
            "SBR", HEAD_NUM=255, SITE_NUM=0, SBIN_NUM=int(number), SBIN_CNT=int(count),
            SBIN_PF="P" if number == PASS_BIN else "F", SBIN_NAM=soft_names[int(number)],
        )  # fmt: skip
    results = np.concatenate([w.results for w in lot.wafers])
    for index, test in enumerate(lot.tests):
        ran = results[:, index][~np.isnan(results[:, index])].astype(np.float64)
        failed = int(((ran < np.float32(test.low)) | (ran > np.float32(test.high))).sum())
        # OPT_FLAG bit 2: no test time; bits 3, 6, 7 reserved (1); bits 0, 1, 4, 5: no min,
        # max, sums, squares (only when no die reached the test).
        statistics_flag = 0x00 if len(ran) else 0x33
        out.record(
            "TSR", HEAD_NUM=255, SITE_NUM=0, TEST_TYP="P", TEST_NUM=test.number, EXEC_CNT=len(ran),
            FAIL_CNT=failed, ALRM_CNT=0, TEST_NAM=test.name, SEQ_NAME="main", TEST_LBL="",
            OPT_FLAG=0xCC | statistics_flag, TEST_TIM=0.0,
            TEST_MIN=float(ran.min()) if len(ran) else 0.0,
            TEST_MAX=float(ran.max()) if len(ran) else 0.0,
            TST_SUMS=float(ran.sum()), TST_SQRS=float((ran**2).sum()),
        )  # fmt: skip
    for head, site_num, mask in [(1, s, site == s) for s in SITES] + [(255, 0, np.ones_like(site, bool))]:
        out.record(
            "PCR", HEAD_NUM=head, SITE_NUM=site_num, PART_CNT=int(mask.sum()), RTST_CNT=0, ABRT_CNT=0,
            GOOD_CNT=int((soft[mask] == PASS_BIN).sum()), FUNC_CNT=0xFFFFFFFF,
        )  # fmt: skip
