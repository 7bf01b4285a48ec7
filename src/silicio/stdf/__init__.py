"""STDF V4 / V4-2007: read tester data into Arrow, write it back, and a tidy per-test view.

>>> from silicio import stdf
>>> tables = stdf.read("lot.stdf.gz")          # {"MIR": Table, "PTR": Table, ...}
>>> for name, batch in stdf.stream("big.stdf"):  # bounded memory
...     ...
"""

from .errors import StdfError, StdfIssue
from .reader import StdfStream, StdfTables, read, stream
from .spec import RECORDS, schema

__all__ = ["RECORDS", "StdfError", "StdfIssue", "StdfStream", "StdfTables", "read", "schema", "stream"]
