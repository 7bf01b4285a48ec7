"""Read STDF V4 / V4-2007 files into Arrow: one table per record type, every field a typed column.

The hot loops are numba kernels (``_kernels.py``): one walk over the record headers groups the
records by type, then one pass per type decodes all its fields column by column and lays the
whole batch out as one Arrow IPC message, which pyarrow reads back zero-copy in a single call
(a few types with nested or variable-width items are built column by column instead). A small
file is decoded by the same kernels written in plain Python (``_python_kernels.py``, column by
column), which spares it loading numba (:func:`_kernels_for`). Where the numba kernels are also
compiled ahead of time (``_aot.py``, by ``make``), those are used for every file: they load in a
millisecond, without numba or LLVM (130 MB less at a large read's peak). Everything here is the
plumbing around them: opening (plain, gzip, bzip2, xz, zip), windows of bounded size for
streaming, salvage of damaged files, and the Arrow side.
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from . import _layout as L
from . import _python_kernels
from ._cpus import OtherWork
from ._driver import PARALLEL_MIN_ITEMS, Arena
from .errors import StdfError, StdfIssue
from .spec import (
    BY_CODE,
    DN_TYPE,
    FIXED_SIZE,
    GDR_ITEM_TYPE,
    GDR_TYPE_CODES,
    NUMPY_CODE,
    RECORDS,
    RESERVED_REC_TYP,
    UF_WIDTHS,
    UNKNOWN,
    UNKNOWN_SCHEMA,
    RecordType,
    arrow_type,
    schema,
)

if sys.byteorder != "little":  # the kernels write little-endian columns
    raise ImportError("silicio.stdf needs a little-endian machine")

#: Default window of decompressed bytes decoded at once by :func:`stream`. 8 MiB: a window's
#: bytes and its decoded columns stay near the CPU's caches and a read's peak memory stays close
#: to its tables' own size (64 MiB took 20% more CPU and 90 MB more memory on an 80 MB file),
#: while a window still holds 100,000 records or more to share between threads.
DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024
#: Largest window: Arrow string offsets of one window must fit 32 bits.
MAX_WINDOW_BYTES = 1024 * 1024 * 1024

_TYPE_NAMES = list(RECORDS)
_TYPE_LUT = np.full(256 * 256, -1, dtype=np.int16)
for _i, _name in enumerate(_TYPE_NAMES):
    _rt = RECORDS[_name]
    _TYPE_LUT[_rt.rec_typ * 256 + _rt.rec_sub] = _i

Source = str | os.PathLike | BinaryIO | bytes


# --------------------------------------------------------------------------------------------
# Opening


class _Prepended(io.RawIOBase):
    """A stream that replays bytes already read from it (to sniff compression magic)."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _name_of(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or f"<{type(source).__name__}>"


#: Compressed bytes given to a decompressor at once, and the most output taken from one call (so a
#: chunk that decompresses to much more cannot take unbounded memory).
_CHUNK = 256 * 1024
_OUTPUT_LIMIT = 4 * 1024 * 1024
#: What decompressors raise on bad data: zlib.error, lzma.LZMAError, OSError (bz2), EOFError.
#: (MemoryError: an lzma dictionary size in a damaged header can ask for gigabytes.)
_DECOMPRESS_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, MemoryError)
_MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00"}
_ZIP_MAGIC = b"PK\x03\x04"
_MAKERS = {
    "gzip": lambda: zlib.decompressobj(31),  # 31: gzip header and trailer, CRC-32 and size checked
    "bzip2": bz2.BZ2Decompressor,
    "xz": lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ),
}
#: Zip compression methods read (APPNOTE 4.4.5), and names of some others for the error.
_ZIP_METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma"}
_OTHER_ZIP_METHODS = {1: "shrink", 6: "implode", 9: "deflate64", 93: "zstandard", 95: "xz", 98: "ppmd",
                      99: "AES encryption"}  # fmt: skip


@dataclass(frozen=True)
class _Damage:
    """Where the data stopped short: why, at which byte of the (compressed) file, and how many
    decompressed bytes came out before it."""

    reason: str
    compressed_offset: int | None
    decompressed_offset: int

    def __str__(self) -> str:
        if self.compressed_offset is None:
            return f"{self.reason} (at byte {self.decompressed_offset})"
        return (f"{self.reason}: cannot decompress beyond compressed byte {self.compressed_offset} "
                f"(decompressed byte {self.decompressed_offset})")  # fmt: skip


class _Codec:
    """One compressed stream's decompressor (zlib, bz2 or lzma) behind one face: ``feed`` it
    input, ``drain`` the output it held back for the output limit."""

    def __init__(self, obj):
        self.obj = obj
        self.zlib = isinstance(obj, _ZLIB_DECOMPRESS)

    def feed(self, data: bytes) -> bytes:
        return self.obj.decompress(data, _OUTPUT_LIMIT)

    def drain(self) -> bytes:
        return self.obj.decompress(self.obj.unconsumed_tail if self.zlib else b"", _OUTPUT_LIMIT)

    @property
    def eof(self) -> bool:
        return self.obj.eof

    @property
    def wants_input(self) -> bool:
        if self.obj.eof:
            return False
        return not self.obj.unconsumed_tail if self.zlib else self.obj.needs_input

    @property
    def unused(self) -> bytes:
        return self.obj.unused_data

    def finish(self) -> bytes:
        """Output left when the input ends."""
        return self.obj.flush() if self.zlib else b""


_ZLIB_DECOMPRESS = type(zlib.decompressobj())


class _Stored(_Codec):
    """A zip member stored as is: its ``size`` bytes."""

    def __init__(self, size: int):
        self.left = size
        self.zlib = False

    def feed(self, data: bytes) -> bytes:
        data = data[: self.left]
        self.left -= len(data)
        return data

    def finish(self) -> bytes:
        return b""

    eof = property(lambda self: self.left == 0)
    wants_input = property(lambda self: self.left > 0)
    unused = b""


class _Decompressing(io.RawIOBase):
    """The decompressed bytes of a gzip, bzip2 or xz file (every member or stream of it, one
    after the other) or of a zip member, made as they are read. Damage never raises: the data end
    there and ``damage`` says why, at which compressed byte, after how many decompressed bytes;
    so every byte decompressed before it is kept. A decompressor raising drops the output of its
    last call: the call is replayed a byte at a time to find the byte at fault and recover that
    output (when the file can be read again: a seekable one)."""

    def __init__(self, raw: BinaryIO, origin: int | None, fmt: str, make, *, at: int = 0,
                 end: int | None = None, check: tuple[int | None, int | None] = (None, None),
                 end_is_eof: bool = False):  # fmt: skip
        self._raw = raw
        self._origin = origin  # where the file starts in ``raw``; None: not seekable
        self._fmt = fmt
        self._make = make
        self._codec = self._new_codec()
        self._stream_at = at  # compressed offset of the current stream's first byte
        self._pos = at  # compressed offset of the next byte to decompress
        self._end = end  # zip member: where its compressed data end
        self._check = check  # zip member: its CRC-32 and size, where known
        self._end_is_eof = end_is_eof  # zip member whose stream may lack an end marker
        self._crc = 0
        self._unread = b""  # bytes read from ``raw`` but not yet decompressed, from ``_pos``
        self._chunk_at = at  # the last chunk given to the decompressor, and output before it
        self._out_at_chunk = 0
        self._snapshot = None
        self._out = 0  # decompressed bytes made
        self._pending = memoryview(b"")
        self._read_error: OSError | None = None
        self._done = False
        self.damage: _Damage | None = None

    def _new_codec(self) -> _Codec:
        made = self._make()
        return made if isinstance(made, _Codec) else _Codec(made)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._pending and not self._done:
            self._step()
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _made(self, out: bytes) -> None:
        if out:
            if self._fmt.startswith("zip"):
                self._crc = zlib.crc32(out, self._crc)
            self._out += len(out)
            self._pending = memoryview(out) if not self._pending else memoryview(bytes(self._pending) + out)

    def _read(self) -> bytes:
        """The next compressed bytes, from ``_pos`` (which moves past them)."""
        if self._unread:
            data, self._unread = self._unread, b""
        else:
            n = _CHUNK if self._end is None else min(_CHUNK, self._end - self._pos)
            try:
                data = self._raw.read(n) if n > 0 else b""
            except OSError as exc:
                self._read_error, data = exc, b""
        self._pos += len(data)
        return data

    def _stop(self, reason: str, at: int) -> None:
        self.damage = _Damage(reason, at, self._out)
        self._done = True

    def _step(self) -> None:
        codec = self._codec
        try:
            if codec.eof:
                self._stream_ended()
                return
            if not codec.wants_input:
                out = codec.drain()
            else:
                data = self._read()
                if not data:
                    self._made(codec.finish())
                    self._input_ended()
                    return
                self._chunk_at, self._out_at_chunk = self._pos - len(data), self._out
                # zlib's state can be copied: the replay then needs neither a seek nor the stream again
                self._snapshot = (codec.obj.copy(), data) if codec.zlib else None
                out = codec.feed(data)
        except _DECOMPRESS_ERRORS as exc:
            self._failed(exc)
            return
        self._made(out)

    def _input_ended(self) -> None:
        if self._end_is_eof and self._pos == self._end:
            self._stream_ended()
        elif self._read_error is not None:
            self._stop(f"cannot read the file: {self._read_error.strerror or self._read_error}", self._pos)
        elif self._end is not None and self._pos == self._end:
            self._stop(f"the zip member's {self._fmt.split()[1]} data end with its compressed size, "
                       "before their stream does", self._pos)  # fmt: skip
        else:
            self._stop(f"the {self._fmt.split()[0]} file is cut short: its data end before the compressed "
                       "stream does", self._pos)  # fmt: skip

    def _stream_ended(self) -> None:
        if self._fmt.startswith("zip"):
            crc, size = self._check
            if size is not None and self._out != size:
                self._stop(f"the zip member holds {self._out} bytes, its header says {size}", self._pos)
            elif crc is not None and self._crc != crc:
                self._stop(f"the zip member's CRC-32 is {self._crc:08x}, its header says {crc:08x}: some of its "
                           "bytes are wrong", self._pos)  # fmt: skip
            self._done = True
            return
        # Another member (gzip) or stream (bzip2, xz) may follow, after zero padding. The bytes
        # held in ``data`` always end at ``_pos``.
        data = self._codec.unused
        magic = _MAGIC[self._fmt]
        while True:
            stripped = data.lstrip(b"\0")
            if len(stripped) >= len(magic):
                break
            more = self._read()
            if not more:
                break
            data = stripped + more
        at = self._pos - len(stripped)
        if not stripped:
            self._done = True
        elif not stripped.startswith(magic):
            self._stop(f"the bytes after the end of the {self._fmt} data are not {self._fmt} data (a damaged "
                       "member, or garbage)", at)  # fmt: skip
        else:
            self._codec = self._new_codec()
            self._stream_at = self._pos = at
            self._unread = stripped

    def _failed(self, exc: Exception) -> None:
        what = _decompress_error(self._fmt, exc)
        found = self._replay()
        if found is None:
            self._stop(f"{what} (in compressed bytes {self._chunk_at} to {self._pos})", self._chunk_at)
            return
        at, out = found
        self._made(out[self._out - self._out_at_chunk :])
        self._stop(what, at)

    def _replay(self) -> tuple[int, bytes] | None:
        """Decompress the stream again up to the last chunk given (zlib: from a copy of its state
        then), then that chunk a byte at a time: the byte the error is at, and the output made
        from the chunk before it."""
        if self._snapshot is not None:
            codec, chunk = _Codec(self._snapshot[0]), self._snapshot[1]
            return self._replay_chunk(codec, chunk)
        if self._origin is None:
            return None
        try:
            self._raw.seek(self._origin + self._stream_at)
            codec = self._new_codec()
            pos = self._stream_at
            while pos < self._chunk_at:
                data = self._raw.read(min(_CHUNK, self._chunk_at - pos))
                if not data:
                    return None
                pos += len(data)
                codec.feed(data)
                while not codec.wants_input and not codec.eof:
                    codec.drain()
            chunk = self._raw.read(self._pos - self._chunk_at)
        except _DECOMPRESS_ERRORS:
            return None
        return self._replay_chunk(codec, chunk)

    def _replay_chunk(self, codec: _Codec, chunk: bytes) -> tuple[int, bytes] | None:
        out = []
        for i in range(len(chunk)):
            try:
                out.append(codec.feed(chunk[i : i + 1]))
                while not codec.wants_input and not codec.eof:
                    out.append(codec.drain())
            except _DECOMPRESS_ERRORS:
                return self._chunk_at + i, b"".join(out)
            if codec.eof:
                break
        return None


def _decompress_error(fmt: str, exc: Exception) -> str:
    text = str(exc)
    if fmt == "gzip" and "incorrect data check" in text:
        return "the CRC-32 in the gzip trailer does not match the data: some bytes are wrong"
    if fmt == "gzip" and "incorrect length check" in text:
        return "the size in the gzip trailer does not match the data"
    return f"the {fmt.split()[-1]} data are corrupt ({text or type(exc).__name__})"


def _open(source: Source) -> tuple[BinaryIO, str, list, int | None]:
    """The decompressed byte stream of ``source``, its name, what to close afterwards, and its
    size when known (a plain file)."""
    name = _name_of(source)
    closers: list = []
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw: BinaryIO = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            raw = open(source, "rb", buffering=0)
        except OSError as exc:
            raise StdfError(name, 0, None, f"cannot open: {exc.strerror or exc}") from None
        closers.append(raw)
    elif hasattr(source, "read"):
        raw = source
    else:
        raise TypeError(f"cannot read STDF from {type(source).__name__}: give a path, bytes or a binary file")
    try:
        seekable = bool(getattr(raw, "seekable", lambda: False)())
        start = raw.tell() if seekable else 0
        head = raw.read(6)
    except OSError as exc:
        raise StdfError(name, 0, None, f"cannot read: {exc.strerror or exc}") from None
    if not isinstance(head, bytes):
        raise TypeError(f"{name}: file object must be opened in binary mode")
    if seekable:
        raw.seek(start)
        stream: BinaryIO = raw
    else:
        stream = io.BufferedReader(_Prepended(head, raw))
    fmt = next((f for f, magic in _MAGIC.items() if head.startswith(magic)), None)
    if fmt is not None:
        stream = _Decompressing(stream, start if seekable else None, fmt, _MAKERS[fmt])
    elif head.startswith(_ZIP_MAGIC):
        if not seekable or start:
            stream = io.BytesIO(stream.read())
        stream, name = _open_zip(stream, name)
    else:
        size = raw.seek(0, os.SEEK_END) - start if seekable else None
        if seekable:
            raw.seek(start)
        return stream, name, closers, size
    closers.insert(0, stream)
    return stream, name, closers, None


def _open_zip(archive: BinaryIO, name: str) -> tuple[_Decompressing, str]:
    """The first file of a zip archive, decompressed as it is read. Its place, method and checks
    come from the central directory; when that cannot be read (a truncated archive), from the
    local headers that open the archive, so what is there is still read."""
    try:
        members = [m for m in zipfile.ZipFile(archive).infolist() if not m.is_dir()]
        if not members:
            raise StdfError(name, 0, None, "the zip archive holds no file")
        first = members[0]
        header: int = first.header_offset
        listed = (first.flag_bits, first.compress_type, first.compress_size, first.file_size, first.CRC)
    except StdfError:
        raise
    except Exception:  # no usable central directory: probing it may fail in many ways
        header, listed = 0, None
    while True:
        fixed = b""
        if header >= 0:
            archive.seek(header)
            fixed = archive.read(30)
        if (len(fixed) < 30 or not fixed.startswith(_ZIP_MAGIC)) and listed is not None:
            header, listed = 0, None  # the directory is wrong: go by the local headers
            continue
        if len(fixed) < 30 or not fixed.startswith(_ZIP_MAGIC):
            raise StdfError(name, 0, None, f"no zip local header at compressed byte {header}: the archive "
                                           "is damaged", header)  # fmt: skip
        flags, method, crc, csize, usize, name_len, extra_len = struct.unpack_from("<2xHH4xIIIHH", fixed, 4)
        member_name = archive.read(name_len).decode("utf-8" if flags & 0x800 else "cp437", "replace")
        extra = archive.read(extra_len)
        data_at = header + 30 + name_len + extra_len
        if listed is not None or not member_name.endswith("/"):
            break
        header = data_at + csize  # a folder, when the central directory is gone: the next header
    name = f"{name}!{member_name}"
    if listed is not None:
        flags, method, csize, usize, crc = listed
    else:
        if flags & 0x08:  # sizes and CRC in a data descriptor after the data
            csize = usize = crc = None
        if 0xFFFFFFFF in (csize, usize):
            csize, usize = _zip64_sizes(extra, csize, usize)
    if flags & 0x41:
        raise StdfError(name, 0, None, "the zip member is encrypted: decrypt it first, silicio does not read "
                                       "encrypted archives", header)  # fmt: skip
    if method not in _ZIP_METHODS:
        known = _OTHER_ZIP_METHODS.get(method, "unknown")
        raise StdfError(name, 0, None, f"the zip member is compressed with method {method} ({known}): only "
                                       "stored, deflate, bzip2 and lzma members are read", header)  # fmt: skip
    end = None if csize is None else data_at + csize
    check = (crc, usize)
    kind = f"zip {_ZIP_METHODS[method]}"
    if method == 0:
        if csize is None:
            raise StdfError(name, 0, None, "the zip member is stored with its size after its data and the "
                                           "central directory is damaged: its end cannot be found", header)  # fmt: skip
        return _Decompressing(
            archive, 0, kind, lambda: _Stored(csize), at=data_at, end=end, check=check
        ), name
    if method == 8:
        make = lambda: zlib.decompressobj(-15)  # noqa: E731 - raw deflate
    elif method == 12:
        make = bz2.BZ2Decompressor
    else:  # lzma: a 4-byte header (version, properties size), the LZMA1 properties, then the stream
        archive.seek(data_at)
        head = archive.read(4)
        props = archive.read(struct.unpack_from("<H", head, 2)[0]) if len(head) == 4 else b""
        if len(props) < 5:
            raise StdfError(name, 0, None, "the zip member's lzma properties are cut short", data_at)
        lc_lp_pb, dict_size = props[0], struct.unpack_from("<I", props, 1)[0]
        lzma1 = {"id": lzma.FILTER_LZMA1, "lc": lc_lp_pb % 9, "lp": lc_lp_pb // 9 % 5, "pb": lc_lp_pb // 45,
                 "dict_size": dict_size}  # fmt: skip
        make = lambda: lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])  # noqa: E731
        data_at += 4 + len(props)
    archive.seek(data_at)
    try:
        stream = _Decompressing(archive, 0, kind, make, at=data_at, end=end, check=check,
                                end_is_eof=method == 14 and not flags & 0x02)  # fmt: skip
    except _DECOMPRESS_ERRORS as exc:
        raise StdfError(
            name, 0, None, f"the zip member's {kind} settings cannot be used: {exc}", data_at
        ) from None
    return stream, name


def _zip64_sizes(extra: bytes, csize: int, usize: int) -> tuple[int | None, int | None]:
    """Sizes of a zip64 local header from its extra field (APPNOTE 4.5.3): the original size,
    then the compressed one, each only where the header's field is 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        if tag == 1:
            values = extra[at + 4 : at + 4 + size]
            if usize == 0xFFFFFFFF:
                usize = struct.unpack_from("<Q", values, 0)[0] if len(values) >= 8 else None
                values = values[8:]
            if csize == 0xFFFFFFFF:
                csize = struct.unpack_from("<Q", values, 0)[0] if len(values) >= 8 else None
            return csize, usize
        at += 4 + size
    return (None if csize == 0xFFFFFFFF else csize), (None if usize == 0xFFFFFFFF else usize)


# --------------------------------------------------------------------------------------------
# Decoding plans: how the kernel lays out each record type's fields

_KIND = {"Cn": L.KIND_CN, "Bn": L.KIND_CN, "Sn": L.KIND_SN, "Dn": L.KIND_DN, "Vn": L.KIND_GEN_DATA}
_ARRAY_KIND = {"Cn": L.KIND_ARRAY_CN, "Sn": L.KIND_ARRAY_SN, "N1": L.KIND_NIBBLES, "Uf": L.KIND_ARRAY_SIZED,
               "Cf": L.KIND_ARRAY_SIZED}  # fmt: skip


@dataclass(frozen=True)
class _Plan:
    record: RecordType
    kinds: np.ndarray
    sizes: np.ndarray
    count_ref: np.ndarray
    size_ref: np.ndarray
    is_ref: np.ndarray
    col_off: np.ndarray
    var_slot: np.ndarray
    width: int
    n_var: int
    schema: pa.Schema
    #: Per field: its Arrow type, and its position among the byte fields (Cn, Sn, Bn, Dn) that
    #: :func:`_kernels.gather_byte_fields` gathers in one launch (-1 for other fields).
    arrow_types: tuple
    byte_field: tuple
    byte_slots: np.ndarray
    #: Per field: how :func:`_columns` builds it (one of the ``_AS_*`` codes) and, for fixed-size
    #: fields, the numpy dtype of its column.
    build: tuple
    dtypes: tuple
    #: (Arrow type, item size, first byte, fields, is C1) of each block of fixed-size fields
    #: sharing an Arrow type; the byte fields and the list fields, in field order.
    fixed_blocks: tuple
    byte_fields: tuple
    list_fields: tuple


def _make_plan(rt: RecordType) -> _Plan:
    nf = len(rt.fields)
    index = {f.name: i for i, f in enumerate(rt.fields)}
    kinds = np.zeros(nf, np.int8)
    sizes = np.zeros(nf, np.int64)
    count_ref = np.full(nf, -1, np.int64)
    size_ref = np.full(nf, -1, np.int64)
    is_ref = np.zeros(nf, np.bool_)
    col_off = np.full(nf, -1, np.int64)
    var_slot = np.full(nf, -1, np.int64)
    width = n_var = 0
    # Fixed-size fields of one Arrow type lie side by side (widest types first, so each block
    # stays aligned to its item size): one Arrow array then holds them all, each field a slice.
    fixed_fields = [i for i, f in enumerate(rt.fields) if f.type in FIXED_SIZE]
    blocks: dict[tuple, list[int]] = {}
    for i in sorted(fixed_fields, key=lambda i: -FIXED_SIZE[rt.fields[i].type]):
        f = rt.fields[i]
        blocks.setdefault((FIXED_SIZE[f.type], str(arrow_type(f)), f.type == "C1"), []).append(i)
    fixed_blocks = []
    for (itemsize, _, is_char), members in blocks.items():
        fixed_blocks.append((arrow_type(rt.fields[members[0]]), itemsize, width, tuple(members), is_char))
        for i in members:
            col_off[i] = width
            width += itemsize
    for i, f in enumerate(rt.fields):
        if f.type in FIXED_SIZE:
            kinds[i] = L.KIND_FIXED
            sizes[i] = FIXED_SIZE[f.type]
            continue
        var_slot[i] = n_var
        n_var += 1
        item = f.item_type
        if item is None:
            kinds[i] = _KIND[f.type]
            if f.type == "Vn":
                count_ref[i] = index["FLD_CNT"]
                is_ref[count_ref[i]] = True
            continue
        kinds[i] = _ARRAY_KIND.get(item, L.KIND_ARRAY)
        sizes[i] = FIXED_SIZE.get(item, 0)
        count_ref[i] = index[f.count]
        is_ref[count_ref[i]] = True
        if f.size:
            size_ref[i] = index[f.size]
            is_ref[size_ref[i]] = True
    byte_field, byte_slots = [], []
    for i, f in enumerate(rt.fields):
        if f.type in ("Cn", "Sn", "Bn", "Dn"):
            byte_field.append(len(byte_slots))
            byte_slots.append(var_slot[i])
        else:
            byte_field.append(-1)
    byte_fields = tuple(i for i, k in enumerate(byte_field) if k >= 0)
    build, dtypes = [], []
    for f in rt.fields:
        dtypes.append(np.dtype("<" + NUMPY_CODE[f.type]) if f.type in FIXED_SIZE else None)
        if f.type in FIXED_SIZE:
            build.append(_AS_TEXT_CHAR if f.type == "C1" else _AS_FIXED)
        elif f.type in ("Cn", "Sn", "Bn"):
            build.append(_AS_BYTES)
        elif f.type == "Dn":
            build.append(_AS_BITS)
        elif f.type == "Vn":
            build.append(_AS_GEN_DATA)
        elif f.item_type in NUMPY_CODE:
            build.append(_AS_ITEMS)
        elif f.item_type == "N1":
            build.append(_AS_NIBBLES)
        else:
            build.append(_AS_PYTHON)
    list_fields = tuple(
        i for i, b in enumerate(build) if b in (_AS_GEN_DATA, _AS_ITEMS, _AS_NIBBLES, _AS_PYTHON)
    )
    return _Plan(rt, kinds, sizes, count_ref, size_ref, is_ref, col_off, var_slot, width, n_var, schema(rt.name),
                 tuple(arrow_type(f) for f in rt.fields), tuple(byte_field), np.array(byte_slots, np.int64),
                 tuple(build), tuple(dtypes), tuple(fixed_blocks), byte_fields, list_fields)  # fmt: skip


# How _columns builds a field's array.
_AS_FIXED, _AS_TEXT_CHAR, _AS_BYTES, _AS_BITS, _AS_GEN_DATA, _AS_ITEMS, _AS_NIBBLES, _AS_PYTHON = range(8)


_PLANS = {name: _make_plan(rt) for name, rt in RECORDS.items()}


# --------------------------------------------------------------------------------------------
# Whole batches as Arrow IPC messages (see _kernels.batch_message)


@dataclass(frozen=True)
class _IpcPlan:
    ipc_kind: np.ndarray
    text_check: np.ndarray
    template: np.ndarray  # the encapsulated message's metadata, values to be patched
    at_length: int
    at_nodes: int
    at_buffers: int
    at_body_length: int
    #: What ``batch_message`` takes after the window's arguments, in its order (gathered once:
    #: a small file's read makes this call for every record type it holds).
    kernel_args: tuple = ()


_IPC_KIND = {_AS_FIXED: L.IPC_FIXED, _AS_TEXT_CHAR: L.IPC_CHAR, _AS_BYTES: L.IPC_BYTES, _AS_ITEMS: L.IPC_LIST,
             _AS_NIBBLES: L.IPC_LIST, _AS_BITS: L.IPC_DN}  # fmt: skip


def _flatbuffer_field(meta: bytes, table: int, index: int) -> int | None:
    """Where field ``index`` of the flatbuffer table at ``table`` is stored (None: absent)."""
    vtable = table - struct.unpack_from("<i", meta, table)[0]
    vtable_size = struct.unpack_from("<H", meta, vtable)[0]
    if 4 + 2 * index >= vtable_size:
        return None
    offset = struct.unpack_from("<H", meta, vtable + 4 + 2 * index)[0]
    return table + offset if offset else None


def _follow(meta: bytes, at: int) -> int:
    return at + struct.unpack_from("<I", meta, at)[0]


def _ipc_plan(plan: _Plan) -> _IpcPlan | None:
    """The message template of a record type, or None when a field needs the column-by-column
    path (generic data, arrays of variable-width items)."""
    if any(b not in _IPC_KIND for b in plan.build):
        return None
    ipc_kind = np.array([_IPC_KIND[b] for b in plan.build], np.int8)
    text_check = np.array([t == _STRING for t in plan.arrow_types], np.bool_)
    # One row, every field null but the positions: a template whose every value is present
    # (flatbuffers leave out fields equal to their default, such as a length of 0).
    one = _numeric(np.ones(1, np.uint64), _UINT64)
    sample = pa.RecordBatch.from_arrays(
        [one, one] + [pa.nulls(1, t) for t in plan.arrow_types], schema=plan.schema
    )
    message = sample.serialize().to_pybytes()
    if message[:4] != b"\xff\xff\xff\xff":
        return None
    meta_size = struct.unpack_from("<i", message, 4)[0]
    meta = message[8 : 8 + meta_size]
    root = _follow(meta, 0)
    header_at, body_length_at = _flatbuffer_field(meta, root, 2), _flatbuffer_field(meta, root, 3)
    if header_at is None or body_length_at is None:
        return None
    batch = _follow(meta, header_at)
    length_at, nodes_at, buffers_at = (_flatbuffer_field(meta, batch, i) for i in range(3))
    if length_at is None or nodes_at is None or buffers_at is None:
        return None
    nodes, buffers = _follow(meta, nodes_at), _follow(meta, buffers_at)
    n_nodes, n_buffers = struct.unpack_from("<I", meta, nodes)[0], struct.unpack_from("<I", meta, buffers)[0]
    if n_nodes != 2 + int(L.IPC_NODES[ipc_kind].sum()) or n_buffers != 4 + int(L.IPC_BUFFERS[ipc_kind].sum()):
        return None  # a layout this reader does not expect: build the batch column by column
    template = np.frombuffer(message[: 8 + meta_size], np.uint8).copy()
    at = (8 + length_at, 8 + nodes + 4, 8 + buffers + 4, 8 + body_length_at)
    kernel_args = (plan.kinds, plan.sizes, plan.count_ref, plan.size_ref, plan.is_ref, plan.col_off, plan.var_slot,
                   plan.width, plan.n_var, ipc_kind, text_check, template, *at)  # fmt: skip
    return _IpcPlan(ipc_kind, text_check, template, *at, kernel_args=kernel_args)


#: Message templates, made the first time a record type is read.
_IPC_PLANS: dict[str, _IpcPlan | None] = {}


def _ipc_plan_of(name: str) -> _IpcPlan | None:
    if name not in _IPC_PLANS:
        _IPC_PLANS[name] = _ipc_plan(_PLANS[name])
    return _IPC_PLANS[name]


# --------------------------------------------------------------------------------------------
# Kernel output -> Arrow


#: Stands for "every row valid" in place of a mask.
_ALL = object()


def _validity(valid) -> tuple[pa.Buffer | None, int]:
    if valid is _ALL:
        return None, 0
    nulls = int(valid.size - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def _decode_text(data) -> str:
    """UTF-8 when the bytes are valid UTF-8, else Latin-1 (every byte is then one character)."""
    data = bytes(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_STRING = pa.string()


_BINARY = pa.binary()
_UINT64 = pa.uint64()


def _string_array(offsets, data, high: bool, valid, typ=_STRING, n: int | None = None) -> pa.Array:
    bitmap, nulls = _validity(valid)
    n = offsets.size - 1 if n is None else n
    if typ == _BINARY or not high:
        return pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)], nulls)
    raw = data.tobytes()
    if valid is _ALL:
        valid = np.ones(n, np.bool_)
    values = [_decode_text(raw[offsets[i] : offsets[i + 1]]) if valid[i] else None for i in range(n)]
    return _text_array(values, typ)


# Python values into Arrow by buffers too: pa.array() of Python objects imports pandas first
# (0.8 s of CPU, in a command that takes less).


def _text_array(values: list, typ=_STRING) -> pa.Array:
    """Python strings (None: null) as an Arrow string array."""
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(values) + 1, np.int32)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
    bitmap, nulls = _validity(np.fromiter((v is not None for v in values), np.bool_, len(values)))
    data = np.frombuffer(b"".join(encoded), np.uint8)
    return pa.Array.from_buffers(typ, len(values), [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)], nulls)


def _lists_array(values: list, typ: pa.ListType) -> pa.Array:
    """Python lists (None: null) of strings or unsigned integers as an Arrow list array."""
    items = [item for value in values if value is not None for item in value]
    if typ.value_type == _STRING:
        children = _text_array(items)
    else:
        children = _numeric(np.array(items, np.uint64), typ.value_type)
    offsets = np.zeros(len(values) + 1, np.int32)
    np.cumsum(np.fromiter((len(v or ()) for v in values), np.int64, len(values)), out=offsets[1:])
    valid = np.fromiter((v is not None for v in values), np.bool_, len(values))
    return _list_array(typ.value_type, offsets, children, valid)


# From numpy arrays by their buffers: pa.array() would import pandas to check its argument.
def _numeric(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.Array.from_buffers(typ, values.size, [None, pa.py_buffer(np.ascontiguousarray(values))], 0)


def _dn_struct(bits: np.ndarray, payload: pa.Array, valid: np.ndarray) -> pa.Array:
    """Dn values: bit counts and bytes, null where not ``valid``. (From buffers: StructArray's
    ``from_arrays`` with a mask loads pyarrow.compute, a quarter second.)"""
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(
        DN_TYPE, bits.size, [bitmap], nulls, children=[_numeric(bits, pa.uint16()), payload]
    )


def _list_array(item_type, offsets, values: pa.Array, valid) -> pa.Array:
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(pa.list_(item_type), offsets.size - 1, [bitmap, pa.py_buffer(offsets)], nulls,
                                 children=[values])  # fmt: skip


#: Files of at most this many (decompressed) bytes are decoded by the Python kernels while numba's
#: are not loaded, until a process has decoded ``PYTHON_KERNELS_BUDGET_BYTES`` that way: importing
#: numba and loading its cached kernels takes 1.5-2 s of CPU, about what Python takes to decode
#: 5 MB (0.02 s for 50 kB; 0.3-0.7 s for 1-2 MB), while numba's kernels, once loaded, decode a
#: megabyte in 5-10 ms. So one small file (``silicio stdf info``) never loads numba, and a process
#: reading many (an ingest) loads it after a few.
PYTHON_KERNELS_MAX_BYTES = 2 * 1024 * 1024
PYTHON_KERNELS_BUDGET_BYTES = 4 * 1024 * 1024
_python_kernel_bytes = 0  # decoded by the Python kernels in this process


#: Environment variable choosing the compiled kernels: ``native`` (those compiled ahead of time,
#: ``_native.py``: no numba or LLVM in the process) or ``jit`` (numba's). Unset: the native ones
#: where they are built for these sources and this CPU, else numba's.
KERNELS_ENV = "SILICIO_STDF_KERNELS"
_native_found: list = []  # [the _native module or None], once looked for


def _native_kernels():
    """The kernels compiled ahead of time, or None where they are not built (or stale) or
    ``SILICIO_STDF_KERNELS=jit``."""
    setting = os.environ.get(KERNELS_ENV, "").strip().lower()
    if setting not in ("", "native", "jit"):
        raise ValueError(f"{KERNELS_ENV}={setting!r}: expected native or jit")
    if setting == "jit":
        return None
    if not _native_found:
        try:
            from . import _native
        except ImportError as exc:
            if setting == "native":
                raise ImportError(f"{KERNELS_ENV}=native: {exc}") from None
            _native = None
        _native_found.append(_native)
    if setting == "native" and _native_found[0] is None:
        raise ImportError(
            f"{KERNELS_ENV}=native: the ahead-of-time kernels are not built: python -m silicio.stdf._aot"
        )
    return _native_found[0]


def _kernels_for(size: int | None):
    """The kernels for a file of ``size`` decompressed bytes (None: more than one window): the
    ones compiled ahead of time where they are built (they load in a millisecond), else, while
    numba's are not loaded, the Python ones for a small file, else numba's."""
    global _python_kernel_bytes
    native = _native_kernels()
    if native is not None:
        return native
    if (
        size is not None
        and size <= PYTHON_KERNELS_MAX_BYTES
        and _python_kernel_bytes + size <= PYTHON_KERNELS_BUDGET_BYTES
        and "silicio.stdf._kernels" not in sys.modules
    ):
        _python_kernel_bytes += size
        return _python_kernels
    from . import _kernels

    return _kernels


class _Window:
    """One window of decompressed bytes and what the kernels made of it."""

    def __init__(self, buf: np.ndarray, big: bool, kernels):
        self.buf = buf
        self.big = big
        self.kernels = kernels
        self.threads = 1  # set by _decode_window
        self.raw = memoryview(buf)  # for struct.unpack_from in the Python paths, without a copy
        self._arena = None

    @property
    def arena(self) -> Arena:
        """Where the window's small record types write their messages (made on first use)."""
        if self._arena is None:
            self._arena = Arena()
        return self._arena


#: Environment variable capping the threads that decode a window (1: single-threaded).
THREADS_ENV = "SILICIO_STDF_THREADS"


def _thread_limit() -> int:
    """The most threads a window is decoded on: ``SILICIO_STDF_THREADS`` when set, else the
    CPUs this process may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    setting = os.environ.get(THREADS_ENV, "").strip()
    if not setting:
        return cpus
    try:
        return max(1, int(setting))
    except ValueError:
        raise ValueError(
            f"{THREADS_ENV}={setting!r}: expected a whole number of threads, 1 or more"
        ) from None


def _decode_threads() -> int:
    """Threads for the next window: one for each CPU at least half free of other work (others'
    CPU time since the previous window, :mod:`._cpus`; the 1-minute load average less this
    reader's own thread where /proc/stat is missing), at most :func:`_thread_limit`. A busy
    machine gets one thread: a second would only queue behind the other work, and wait at the
    end of each record type for the slowest range. Types of few records are decoded on one
    thread whatever this says (``_kernels.chunk_bounds``)."""
    limit = _thread_limit()
    if limit == 1:
        return 1
    others = _other_work.others()
    if others is None:
        try:
            others = max(os.getloadavg()[0] - 1.0, 0.0)
        except OSError:
            others = 0.0
    return max(1, min(limit, int(limit - others + 0.5)))


#: Others' work on the machine, read at each window (its first interval starts at import).
_other_work = OtherWork()


def _columns(plan: _Plan, win: _Window, rec_pos: np.ndarray, out) -> list[pa.Array]:
    """Arrow arrays of every field of one record type from :func:`_kernels.decode_fields`.

    These are the types and texts :func:`_ipc_batch` leaves out. Each pyarrow call costs
    microseconds: so the fixed-size fields of one Arrow type become one array and each field a
    zero-copy slice of it, and likewise all text fields of the type.
    """
    _, fixed, var_start, var_len, present, _, all_from, none_from, _ = out
    n = rec_pos.size
    buf = win.buf
    first = rec_pos + 4  # where each record's fields begin
    columns: list = [None] * len(plan.arrow_types)
    for typ, itemsize, start, fields, is_char in plan.fixed_blocks:
        if fields[0] >= none_from:
            continue
        block = fixed[n * start : n * (start + itemsize * len(fields))]
        if is_char:
            whole = None if (block >= 0x80).any() else _text_chars(block)
        else:
            whole = pa.Array.from_buffers(typ, block.size // itemsize, [None, pa.py_buffer(block)], 0)
        for j, i in enumerate(fields):
            if i >= none_from:
                break
            if i < all_from and whole is not None:
                columns[i] = whole.slice(j * n, n)
                continue
            valid = _ALL if i < all_from else present > i
            column = block[j * n * itemsize : (j + 1) * n * itemsize]
            if is_char:
                columns[i] = _string_array(np.arange(n + 1, dtype=np.int32), column, bool((column >= 0x80).any()),
                                           valid, n=n)  # fmt: skip
            else:
                bitmap, nulls = _validity(valid)
                columns[i] = pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(column)], nulls)
    if plan.byte_fields and plan.byte_fields[0] < none_from:
        offsets, data, high = win.kernels.gather_byte_fields(
            buf, rec_pos, var_start, var_len, plan.byte_slots, win.threads
        )
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        whole_of_type: dict = {}
        for i in plan.byte_fields:
            if i >= none_from:
                break
            typ, k = plan.arrow_types[i], plan.byte_field[i]
            valid = _ALL if i < all_from else present > i
            field_offsets = offsets[k * n : (k + 1) * n + 1]
            if plan.build[i] == _AS_BITS:
                slot = plan.var_slot[i]
                columns[i] = _dn_array(buf, first, var_start[slot * n :], field_offsets, data, valid, win.big)
            elif high[k] and typ == _STRING:
                columns[i] = _string_array(field_offsets, data, True, valid, typ, n=n)
            elif valid is _ALL:
                if typ not in whole_of_type:
                    whole_of_type[typ] = pa.Array.from_buffers(typ, offsets.size - 1, buffers, 0)
                columns[i] = whole_of_type[typ].slice(k * n, n)
            else:
                columns[i] = _string_array(field_offsets, data, False, valid, typ, n=n)
    for i in plan.list_fields:
        if i >= none_from:
            break
        valid = _ALL if i < all_from else present > i
        columns[i] = _list_column(plan, i, win, first, var_start, valid, fixed)
    for i in range(none_from, len(columns)):
        columns[i] = pa.nulls(n, plan.arrow_types[i])
    return columns


def _text_chars(block: np.ndarray) -> pa.Array:
    """C1 fields, one ASCII character each, as strings."""
    return pa.Array.from_buffers(_STRING, block.size, [None, pa.py_buffer(np.arange(block.size + 1, dtype=np.int32)),
                                                       pa.py_buffer(block)], 0)  # fmt: skip


def _fixed_column(plan: _Plan, fixed: np.ndarray, n: int, j: int) -> np.ndarray:
    """Field j's values, from the column-major bytes of the fixed-size fields."""
    off = n * plan.col_off[j]
    return fixed[off : off + n * plan.sizes[j]].view(plan.dtypes[j])


def _list_column(plan: _Plan, i: int, win: _Window, first, var_start, valid, fixed) -> pa.Array:
    """Arrays (KxTYPE) and generic data (GDR), whose item counts stand in other fields."""
    n = first.size

    def fixed_column(j: int) -> np.ndarray:
        return _fixed_column(plan, fixed, n, j)

    if valid is _ALL:
        valid = np.ones(n, np.bool_)
    s = plan.var_slot[i]
    rel = var_start[s * n : (s + 1) * n]
    counts = np.where(valid, fixed_column(plan.count_ref[i]), 0)
    build = plan.build[i]
    if build == _AS_GEN_DATA:
        return _gen_data_array(win, first, rel, counts, valid)
    counts = counts.astype(np.int64)
    if build == _AS_PYTHON:
        return _python_field(plan, i, win, first, rel, counts, valid, fixed_column)
    item = plan.record.fields[i].item_type
    item_type = plan.arrow_types[i].value_type
    if build == _AS_ITEMS:
        offsets, data = win.kernels.gather_items(win.buf, first, rel, counts, FIXED_SIZE[item], win.big)
    else:
        offsets, data = win.kernels.gather_nibbles(win.buf, first, rel, counts)
    values = pa.Array.from_buffers(item_type, int(offsets[-1]), [None, pa.py_buffer(data)])
    return _list_array(item_type, offsets, values, valid)


def _dn_array(buf, base, rel, offsets, data, valid, big: bool) -> pa.Array:
    """Dn fields: the bit count stands in the two bytes before the bits."""
    n = base.size
    at = base + rel[:n].astype(np.int64) - 2
    hi, lo = (buf[at], buf[at + 1]) if big else (buf[at + 1], buf[at])
    bits = (hi.astype(np.uint16) << 8) | lo
    if valid is _ALL:
        valid = np.ones(n, np.bool_)
    bits[~valid] = 0
    payload = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return _dn_struct(bits, payload, valid)


def _gen_data_array(win: _Window, base, rel, counts, valid) -> pa.Array:
    """GDR generic data as a list of structs: TYPE, then one column per data type, set only
    in the column of the item's own type."""
    buf, big, kernels = win.buf, win.big, win.kernels
    if kernels is not _python_kernels:
        offsets, codes, body, layout, high = kernels.gen_data_columns(
            buf, base, rel, counts.astype(np.int64), big
        )
        if not high:  # (Cn text that is not plain ASCII: checked item by item below)
            items = _gen_data_items(codes, pa.py_buffer(body), layout.tolist())
            return _list_array(GDR_ITEM_TYPE, offsets, items, valid)
    offsets, codes, value_pos, value_len, bits = kernels.gather_gen_data(
        buf, base, rel, counts.astype(np.int64), big
    )
    children = [_numeric(codes, pa.uint8())]
    # A column of a data type no item has is all null: made as such, not gathered (a GDR of
    # 50,000 items holds three or four of the thirteen types).
    held = np.bincount(codes, minlength=max(GDR_TYPE_CODES) + 1) > 0
    for child in list(GDR_ITEM_TYPE)[1:]:
        code = _GDR_CODE[child.name]
        if not held[code] and child.name != "Dn":
            children.append(pa.nulls(codes.size, child.type))
            continue
        mine = codes == code
        lens = np.where(mine, value_len, 0).astype(np.int32)
        if child.name in ("Cn", "Bn", "Dn"):
            zeros = np.zeros(codes.size, np.int32)
            data_offsets, data, high = kernels.gather_bytes(buf, value_pos, zeros, lens)
            typ = pa.binary() if child.name != "Cn" else pa.string()
            arr = _string_array(data_offsets, data, high, mine, typ)
            if child.name == "Dn":
                # the same buffers as binary (a cast loads pyarrow.compute)
                payload = pa.Array.from_buffers(
                    pa.binary(), len(arr), arr.buffers(), arr.null_count, arr.offset
                )
                arr = _dn_struct(bits, payload, mine)
        else:
            size = 1 if child.name == "N1" else FIXED_SIZE[child.name]
            data = kernels.gather_values(buf, value_pos, lens, size, big)
            if child.name == "N1":
                data &= 0x0F
            bitmap, nulls = _validity(mine)
            arr = pa.Array.from_buffers(child.type, codes.size, [bitmap, pa.py_buffer(data)], nulls)
        children.append(arr)
    items = pa.StructArray.from_arrays(children, fields=list(GDR_ITEM_TYPE))
    return _list_array(GDR_ITEM_TYPE, offsets, items, valid)


_GDR_CODE = {name: code for code, name in GDR_TYPE_CODES.items()}
#: Where gen_data_columns's layout says a code's parts start (_kernels.GDR_AT_*), and how many items hold it.
_AT_BITMAP, _AT_VALUES, _AT_OFFSETS, _AT_DATA, _HELD = range(5)


def _gen_data_items(codes: np.ndarray, body: pa.Buffer, layout: list) -> pa.Array:
    """The items of GDR generic data from :func:`_kernels.gen_data_columns`'s columns: each a
    slice of its body (see there), all null where no item holds its type."""
    n = codes.size
    bitmap_len, offsets_len = (n + 7) // 8, 4 * (n + 1)
    children = [_numeric(codes, pa.uint8())]
    for child in list(GDR_ITEM_TYPE)[1:]:
        at = layout[_GDR_CODE[child.name]]
        held = at[_HELD]
        if held <= 0 and child.name != "Dn":
            children.append(pa.nulls(n, child.type))
            continue
        bitmap, nulls = body.slice(at[_AT_BITMAP], bitmap_len), n - held
        if child.name in ("Cn", "Bn", "Dn"):
            offsets = body.slice(at[_AT_OFFSETS], offsets_len)
            data_len = int(np.frombuffer(offsets, np.int32)[-1])
            typ = _STRING if child.name == "Cn" else _BINARY
            arr = pa.Array.from_buffers(typ, n, [bitmap, offsets, body.slice(at[_AT_DATA], data_len)], nulls)
            if child.name == "Dn":
                bits = pa.Array.from_buffers(pa.uint16(), n, [None, body.slice(at[_AT_VALUES], 2 * n)], 0)
                arr = pa.Array.from_buffers(DN_TYPE, n, [bitmap], nulls, children=[bits, arr])
        else:
            size = 1 if child.name == "N1" else FIXED_SIZE[child.name]
            arr = pa.Array.from_buffers(child.type, n, [bitmap, body.slice(at[_AT_VALUES], size * n)], nulls)
        children.append(arr)
    return pa.StructArray.from_arrays(children, fields=list(GDR_ITEM_TYPE))


def _python_field(plan: _Plan, i: int, win: _Window, base, rel, counts, valid, fixed_column) -> pa.Array:
    """Arrays of variable-width items, in rare record types, walked in Python: KxCn, KxSn,
    KxUf, KxCf."""
    f = plan.record.fields[i]
    raw = win.raw
    endian = ">" if win.big else "<"
    width = fixed_column(plan.size_ref[i]) if f.size else None
    values = []
    for r in range(base.size):
        if not valid[r]:
            values.append(None)
            continue
        if f.item_type == "Uf" and counts[r] and int(width[r]) > 8:
            values.append(None)  # reported by _report_bad_widths
            continue
        p, items = int(base[r] + rel[r]), []
        for _ in range(int(counts[r])):
            if f.item_type == "Cn":
                size = raw[p]
                items.append(_decode_text(raw[p + 1 : p + 1 + size]))
                p += 1 + size
            elif f.item_type == "Sn":
                (size,) = struct.unpack_from(endian + "H", raw, p)
                items.append(_decode_text(raw[p + 2 : p + 2 + size]))
                p += 2 + size
            elif f.item_type == "Cf":
                size = int(width[r])
                items.append(_decode_text(raw[p : p + size]))
                p += size
            else:  # Uf
                size = int(width[r])
                items.append(int.from_bytes(bytes(raw[p : p + size]), "big" if win.big else "little"))
                p += size
        values.append(items)
    return _lists_array(values, arrow_type(f))


def _small_counts(counts: list) -> pa.Array:
    """U1 counts (None: null) as a uint8 array."""
    bitmap, nulls = _validity(np.fromiter((c is not None for c in counts), np.bool_, len(counts)))
    values = np.fromiter((c or 0 for c in counts), np.uint8, len(counts))
    return pa.Array.from_buffers(pa.uint8(), len(counts), [bitmap, pa.py_buffer(values)], nulls)


def _vur_batch(
    state: _FileState, win: _Window, rec_pos: np.ndarray, seq: np.ndarray, base: int
) -> pa.RecordBatch:
    """VUR is written in two layouts: the V4-2007 spec's single Cn UPD_NAM, and the later
    UPD_CNT + KxCn UPD_NAM. A payload that is exactly one Cn is the first. Names running past
    the record's end are damage, like any field overrunning its record: UPD_NAM is then null."""
    raw = win.raw
    endian = ">" if win.big else "<"
    counts, names = [], []
    for pos in rec_pos:
        (rec_len,) = struct.unpack_from(endian + "H", raw, pos)
        payload = bytes(raw[pos + 4 : pos + 4 + rec_len])
        if not payload:
            counts.append(None)
            names.append(None)
        elif len(payload) == 1 + payload[0]:
            counts.append(None)
            names.append([_decode_text(payload[1:])])
        else:
            counts.append(payload[0])
            items, p = [], 1
            for _ in range(payload[0]):
                if p >= len(payload) or p + 1 + payload[p] > len(payload):
                    state.problem(base + int(pos), "VUR",
                                  f"UPD_NAM runs past the end of the record (REC_LEN={rec_len}): UPD_CNT says "
                                  f"{payload[0]} names, {len(items)} fit; UPD_NAM read as missing")  # fmt: skip
                    items = None
                    break
                items.append(_decode_text(payload[p + 1 : p + 1 + payload[p]]))
                p += 1 + payload[p]
            names.append(items)
    columns = [_numeric(seq, _UINT64), _numeric((rec_pos + base).view(np.uint64), _UINT64),
               _small_counts(counts), _lists_array(names, pa.list_(pa.string()))]  # fmt: skip
    return pa.RecordBatch.from_arrays(columns, schema=schema("VUR"))


# --------------------------------------------------------------------------------------------
# Streaming


@dataclass
class _FileState:
    path: str
    strict: bool
    big: bool
    wanted: frozenset[str] | None
    issues: list[StdfIssue]
    warnings: list[StdfIssue]
    seq: int = 0
    stopped: bool = False
    #: Why the data end early (a decompression error, a read error), once it is known; reported
    #: where the records stop, then ``cut_reported``.
    cut: _Damage | None = None
    cut_reported: bool = False
    #: Damage whose next record boundary is still being looked for (in the next window).
    searching: StdfIssue | None = None
    searching_from: int = 0
    #: Type index of the last record read (-1: none yet), to tell padding after the MRR.
    last_type: int = -1
    #: Records of undefined types: (REC_TYP, REC_SUB) -> [count, first offset].
    raw_kinds: dict = field(default_factory=dict)
    #: KxUf widths outside the specification read as given: (record, width field, array field,
    #: width) -> [count, first offset].
    odd_widths: dict = field(default_factory=dict)
    #: The kernels that decode this file (:func:`_kernels_for`), chosen with its first window.
    kernels: object = None

    def problem(
        self, offset: int, record: str | None, reason: str, compressed_offset: int | None = None
    ) -> None:
        if self.strict:
            raise StdfError(self.path, offset, record, reason, compressed_offset)
        self.issues.append(StdfIssue(self.path, offset, record, reason, compressed_offset))

    def end_warnings(self) -> list[StdfIssue]:
        """Warnings gathered over the whole file, one per kind."""
        out = []
        for (typ, sub), (count, first) in sorted(self.raw_kinds.items(), key=lambda item: item[1][1]):
            what = RESERVED_REC_TYP.get(typ, "not defined by STDF V4")
            records = "a record" if count == 1 else f"{count} records"
            out.append(StdfIssue(self.path, first, None, f"{records} of type REC_TYP={typ} REC_SUB={sub} "
                                                         f"({what}): kept as raw bytes in table {UNKNOWN}"))  # fmt: skip
        for (record, size, name, width), (count, first) in self.odd_widths.items():
            records = "a record" if count == 1 else f"{count} records"
            out.append(StdfIssue(self.path, first, record, f"{size} is {width} in {records}: the specification "
                                                           f"gives 1, 2, 4 or 8 bytes; {name} read as {width}-byte "
                                                           "integers"))  # fmt: skip
        return out


def _header_at(buf: np.ndarray, pos: int, big: bool) -> tuple[int, int, int]:
    b = buf[pos : pos + 4].tobytes()
    rec_len = struct.unpack(">H" if big else "<H", b[:2])[0]
    return rec_len, b[2], b[3]


#: Consecutive well-formed record headers that mark a record boundary after damage.
RESYNC_CHAIN = 8
#: Bytes wanted in hand beyond a place before taking it for that boundary: a chain of the longest
#: records (beyond it, records are in a later window).
RESYNC_LOOKAHEAD = RESYNC_CHAIN * (65535 + 4)


def _resync(state: _FileState, buf: np.ndarray, pos: int, end: int, base: int, final: bool) -> int:
    """Damage (the last issue, or the one being looked past) ends somewhere after ``pos``: find
    the next record boundary and say what was skipped. Returns where to go on: the boundary, the
    end of the window when none is left to read, or, when the window is not the last, the first
    place that needs more data to be judged (the search goes on in the next window). Each byte
    is judged once, so salvage stays linear in the file's size."""
    issue = state.searching or state.issues[-1]
    damaged_at = state.searching_from if state.searching else base + pos - 1
    scan_end = end if final else end - RESYNC_LOOKAHEAD
    resume = (
        state.kernels.find_resync(buf, pos, scan_end, end, state.big, _TYPE_LUT, RESYNC_CHAIN)
        if scan_end > pos
        else -1
    )
    at = state.issues.index(issue)
    if resume < 0 and not final:
        state.searching, state.searching_from = issue, damaged_at
        return max(pos, scan_end)
    state.searching = None
    if resume < 0:
        state.issues[at] = replace(issue, reason=f"{issue.reason}: the {base + end - damaged_at} bytes from here "
                                                 "to the end are not read")  # fmt: skip
        state.stopped = True
        return end
    state.issues[at] = replace(issue, reason=f"{issue.reason}: {base + resume - damaged_at} bytes skipped, reading "
                                             f"resumed at byte {base + resume} where well-formed records start again")  # fmt: skip
    return resume


def _index_window(state: _FileState, buf: np.ndarray, base: int, final: bool):
    """Group the complete records of ``buf`` by type. Returns the per-type (header position,
    seq) arrays (records of undefined types under ``len(_TYPE_NAMES)``) and how many bytes were
    consumed."""
    end = buf.size
    pos = 0
    groups: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    if state.searching is not None:
        pos = _resync(state, buf, 0, end, base, final)
    while pos < end and not state.stopped and state.searching is None:
        n, stop, status, counts, starts, rec_pos, rec_seq, last = state.kernels.index_records(
            buf, pos, end, state.big, _TYPE_LUT, len(_TYPE_NAMES), np.uint64(state.seq), RESYNC_CHAIN
        )
        if n:
            for t, (start, count) in enumerate(zip(starts.tolist(), counts.tolist(), strict=True)):
                if count:
                    groups.setdefault(t, []).append(
                        (rec_pos[start : start + count], rec_seq[start : start + count])
                    )
            state.seq += n
            state.last_type = last
        pos = stop
        if status == L.INDEX_OK:
            break
        if _zeros_to_end(buf, pos, end):
            if not final and end - pos < RESYNC_LOOKAHEAD:
                break  # where they end is in the next window
            if final:
                _zeros_at_end(state, base + pos, end - pos)
                pos = end
                break
        # records of undefined type running on past the window for this long: garbage, most likely
        # (carrying them on would hold ever more bytes)
        long_run = status == L.INDEX_UNKNOWN_CUT and not final and end - pos >= RESYNC_LOOKAHEAD
        if status == L.INDEX_UNKNOWN_TYPE and not final and end - pos < RESYNC_LOOKAHEAD:
            break  # look for the next record boundary with more data in hand
        if status != L.INDEX_UNKNOWN_TYPE and not long_run and not final:
            break  # the rest of the record comes with the next window
        rec_len, typ, sub = _header_at(buf, pos, state.big) if end - pos >= 4 else (0, 0, 0)
        known = BY_CODE.get((typ, sub))
        record = known.name if known is not None and status == L.INDEX_PARTIAL_RECORD else None
        if status == L.INDEX_PARTIAL_HEADER:
            reason = f"file ends inside a record header ({end - pos} of 4 bytes)"
        elif status == L.INDEX_PARTIAL_RECORD:
            reason = (
                f"file is truncated: REC_LEN is {rec_len} but only {end - pos - 4} bytes follow the header"
            )
        elif long_run:
            reason = (f"record of undefined type REC_TYP={typ} REC_SUB={sub} (REC_LEN={rec_len}), and those after "
                      f"it, run on for over {end - pos} bytes without leading to a record of a defined type: "
                      "damage")  # fmt: skip
        elif status == L.INDEX_UNKNOWN_CUT:
            reason = (f"file is truncated inside records of undefined type: REC_TYP={typ} REC_SUB={sub} "
                      f"(REC_LEN={rec_len}) and those after it run past the end")  # fmt: skip
        else:
            reason = (f"record of undefined type REC_TYP={typ} REC_SUB={sub} (REC_LEN={rec_len}) that does not lead "
                      "to well-formed records of defined types: damage")  # fmt: skip
        compressed = None
        if state.cut is not None and status != L.INDEX_UNKNOWN_TYPE and not long_run:
            came = {L.INDEX_PARTIAL_RECORD: f"{end - pos} of its {4 + rec_len} bytes came out",
                    L.INDEX_PARTIAL_HEADER: f"{end - pos} of its 4 header bytes came out"}.get(status, reason)  # fmt: skip
            reason = f"{state.cut}; the record at byte {base + pos} is cut short ({came})"
            compressed, state.cut_reported = state.cut.compressed_offset, True
        state.problem(base + pos, record, reason, compressed)
        pos = _resync(state, buf, pos + 1, end, base, final)
    merged = {
        t: parts[0] if len(parts) == 1 else (np.concatenate([g[0] for g in parts]), np.concatenate([g[1] for g in parts]))
        for t, parts in groups.items()
    }  # fmt: skip
    return merged, pos


def _zeros_to_end(buf: np.ndarray, pos: int, end: int) -> bool:
    """Are the bytes from ``pos`` to the end all zero? Looked at in growing steps, so that a
    check costs what the zeros it finds do, not the rest of the window."""
    step = 4
    while pos < end:
        if buf[pos : pos + step].any():
            return False
        pos += step
        step *= 4
    return True


def _zeros_at_end(state: _FileState, offset: int, count: int) -> None:
    """Zero bytes that end the data: padding some testers write after the MRR (a warning), else
    records lost (damage)."""
    if state.last_type == _MRR:
        state.warnings.append(StdfIssue(state.path, offset, None,
                                        f"{count} bytes of zero padding after the MRR: ignored"))  # fmt: skip
        return
    after = (
        f"after the last {_TYPE_NAMES[state.last_type]}" if 0 <= state.last_type < len(_TYPE_NAMES) else ""
    )
    state.problem(offset, None, f"the data end with {count} zero bytes {after} where records were expected "
                                "(padding comes after an MRR): records lost?")  # fmt: skip
    state.stopped = True


_MRR = _TYPE_NAMES.index("MRR")


def _note_raw(state: _FileState, buf: np.ndarray, rec_pos: np.ndarray, base: int) -> None:
    """Count the records of undefined types by (REC_TYP, REC_SUB), for one warning each."""
    codes = buf[rec_pos + 2].astype(np.int32) * 256 + buf[rec_pos + 3]
    kinds, first, count = np.unique(codes, return_index=True, return_counts=True)
    for code, i, k in zip(kinds.tolist(), first.tolist(), count.tolist(), strict=True):
        seen = state.raw_kinds.setdefault((code >> 8, code & 0xFF), [0, base + int(rec_pos[i])])
        seen[0] += k


def _raw_batch(
    state: _FileState, buf: np.ndarray, rec_pos: np.ndarray, seq: np.ndarray, base: int
) -> pa.RecordBatch:
    """Records of undefined types as they are: REC_TYP, REC_SUB and their bytes after the header."""
    hi, lo = (buf[rec_pos], buf[rec_pos + 1]) if state.big else (buf[rec_pos + 1], buf[rec_pos])
    lengths = (hi.astype(np.int32) << 8) | lo
    typ, sub = buf[rec_pos + 2], buf[rec_pos + 3]
    offsets = np.zeros(rec_pos.size + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    # each byte of the payloads: its record's first payload byte, plus its place in the payload
    data = buf[np.repeat(rec_pos + 4 - offsets[:-1], lengths) + np.arange(offsets[-1])]
    payloads = pa.Array.from_buffers(
        pa.binary(), rec_pos.size, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    columns = [_numeric(seq, _UINT64), _numeric((rec_pos + base).view(np.uint64), _UINT64),
               _numeric(typ, pa.uint8()), _numeric(sub, pa.uint8()), payloads]  # fmt: skip
    return pa.RecordBatch.from_arrays(columns, schema=UNKNOWN_SCHEMA)


#: Per record type, its KxUf fields: (field, its count field, its width field).
_UF_FIELDS = {
    name: [(i, rt.fields.index(rt.field(f.count)), rt.fields.index(rt.field(f.size)))
           for i, f in enumerate(rt.fields) if f.item_type == "Uf"]
    for name, rt in RECORDS.items()
}  # fmt: skip


def _report_bad_widths(state: _FileState, plan: _Plan, rec_pos: np.ndarray, out, base: int) -> None:
    """KxUf items of a width the specification does not give (1, 2, 4 or 8 bytes): wider than 8,
    no 64-bit column holds them, which is damage (the array read as missing); narrower, they
    are read as they are, with a warning."""
    fixed, present = out[1], out[4]
    n = rec_pos.size
    for i, count_at, size_at in _UF_FIELDS[plan.record.name]:
        widths = _fixed_column(plan, fixed, n, size_at)
        odd = (present > i) & (_fixed_column(plan, fixed, n, count_at) > 0) & ~np.isin(widths, UF_WIDTHS)
        if not odd.any():
            continue
        f = plan.record.fields[i]
        for r in np.nonzero(odd)[0].tolist():
            width = int(widths[r])
            if width > 8:
                state.problem(base + int(rec_pos[r]), plan.record.name,
                              f"{f.size} is {width}, but a KxUf item is 1, 2, 4 or 8 bytes wide: {f.name} read as "
                              "missing")  # fmt: skip
            else:
                seen = state.odd_widths.setdefault((plan.record.name, f.size, f.name, width),
                                                   [0, base + int(rec_pos[r])])  # fmt: skip
                seen[0] += 1


def _report_bad_fields(
    state: _FileState, plan: _Plan, win: _Window, rec_pos: np.ndarray, bad: np.ndarray, base: int
) -> None:
    for r in np.nonzero(bad >= 0)[0]:
        f = plan.record.fields[bad[r]]
        rec_len, _, _ = _header_at(win.buf, int(rec_pos[r]), win.big)
        state.problem(base + int(rec_pos[r]), plan.record.name,
                      f"field {f.name} ({f.type}) runs past the end of the record (REC_LEN={rec_len}); "
                      f"fields from {f.name} on are left empty")  # fmt: skip


def _ipc_batch(
    state: _FileState,
    plan: _Plan,
    ipc: _IpcPlan | None,
    win: _Window,
    rec_pos: np.ndarray,
    seq: np.ndarray,
    base: int,
) -> pa.RecordBatch | None:
    """The record type's batch from one IPC message; None when it must be built column by
    column (a field the message does not cover, or text that is not plain ASCII)."""
    if ipc is None or state.kernels is _python_kernels:
        return None  # (the Python kernels write no messages)
    message, bad, n_bad, high = state.kernels.batch_message(
        win.buf, rec_pos, seq, base, win.big, *ipc.kernel_args, win.threads, win.arena
    )
    if high:
        return None  # the column path decodes (and reports) this type again
    if n_bad:
        _report_bad_fields(state, plan, win, rec_pos, bad, base)
    return pa.ipc.read_record_batch(pa.py_buffer(message), plan.schema)


def _decode_window(
    state: _FileState, win: _Window, base: int, final: bool
) -> tuple[dict[str, pa.RecordBatch], int]:
    groups, consumed = _index_window(state, win.buf, base, final)
    raw = groups.pop(len(_TYPE_NAMES), None)
    # Threads only ever split a type of many records: a window without one does not ask the machine.
    many = any(rec_pos.shape[0] >= PARALLEL_MIN_ITEMS for rec_pos, _ in groups.values())
    win.threads = _decode_threads() if many else 1
    batches: dict[str, pa.RecordBatch] = {}
    for t in sorted(groups):
        name = _TYPE_NAMES[t]
        if state.wanted is not None and name not in state.wanted:
            continue
        rec_pos, seq = groups[t]
        if name == "VUR":
            batches[name] = _vur_batch(state, win, rec_pos, seq, base)
            continue
        plan = _PLANS[name]
        batch = _ipc_batch(state, plan, _ipc_plan_of(name), win, rec_pos, seq, base)
        if batch is not None:
            batches[name] = batch
            continue
        out = state.kernels.decode_fields(win.buf, rec_pos, seq, base, win.big, plan.kinds, plan.sizes, plan.count_ref,
                              plan.size_ref, plan.is_ref, plan.col_off, plan.var_slot, plan.width, plan.n_var,
                              win.threads)  # fmt: skip
        positions, bad, n_bad = out[0], out[5], out[8]
        if n_bad:
            _report_bad_fields(state, plan, win, rec_pos, bad, base)
        if _UF_FIELDS[name]:
            _report_bad_widths(state, plan, rec_pos, out, base)
        n = rec_pos.size
        position_columns = _numeric(positions, _UINT64)
        columns = [
            position_columns.slice(0, n),
            position_columns.slice(n, n),
            *_columns(plan, win, rec_pos, out),
        ]
        batches[name] = pa.RecordBatch.from_arrays(columns, schema=plan.schema)
    if raw is not None:
        _note_raw(state, win.buf, raw[0], base)
        if state.wanted is None or UNKNOWN in state.wanted:
            batches[UNKNOWN] = _raw_batch(state, win.buf, *raw, base)
    return batches, consumed


def _check_far(path: str, head: bytes) -> bool:
    """Validate the File Attributes Record that must open every STDF file; return big-endian?"""
    if len(head) < 6:
        raise StdfError(path, 0, None, f"not an STDF file: {len(head)} bytes, a FAR alone takes 6")
    if (head[2], head[3]) != (0, 10):
        raise StdfError(path, 0, None, f"not an STDF file: first record is REC_TYP={head[2]} REC_SUB={head[3]}, "
                                       "expected a FAR (0, 10)")  # fmt: skip
    cpu, ver = head[4], head[5]
    if cpu not in (1, 2):
        kind = (
            "DEC VAX (PDP-11) byte order is not supported"
            if cpu == 0
            else "expected 1 (big-endian) or 2 (little-endian)"
        )
        raise StdfError(path, 4, "FAR", f"bad CPU_TYPE {cpu}: {kind}")
    big = cpu == 1
    rec_len = struct.unpack(">H" if big else "<H", head[:2])[0]
    if rec_len != 2:
        raise StdfError(path, 0, "FAR", f"impossible record length: FAR REC_LEN is {rec_len}, expected 2 "
                                        f"(CPU_TYPE {cpu} says {'big' if big else 'little'}-endian)")  # fmt: skip
    if ver != 4:
        raise StdfError(path, 5, "FAR", f"STDF_VER is {ver}: only STDF V4 (and V4-2007) is read")
    return big


class StdfStream:
    """Record batches of an STDF file, a window of decompressed bytes at a time, so memory stays
    bounded whatever the file's size. Iterate to get ``(record type, pyarrow.RecordBatch)`` pairs
    in file order of the windows; ``seq`` orders records across types. After iteration,
    ``issues`` lists what was wrong with the file (strict=False), ``warnings`` what is unusual
    but read in full (records of undefined types kept in table ``UNKNOWN``, zero padding after
    the MRR; in both modes) and ``records`` how many records were read.

    Damage anywhere, in the records or in the compressed data of a gzip, bzip2, xz or zip file,
    ends in :class:`StdfError` (strict) or in an issue (strict=False) with every record before it
    kept; no other exception comes out of a bad file.
    """

    def __init__(self, source: Source, *, record_types: Iterable[str] | None = None, strict: bool = True,
                 window_bytes: int = DEFAULT_WINDOW_BYTES):  # fmt: skip
        self.source = source
        self.path = _name_of(source)
        self.strict = strict
        self.window_bytes = min(max(int(window_bytes), 1 << 16), MAX_WINDOW_BYTES)
        self.issues: list[StdfIssue] = []
        self.warnings: list[StdfIssue] = []
        self.records = 0
        self.byteorder: str | None = None
        wanted = None
        if record_types is not None:
            wanted = frozenset(t.upper() for t in record_types)
            unknown = wanted - set(RECORDS) - {UNKNOWN}
            if unknown:
                raise ValueError(f"unknown record types {sorted(unknown)}; known: {', '.join(RECORDS)}")
        self.wanted = wanted

    def __iter__(self) -> Iterator[tuple[str, pa.RecordBatch]]:
        stream, name, closers, size = _open(self.source)
        self.path = name
        try:
            yield from self._batches(stream, size)
        finally:
            for c in closers:
                try:
                    c.close()
                except Exception:  # closing a half-read archive must not hide the real error
                    pass

    def _fill(self, stream: BinaryIO, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``stream``; fewer bytes only where the data end, early or not (then
        ``_damage`` says why)."""
        got = 0
        try:
            while got < len(view):
                n = stream.readinto(view[got:])
                if not n:
                    break
                got += n
        except OSError as exc:  # a plain file; compressed ones report damage instead of raising
            self._damage = _Damage(f"cannot read the file: {exc.strerror or exc}", None, offset + got)
        if got < len(view) and self._damage is None:
            self._damage = getattr(stream, "damage", None)
        return got

    def _batches(self, stream: BinaryIO, size: int | None) -> Iterator[tuple[str, pa.RecordBatch]]:
        # A plain file that fits one window is read in one go into a buffer of its exact size.
        window = self.window_bytes if size is None else max(min(self.window_bytes, size), 6)
        state: _FileState | None = None
        base = 0  # offset in the decompressed stream of the window's first byte
        carry = np.empty(0, np.uint8)  # bytes of a record cut by the end of the last window
        self._damage = None
        try:
            while True:
                buf = np.empty(carry.size + window, np.uint8)
                buf[: carry.size] = carry
                got = self._fill(stream, memoryview(buf)[carry.size :], base + carry.size)
                buf = buf[: carry.size + got]
                damage = self._damage
                if state is None:
                    if damage is not None and buf.size < 6:  # not even a FAR came out
                        raise StdfError(self.path, damage.decompressed_offset, None, str(damage),
                                        damage.compressed_offset)  # fmt: skip
                    try:
                        big = _check_far(self.path, buf[:6].tobytes())
                    except StdfError as exc:
                        if damage is None:
                            raise
                        # a damaged compressed block may come out as garbage before its check fails
                        raise StdfError(self.path, damage.decompressed_offset, None,
                                        f"{damage}; the {buf.size} bytes that came out before are not STDF either "
                                        f"({exc.reason})", damage.compressed_offset) from None  # fmt: skip
                    self.byteorder = ">" if big else "<"
                    state = _FileState(self.path, self.strict, big, self.wanted, self.issues, self.warnings)
                final = got < window or (size is not None and base + buf.size >= size) or damage is not None
                if state.kernels is None:
                    state.kernels = _kernels_for(buf.size if final else None)
                state.cut = damage
                if buf.size == 0:
                    break
                known = len(self.issues)
                try:
                    batches, consumed = _decode_window(
                        state, _Window(buf, state.big, state.kernels), base, final
                    )
                finally:
                    self.records = state.seq
                    # A window's problems are found record type by type: list them in file order, so
                    # that the window size never changes what ``issues`` says.
                    self.issues[known:] = sorted(self.issues[known:], key=lambda issue: issue.offset)
                yield from batches.items()
                carry = buf[consumed:].copy()
                base += consumed
                if final or state.stopped:
                    if carry.size and not state.stopped:
                        state.problem(base, None, f"{carry.size} bytes at the end could not be read")
                    break
            if damage is not None and not state.cut_reported:
                state.problem(damage.decompressed_offset, None, str(damage), damage.compressed_offset)
        finally:
            if state is not None:
                self.warnings[:] = sorted([*self.warnings, *state.end_warnings()], key=lambda w: w.offset)


class StdfTables(dict):
    """``read``'s result: a dict of record type -> pyarrow.Table, with what was found wrong."""

    path: str
    issues: list[StdfIssue]
    warnings: list[StdfIssue]
    byteorder: str | None
    records: int

    @property
    def partial(self) -> bool:
        """True when the file was damaged and only what could be salvaged is here."""
        return bool(self.issues)


def stream(source: Source, *, record_types: Iterable[str] | None = None, strict: bool = True,
           window_bytes: int = DEFAULT_WINDOW_BYTES) -> StdfStream:  # fmt: skip
    """Stream an STDF file as ``(record type, pyarrow.RecordBatch)`` pairs; see :class:`StdfStream`."""
    return StdfStream(source, record_types=record_types, strict=strict, window_bytes=window_bytes)


#: Tables in the order of the specification's record types, then UNKNOWN.
_TABLE_ORDER = {name: i for i, name in enumerate([*RECORDS, UNKNOWN])}


def read(source: Source, *, record_types: Iterable[str] | None = None, strict: bool = True,
         window_bytes: int = DEFAULT_WINDOW_BYTES) -> StdfTables:  # fmt: skip
    """Read an STDF V4 / V4-2007 file into one ``pyarrow.Table`` per record type present.

    Parameters
    ----------
    source : path, bytes or binary file object
        Plain, gzip, bzip2, xz or zip (first member) data; compression is recognised by content.
    record_types : names such as ``["PIR", "PTR", "PRR"]``; only these tables are built.
    strict : when True (default) any damage raises :class:`StdfError` naming the file, the byte
        offset and the record. When False, everything that can be salvaged is kept and each
        problem is listed in the result's ``issues``. Either way, records of undefined types
        (vendor records, reserved types) are kept in table ``UNKNOWN`` and listed, with zero
        padding after the MRR, in ``warnings``.

    Returns
    -------
    StdfTables
        ``{"FAR": Table, "MIR": Table, "PTR": Table, ...}``: columns ``seq`` (record order),
        ``offset`` (byte offset of the record header), then every field as the specification
        names it. Omitted trailing fields are null.
    """
    s = stream(source, record_types=record_types, strict=strict, window_bytes=window_bytes)
    parts: dict[str, list[pa.RecordBatch]] = {}
    for name, batch in s:
        if name in parts:
            parts[name].append(batch)
        else:
            parts[name] = [batch]
    out = StdfTables()
    for name in sorted(parts, key=_TABLE_ORDER.__getitem__):
        out[name] = pa.Table.from_batches(parts[name])
    out.path = s.path
    out.issues = s.issues
    out.warnings = s.warnings
    out.byteorder = s.byteorder
    out.records = s.records
    return out
