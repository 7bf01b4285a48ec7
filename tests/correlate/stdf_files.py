"""Small STDF files for the correlation tests, written with silicio's own writer: a lot's parts on
one wafer (or none), each part's PTR results, bins, TEST_T, and the file's tester and handler."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from silicio.stdf.writer import StdfWriter

T0 = 1_700_000_000


@dataclass
class Part:
    site: int
    results: dict[int, float]
    hard_bin: int = 1
    x: int | None = None
    y: int | None = None
    part_id: str = ""
    test_t: int = 0
    failed_tests: set[int] = field(default_factory=set)
    #: Starts a new touchdown before this part (otherwise the file's order decides).
    touchdown: bool = False

    @property
    def passed(self) -> bool:
        return self.hard_bin == 1


#: test number -> (name, low limit, high limit, units)
TESTS = {10: ("VDD_LEAK", 0.0, 2.0, "uA"), 20: ("VOH", 1.0, 3.0, "V"), 30: ("IDDQ", 0.0, 10.0, "mA")}


def write_file(
    path: Path,
    parts: Sequence[Part],
    *,
    lot: str = "L1",
    node: str = "tester-1",
    handler: str | None = "handler-1",
    wafer: str | None = "W01",
    test_cod: str = "WS1",
    start: int = T0,
    tests: Mapping[int, tuple[str, float, float, str]] = TESTS,
    test_times: Mapping[int, float] | None = None,
) -> Path:
    """One STDF file: MIR (lot, tester ``node``, test code), SDR (``handler``), parts inside a wafer
    (``wafer``) or outside any, PIR / PTR / PRR per part in the order given, TSR per test with
    ``test_times`` (seconds) when given, MRR."""
    sites = sorted({p.site for p in parts}) or [1]
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=start - 60, START_T=start, STAT_NUM=1, MODE_COD="P", RTST_COD=" ", PROT_COD=" ",
                   BURN_TIM=65535, CMOD_COD=" ", LOT_ID=lot, PART_TYP="DEV1", NODE_NAM=node, TSTR_TYP="A5",
                   JOB_NAM="prog", JOB_REV="1", SBLOT_ID="", OPER_NAM="", EXEC_TYP="", EXEC_VER="", TEST_COD=test_cod)  # fmt: skip
        if handler is not None:
            out.record("SDR", HEAD_NUM=1, SITE_GRP=1, SITE_CNT=len(sites), SITE_NUM=sites, HAND_TYP="h",
                       HAND_ID=handler)  # fmt: skip
        if wafer is not None:
            out.record("WIR", HEAD_NUM=1, SITE_GRP=255, START_T=start, WAFER_ID=wafer)
        seen = set()
        pending: list[Part] = []

        def flush():
            for p in pending:
                out.record("PIR", HEAD_NUM=1, SITE_NUM=p.site)
            for p in pending:
                for num, value in p.results.items():
                    name, lo, hi, units = tests[num]
                    fail = num in p.failed_tests
                    out.record("PTR", TEST_NUM=num, HEAD_NUM=1, SITE_NUM=p.site, TEST_FLG=0x80 if fail else 0,
                               PARM_FLG=0, RESULT=value, TEST_TXT=name, ALARM_ID="", OPT_FLAG=0x0E, RES_SCAL=0,
                               LLM_SCAL=0, HLM_SCAL=0, LO_LIMIT=lo, HI_LIMIT=hi, UNITS=units)  # fmt: skip
            for p in pending:
                out.record("PRR", HEAD_NUM=1, SITE_NUM=p.site, PART_FLG=0 if p.passed else 0x08,
                           NUM_TEST=len(p.results), HARD_BIN=p.hard_bin, SOFT_BIN=p.hard_bin,
                           X_COORD=-32768 if p.x is None else p.x, Y_COORD=-32768 if p.y is None else p.y,
                           TEST_T=p.test_t, PART_ID=p.part_id)  # fmt: skip
            pending.clear()
            seen.clear()

        for p in parts:
            if p.touchdown or p.site in seen:
                flush()
            pending.append(p)
            seen.add(p.site)
        flush()
        if wafer is not None:
            good = sum(p.passed for p in parts)
            out.record("WRR", HEAD_NUM=1, SITE_GRP=255, FINISH_T=start + 600, PART_CNT=len(parts), RTST_CNT=0,
                       ABRT_CNT=0, GOOD_CNT=good, FUNC_CNT=0, WAFER_ID=wafer)  # fmt: skip
        for num, (name, *_rest) in tests.items():
            seconds = None if test_times is None else test_times.get(num)
            out.record("TSR", HEAD_NUM=255, SITE_NUM=0, TEST_TYP="P", TEST_NUM=num, EXEC_CNT=len(parts),
                       FAIL_CNT=0, ALRM_CNT=0, TEST_NAM=name, SEQ_NAME="", TEST_LBL="",
                       OPT_FLAG=0xF3 if seconds is not None else 0xF7, TEST_TIM=seconds or 0.0)  # fmt: skip
        out.record("MRR", FINISH_T=start + 900)
    return path
