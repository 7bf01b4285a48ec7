"""The reader's kernels compiled ahead of time (``_native``, built by ``python -m
silicio.stdf._aot``) read every shared file as numba's JIT kernels do, on one thread or several;
a build from other sources is refused; ``SILICIO_STDF_KERNELS`` chooses. (test_hostile.py and
test_properties.py also run whole under them: the ``kernels`` fixture.)"""

from __future__ import annotations

import importlib
import sys

import pytest

import silicio.stdf
from silicio.stdf import _aot, _kernels, _python_kernels, reader
from tests.stdf.conftest import native_kernels
from tests.stdf.test_python_kernels import assert_same_reads, read_with

NATIVE = native_kernels()
needs_native = pytest.mark.skipif(NATIVE is None, reason="the ahead-of-time kernels are not built")


@needs_native
@pytest.mark.parametrize("threads", [1, 3])
def test_shared_file_same_as_numba(monkeypatch, shared_stdf_file, threads):
    numba = read_with(_kernels, shared_stdf_file, strict=False)
    monkeypatch.setattr(reader, "_decode_threads", lambda: threads)
    native = read_with(NATIVE, shared_stdf_file, strict=False)
    assert not isinstance(numba, reader.StdfError) and numba.records > 0
    assert_same_reads(native, numba)


@needs_native
def test_reader_prefers_them_even_for_small_files(monkeypatch):
    monkeypatch.setattr(reader, "_native_found", [])
    monkeypatch.delenv(reader.KERNELS_ENV, raising=False)
    assert reader._kernels_for(1000) is NATIVE
    assert reader._kernels_for(None) is NATIVE


@needs_native
def test_a_build_from_other_sources_is_refused(monkeypatch):
    monkeypatch.setattr(_aot, "build_digest", lambda: NATIVE._compiled.build_digest() ^ 1)
    monkeypatch.delitem(sys.modules, "silicio.stdf._native")
    monkeypatch.delattr(silicio.stdf, "_native")  # else ``from . import _native`` finds it there
    with pytest.raises(ImportError, match="other kernel sources or for another CPU"):
        importlib.import_module("silicio.stdf._native")
    # the reader falls back on numba's kernels (Python ones for a small file, numba not loaded)
    monkeypatch.setattr(reader, "_native_found", [])
    monkeypatch.delenv(reader.KERNELS_ENV, raising=False)
    assert reader._kernels_for(None) is _kernels
    monkeypatch.setattr(reader, "_native_found", [])
    monkeypatch.setenv(reader.KERNELS_ENV, "native")
    with pytest.raises(ImportError, match="SILICIO_STDF_KERNELS=native"):
        reader._kernels_for(None)


def test_the_digest_follows_the_sources_and_the_cpu(monkeypatch, tmp_path):
    digest = _aot.build_digest()
    assert 0 <= digest < 2**63  # an int64 of the compiled module
    monkeypatch.setattr(_aot, "cpu_features", lambda: "sse2 avx512f")
    assert _aot.build_digest() != digest
    monkeypatch.undo()
    for name in _aot.SOURCES:
        (tmp_path / name).write_bytes((_aot.HERE / name).read_bytes())
    monkeypatch.setattr(_aot, "HERE", tmp_path)
    assert _aot.build_digest() == digest
    with open(tmp_path / "_layout.py", "a") as f:
        f.write("\n# changed\n")
    assert _aot.build_digest() != digest


def test_the_environment_chooses(monkeypatch):
    monkeypatch.setattr(reader, "_native_found", [])
    monkeypatch.setenv(reader.KERNELS_ENV, "jit")
    monkeypatch.setitem(sys.modules, "silicio.stdf._kernels", _kernels)
    assert reader._kernels_for(None) is _kernels
    monkeypatch.delitem(sys.modules, "silicio.stdf._kernels")
    monkeypatch.setattr(reader, "_python_kernel_bytes", 0)
    assert reader._kernels_for(1000) is _python_kernels  # small, numba not loaded: as before
    monkeypatch.setenv(reader.KERNELS_ENV, "fast")
    with pytest.raises(ValueError, match="SILICIO_STDF_KERNELS='fast'"):
        reader._kernels_for(None)
