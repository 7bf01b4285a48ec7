"""Compile the reader's numba kernels ahead of time into an extension module, ``_kernels_aot``.

    python -m silicio.stdf._aot          # (make does it after installing)

A process that reads a large file with numba's kernels loads LLVM and numba's runtime: 130 MB
of its peak memory on an 80 MB file, more than the tables it reads. The same kernels compiled
here, by numba's ``numba.pycc`` (pending deprecation since numba 0.57, still in 0.68), are plain
machine code in a shared library: ``_native.py`` loads them with neither numba nor LLVM.

Each kernel the reader calls is exported with the argument types the reader gives it (one
signature each: the reader always passes the same types, and a test reads every shared file
through these kernels); the return type is numba's own inference from the source, so the
module returns what the JIT kernels return. The wrappers release the GIL (as the ``nogil`` JIT
kernels do), so the reader's threads still decode ranges side by side; code is generated for
this machine's CPU, as the JIT does. The module records a digest of the kernels' sources and of
the CPU's features: ``_native.py`` refuses a module built from other sources or for another CPU,
and the reader then uses numba's JIT kernels as before.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The extension module's name (beside this file).
MODULE = "_kernels_aot"
#: What the compiled code depends on: the kernels and the layout codes they use as constants.
SOURCES = ("_kernels.py", "_layout.py")


def cpu_features() -> str:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere): code built for one CPU
    must not run on another that lacks an instruction it uses."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def build_digest() -> int:
    """A 63-bit digest of the kernels' sources and the CPU's features."""
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((HERE / name).read_bytes())
    h.update(cpu_features().encode())
    return int.from_bytes(h.digest()[:8], "little") >> 1


def _argument_types() -> dict:
    """Each exported kernel's argument types, as the reader passes them."""
    from numba import types as T

    u1, u2, i1, i2, i4, i8, u8, b1 = (T.uint8[::1], T.uint16[::1], T.int8[::1], T.int16[::1], T.int32[::1],
                                      T.int64[::1], T.uint64[::1], T.boolean[::1])  # fmt: skip
    i8_2d = T.int64[:, ::1]
    n, flag, seq = T.int64, T.boolean, T.uint64
    # buf, rec_pos, big, kinds, sizes, count_ref, size_ref, is_ref: every decoding kernel's first
    plan = (u1, i8, flag, i1, i8, i8, i8, b1)
    return {
        "index_records": (u1, n, n, flag, i2, n, seq, n),
        "find_resync": (u1, n, n, n, flag, i2, n),
        "gather_items": (u1, i8, u2, i8, n, flag),
        "gather_nibbles": (u1, i8, u2, i8),
        "gather_gen_data": (u1, i8, u2, i8, flag),
        "gen_data_columns": (u1, i8, u2, i8, flag),
        "gather_values": (u1, i8, i4, n, flag),
        "_offsets": (i4,),
        "_copy_ranges": (u1, i8, i4, i4, i4, u1, n, n),
        "_gather_fields": (u1, i8, u2, u2, i8),
        "_field_offsets": (n, u2, i8),
        "_copy_fields": (u1, i8, u2, u2, i8, i4, u1, n, n),
        "_high_fields": (i4, u1, n, n),
        "_decode_chunks": (*plan, i8, i8, n, n, n),
        "_decode_range": (*plan, i8, i8, n, n, u1, u2, u2, i2, i2),
        "_positions": (i8, u8, n),
        "_presence": (i2, i2),
        "_decode_to_message": (u1, i8, u8, n, flag, i1, i8, i8, i8, b1, i8, i8, n, n, i1, b1, u1, n, n, n, n),
        "_decode_into": (
            i8,
            n,
            u1,
            i8,
            u8,
            n,
            flag,
            i1,
            i8,
            i8,
            i8,
            b1,
            i8,
            i8,
            n,
            n,
            i1,
            b1,
            u1,
            n,
            n,
            n,
            n,
        ),
        "_decode_chunk": (*plan, i8, i8, n, n, u1, u2, u2, i2, i2, i8, i8, i1, i8_2d, n),
        "_buffer_layout": (i8, i1, i2, i2, i8_2d),
        "_write_metadata": (i8, u1, n, n, n, n, i1, i2, i8, i8, i8_2d),
        "_fill": (
            u1,
            i8,
            u8,
            n,
            flag,
            i1,
            i8,
            i8,
            i8,
            i8,
            i1,
            n,
            i8,
            i8,
            i8_2d,
            n,
            n,
            u1,
            u2,
            u2,
            i2,
            n,
            n,
            n,
        ),
        "_text_high": (i8, n, i8, i1, b1, n, n),
    }


def _entry(kernel):
    """A jitted function that calls ``kernel`` with its own parameters: what is exported. Each
    kernel is then compiled only as a callee, as under the JIT; exporting the kernels themselves
    broke type inference of a kernel calling another exported one (index_records, find_resync)."""
    import numba as nb

    params = ", ".join(inspect.signature(kernel.py_func).parameters)
    namespace = {"kernel": kernel}
    exec(f"def {kernel.__name__}({params}):\n    return kernel({params})", namespace)  # noqa: S102 - our own names
    return nb.njit(nogil=True)(namespace[kernel.__name__])


def _releasing_gil(compile_extra):
    """numba.pycc's compile call, with wrappers that release the GIL around each kernel call."""

    def compile_releasing_gil(
        typing_context, target_context, function, args, return_type, flags, *rest, **kw
    ):
        flags.release_gil = True
        return compile_extra(typing_context, target_context, function, args, return_type, flags, *rest, **kw)

    return compile_releasing_gil


def build(output_dir: Path = HERE, verbose: bool = False) -> Path:
    """Compile the kernels into ``output_dir``; returns the extension module's path."""
    from numba.core.errors import NumbaPendingDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
        from numba.pycc import CC
        from numba.pycc import compiler as pycc_compiler

    from . import _kernels

    digest = build_digest()
    cc = CC(MODULE)
    cc.output_dir = str(output_dir)
    cc.target_cpu = "host"  # as numba's JIT does; the digest holds the CPU's features
    cc.verbose = verbose
    for name, args in _argument_types().items():
        entry = _entry(getattr(_kernels, name))
        entry.compile(args)  # numba's inference gives the return type
        cc.export(name, entry.overloads[args].signature)(entry.py_func)

    def built_from() -> int:
        return digest  # a constant of the compiled code

    cc.export("build_digest", "i8()")(built_from)
    plain = pycc_compiler.compile_extra
    pycc_compiler.compile_extra = _releasing_gil(plain)
    try:
        cc.compile()
    finally:
        pycc_compiler.compile_extra = plain
    return output_dir / cc.output_file


if __name__ == "__main__":
    path = build(verbose="-v" in sys.argv)
    print(f"built {path}")
