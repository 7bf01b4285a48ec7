"""The reader's sets of kernels: numba's, plain Python's for small files, and numba's compiled
ahead of time (``_native``, where built)."""

from __future__ import annotations

import pytest

from silicio.stdf import _kernels, _python_kernels, reader


def native_kernels():
    """The kernels compiled ahead of time, or None where they are not built for these sources."""
    try:
        from silicio.stdf import _native
    except ImportError:
        return None
    return _native


@pytest.fixture(scope="module", params=["numba", "python", "native"])
def kernels(request):
    """The test's reads decoded by numba's kernels, by the Python ones, then by the ones compiled
    ahead of time, whatever the file's size: all must pass. (Module-scoped, so that hypothesis
    tests may use it.)"""
    if request.param == "native":
        module = native_kernels()
        if module is None:
            pytest.skip("the ahead-of-time kernels are not built (python -m silicio.stdf._aot)")
    else:
        module = _python_kernels if request.param == "python" else _kernels
    chosen = reader._kernels_for
    reader._kernels_for = lambda size: module
    yield module
    reader._kernels_for = chosen
