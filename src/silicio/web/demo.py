"""A lake of demo data for the dashboard: what ``silicio serve --demo`` (and ``make run``) serve.

The demo fab of :mod:`silicio.demo` (``generate_fab``) when it is there, else a stand-in: demo
wafer-sort lots (:func:`silicio.demo.write_demo_stdf`, one seed per lot, enough lots for the
AEC-Q001 / Q002 limits) and one file that is not STDF, so the files page has a quarantine entry.
"""

from __future__ import annotations

import os
from pathlib import Path

from silicio import lake

#: Lots of the stand-in: AEC-Q001 static PAT limits need six.
STAND_IN_LOTS = 8
DEFAULT_DEMO_DIR = Path("out") / "demo-lake"


def write_demo_files(stdf_dir: Path, *, lots: int | None = None, seed: int = 0, wafers: int = 3,
                     dies_per_side: int = 16) -> Path:  # fmt: skip
    """STDF files of a demo fab in ``stdf_dir``: ``generate_fab`` when available, else the stand-in."""
    stdf_dir.mkdir(parents=True, exist_ok=True)
    try:
        from silicio.demo import generate_fab
    except ImportError:
        generate_fab = None
    if generate_fab is not None:
        workers = max(1, min(os.cpu_count() or 1, 4))
        generate_fab(stdf_dir, **({"lots": lots} if lots is not None else {}), seed=seed, workers=workers)
        return stdf_dir
    from silicio.demo import write_demo_stdf

    for lot in range(lots or STAND_IN_LOTS):
        write_demo_stdf(
            stdf_dir / f"lot_{lot:02d}.stdf", seed=seed + lot, wafers=wafers, dies_per_side=dies_per_side
        )
    # A file the reader rejects, as a tester share always has one.
    (stdf_dir / "interrupted_transfer.stdf").write_bytes(b"\x00\x00 partial upload, not STDF\n" * 8)
    return stdf_dir


def demo_lake(data_dir: str | os.PathLike[str] = DEFAULT_DEMO_DIR, **files) -> Path:
    """The demo lake in ``data_dir``: its STDF files written (the demo fab reuses files already
    there) and ingested. Ingest skips content the lake holds, so a run cut short is completed
    and a finished lake costs only the hashing of its files."""
    data_dir = Path(data_dir)
    stdf_dir = write_demo_files(data_dir.parent / f"{data_dir.name}-stdf", **files)
    lake.ingest([stdf_dir], data_dir)
    return data_dir
