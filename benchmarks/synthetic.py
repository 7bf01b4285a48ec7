"""A large synthetic wafer-sort STDF file, shaped like what probers and testers write.

One lot of wafers tested four sites at a time: FAR, MIR, SDR, WCR, then per wafer a WIR, per
touchdown four PIRs, 50 tests x 4 sites of PTRs, four PRRs, and a WRR; at the end TSR, HBR, SBR
and PCR summaries and the MRR. The first PTR of each test carries its limits, units and formats;
every later one stops after ALARM_ID, as testers write them (the spec's "Default Data"). PRRs
stop after PART_ID, MIR and SDR leave out their trailing fields too.

Every touchdown after the first has the same byte layout, so the bulk of the file is one
template block tiled with numpy and its value fields written column-wise; the generic writer
would take minutes for the ~2.7 million records. Deterministic for a given seed and size.

With ``--full`` every PTR carries all its fields (limits, units, formats): the heavier shape some
testers write, where strings dominate the bytes.

    python benchmarks/synthetic.py [--mb 80] [--seed 7] [--full]     # builds and verifies the file
"""

from __future__ import annotations

import argparse
import json
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SITES = 4
TESTS = 50
HEAD = 1
SITE_GROUP = 1
PART_ID_DIGITS = 7
#: Die grid radius: about 2,100 dies per wafer.
WAFER_RADIUS = 26
BASE_TIME = 1_700_000_000


def record(rec_typ: int, rec_sub: int, payload: bytes) -> bytes:
    return struct.pack("<HBB", len(payload), rec_typ, rec_sub) + payload


def cn(text: str) -> bytes:
    data = text.encode("ascii")
    return bytes([len(data)]) + data


@dataclass(frozen=True)
class TestPlan:
    names: list[str]
    units: list[str]
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    sigma: np.ndarray


def make_tests(rng: np.random.Generator) -> TestPlan:
    kinds = [("VDD_LEAK_{}", "A", 1e-7), ("VOH_PIN{}", "V", 2.8), ("IDDQ_{}", "A", 2e-3), ("FREQ_OSC_{}", "Hz", 3.2e7),
             ("VREF_TRIM_{}", "V", 1.2)]  # fmt: skip
    names, units, mean = [], [], []
    for t in range(TESTS):
        pattern, unit, scale = kinds[t % len(kinds)]
        names.append(pattern.format(t))
        units.append(unit)
        mean.append(scale * (1 + 0.1 * rng.standard_normal()))
    mean = np.array(mean)
    sigma = np.abs(mean) * rng.uniform(0.01, 0.03, TESTS)
    # limits at ~3.4 sigma: a few per mille fail each test, ~85-90% of dies pass all 50
    return TestPlan(names, units, mean - 3.4 * sigma, mean + 3.4 * sigma, mean, sigma)


def wafer_dies() -> np.ndarray:
    """(x, y) of the dies on one wafer, in serpentine probing order, a whole number of touchdowns."""
    coords = []
    for row, y in enumerate(range(-WAFER_RADIUS, WAFER_RADIUS + 1)):
        xs = [x for x in range(-WAFER_RADIUS, WAFER_RADIUS + 1) if x * x + y * y <= WAFER_RADIUS**2]
        coords += [(x, y) for x in (xs if row % 2 == 0 else xs[::-1])]
    coords = coords[: len(coords) - len(coords) % SITES]
    return np.array(coords, dtype=np.int16)


def full_ptr(t: int, site: int, plan: TestPlan, result: float, flag: int) -> bytes:
    payload = struct.pack("<IBBBBf", t + 1000, HEAD, site, flag, 0, result) + cn(plan.names[t]) + cn("")
    # OPT_FLAG 0x0E: scale valid, no spec limits (bits 2, 3); low and high limits valid
    payload += struct.pack("<Bbbbff", 0x0E, 0, 0, 0, plan.low[t], plan.high[t])
    payload += cn(plan.units[t]) + cn("%9.4e") + cn("%9.4e") + cn("%9.4e") + struct.pack("<ff", 0.0, 0.0)
    return record(15, 10, payload)


def short_ptr(t: int, site: int, plan: TestPlan, result: float, flag: int) -> bytes:
    payload = struct.pack("<IBBBBf", t + 1000, HEAD, site, flag, 0, result) + cn(plan.names[t]) + cn("")
    return record(15, 10, payload)


def prr(
    site: int, part_flag: int, hard_bin: int, soft_bin: int, x: int, y: int, test_ms: int, part_id: int
) -> bytes:
    payload = struct.pack("<BBBHHHhhI", HEAD, site, part_flag, TESTS, hard_bin, soft_bin, x, y, test_ms)
    return record(5, 20, payload + cn(f"{part_id:0{PART_ID_DIGITS}d}"))


class TouchdownLayout:
    """Byte offsets of the value fields in one touchdown block of the tiled layout."""

    def __init__(self, plan: TestPlan, full: bool = False):
        parts = [record(5, 10, bytes([HEAD, s])) for s in range(SITES)]
        pos = sum(map(len, parts))
        self.result = np.zeros((TESTS, SITES), np.int64)
        make_ptr = full_ptr if full else short_ptr
        for t in range(TESTS):
            for s in range(SITES):
                rec = make_ptr(t, s, plan, 0.0, 0)
                self.result[t, s] = pos + 4 + 8  # header, TEST_NUM..PARM_FLG
                parts.append(rec)
                pos += len(rec)
        self.test_flag = self.result - 2
        self.prr = np.zeros(SITES, np.int64)
        for s in range(SITES):
            rec = prr(s, 0, 1, 1, 0, 0, 0, 0)
            self.prr[s] = pos + 4
            parts.append(rec)
            pos += len(rec)
        self.template = np.frombuffer(b"".join(parts), np.uint8)


def put(blocks: np.ndarray, offsets: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` (touchdowns x fields, one dtype) at byte ``offsets`` of every block."""
    width = values.dtype.itemsize
    columns = (offsets.reshape(-1, 1) + np.arange(width)).reshape(-1)
    blocks[:, columns] = np.ascontiguousarray(values).view(np.uint8).reshape(len(blocks), -1)


def build(path: Path, target_bytes: int, seed: int, full: bool = False) -> dict:
    """Write the file; return the record counts per type and the PTR results in file order.
    ``full``: every PTR carries all its fields (limits, units, formats), not only the first of
    each test."""
    rng = np.random.default_rng(seed)
    plan = make_tests(rng)
    layout = TouchdownLayout(plan, full)
    dies = wafer_dies()
    per_wafer = len(dies) // SITES
    wafers = max(1, round(target_bytes / (per_wafer * layout.template.size)))
    touchdowns = wafers * per_wafer

    # results: a die effect shared by all tests plus noise, and rare gross outliers
    z = 0.35 * rng.standard_normal((touchdowns, 1, SITES)) + rng.standard_normal((touchdowns, TESTS, SITES))
    z[rng.random(z.shape) < 2e-4] *= 8
    results = (plan.mean[None, :, None] + plan.sigma[None, :, None] * z).astype(np.float32)
    failed = (results < plan.low[None, :, None]) | (results > plan.high[None, :, None])
    test_flags = np.where(failed, 0x80, 0).astype(np.uint8)
    die_failed = failed.any(axis=1)
    first_fail = np.argmax(failed, axis=1)
    hard_bin = np.where(die_failed, 2 + first_fail % 4, 1).astype(np.uint16)
    soft_bin = np.where(die_failed, 100 + first_fail, 1).astype(np.uint16)
    part_flag = np.where(die_failed, 0x08, 0).astype(np.uint8)
    test_ms = rng.integers(180, 260, (touchdowns, SITES)).astype(np.uint32)
    xy = np.tile(dies.reshape(per_wafer, SITES, 2), (wafers, 1, 1))
    part_ids = np.arange(1, touchdowns * SITES + 1).reshape(touchdowns, SITES)

    blocks = np.tile(layout.template, (touchdowns, 1))
    put(blocks, layout.result.reshape(-1), results.reshape(touchdowns, -1))
    put(blocks, layout.test_flag.reshape(-1), test_flags.reshape(touchdowns, -1))
    prr_at = layout.prr
    put(blocks, prr_at + 2, part_flag)
    put(blocks, prr_at + 5, hard_bin)
    put(blocks, prr_at + 7, soft_bin)
    put(blocks, prr_at + 9, np.ascontiguousarray(xy[:, :, 0]))
    put(blocks, prr_at + 11, np.ascontiguousarray(xy[:, :, 1]))
    put(blocks, prr_at + 13, test_ms)
    digits = (part_ids[..., None] // 10 ** np.arange(PART_ID_DIGITS - 1, -1, -1)) % 10 + ord("0")
    for d in range(PART_ID_DIGITS):
        put(blocks, prr_at + 18 + d, np.ascontiguousarray(digits[..., d]).astype(np.uint8))

    # the lot's first touchdown carries each test's defaults in its site-0 PTR
    first = [record(5, 10, bytes([HEAD, s])) for s in range(SITES)]
    for t in range(TESTS):
        for s in range(SITES):
            make = full_ptr if s == 0 or full else short_ptr
            first.append(make(t, s, plan, float(results[0, t, s]), int(test_flags[0, t, s])))
    for s in range(SITES):
        first.append(prr(s, int(part_flag[0, s]), int(hard_bin[0, s]), int(soft_bin[0, s]), int(xy[0, s, 0]),
                         int(xy[0, s, 1]), int(test_ms[0, s]), int(part_ids[0, s])))  # fmt: skip
    first_block = b"".join(first)

    counts = Counter()
    header = [
        record(0, 10, bytes([2, 4])),
        record(1, 10, struct.pack("<IIB", BASE_TIME - 600, BASE_TIME, 3) + b"PN " + struct.pack("<H", 65535) + b" "
               + b"".join(cn(s) for s in ("LOT4711", "SIL-ADC-12", "node07", "V93000", "adc12_ws", "r3.1", "S01",
                                           "op1", "SmarTest", "8.2.5", "WS1", "25"))),
        record(1, 80, struct.pack("<BBB", HEAD, SITE_GROUP, SITES) + bytes(range(SITES)) + cn("prober") + cn("P12")
               + cn("probecard-x4") + cn("PC0815")),
        record(2, 30, struct.pack("<fffBchhcc", 300.0, 2.1, 1.9, 3, b"D", 0, 0, b"R", b"D")),
    ]  # fmt: skip
    counts.update({"FAR": 1, "MIR": 1, "SDR": 1, "WCR": 1})
    start = BASE_TIME
    with open(path, "wb") as out:
        out.write(b"".join(header))
        for w in range(wafers):
            out.write(record(2, 10, struct.pack("<BBI", HEAD, SITE_GROUP, start) + cn(f"W{w + 1:02d}")))
            lo, hi = w * per_wafer, (w + 1) * per_wafer
            if lo == 0:
                out.write(first_block)
                lo = 1
            out.write(blocks[lo:hi].tobytes())
            good = int((~die_failed[w * per_wafer : hi]).sum())
            parts = per_wafer * SITES
            start += parts * 60
            out.write(record(2, 20, struct.pack("<BBIIIIII", HEAD, SITE_GROUP, start, parts, 0, 0, good, parts)
                             + cn(f"W{w + 1:02d}")))  # fmt: skip
        counts.update({"WIR": wafers, "WRR": wafers, "PIR": touchdowns * SITES, "PRR": touchdowns * SITES,
                       "PTR": touchdowns * SITES * TESTS})  # fmt: skip
        tail = []
        for t in range(TESTS):
            fails = int(failed[:, t, :].sum())
            tail.append(record(10, 30, struct.pack("<BBcIIII", 255, 0, b"P", t + 1000, touchdowns * SITES, fails, 0)
                               + cn(plan.names[t]) + cn("main") + cn("")
                               + struct.pack("<Bfffff", 0xC0 | 0x08 | 0x04, 0, float(results[:, t].min()),
                                             float(results[:, t].max()), float(results[:, t].sum()),
                                             float(np.square(results[:, t], dtype=np.float64).sum()))))  # fmt: skip
        counts["TSR"] += TESTS
        for site in [*range(SITES), None]:
            head, site_num = (255, 0) if site is None else (HEAD, site)
            chosen = (slice(None), slice(None) if site is None else site)
            for kind, bins in (("HBR", hard_bin[chosen]), ("SBR", soft_bin[chosen])):
                numbers, tallies = np.unique(bins, return_counts=True)
                for number, tally in zip(numbers.tolist(), tallies.tolist(), strict=True):
                    sub = 40 if kind == "HBR" else 50
                    name = "PASS" if number == 1 else f"FAIL_{number}"
                    tail.append(record(1, sub, struct.pack("<BBHIc", head, site_num, number, tally,
                                                           b"P" if number == 1 else b"F") + cn(name)))  # fmt: skip
                    counts[kind] += 1
            parts = touchdowns * (SITES if site is None else 1)
            good = int((~die_failed[chosen]).sum())
            tail.append(record(1, 30, struct.pack("<BBIIIII", head, site_num, parts, 0, 0, good, parts)))
            counts["PCR"] += 1
        tail.append(record(1, 20, struct.pack("<Ic", start, b" ")))
        counts["MRR"] += 1
        out.write(b"".join(tail))
    return {"counts": dict(counts), "results": results.reshape(-1), "full": full}


def verify(path: Path, expected: dict) -> None:
    """Read the file with silicio (strict: any damage raises) and check it holds what was built."""
    from silicio.stdf import read

    tables = read(path)
    got = {name: table.num_rows for name, table in tables.items()}
    if got != expected["counts"]:
        raise AssertionError(f"{path}: silicio read {got}, built {expected['counts']}")
    results = tables["PTR"]["RESULT"].to_numpy()
    if not np.array_equal(results, expected["results"]):
        raise AssertionError(f"{path}: PTR RESULT values differ from those built")
    ptr = tables["PTR"]
    expected_nulls = 0 if expected.get("full") else ptr.num_rows - TESTS
    if ptr["LO_LIMIT"].null_count != expected_nulls:
        raise AssertionError(f"{path}: expected limits on exactly the first PTR of each of the {TESTS} tests")


def ensure(mb: float = 80, seed: int = 7, full: bool = False) -> tuple[Path, dict]:
    """The cached synthetic file (built and verified on first use) and its record counts;
    ``full``: every PTR with all its fields."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    kind = "full_ptr_" if full else ""
    path = RESULTS_DIR / f"synthetic_wafer_sort_{kind}{mb:g}MB_seed{seed}.stdf"
    sidecar = path.with_suffix(".json")
    if path.exists() and sidecar.exists():
        meta = json.loads(sidecar.read_text())
        if meta.get("bytes") == path.stat().st_size:
            return path, meta["counts"]
    built = build(path, int(mb * 1e6), seed, full)
    verify(path, built)
    meta = {"bytes": path.stat().st_size, "seed": seed, "counts": built["counts"]}
    sidecar.write_text(json.dumps(meta, indent=1))
    return path, built["counts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=80, help="approximate size in MB (default 80)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--full", action="store_true", help="every PTR with all its fields")
    args = parser.parse_args()
    path, counts = ensure(args.mb, args.seed, args.full)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB): {sum(counts.values())} records {counts}")


if __name__ == "__main__":
    main()
