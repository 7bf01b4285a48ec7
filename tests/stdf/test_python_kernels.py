"""Small files are decoded by plain Python kernels (no numba to load), the others by numba's.
Both must give the same tables, field by field, the same issues and warnings: on every shared
sample (real files from many testers), on random records of every type, and on damaged files.
(tests/stdf/test_hostile.py and test_properties.py also run whole under each set.)"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silicio.stdf import StdfError, _kernels, _python_kernels, read, reader
from silicio.stdf.writer import StdfWriter
from tests.conftest import canonical
from tests.stdf.test_properties import HEADERS, RANDOM_RECORDS, SEEDS, damaged


def read_with(kernels, source, **kwargs):
    """``read``, its tables decoded by ``kernels``; a StdfError is returned, not raised."""
    chosen = reader._kernels_for
    reader._kernels_for = lambda size: kernels
    try:
        return read(source, **kwargs)
    except StdfError as exc:
        return exc
    finally:
        reader._kernels_for = chosen


def assert_same_reads(python, numba) -> None:
    """Same error, or same tables (every value of every column, floats by their bits, the null
    pattern), issues, warnings and record count."""
    if isinstance(numba, StdfError) or isinstance(python, StdfError):
        assert str(python) == str(numba)
        return
    assert list(python) == list(numba)
    for name, table in numba.items():
        other = python[name]
        assert other.schema.equals(table.schema), name
        for column in table.column_names:
            got, expected = other.column(column), table.column(column)
            floats = "float" in str(got.type) or "double" in str(got.type)  # -0.0 equals 0.0 in Arrow
            if got.equals(expected) and not floats:
                continue
            assert canonical(got.to_pylist()) == canonical(expected.to_pylist()), f"{name}.{column}"
    assert [str(i) for i in python.issues] == [str(i) for i in numba.issues]
    assert [str(w) for w in python.warnings] == [str(w) for w in numba.warnings]
    assert python.records == numba.records


def test_shared_file_same_either_way(shared_stdf_file):
    numba = read_with(_kernels, shared_stdf_file, strict=False)
    python = read_with(_python_kernels, shared_stdf_file, strict=False)
    assert not isinstance(numba, StdfError) and numba.records > 0
    assert_same_reads(python, numba)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(RANDOM_RECORDS, min_size=1, max_size=8), byteorder=st.sampled_from("<>"))
def test_random_records_same_either_way(records, byteorder):
    buffer = io.BytesIO()
    with StdfWriter(buffer, byteorder=byteorder) as writer:
        for name, fields, _ in records:
            writer.record(name, **fields)
    data = buffer.getvalue()
    assert_same_reads(read_with(_python_kernels, data), read_with(_kernels, data))


@pytest.mark.parametrize("seed_name", sorted(SEEDS))
@pytest.mark.parametrize("strict", [True, False])
def test_damaged_files_same_either_way(seed_name, strict):
    data, headers = SEEDS[seed_name], HEADERS[seed_name]
    rng = np.random.default_rng(sum(seed_name.encode()) + 7)
    for _ in range(40):
        bad = damaged(data, headers, rng)
        assert_same_reads(
            read_with(_python_kernels, bad, strict=strict), read_with(_kernels, bad, strict=strict)
        )


def test_small_files_get_the_python_kernels_until_the_budget_is_spent(monkeypatch):
    # as in a fresh process without the ahead-of-time kernels: numba's kernels not loaded,
    # nothing decoded in Python yet
    monkeypatch.setattr(reader, "_native_kernels", lambda: None)
    monkeypatch.delitem(sys.modules, "silicio.stdf._kernels")
    monkeypatch.setattr(reader, "_python_kernel_bytes", 0)
    small = reader.PYTHON_KERNELS_MAX_BYTES
    assert reader._kernels_for(small) is _python_kernels
    assert reader._python_kernel_bytes == small
    spent = reader.PYTHON_KERNELS_BUDGET_BYTES - small
    monkeypatch.setattr(reader, "_python_kernel_bytes", spent)
    assert reader._kernels_for(small) is _python_kernels  # exactly the budget
    assert reader._python_kernel_bytes == reader.PYTHON_KERNELS_BUDGET_BYTES
    monkeypatch.setitem(sys.modules, "silicio.stdf._kernels", _kernels)  # numba's, not imported again
    assert reader._kernels_for(1) is _kernels  # budget spent
    monkeypatch.setattr(reader, "_python_kernel_bytes", 0)
    assert reader._kernels_for(small + 1) is _kernels  # too big
    assert reader._kernels_for(None) is _kernels  # more than a window
    assert reader._kernels_for(100) is _kernels  # numba's loaded already: they are the quicker
