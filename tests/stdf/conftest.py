"""The reader's two sets of kernels: numba's, and plain Python's for small files."""

from __future__ import annotations

import pytest

from silicio.stdf import _kernels, _python_kernels, reader


@pytest.fixture(scope="module", params=["numba", "python"])
def kernels(request):
    """The test's reads decoded by numba's kernels, then by the Python ones, whatever the file's
    size: both must pass. (Module-scoped, so that hypothesis tests may use it.)"""
    module = _python_kernels if request.param == "python" else _kernels
    chosen = reader._kernels_for
    reader._kernels_for = lambda size: module
    yield module
    reader._kernels_for = chosen
