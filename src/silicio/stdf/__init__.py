"""STDF V4 / V4-2007: read tester data into Arrow, write it back, and a tidy per-test view.

>>> from silicio import stdf
>>> tables = stdf.read("lot.stdf.gz")          # {"MIR": Table, "PTR": Table, ...}
>>> for name, batch in stdf.stream("big.stdf"):  # bounded memory
...     ...
>>> per_test = stdf.tidy(tables)               # one row per (part, test)
>>> stdf.write("copy.stdf", tables)            # valid V4 back out
"""

from .errors import StdfError, StdfIssue
from .missing import fill_omitted
from .parts import PartYield, part_yield, parts
from .reader import StdfStream, StdfTables, read, stream
from .spec import RECORDS, schema
from .tidy import TIDY_SCHEMA, tidy
from .writer import StdfWriter, to_bytes, write

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
