"""The specification's missing/invalid values for fields a record left out.

STDF lets a tester stop writing a record before its last fields; :func:`silicio.stdf.read` keeps
such omitted fields as nulls, so "not in the file" stays distinguishable from any value.
Readers that return plain values instead give each omitted field the value the specification
uses to flag it missing or invalid. :func:`fill_omitted` turns our tables into that form, to
compare with such readers or to feed code that does not expect nulls.

References
----------
Teradyne, *Standard Test Data Format (STDF) Specification Version 4* (1997): the "Missing/Invalid
Data Flag" column of each record's field table, the notes on specific fields (PLR: "the
missing/invalid data flag applies to each member of the array"; PTR and MPR: "Default Data"),
and the *STDF V4-2007* addendum for the scan records.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .spec import GDR_ITEM_TYPE, RECORDS, Field, RecordType

_U4_MISSING = 4_294_967_295
_COORD_MISSING = -32768

#: The specification's missing/invalid value of each field where it differs from the value
#: flagging absence for the field's type (0 for numbers and flag bytes, a space for ``C*1``,
#: length 0 for strings, bytes and bit fields, count 0 for arrays).
OMITTED_VALUES: dict[tuple[str, str], int] = {
    ("MIR", "BURN_TIM"): 65_535,
    **{("PCR", name): _U4_MISSING for name in ("RTST_CNT", "ABRT_CNT", "GOOD_CNT", "FUNC_CNT")},
    # "If missing, the value of these fields will default to 1."
    ("PMR", "HEAD_NUM"): 1,
    ("PMR", "SITE_NUM"): 1,
    ("WIR", "SITE_GRP"): 255,
    ("WRR", "SITE_GRP"): 255,
    **{("WRR", name): _U4_MISSING for name in ("RTST_CNT", "ABRT_CNT", "GOOD_CNT", "FUNC_CNT")},
    ("WCR", "CENTER_X"): _COORD_MISSING,
    ("WCR", "CENTER_Y"): _COORD_MISSING,
    ("PRR", "SOFT_BIN"): 65_535,
    ("PRR", "X_COORD"): _COORD_MISSING,
    ("PRR", "Y_COORD"): _COORD_MISSING,
    **{("TSR", name): _U4_MISSING for name in ("EXEC_CNT", "FAIL_CNT", "ALRM_CNT")},
    ("FTR", "PATG_NUM"): 255,
}


def _from_opt_flag(record: RecordType) -> frozenset[str]:
    names = [f.name for f in record.fields]
    return frozenset(names[names.index("OPT_FLAG") :])


#: Fields left null by :func:`fill_omitted`. PTR and MPR fields from OPT_FLAG on are "Default
#: Data": when omitted they take the value of the first record of the same test, not a flag, so
#: only a reader that tracks tests can fill them. (FTR's Default Data, PATG_NUM and SPIN_MAP, do
#: have flags in the table, 255 and length 0, and get them.) VUR's UPD_CNT is null where the
#: record uses the V4-2007 layout, which has no count, rather than because it was omitted.
KEPT_NULL: dict[str, frozenset[str]] = {
    "PTR": _from_opt_flag(RECORDS["PTR"]),
    "MPR": _from_opt_flag(RECORDS["MPR"]),
    "VUR": frozenset({"UPD_CNT"}),
}

#: Missing value of one item, by STDF type.
_ITEM_MISSING = {"C1": " ", "Cn": "", "Sn": "", "Cf": "", "Bn": b""}
_DN_MISSING = {"bit_count": 0, "bit_data": b""}
#: GDR type code 0 is the pad field, which holds no data.
_GDR_PAD = {"TYPE": 0}


def omitted_value(record: str, field: Field) -> object:
    """The value that flags ``field`` of ``record`` as missing, for scalar fields."""
    if (record, field.name) in OMITTED_VALUES:
        return OMITTED_VALUES[(record, field.name)]
    if field.type == "Dn":
        return _DN_MISSING
    return _ITEM_MISSING.get(field.type, 0)


def _filled_list(column: pa.ChunkedArray, counts: pa.ChunkedArray | None, item: pa.Scalar) -> pa.ChunkedArray:
    """``column`` with each null list replaced by ``counts`` copies of ``item`` (none where the
    count is null or there is no count field), as the spec flags each member of an array."""
    missing = pc.is_null(column).to_numpy(zero_copy_only=False)
    if counts is None:
        lengths = np.zeros(len(column), np.int64)
    else:
        lengths = pc.fill_null(counts, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    lengths = np.where(missing, lengths, 0)
    offsets = np.zeros(len(column) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = pa.repeat(item, int(offsets[-1]))
    defaults = pa.ListArray.from_arrays(pa.array(offsets), values, type=column.type)
    return pc.coalesce(column, defaults)


def _fill_table(record: RecordType, table: pa.Table) -> pa.Table:
    kept = KEPT_NULL.get(record.name, frozenset())
    originals = {name: table[name] for name in table.column_names}
    for field in record.fields:
        if field.name in kept or field.name not in originals:
            continue
        column = originals[field.name]
        if column.null_count == 0:
            continue
        if field.type == "Vn":
            filled = _filled_list(column, originals.get("FLD_CNT"), pa.scalar(_GDR_PAD, GDR_ITEM_TYPE))
        elif field.item_type is not None:
            item_type = column.type.value_type
            item = pa.scalar(_ITEM_MISSING.get(field.item_type, 0), item_type)
            filled = _filled_list(column, originals.get(field.count), item)
        else:
            value = omitted_value(record.name, field)
            filled = pc.fill_null(column, pa.scalar(value, column.type))
        index = table.schema.get_field_index(field.name)
        table = table.set_column(index, table.schema.field(index), filled)
    return table


def fill_omitted(tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    """Tables as :func:`silicio.stdf.read` gives them, with every omitted (null) field set to the
    specification's missing/invalid value (:data:`OMITTED_VALUES`, else the value for its type).

    Arrays the record left out get one missing item per member their count field announces, or
    none. Fields in :data:`KEPT_NULL` stay null, and so do tables of unknown records.
    """
    out = {}
    for name, table in tables.items():
        record = RECORDS.get(name)
        out[name] = table if record is None else _fill_table(record, table)
    return out
