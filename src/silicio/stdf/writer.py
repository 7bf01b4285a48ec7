"""STDF V4 writer: records from Python values, and whole files from the tables ``read`` returns.

Record layouts come from :mod:`silicio.stdf.spec`. A record holds its fields in spec order; a
tester may leave trailing fields out, and :meth:`StdfWriter.record` does the same with the
fields it is not given. ``write(read(f))`` gives back the bytes of ``f`` whenever ``f`` holds
nothing beyond its fields, so the tables ``read`` returns are a faithful image of the file.

References
----------
Teradyne, *Standard Test Data Format (STDF) Specification Version 4* (1997), and the
*STDF V4-2007* addendum.
"""

from __future__ import annotations

import io
import itertools
import numbers
import operator
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

from .spec import FIXED_SIZE, GDR_TYPE_CODES, NUMPY_CODE, RECORDS, UNKNOWN, Field, RecordType

BYTEORDER_OF_CPU_TYPE = {1: ">", 2: "<"}
CPU_TYPE_OF_BYTEORDER = {">": 1, "<": 2}

MAX_RECORD_BYTES = 0xFFFF

_STRUCT_CODE = {
    "U1": "B", "U2": "H", "U4": "I", "U8": "Q",
    "I1": "b", "I2": "h", "I4": "i", "I8": "q",
    "R4": "f", "R8": "d", "B1": "B", "C1": "c",
}  # fmt: skip
_UNSIGNED_CODE_OF_WIDTH = {1: "B", 2: "H", 4: "I", 8: "Q"}
_GDR_CODE_OF_NAME = {name: code for code, name in GDR_TYPE_CODES.items()}
_LENGTH_BYTE = [bytes((n,)) for n in range(256)]
_BYTES_LIKE = (bytes, bytearray, memoryview)


class _FieldError(ValueError):
    """A value that cannot be written into its field; the record and field are added above."""


def _encode_text(value: Any) -> bytes:
    if value.__class__ is str:
        if value.isascii():
            return value.encode("ascii")
        # The reader decodes bytes as UTF-8 when they are valid UTF-8, else as latin-1. So
        # latin-1 first: a string read from single-byte text gets its very bytes back. UTF-8
        # when latin-1 cannot hold the text, or when its latin-1 bytes would read as UTF-8.
        try:
            data = value.encode("latin-1")
            data.decode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8")
        except UnicodeDecodeError:
            return data
        return value.encode("utf-8")
    if isinstance(value, str):
        return _encode_text(str(value))
    if isinstance(value, _BYTES_LIKE):
        return bytes(value)
    raise _FieldError(f"expected a string, got {type(value).__name__} {value!r:.60}")


def _encode_cn(value: Any) -> bytes:
    # ASCII inline: most strings of a test program are, and a Cn is written per PTR several times.
    data = value.encode("ascii") if value.__class__ is str and value.isascii() else _encode_text(value)
    if len(data) > 255:
        raise _FieldError(f"string of {len(data)} bytes is over the 255 bytes a Cn holds")
    return _LENGTH_BYTE[len(data)] + data


def _encode_bn(value: Any) -> bytes:
    if not isinstance(value, _BYTES_LIKE):
        raise _FieldError(f"expected bytes, got {type(value).__name__} {value!r:.60}")
    if len(value) > 255:
        raise _FieldError(f"{len(value)} bytes are over the 255 a Bn holds")
    return _LENGTH_BYTE[len(value)] + bytes(value)


def _encode_c1(value: Any) -> bytes:
    data = _encode_text(value)
    if len(data) != 1:
        raise _FieldError(f"expected one single-byte character, got {value!r:.60}")
    return data


def _encode_nibbles(values: Sequence[Any]) -> bytes:
    """N1 array: two items per byte, the first in the low four bits (spec, data type N1)."""
    nibbles = [_nibble(v) for v in values]
    if len(nibbles) % 2:
        nibbles.append(0)
    return bytes(lo | (hi << 4) for lo, hi in zip(nibbles[::2], nibbles[1::2], strict=True))


def _nibble(value: Any) -> int:
    if not isinstance(value, numbers.Integral) or not 0 <= value <= 15:
        raise _FieldError(f"a nibble is an integer from 0 to 15, got {value!r:.60}")
    return int(value)


def _unsigned_width(value: int) -> int:
    for width in (1, 2, 4, 8):
        if value < 1 << (8 * width):
            return width
    raise _FieldError(f"{value} does not fit in 8 bytes")


class _Codec:
    """Encoders of one byte order: fixed-size scalars, strings with 2-byte lengths, arrays."""

    def __init__(self, byteorder: str):
        self.byteorder = byteorder
        self.u2 = struct.Struct(byteorder + "H")
        self.header = struct.Struct(byteorder + "HBB")

    def scalar(self, stdf_type: str, value: Any) -> bytes:
        if stdf_type == "C1":
            return _encode_c1(value)
        try:
            return struct.pack(self.byteorder + _STRUCT_CODE[stdf_type], value)
        except (struct.error, OverflowError, TypeError) as exc:
            raise _FieldError(f"{value!r:.60} is not a valid {stdf_type}: {exc}") from None

    def sn(self, value: Any) -> bytes:
        data = _encode_text(value)
        if len(data) > 0xFFFF:
            raise _FieldError(f"string of {len(data)} bytes is over the 65535 bytes an Sn holds")
        return self.u2.pack(len(data)) + data

    def dn(self, value: Any) -> bytes:
        """A Dn is given as ``{"bit_count": n, "bit_data": bytes}`` (the reader's form) or as
        plain bytes, every bit of which counts."""
        if isinstance(value, _BYTES_LIKE):
            bit_count, bit_data = 8 * len(value), bytes(value)
        elif isinstance(value, Mapping) and value.keys() >= {"bit_count", "bit_data"}:
            bit_count, bit_data = value["bit_count"], value["bit_data"]
            if bit_data is None:
                bit_data = b""
            if not isinstance(bit_count, numbers.Integral) or not isinstance(bit_data, _BYTES_LIKE):
                raise _FieldError(f"bit_count must be an integer and bit_data bytes, got {value!r:.80}")
        else:
            raise _FieldError(f"expected bytes or {{'bit_count', 'bit_data'}}, got {value!r:.60}")
        if not 0 <= bit_count <= 0xFFFF:
            raise _FieldError(f"bit_count {bit_count} is outside 0..65535")
        if len(bit_data) != (bit_count + 7) // 8:
            raise _FieldError(
                f"{bit_count} bits take {(bit_count + 7) // 8} bytes, bit_data has {len(bit_data)}"
            )
        return self.u2.pack(bit_count) + bytes(bit_data)

    def fixed_array(self, item_type: str, values: Sequence[Any]) -> bytes:
        if item_type == "U1" and isinstance(values, list | tuple):
            try:
                return bytes(values)
            except (ValueError, TypeError):
                pass  # fall through to struct, whose message names the bad item
        try:
            return struct.pack(f"{self.byteorder}{len(values)}{_STRUCT_CODE[item_type]}", *values)
        except (struct.error, OverflowError, TypeError) as exc:
            raise _FieldError(f"items must be {item_type}: {exc}") from None

    def sized_unsigned_array(self, values: Sequence[Any], width: Any) -> bytes:
        if not isinstance(width, numbers.Integral) or not 0 <= width <= 255:
            raise _FieldError(f"item width {width!r} is not an integer from 0 to 255")
        code = _UNSIGNED_CODE_OF_WIDTH.get(width)
        try:
            if code is not None:
                return struct.pack(f"{self.byteorder}{len(values)}{code}", *values)
            # The spec allows widths 1, 2, 4 and 8 only; files with others are still written as read.
            order = "big" if self.byteorder == ">" else "little"
            return b"".join([operator.index(v).to_bytes(width, order) for v in values])
        except (struct.error, OverflowError, TypeError) as exc:
            raise _FieldError(f"items must be unsigned integers of {width} bytes: {exc}") from None

    @staticmethod
    def sized_text_array(values: Sequence[Any], width: Any) -> bytes:
        if not isinstance(width, numbers.Integral) or not 0 <= width <= 255:
            raise _FieldError(f"string width {width!r} is not an integer from 0 to 255")
        parts = []
        for value in values:
            data = _encode_text(value)
            if len(data) > width:
                raise _FieldError(f"string {value!r:.60} is longer than the width {width}")
            # Fixed-width strings are padded with spaces, as fixed-width text fields are.
            parts.append(data.ljust(width, b" "))
        return b"".join(parts)

    def generic_data(self, items: Sequence[Any]) -> bytes:
        return b"".join(self.generic_item(n, item) for n, item in enumerate(items))

    def generic_item(self, position: int, item: Any) -> bytes:
        """One GDR item: ``(type, value)`` with type a code (2) or name ("U2"), or the reader's
        struct ``{"TYPE": 2, "U2": 7, ...}``. ``("B0", None)`` is one pad byte."""
        if isinstance(item, Mapping):
            type_ = item.get("TYPE")
            name = GDR_TYPE_CODES.get(type_) if isinstance(type_, numbers.Integral) else None
            value = item.get(name) if name else None
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 2:
            type_, value = item
            if isinstance(type_, str):
                name = type_ if type_ in _GDR_CODE_OF_NAME else None
            else:
                name = GDR_TYPE_CODES.get(type_) if isinstance(type_, numbers.Integral) else None
        else:
            raise _FieldError(
                f"item {position}: expected (type, value) or a dict with TYPE, got {item!r:.60}"
            )
        if name is None:
            raise _FieldError(f"item {position}: unknown generic data type {type_!r}")
        code = _LENGTH_BYTE[_GDR_CODE_OF_NAME[name]]
        if name == "B0":
            return code
        if value is None:
            raise _FieldError(f"item {position}: a {name} item needs a value")
        try:
            if name == "Cn":
                return code + _encode_cn(value)
            if name == "Bn":
                return code + _encode_bn(value)
            if name == "Dn":
                return code + self.dn(value)
            if name == "N1":
                return code + _LENGTH_BYTE[_nibble(value)]
            return code + self.scalar(name, value)
        except _FieldError as exc:
            raise _FieldError(f"item {position} ({name}): {exc}") from None


def _empty_value(stdf_type: str) -> Any:
    """What a field not given but followed by given fields holds: the spec's 'missing' value."""
    if stdf_type in ("R4", "R8"):
        return 0.0
    if stdf_type == "C1":
        return " "
    if stdf_type in ("Cn", "Sn", "Cf"):
        return ""
    if stdf_type == "Bn":
        return b""
    if stdf_type == "Dn":
        return {"bit_count": 0, "bit_data": b""}
    return 0


#: A step of a record's encoding plan: (kind, encoder, first field, last field + 1 or size field)
_FIXED_RUN, _VARIABLE, _SIZED = 0, 1, 2


class _RecordEncoder:
    """Turns one record type's field values into its body, in one byte order.

    Runs of consecutive fixed-size fields are packed by one precompiled ``struct.Struct``; the
    plan is built once per number of fields written, as testers leave trailing fields out.
    """

    def __init__(self, record_type: RecordType, codec: _Codec):
        self.record_type = record_type
        self.codec = codec
        fields = record_type.fields
        self.names = tuple(f.name for f in fields)
        self.name_set = frozenset(self.names)
        self.empty = [_empty_value(f.type) for f in fields]
        self.c1_positions = tuple(i for i, f in enumerate(fields) if f.type == "C1")
        index = {name: i for i, name in enumerate(self.names)}
        count_groups: dict[int, list[int]] = {}
        size_groups: dict[int, list[int]] = {}
        for i, f in enumerate(fields):
            if f.count:
                count_groups.setdefault(index[f.count], []).append(i)
            if f.size:
                size_groups.setdefault(index[f.size], []).append(i)
        if record_type.name == "GDR":
            count_groups[index["FLD_CNT"]] = [index["GEN_DATA"]]
        self.count_groups = sorted((c, tuple(a)) for c, a in count_groups.items())
        self.size_groups = sorted((s, tuple(a)) for s, a in size_groups.items())
        self.has_arrays = bool(self.count_groups)
        self.item_empty = [_empty_value(f.item_type or "") for f in fields]
        self.plans: dict[int, list[tuple[int, Callable[..., bytes], int, int]]] = {}

    def body(self, values: list[Any]) -> bytes:
        """``values``: one per field in spec order, None where not given; changed in place."""
        present = len(values)
        while present and values[present - 1] is None:
            present -= 1
        del values[present:]
        if self.has_arrays:
            self._fill_counts_and_widths(values, present)
        empty = self.empty
        for i in range(present):
            if values[i] is None:
                values[i] = empty[i]
        plan = self.plans.get(present) or self._plan(present)
        try:
            for i in self.c1_positions:
                if i < present:
                    values[i] = _encode_c1(values[i])
            parts = []
            for kind, encode, first, last in plan:
                if kind == _FIXED_RUN:
                    parts.append(encode(*values[first:last]))
                elif kind == _VARIABLE:
                    parts.append(encode(values[first]))
                else:
                    parts.append(encode(values[first], values[last]))
        except Exception as exc:
            self._raise_for_bad_field(values)
            raise ValueError(f"{self.record_type.name}: cannot write {values!r:.200}: {exc}") from exc
        return b"".join(parts)

    def error(self, field: Field | str, message: str) -> ValueError:
        name = field.name if isinstance(field, Field) else field
        stdf_type = f" ({field.type})" if isinstance(field, Field) else ""
        return ValueError(f"{self.record_type.name}.{name}{stdf_type}: {message}")

    def _plan(self, present: int) -> list[tuple[int, Callable[..., bytes], int, int]]:
        fields = self.record_type.fields
        codec = self.codec
        plan: list[tuple[int, Callable[..., bytes], int, int]] = []
        i = 0
        while i < present:
            f = fields[i]
            if f.type in FIXED_SIZE:
                end = i
                while end < present and fields[end].type in FIXED_SIZE:
                    end += 1
                layout = codec.byteorder + "".join(_STRUCT_CODE[g.type] for g in fields[i:end])
                plan.append((_FIXED_RUN, struct.Struct(layout).pack, i, end))
                i = end
                continue
            if f.size is not None:
                sized = codec.sized_unsigned_array if f.item_type == "Uf" else codec.sized_text_array
                plan.append((_SIZED, sized, i, self.names.index(f.size)))
            else:
                plan.append((_VARIABLE, self._variable_encoder(f), i, i + 1))
            i += 1
        self.plans[present] = plan
        return plan

    def _variable_encoder(self, f: Field) -> Callable[[Any], bytes]:
        codec = self.codec
        simple = {
            "Cn": _encode_cn,
            "Bn": _encode_bn,
            "Sn": codec.sn,
            "Dn": codec.dn,
            "Vn": codec.generic_data,
        }
        if f.type in simple:
            return simple[f.type]
        item = f.item_type
        if item == "N1":
            return _encode_nibbles
        if item == "Cn":
            return lambda values: b"".join([_encode_cn(v) for v in values])
        if item == "Sn":
            return lambda values: b"".join([codec.sn(v) for v in values])
        if item in FIXED_SIZE:
            return lambda values: codec.fixed_array(item, values)
        raise AssertionError(f"no encoder for {self.record_type.name}.{f.name} ({f.type})")

    def _fill_counts_and_widths(self, values: list[Any], present: int) -> None:
        """Count fields not given take their arrays' length; arrays not given but followed by
        given fields get that many empty items; widths of KxUf / KxCf items not given take the
        smallest that holds the values."""
        fields = self.record_type.fields
        for count_at, arrays in self.count_groups:
            if count_at >= present:
                break  # count fields precede their arrays: the rest are left out too
            given = [a for a in arrays if a < present and values[a] is not None]
            for a in given:
                if isinstance(values[a], str | bytes | Mapping) or not hasattr(values[a], "__len__"):
                    raise self.error(
                        fields[a], f"expected a sequence of items, got {type(values[a]).__name__}"
                    )
            count = values[count_at]
            if count is None:
                count = values[count_at] = len(values[given[0]]) if given else 0
            elif not isinstance(count, numbers.Integral):
                raise self.error(fields[count_at], f"a count must be an integer, got {count!r:.60}")
            for a in given:
                if len(values[a]) != count:
                    raise self.error(
                        fields[a], f"holds {len(values[a])} items but {fields[count_at].name} is {count}"
                    )
            for a in arrays:
                if a < present and values[a] is None:
                    values[a] = [self.item_empty[a]] * count
        for size_at, arrays in self.size_groups:
            if size_at >= present or values[size_at] is not None:
                continue
            widths = [self._width_needed(fields[a], values[a]) for a in arrays if a < present]
            values[size_at] = max(widths, default=1)

    def _width_needed(self, f: Field, array: Sequence[Any]) -> int:
        if not len(array):
            return 1
        if f.item_type == "Uf":
            try:
                return _unsigned_width(max(int(v) for v in array))
            except (TypeError, ValueError, _FieldError) as exc:
                raise self.error(f, f"items must be unsigned integers: {exc}") from None
        try:
            return max(len(_encode_text(v)) for v in array)
        except _FieldError as exc:
            raise self.error(f, str(exc)) from None

    def _raise_for_bad_field(self, values: list[Any]) -> None:
        """Encoding failed somewhere: find the field, one by one, and say which and why."""
        fields = self.record_type.fields
        codec = self.codec
        for i, value in enumerate(values):
            f = fields[i]
            try:
                if f.type == "C1":
                    if not (isinstance(value, bytes) and len(value) == 1):
                        _encode_c1(value)
                elif f.type in FIXED_SIZE:
                    codec.scalar(f.type, value)
                elif f.size is not None:
                    sized = codec.sized_unsigned_array if f.item_type == "Uf" else codec.sized_text_array
                    sized(value, values[self.names.index(f.size)])
                else:
                    self._variable_encoder(f)(value)
            except _FieldError as exc:
                raise self.error(f, str(exc)) from None
            except Exception as exc:
                raise self.error(f, f"cannot write {value!r:.60}: {exc}") from None


class StdfWriter:
    """Writes STDF V4 records to a path or a binary file object.

    ``byteorder`` is ``"<"`` (little-endian, FAR CPU_TYPE 2) or ``">"`` (big-endian, CPU_TYPE
    1). With ``far=True`` the File Attributes Record is written first unless the first record
    written is a FAR::

        with StdfWriter("lot.stdf") as out:
            out.record("MIR", SETUP_T=0, START_T=0, STAT_NUM=1, LOT_ID="L1")
            out.record("PTR", TEST_NUM=1, HEAD_NUM=1, SITE_NUM=0, TEST_FLG=0, PARM_FLG=0, RESULT=1.5)
    """

    def __init__(
        self, destination: str | os.PathLike[str] | BinaryIO, *, byteorder: str = "<", far: bool = True
    ):
        if byteorder not in CPU_TYPE_OF_BYTEORDER:
            raise ValueError(f"byteorder must be '<' or '>', got {byteorder!r}")
        self.byteorder = byteorder
        self._codec = _Codec(byteorder)
        self._encoders: dict[str, _RecordEncoder] = {}
        self._far_pending = far
        if isinstance(destination, str | os.PathLike):
            self._file: BinaryIO = open(destination, "wb", buffering=1 << 20)  # noqa: SIM115
            self._owns_file = True
        else:
            self._file = destination
            self._owns_file = False
        #: Byte offset of the next record header, from where this writer started.
        self.offset = 0
        #: Records written so far.
        self.records_written = 0

    def __enter__(self) -> StdfWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Writes the FAR if nothing was written yet, flushes, and closes a file opened here."""
        if self._file is None:
            return
        try:
            if self._far_pending:
                self._write_far_first()
            self._file.flush()
        finally:
            if self._owns_file:
                self._file.close()
            self._file = None

    def record(self, name: str, /, **fields: Any) -> int:
        """Writes one record of type ``name`` (``"PTR"``); returns the offset of its header.

        Fields are written in spec order. Fields after the last one given (or given as None)
        are left out of the record; a field left out before a given one is written as its
        empty value (0, "", no items, a space for C1). Array counts and KxUf / KxCf widths
        not given are derived from the arrays (KxCf strings are padded with spaces to the
        width). Values that do not fit raise ValueError naming the record and the field.

        Dn fields take ``{"bit_count": n, "bit_data": bytes}`` or bytes; GDR's GEN_DATA takes
        ``(type, value)`` pairs (``("U2", 7)``, ``(10, "text")``, ``("B0", None)`` for a pad
        byte) or the reader's item dicts. A VUR given one name and no UPD_CNT is written in the
        V4-2007 single-Cn layout, otherwise as UPD_CNT + names.
        """
        encoder = self._encoders.get(name) or self._encoder(name)
        if not fields.keys() <= encoder.name_set:
            unknown = ", ".join(sorted(fields.keys() - encoder.name_set))
            raise ValueError(f"{name} has no field {unknown}; its fields are {', '.join(encoder.names)}")
        return self._write(encoder, list(map(fields.get, encoder.names)))

    def write_encoded(self, records: bytes | np.ndarray, count: int) -> int:
        """Writes ``count`` whole records already encoded in this writer's byte order (headers
        included, as :func:`encode_records` makes them), as they are; returns the offset of
        the first. The fast path for the bulk of a tester file: PIR, PTR, FTR, PRR by the
        million, built as arrays. The bytes are not checked."""
        if not isinstance(count, numbers.Integral) or count < 0:
            raise ValueError(f"count must be a non-negative integer, got {count!r}")
        data = records.tobytes() if isinstance(records, np.ndarray) else bytes(records)
        if self._far_pending and data:
            self._write_far_first()
        offset = self.offset
        self._file.write(data)
        self.offset = offset + len(data)
        self.records_written += int(count)
        return offset

    def raw_record(self, rec_typ: int, rec_sub: int, data: bytes) -> int:
        """Writes a record of any (REC_TYP, REC_SUB) whose body is ``data`` as it is."""
        for label, value in (("REC_TYP", rec_typ), ("REC_SUB", rec_sub)):
            if not isinstance(value, numbers.Integral) or not 0 <= value <= 255:
                raise ValueError(f"{label} must be an integer from 0 to 255, got {value!r}")
        if not isinstance(data, _BYTES_LIKE):
            raise ValueError(f"record data must be bytes, got {type(data).__name__}")
        if len(data) > MAX_RECORD_BYTES:
            raise ValueError(f"record ({rec_typ}, {rec_sub}) of {len(data)} bytes is over {MAX_RECORD_BYTES}")
        if self._far_pending:
            self._write_far_first()
        return self._emit(rec_typ, rec_sub, bytes(data))

    def _encoder(self, name: str) -> _RecordEncoder:
        if name not in RECORDS:
            raise ValueError(f"unknown record type {name!r}; known: {', '.join(RECORDS)}")
        encoder = self._encoders[name] = _RecordEncoder(RECORDS[name], self._codec)
        return encoder

    def _write(self, encoder: _RecordEncoder, values: list[Any]) -> int:
        record_type = encoder.record_type
        if record_type.name == "FAR" and self.records_written == 0:
            # Only the first FAR tells readers the byte order; a later one is written as given.
            values = self._checked_far(values)
        elif self._far_pending:
            self._write_far_first()
        if record_type.name == "VUR" and values[0] is None and _is_single_name(values[1]):
            # V4-2007 printed VUR as one Cn (no count); readers report it with UPD_CNT null.
            name = values[1] if isinstance(values[1], str) else values[1][0]
            try:
                return self._emit(0, 30, _encode_cn(name))
            except _FieldError as exc:
                raise encoder.error(record_type.field("UPD_NAM"), str(exc)) from None
        body = encoder.body(values)
        if len(body) > MAX_RECORD_BYTES:
            raise ValueError(
                f"{record_type.name}: record of {len(body)} bytes is over the {MAX_RECORD_BYTES} STDF allows"
            )
        return self._emit(record_type.rec_typ, record_type.rec_sub, body)

    def _emit(self, rec_typ: int, rec_sub: int, body: bytes) -> int:
        offset = self.offset
        self._file.write(self._codec.header.pack(len(body), rec_typ, rec_sub) + body)
        self._far_pending = False
        self.offset = offset + 4 + len(body)
        self.records_written += 1
        return offset

    def _checked_far(self, values: list[Any]) -> list[Any]:
        cpu_type, version = values
        expected = CPU_TYPE_OF_BYTEORDER[self.byteorder]
        if cpu_type is None:
            cpu_type = expected
        elif cpu_type in BYTEORDER_OF_CPU_TYPE and cpu_type != expected:
            raise ValueError(
                f"FAR.CPU_TYPE {cpu_type} says {BYTEORDER_OF_CPU_TYPE[cpu_type]!r} byte order, "
                f"this writer writes {self.byteorder!r}"
            )
        return [cpu_type, 4 if version is None else version]

    def _write_far_first(self) -> None:
        encoder = self._encoders.get("FAR") or self._encoder("FAR")
        self._emit(0, 10, encoder.body([CPU_TYPE_OF_BYTEORDER[self.byteorder], 4]))


def encode_records(name: str, columns: Mapping[str, Any], *, byteorder: str = "<") -> np.ndarray:
    """Many records of one type at once, from one array (or scalar) per field: an array of
    shape (records, record length) of bytes, each row a whole record, header included.

    Every field up to the last one given must be fixed-size (PIR; PTR up to RESULT; PRR up to
    TEST_T; FTR up to PGM_ICNT); fields not given before it are written as 0, fields after it
    are left out, as :meth:`StdfWriter.record` does. Rows go to
    :meth:`StdfWriter.write_encoded` as they are, or interleaved with other records' bytes.
    """
    if byteorder not in CPU_TYPE_OF_BYTEORDER:
        raise ValueError(f"byteorder must be '<' or '>', got {byteorder!r}")
    if name not in RECORDS:
        raise ValueError(f"unknown record type {name!r}; known: {', '.join(RECORDS)}")
    record_type = RECORDS[name]
    fields = record_type.fields
    names = [f.name for f in fields]
    if not columns:
        raise ValueError(f"{name}: give at least one field")
    unknown = columns.keys() - set(names)
    if unknown:
        raise ValueError(
            f"{name} has no field {', '.join(sorted(unknown))}; its fields are {', '.join(names)}"
        )
    present = max(names.index(n) for n in columns) + 1
    variable = [f.name for f in fields[:present] if f.type not in FIXED_SIZE]
    if variable:
        raise ValueError(
            f"{name}: encode_records writes fixed-size fields only; {', '.join(variable)} are not"
        )
    arrays = {n: np.asarray(v) for n, v in columns.items()}
    lengths = {a.shape[0] for a in arrays.values() if a.ndim}
    if len(lengths) > 1 or any(a.ndim > 1 for a in arrays.values()):
        raise ValueError(
            f"{name}: columns must be scalars or 1-d arrays of one length, got {sorted(lengths)}"
        )
    count = lengths.pop() if lengths else 1
    body = sum(FIXED_SIZE[f.type] for f in fields[:present])
    layout = [("REC_LEN", byteorder + "u2"), ("REC_TYP", "u1"), ("REC_SUB", "u1")]
    layout += [(f.name, byteorder + NUMPY_CODE[f.type]) for f in fields[:present]]
    out = np.zeros(count, dtype=np.dtype(layout))
    out["REC_LEN"], out["REC_TYP"], out["REC_SUB"] = body, record_type.rec_typ, record_type.rec_sub
    for field_name, values in arrays.items():
        if values.dtype.kind in "SU":  # C1 given as one-character strings
            values = np.char.encode(values, "latin-1") if values.dtype.kind == "U" else values
            values = np.frombuffer(values.astype("S1").tobytes(), np.uint8).reshape(values.shape)
        target = out.dtype[field_name]
        if values.dtype.kind in "iub" and target.kind in "iu":
            info = np.iinfo(target)
            if values.size and (values.min() < info.min or values.max() > info.max):
                raise ValueError(f"{name}.{field_name}: values outside {info.min}..{info.max}")
        out[field_name] = values
    return out.view(np.uint8).reshape(count, 4 + body)


def _is_single_name(names: Any) -> bool:
    if isinstance(names, str):
        return True
    return isinstance(names, Sequence) and not isinstance(names, bytes) and len(names) == 1


def write(
    destination: str | os.PathLike[str] | BinaryIO,
    tables: Mapping[str, pa.Table],
    *,
    byteorder: str | None = None,
) -> str | os.PathLike[str] | BinaryIO:
    """Writes the tables ``read`` returns (one per record type) back into an STDF file.

    Records go out in ``seq`` order across the tables; ``offset`` is not consulted, it follows
    from the records' lengths. Rows of the ``UNKNOWN`` table are written with their REC_DATA as
    it is. The byte order is the FAR's CPU_TYPE unless ``byteorder`` is given, which rewrites
    the FAR's CPU_TYPE to match ("<" when the tables have no FAR). Tables without a FAR (read
    with ``record_types``) get one, so the file is always valid STDF. Returns ``destination``.
    """
    # A byte order asked for overrides the FAR's: its CPU_TYPE is rewritten to say so.
    far_cpu_type = None if byteorder is None else CPU_TYPE_OF_BYTEORDER.get(byteorder)
    if byteorder is None:
        byteorder = _byteorder_of_far(tables.get("FAR"))
    names = [name for name, table in tables.items() if table.num_rows]
    for name in names:
        if name != UNKNOWN and name not in RECORDS:
            raise ValueError(f"unknown record type {name!r}; known: {', '.join(RECORDS)} and {UNKNOWN}")
    seqs = [_seq_column(tables[name], name) for name in names]
    # One stable sort of every record's seq says which table the next record comes from; each
    # table is walked in its own seq order, so its rows can be converted chunk by chunk.
    which_table = np.repeat(np.arange(len(names), dtype=np.int64), [len(s) for s in seqs])
    order = np.argsort(np.concatenate(seqs) if seqs else np.empty(0, np.uint64), kind="stable")
    sorted_tables = [
        tables[name].take(np.argsort(seq, kind="stable")) for name, seq in zip(names, seqs, strict=True)
    ]

    with StdfWriter(destination, byteorder=byteorder) as writer:
        rows = [
            _rows(table, _UNKNOWN_FIELDS if name == UNKNOWN else writer._encoder(name).names)
            for name, table in zip(names, sorted_tables, strict=True)
        ]
        encoders = [None if name == UNKNOWN else writer._encoders[name] for name in names]
        write_values = writer._write
        for t in which_table[order].tolist():
            values = list(next(rows[t]))
            encoder = encoders[t]
            if encoder is None:
                writer.raw_record(values[0], values[1], values[2] or b"")
                continue
            if far_cpu_type is not None and writer.records_written == 0 and encoder.record_type.name == "FAR":
                values[0] = far_cpu_type
            write_values(encoder, values)
    return destination


_UNKNOWN_FIELDS = ("REC_TYP", "REC_SUB", "REC_DATA")
_ROWS_PER_CHUNK = 1 << 16


def _rows(table: pa.Table, names: Sequence[str]):
    """The table's rows as tuples of Python values in ``names`` order (None for absent columns)."""
    if not names:  # EPS has no fields: zip() of no columns would yield no rows at all
        yield from itertools.repeat((), table.num_rows)
        return
    columns = set(table.column_names)
    for start in range(0, table.num_rows, _ROWS_PER_CHUNK):
        part = table.slice(start, _ROWS_PER_CHUNK)
        yield from zip(
            *[part.column(n).to_pylist() if n in columns else [None] * part.num_rows for n in names],
            strict=True,
        )


def _seq_column(table: pa.Table, name: str) -> np.ndarray:
    if "seq" not in table.column_names:
        raise ValueError(f"table {name} has no 'seq' column: write() needs it to order the records")
    return table.column("seq").to_numpy().astype(np.uint64, copy=False)


def _byteorder_of_far(far: pa.Table | None) -> str:
    if far is None or not far.num_rows or "CPU_TYPE" not in far.column_names:
        return "<"
    cpu_type = far.column("CPU_TYPE")[0].as_py()
    return BYTEORDER_OF_CPU_TYPE.get(cpu_type, "<")


def to_bytes(tables: Mapping[str, pa.Table], *, byteorder: str | None = None) -> bytes:
    """:func:`write` into memory."""
    buffer = io.BytesIO()
    write(buffer, tables, byteorder=byteorder)
    return buffer.getvalue()
