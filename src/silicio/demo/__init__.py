"""The demo: generated data that exercises silicio end to end without any real fab data.

* :func:`generate_fab` (:mod:`silicio.demo.fab`): a fictional IDM in Querétaro, three products,
  ~20 lots tested at wafer sort and final test as STDF V4 files, with planted excursions,
  PAT outliers and spatial signatures listed in its :class:`FabManifest`;
* :func:`write_demo_stdf` (:mod:`silicio.demo.stdf_demo`): one small wafer-sort lot, for tests
  and examples.
"""

from __future__ import annotations

from .fab import FabFile, FabLot, FabManifest, Planted, generate_fab, load_manifest, parse_die_text
from .products import PRODUCTS
from .stdf_demo import DemoLot, simulate_lot, write_demo_stdf

__all__ = [
    "PRODUCTS",
    "DemoLot",
    "FabFile",
    "FabLot",
    "FabManifest",
    "Planted",
    "generate_fab",
    "load_manifest",
    "parse_die_text",
    "simulate_lot",
    "write_demo_stdf",
]
