"""The demo: generated data that exercises silicio end to end without any real fab data.

* :func:`generate_fab` (:mod:`silicio.demo.fab`): a fictional IDM in Querétaro, three products,
  ~20 lots tested at wafer sort and final test as STDF V4 files, with planted excursions,
  PAT outliers and spatial signatures listed in its :class:`FabManifest`;
* :func:`run_demo` (:mod:`silicio.demo.stdf_demo`): one small wafer-sort lot, written, read back
  and summarized.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from silicio.stdf import read
from silicio.stdf.summary import FileSummary, summarize

from .fab import FabFile, FabLot, FabManifest, Planted, generate_fab, load_manifest, parse_die_text
from .products import PRODUCTS
from .stdf_demo import DemoLot, simulate_lot, write_demo_stdf

DEFAULT_OUT_DIR = Path("out") / "demo"
DEMO_FILE_NAME = "demo_lot.stdf"

__all__ = [
    "DEFAULT_OUT_DIR",
    "PRODUCTS",
    "DemoLot",
    "DemoRun",
    "FabFile",
    "FabLot",
    "FabManifest",
    "Planted",
    "generate_fab",
    "load_manifest",
    "parse_die_text",
    "run_demo",
    "simulate_lot",
    "write_demo_stdf",
]


@dataclass(frozen=True)
class DemoRun:
    stdf_path: Path
    summary: FileSummary


def run_demo(out_dir: str | os.PathLike[str] = DEFAULT_OUT_DIR, *, seed: int = 0) -> DemoRun:
    """Write the demo lot to ``out_dir``, read it back and summarize it."""
    path = write_demo_stdf(Path(out_dir) / DEMO_FILE_NAME, seed=seed)
    return DemoRun(path, summarize(read(path)))
