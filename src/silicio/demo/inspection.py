"""The demo fab's inline inspection: a KLARF 1.1 file for some wafers, written before sort, whose
defects follow the wafer's planted signature.

A die the signature killed carries a defect of the signature's class with probability
:data:`CAPTURE` (the inspection sees most killer defects, not all); every die, killed or not,
carries a ``nuisance`` defect with probability :data:`NUISANCE` (harmless: its kill ratio comes
out near zero). So the kill ratio of the signature class is high, its capture rate is about
:data:`CAPTURE` times the share of sort fails the signature caused, and the density is what the
file's summary says.

Coordinates: KLARF indices grow X right and Y up with the notch DOWN; the demo's STDF maps have X
right, Y down and the flat down (WCR POS_X R, POS_Y D, WF_FLAT D), so a die (x, y) of the STDF
map is written as XINDEX x, YINDEX -y. Its own random stream (seeded per lot and wafer) leaves
every STDF byte of the fab as it was.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["CAPTURE", "CLASSES", "INSPECTION_STEP", "NUISANCE", "SIGNATURE_CLASS", "write_inspection"]

#: Process step of the inspection (after CMP of metal 2), the KLARF StepID.
INSPECTION_STEP = "M2_CMP"
CAPTURE = 0.7
NUISANCE = 0.03
#: KLARF classes: number -> name.
CLASSES = {0: "unclassified", 1: "particle", 2: "edge_residue", 3: "film_void", 4: "scratch",
           5: "particle_cluster", 9: "nuisance"}  # fmt: skip
#: The class of the killer defects of each planted signature.
SIGNATURE_CLASS = {"random": 1, "edge_ring": 2, "center": 3, "scratch": 4, "cluster": 5}
_NUISANCE_CLASS = 9
#: Seconds between the inspection and the wafer's sort.
BEFORE_SORT = 5 * 86_400


def _stamp(seconds: int) -> str:
    return time.strftime("%m-%d-%y %H:%M:%S", time.gmtime(seconds))


def write_inspection(
    path: Path, *, seed: tuple[int, ...], lot_id: str, wafer_id: str, slot: int, part_type: str, family: str,
    pattern: str, x: np.ndarray, y: np.ndarray, killed: np.ndarray, die_width_mm: float, die_height_mm: float,
    sort_start: int,
) -> dict[str, int]:  # fmt: skip
    """Write the wafer's KLARF file; returns its counts (defects, dies, defective dies)."""
    rng = np.random.default_rng(seed)
    n = x.size
    killer = killed & (rng.random(n) < CAPTURE)
    nuisance = rng.random(n) < NUISANCE
    pitch_x, pitch_y = die_width_mm * 1000.0, die_height_mm * 1000.0
    rows = []
    signature_class = SIGNATURE_CLASS.get(pattern, 1)
    for die in np.flatnonzero(killer | nuisance):
        for cls in ([signature_class] if killer[die] else []) + ([_NUISANCE_CLASS] if nuisance[die] else []):
            size = float(rng.uniform(0.3, 8.0) if cls != 4 else rng.uniform(20.0, 200.0))
            rows.append((int(x[die]), -int(y[die]), float(rng.uniform(0, pitch_x)), float(rng.uniform(0, pitch_y)),
                         size, cls))  # fmt: skip
    area = n * pitch_x * pitch_y  # um^2
    defective = len({(r[0], r[1]) for r in rows})
    when = sort_start - BEFORE_SORT
    lines = [
        "FileVersion 1 1;",
        f"FileTimestamp {_stamp(when + 120)};",
        'InspectionStationID "KLA" "2930" "QRO-INSP-01";',
        "SampleType WAFER;",
        f"ResultTimestamp {_stamp(when)};",
        f'LotID "{lot_id}";',
        "SampleSize 1 200;",
        f'DeviceID "{part_type}";',
        f'SetupID "{family}_{INSPECTION_STEP}" {_stamp(when - 600)};',
        f'StepID "{INSPECTION_STEP}";',
        "SampleOrientationMarkType NOTCH;",
        "OrientationMarkLocation DOWN;",
        f"DiePitch {pitch_x:.4e} {pitch_y:.4e};",
        "DieOrigin 0.000000 0.000000;",
        f'WaferID "{wafer_id}";',
        f"Slot {slot};",
        "SampleCenterLocation 0.0 0.0;",
        f"ClassLookup {len(CLASSES)}",
        *[f' {number} "{name}"' for number, name in CLASSES.items()],
        ";",
        "InspectionTest 1;",
        f"SampleTestPlan {n}",
        *[f" {int(a)} {-int(b)}" for a, b in zip(x, y, strict=True)],
        ";",
        f"AreaPerTest {area:.10e};",
        "DefectRecordSpec 13 DEFECTID XREL YREL XINDEX YINDEX XSIZE YSIZE DEFECTAREA DSIZE CLASSNUMBER TEST "
        "ROUGHBINNUMBER IMAGECOUNT;",
        "DefectList",
        *[f" {i} {xr:.3f} {yr:.3f} {xi} {yi} {s:.3f} {s * 0.8:.3f} {s * s * 0.8:.3f} {s:.3f} {cls} 1 0 0"
          for i, (xi, yi, xr, yr, s, cls) in enumerate(rows, start=1)],
        ";",
        "SummarySpec 5 TESTNO NDEFECT DEFDENSITY NDIE NDEFDIE;",
        "SummaryList",
        f" 1 {len(rows)} {len(rows) / (area / 1e8):.6f} {n} {defective};",
        "EndOfFile;",
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return {"defects": len(rows), "dies": n, "defective_dies": defective}
