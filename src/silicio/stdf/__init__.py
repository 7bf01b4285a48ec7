"""STDF V4 / V4-2007: read tester data into Arrow, write it back, and a tidy per-test view.

>>> from silicio import stdf
>>> tables = stdf.read("lot.stdf.gz")          # {"MIR": Table, "PTR": Table, ...}
>>> for name, batch in stdf.stream("big.stdf"):  # bounded memory
...     ...
>>> per_test = stdf.tidy(tables)               # one row per (part, test)
>>> stdf.write("copy.stdf", tables)            # valid V4 back out
"""

from silicio._lazy import lazy_package

#: Public name -> the module of this package that defines it. Names are imported on first use
#: (PEP 562): ``silicio.stdf.errors`` (StdfError) loads neither numba nor pyarrow, so the CLI can
#: catch it without paying for the reader's kernels in ``silicio --help``.
_EXPORTS = {
    "StdfError": "errors",
    "StdfIssue": "errors",
    "fill_omitted": "missing",
    "PartYield": "parts",
    "part_yield": "parts",
    "parts": "parts",
    "StdfStream": "reader",
    "StdfTables": "reader",
    "read": "reader",
    "stream": "reader",
    "RECORDS": "spec",
    "schema": "spec",
    "TIDY_SCHEMA": "tidy",
    "tidy": "tidy",
    "StdfWriter": "writer",
    "to_bytes": "writer",
    "write": "writer",
}

__all__ = [
    "RECORDS",
    "PartYield",
    "TIDY_SCHEMA",
    "StdfError",
    "StdfIssue",
    "StdfStream",
    "StdfTables",
    "StdfWriter",
    "fill_omitted",
    "part_yield",
    "parts",
    "read",
    "schema",
    "stream",
    "tidy",
    "to_bytes",
    "write",
]

lazy_package(__name__, _EXPORTS)
