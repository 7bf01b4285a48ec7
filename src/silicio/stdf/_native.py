"""The reader's kernels compiled ahead of time (``_aot.py``), by the same names as ``_kernels.py``.

Importing this module loads neither numba nor LLVM: a large file's read then peaks about 130 MB
lower than with numba's JIT kernels. It raises ImportError when the extension module was not
built, or was built from other kernel sources or for another CPU (``_aot.build_digest``): the
reader then uses numba's kernels (``reader._kernels_for``).

CPU: the same as numba's on large files (in one process, 80 MB files: 1 % more on the full-PTR
one, 7 % less on the lean one); a little more on the small shared files, whose reads are many
short calls: pycc's wrappers box a returned array about 2 microseconds slower than numba's
dispatcher (each one unpickles ``numpy.ndarray``: ``_gather_fields``, three arrays, 12 us a call
against 5), so the call made for every record type of a file, ``_decode_to_message``, returns
one array only.
"""

from __future__ import annotations

from . import _aot
from ._driver import Kernels

try:
    from . import _kernels_aot as _compiled
except ImportError as exc:
    raise ImportError(
        f"the ahead-of-time kernels are not built ({exc}): python -m silicio.stdf._aot"
    ) from None

if _compiled.build_digest() != _aot.build_digest():
    raise ImportError(
        "the ahead-of-time kernels were built from other kernel sources or for another CPU: "
        "python -m silicio.stdf._aot"
    )

#: The reader's calls over these kernels (see ``_driver.Kernels``).
NATIVE = Kernels(_compiled)
index_records = NATIVE.index_records
find_resync = NATIVE.find_resync
gather_items = NATIVE.gather_items
gather_nibbles = NATIVE.gather_nibbles
gather_gen_data = NATIVE.gather_gen_data
gen_data_columns = NATIVE.gen_data_columns
gather_values = NATIVE.gather_values
decode_fields = NATIVE.decode_fields
batch_message = NATIVE.batch_message
gather_bytes = NATIVE.gather_bytes
gather_byte_fields = NATIVE.gather_byte_fields
