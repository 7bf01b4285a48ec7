"""Final-test data for the unit pages' tests: an STDF file of packaged units (no wafer coordinates,
a PART_ID each) of an assembly lot the trace demo's genealogy holds, and a second file retesting
one unit, ingested into a lake; the values written are returned for the tests to check against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from silicio import lake, trace
from silicio.stdf.writer import StdfWriter

#: The final-test program's two tests and their limits (low, high).
LIMITS = {7001: (1.0, 2.0), 7002: (10.0, 20.0)}
START = 1_800_000_000
RETEST_START = START + 7_200
#: Units written, and the one that fails its first insertion (7002 above its limit) and is retested.
UNITS = 6
FAILING = 2


@dataclass(frozen=True)
class Insertion:
    part_id: str
    results: dict[int, float]
    site: int

    @property
    def passed(self) -> bool:
        return all(LIMITS[n][0] <= v <= LIMITS[n][1] for n, v in self.results.items())

    @property
    def bin(self) -> int:
        return 1 if self.passed else 7


@dataclass(frozen=True)
class FinalTest:
    """What was written: the assembly lot, its product and each file's insertions."""

    lot_id: str
    product: str
    first: list[Insertion]
    retest: list[Insertion]

    def insertions_of(self, part_id: str) -> list[Insertion]:
        return [i for i in (*self.first, *self.retest) if i.part_id == part_id]


def traced_units(data_dir: Path) -> tuple[str, list[str]]:
    """(assembly lot, its first units by name) of the genealogy's final-test tester keys, among the
    units whose die the lake has wafer-sort data of (the demo genealogy's die grid is its own)."""
    with lake.open(data_dir) as db:
        tested = set(db.polars("SELECT DISTINCT lot_id, wafer_id, x, y FROM parts").iter_rows())
    with trace.TraceStore.at(data_dir) as store:
        keys = store.tester_keys()
        graph = store.genealogy()
        dies = {
            k["name"]: (k["lot_id"], k["wafer_id"], k["x"], k["y"])
            for k in keys
            if k["stage"] == "wafer_sort"
        }
        units = []
        for k in sorted(
            (k for k in keys if k["stage"] == "final_test"), key=lambda k: (k["lot_id"], k["part_id"])
        ):
            came_from = graph.trace(("unit", k["name"]), "backward", 10).as_dict()["nodes"].get("die", [])
            if len(came_from) == 1 and dies.get(came_from[0]) in tested:
                units.append((k["lot_id"], k["part_id"]))
    lot_id = units[0][0]
    return lot_id, [part for lot, part in units if lot == lot_id][:UNITS]


def _write(path: Path, lot_id: str, product: str, started: int, insertions: list[Insertion]) -> None:
    with StdfWriter(path) as out:
        out.record("MIR", SETUP_T=started - 60, START_T=started, STAT_NUM=1, LOT_ID=lot_id, PART_TYP=product,
                   NODE_NAM="ft-tester", JOB_NAM="FT_PROG", TEST_COD="FT1")  # fmt: skip
        for insertion in insertions:
            out.record("PIR", HEAD_NUM=1, SITE_NUM=insertion.site)
            for number, value in insertion.results.items():
                lo, hi = LIMITS[number]
                failed = not lo <= value <= hi
                out.record("PTR", TEST_NUM=number, HEAD_NUM=1, SITE_NUM=insertion.site,
                           TEST_FLG=0x80 if failed else 0, PARM_FLG=0xC0 | (0x08 if value > hi else 0),
                           RESULT=value, TEST_TXT=f"FT{number}", ALARM_ID="", OPT_FLAG=0x0E, RES_SCAL=0,
                           LLM_SCAL=0, HLM_SCAL=0, LO_LIMIT=lo, HI_LIMIT=hi, UNITS="V")  # fmt: skip
            out.record("PRR", HEAD_NUM=1, SITE_NUM=insertion.site, PART_FLG=0 if insertion.passed else 0x08,
                       NUM_TEST=len(insertion.results), HARD_BIN=insertion.bin, SOFT_BIN=insertion.bin,
                       X_COORD=-32768, Y_COORD=-32768, PART_ID=insertion.part_id)  # fmt: skip
        out.record("MRR", FINISH_T=started + 600)


def add_final_test(data_dir: Path, folder: Path, product: str = "FT-DEV") -> FinalTest:
    """Write the two final-test files of the genealogy's first assembly lot and ingest them."""
    lot_id, units = traced_units(data_dir)
    first = [
        Insertion(part, {7001: 1.25 + 0.05 * n, 7002: 25.5 if n == FAILING else 12.0 + n}, site=1 + n % 2)
        for n, part in enumerate(units)
    ]
    retest = [Insertion(units[FAILING], {7001: 1.5, 7002: 15.25}, site=2)]
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "ft_first.stdf", lot_id, product, START, first)
    _write(folder / "ft_retest.stdf", lot_id, product, RETEST_START, retest)
    lake.ingest([folder], data_dir, workers=1)
    return FinalTest(lot_id, product, first, retest)
