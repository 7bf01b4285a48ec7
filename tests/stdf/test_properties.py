"""Properties of the STDF reader and writer together.

* Random records of every type, with random fields left out, read back as written (the
  strategies are built from ``spec.RECORDS``, so a record type added there is covered here).
* Damaged files (bytes flipped, inserted, deleted, headers overwritten) never make the reader
  fail with anything but :class:`StdfError`; salvage (``strict=False``) reports what it found.
"""

from __future__ import annotations

import io
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silicio.stdf import StdfError, read
from silicio.stdf.spec import GDR_TYPE_CODES, RECORDS, Field, RecordType, schema
from silicio.stdf.writer import StdfWriter, to_bytes
from tests.conftest import SHARED_STDF_DIR, assert_same_tables, canonical, missing_shared

# Every test twice: numba's kernels, then the Python ones (tests/stdf/conftest.py).
pytestmark = pytest.mark.usefixtures("kernels")

# --------------------------------------------------------------------------------------------
# Strategies from the spec's field types

INTEGER_RANGE = {
    "U1": (0, 2**8 - 1), "U2": (0, 2**16 - 1), "U4": (0, 2**32 - 1), "U8": (0, 2**64 - 1),
    "I1": (-(2**7), 2**7 - 1), "I2": (-(2**15), 2**15 - 1), "I4": (-(2**31), 2**31 - 1),
    "I8": (-(2**63), 2**63 - 1), "B1": (0, 255),
}  # fmt: skip

# Text from all of Unicode but surrogates, and text of latin-1 alone: the writer encodes the
# second in single bytes, which the reader must decode back the same way.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
LATIN1_TEXT = st.text(st.characters(max_codepoint=255), max_size=40)
LONG_ASCII = st.text(st.characters(max_codepoint=127), min_size=200, max_size=255)
TEXT = st.one_of(ANY_TEXT, LATIN1_TEXT, LONG_ASCII)


def scalar_strategy(stdf_type: str) -> st.SearchStrategy:
    if stdf_type in INTEGER_RANGE:
        return st.integers(*INTEGER_RANGE[stdf_type])
    if stdf_type == "R4":
        return st.floats(width=32)
    if stdf_type == "R8":
        return st.floats()
    if stdf_type == "C1":
        return st.characters(max_codepoint=255)
    if stdf_type == "Cn":
        return TEXT
    if stdf_type == "Sn":
        return st.one_of(TEXT, st.text(st.characters(max_codepoint=127), min_size=256, max_size=400))
    if stdf_type == "Bn":
        return st.binary(max_size=255)
    if stdf_type == "Dn":
        return st.integers(0, 40).flatmap(
            lambda bits: st.binary(min_size=(bits + 7) // 8, max_size=(bits + 7) // 8).map(
                lambda data: {"bit_count": bits, "bit_data": data}
            )
        )
    if stdf_type == "N1":
        return st.integers(0, 15)
    raise AssertionError(stdf_type)


def gdr_item(code: int, value) -> dict:
    """A GDR item as the reader gives it: TYPE, and the value in its type's column only."""
    item = {"TYPE": code, **{name: None for name in GDR_TYPE_CODES.values() if name != "B0"}}
    if code:
        item[GDR_TYPE_CODES[code]] = value
    return item


GDR_ITEMS = st.lists(
    st.sampled_from(sorted(GDR_TYPE_CODES)).flatmap(
        lambda code: (st.none() if code == 0 else scalar_strategy(GDR_TYPE_CODES[code])).map(
            lambda v: (code, v)
        )
    ),
    max_size=6,
)

UF_WIDTHS = (1, 2, 4, 8)


@st.composite
def complete_record(draw, rt: RecordType) -> list:
    """Every field of ``rt`` with a value: arrays sharing a count have its length, KxUf and KxCf
    items fit the width in their size field."""
    fields = rt.fields
    index = {f.name: i for i, f in enumerate(fields)}
    values: list = [None] * len(fields)
    counts = {f.count for f in fields if f.count}
    for name in counts:
        values[index[name]] = draw(st.integers(0, 4))
    for f in fields:
        if f.size:
            i = index[f.size]
            if values[i] is None:
                # Cf items of width 0 at the end of a record: see test_kxcf_of_width_zero_ending_a_record
                values[i] = draw(st.sampled_from(UF_WIDTHS) if f.item_type == "Uf" else st.integers(1, 5))
    for i, f in enumerate(fields):
        if values[i] is not None:
            continue
        if f.type == "Vn":
            items = draw(GDR_ITEMS)
            values[index["FLD_CNT"]] = len(items)
            values[i] = items
        elif f.item_type is None:
            if f.name != "FLD_CNT":
                values[i] = draw(scalar_strategy(f.type))
        else:
            n = values[index[f.count]]
            width = values[index[f.size]] if f.size else None
            if f.item_type == "Uf":
                item = st.integers(0, 2 ** (8 * width) - 1)
            elif f.item_type == "Cf":
                item = st.text(st.characters(max_codepoint=127), min_size=1, max_size=width)
            elif f.item_type in INTEGER_RANGE or f.item_type in ("R4", "N1", "Cn", "Sn"):
                item = scalar_strategy(f.item_type)
            else:
                raise AssertionError(f.type)
            values[i] = draw(st.lists(item, min_size=n, max_size=n))
    return values


@st.composite
def record_with_fields_left_out(draw, name: str) -> tuple[str, dict, dict]:
    """(record type, fields given to the writer, row expected back from the reader)."""
    rt = RECORDS[name]
    full = draw(complete_record(rt))
    n = len(rt.fields)
    # Testers leave trailing fields out; the writer is also asked to fill some in the middle.
    cut = draw(st.integers(0, n))
    hidden = draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=3)) if n else set()
    given = [v if i < cut and i not in hidden else None for i, v in enumerate(full)]
    fields = {f.name: v for f, v in zip(rt.fields, given, strict=True) if v is not None}
    return name, fields, expected_row(rt, given)


def empty_value(stdf_type: str):
    """What a field not given before a given one reads back as."""
    return {"R4": 0.0, "R8": 0.0, "C1": " ", "Cn": "", "Sn": "", "Cf": "", "Bn": b"",
            "Dn": {"bit_count": 0, "bit_data": b""}}.get(stdf_type, 0)  # fmt: skip


def expected_row(rt: RecordType, given: list) -> dict:
    """The row the reader should give for a record written with ``given`` (None: not given)."""
    fields = rt.fields
    index = {f.name: i for i, f in enumerate(fields)}
    n = len(fields)
    present = max((i + 1 for i, v in enumerate(given) if v is not None), default=0)
    row = [None] * n
    for i in range(present):
        f = fields[i]
        row[i] = (
            given[i]
            if given[i] is not None
            else ([] if f.item_type or f.type == "Vn" else empty_value(f.type))
        )
    arrays_of: dict[int, list[Field]] = {}
    for f in fields:
        if f.count:
            arrays_of.setdefault(index[f.count], []).append(f)
    if rt.name == "GDR":
        arrays_of[index["FLD_CNT"]] = [rt.field("GEN_DATA")]
    for count_at, arrays in arrays_of.items():
        if count_at >= present:
            continue
        lengths = [
            len(given[i]) for i in (index[a.name] for a in arrays) if i < present and given[i] is not None
        ]
        if given[count_at] is None:
            row[count_at] = lengths[0] if lengths else 0
        for a in arrays:
            i = index[a.name]
            if i < present and given[i] is None:
                row[i] = [empty_value(a.item_type)] * row[count_at]
    for f in fields:
        if not f.size or index[f.size] >= present:
            continue
        size_at = index[f.size]
        if given[size_at] is None:
            items = [
                v for g in fields if g.size == f.size and index[g.name] < present for v in row[index[g.name]]
            ]
            if f.item_type == "Uf":
                row[size_at] = next(w for w in UF_WIDTHS if max(items, default=0) < 1 << (8 * w))
            else:
                row[size_at] = max((len(v) for v in items), default=1) if items else 1
    for f in fields:
        i = index[f.name]
        if f.item_type == "Cf" and row[i] is not None:
            row[i] = [v.ljust(row[index[f.size]]) for v in row[i]]
        if f.type == "Vn" and row[i] is not None:
            row[i] = [gdr_item(code, value) for code, value in row[i]]
    # An array of no items takes no bytes: right after the last field written, it is present.
    j = present
    while j < n and (fields[j].count or fields[j].type == "Vn"):
        count_at = index[fields[j].count or "FLD_CNT"]
        if row[count_at] != 0:
            break
        row[j] = []
        j += 1
    return {f.name: v for f, v in zip(fields, row, strict=True)}


VUR_RECORDS = st.one_of(
    # The V4-2007 single Cn.
    TEXT.map(lambda name: ("VUR", {"UPD_NAM": [name]}, {"UPD_CNT": None, "UPD_NAM": [name]})),
    # Count and names. Only names all empty look like a single Cn, so one at least is not.
    st.lists(TEXT, min_size=1, max_size=4)
    .filter(any)
    .map(
        lambda names: (
            "VUR",
            {"UPD_CNT": len(names), "UPD_NAM": names},
            {"UPD_CNT": len(names), "UPD_NAM": names},
        )
    ),
)

RANDOM_RECORDS = st.one_of(
    VUR_RECORDS, *[record_with_fields_left_out(name) for name in RECORDS if name not in ("FAR", "VUR")]
)


def test_strategies_cover_every_record_type():
    names = {"FAR", "VUR"} | {name for name in RECORDS if name not in ("FAR", "VUR")}
    assert names == set(RECORDS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(RANDOM_RECORDS, min_size=1, max_size=6), byteorder=st.sampled_from("<>"))
def test_random_records_read_back_as_written(records, byteorder):
    buffer = io.BytesIO()
    with StdfWriter(buffer, byteorder=byteorder) as writer:
        offsets = [writer.record(name, **fields) for name, fields, _ in records]
    data = buffer.getvalue()
    tables = read(data)
    rows = {name: iter(table.to_pylist()) for name, table in tables.items()}
    assert next(rows["FAR"])["CPU_TYPE"] == (2 if byteorder == "<" else 1)
    for seq, ((name, _, expected), offset) in enumerate(zip(records, offsets, strict=True), start=1):
        row = next(rows[name])
        assert (row.pop("seq"), row.pop("offset")) == (seq, offset)
        assert canonical(row) == canonical(expected), name
    # And the tables write back into the very same bytes.
    assert to_bytes(tables) == data


# --------------------------------------------------------------------------------------------
# Damaged files


def synthetic_file(byteorder: str) -> bytes:
    """Two parts of common records, a vendor record, and one record of every other type."""
    buffer = io.BytesIO()
    with StdfWriter(buffer, byteorder=byteorder) as writer:
        writer.record("MIR", SETUP_T=1, START_T=2, STAT_NUM=1, LOT_ID="LOT", PART_TYP="DEV")
        for part in range(2):
            writer.record("PIR", HEAD_NUM=1, SITE_NUM=part)
            writer.record("PTR", TEST_NUM=1, HEAD_NUM=1, SITE_NUM=part, TEST_FLG=0, PARM_FLG=0, RESULT=0.5,
                          TEST_TXT="vdd", UNITS="V")  # fmt: skip
            writer.record("MPR", TEST_NUM=2, HEAD_NUM=1, SITE_NUM=part, RTN_STAT=[1, 2, 3], RTN_RSLT=[1.0, 2.0, 3.0],
                          RTN_INDX=[4, 5, 6], UNITS="A")  # fmt: skip
            writer.record(
                "FTR", TEST_NUM=3, FAIL_PIN={"bit_count": 12, "bit_data": b"\x0f\x0f"}, PGM_STAT=[1, 2]
            )
            writer.raw_record(220, 1, b"vendor")
            writer.record(
                "PRR", HEAD_NUM=1, SITE_NUM=part, NUM_TEST=3, HARD_BIN=1, SOFT_BIN=1, PART_FIX=b"\x01"
            )
        writer.record("VUR", UPD_CNT=2, UPD_NAM=["V4-2007", "Scan:2007.1"])
        writer.record(
            "PLR",
            GRP_INDX=[1, 2],
            GRP_MODE=[0, 1],
            GRP_RADX=[2, 10],
            PGM_CHAR=["a", "b"],
            RTN_CHAR=["c", "d"],
        )
        writer.record("PSR", PSR_NAM="p", PAT_BGN=[1], PAT_END=[9], PAT_FILE=["f"], PAT_LBL=["l"], FILE_UID=["u"],
                      ATPG_DSC=["d"], SRC_ID=["s"])  # fmt: skip
        writer.record("NMR", PMR_INDX=[1, 2], ATPG_NAM=["x", "y"])
        writer.record("CNR", CHN_NUM=1, BIT_POS=2, CELL_NAM="cell")
        writer.record("SSR", SSR_NAM="s", CHN_LIST=[1, 2, 3])
        writer.record("CDR", CHN_NAM="c", M_CLKS=[1], S_CLKS=[2, 3], CELL_LST=["a", "bc"])
        writer.record("STR", TEST_NUM=4, CYC_OFST=[1, 300], PMR_INDX=[1], LIM_INDX=[1], LIM_SPEC=[2], COND_LST=["c"],
                      EXP_DATA=[1], USER_TXT=["ab", "c"])  # fmt: skip
        writer.record(
            "GDR", GEN_DATA=[("U1", 1), ("B0", None), ("U2", 2), ("Cn", "g"), ("Dn", b"\x01"), ("N1", 3)]
        )
        writer.record("DTR", TEXT_DAT="text \u00b5")
        writer.record("MRR", FINISH_T=3)
    return buffer.getvalue()


SMALL_SHARED_FILES = [
    "MSK_X000_93k_LE.stdf",
    "main_Lot_1_Wafer_1_93k_tiny_LE.stdf",
    "SYNTH_libstdf_V4-2007.stdf",
    "SYNTH_pystdf_allrecords.std",
    "SYNTH_stdf2xls4_x.stdf",
    "SYNTH_semiate_FAR_WIR.stdf",
]


def seed_files() -> dict[str, bytes]:
    """Files to damage: the synthetic ones, and the small shared samples when they are there."""
    seeds = {"synthetic_LE": synthetic_file("<"), "synthetic_BE": synthetic_file(">")}
    for name in SMALL_SHARED_FILES:
        if (SHARED_STDF_DIR / name).is_file():
            seeds[name] = (SHARED_STDF_DIR / name).read_bytes()
    return seeds


SEEDS = seed_files()


def test_the_small_shared_samples_are_among_the_seeds():
    """Without them (shared/ absent) the damage tests cover the synthetic files alone: a skip here,
    a failure under SILICIO_REQUIRE_SHARED=1."""
    missing = [name for name in SMALL_SHARED_FILES if name not in SEEDS]
    if missing:
        missing_shared(
            f"{', '.join(missing)} not in {SHARED_STDF_DIR}: damage tests on synthetic files alone"
        )


def header_offsets(data: bytes) -> list[int]:
    """Where each record header of an intact file starts."""
    big = data[4] == 1
    offsets, pos = [], 0
    while pos + 4 <= len(data):
        offsets.append(pos)
        pos += 4 + struct.unpack(">H" if big else "<H", data[pos : pos + 2])[0]
    return offsets


HEADERS = {name: header_offsets(data) for name, data in SEEDS.items()}


def damaged(data: bytes, headers: list[int], rng: np.random.Generator) -> bytes:
    """``data`` with one to three random kinds of damage."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 7))
        at = int(rng.integers(0, max(len(out), 1)))
        if kind == 0:  # flip bits
            if out:
                out[at % len(out)] ^= int(rng.integers(1, 256))
        elif kind == 1:  # insert bytes
            out[at:at] = rng.integers(0, 256, int(rng.integers(1, 9))).astype(np.uint8).tobytes()
        elif kind == 2:  # delete bytes
            del out[at : at + int(rng.integers(1, 17))]
        elif kind == 3:  # truncate
            del out[at:]
        elif kind in (4, 5):  # overwrite a record's length, or its type and subtype
            header = headers[int(rng.integers(0, len(headers)))] + (0 if kind == 4 else 2)
            out[header : header + 2] = rng.integers(0, 256, 2).astype(np.uint8).tobytes()
        else:  # a byte of a field set to its largest value, as a count or length gone wrong
            if out:
                out[at % len(out)] = 0xFF
    return bytes(out)


def intact_far(data: bytes) -> bool:
    """Does ``data`` open with a FAR a reader must accept: length 2, (0, 10), CPU_TYPE 1 or 2, V4?"""
    if len(data) < 6 or data[2:4] != b"\x00\x0a" or data[4] not in (1, 2) or data[5] != 4:
        return False
    return struct.unpack(">H" if data[4] == 1 else "<H", data[:2])[0] == 2


def check_reader_on(data: bytes) -> None:
    """The reader's promises on any input: StdfError or a result; salvage reports its findings
    and agrees with the strict reading where that succeeds; what it salvages can be written."""
    try:
        strict = read(data, strict=True)
        strict_error = None
    except StdfError as exc:
        strict, strict_error = None, exc
    try:
        salvaged = read(data, strict=False)
    except StdfError as exc:
        assert not intact_far(data), f"strict=False raised past an intact FAR: {exc}"
        assert strict_error is not None
        return
    for name, table in salvaged.items():
        assert table.schema.equals(schema(name)), name
    if strict_error is not None:
        assert salvaged.issues, f"strict=True raised {strict_error} but strict=False reported no issue"
    else:
        assert not salvaged.issues, f"strict=True read it, yet strict=False found {salvaged.issues}"
        assert_same_tables(salvaged, strict)
    seqs = sorted(s for table in salvaged.values() for s in table.column("seq").to_pylist())
    assert seqs == list(range(len(seqs))), "seq must number the records read, 0 to n - 1"


@pytest.mark.parametrize("seed_name", list(SEEDS))
def test_seed_files_are_read_without_issues(seed_name):
    tables = read(SEEDS[seed_name], strict=False)
    assert not tables.issues
    if seed_name.startswith("synthetic"):  # its two vendor records are kept, with one warning
        assert tables["UNKNOWN"].column("REC_TYP").to_pylist() == [220, 220]
        assert [w.reason.split(" (")[0] for w in tables.warnings] == [
            "2 records of type REC_TYP=220 REC_SUB=1"
        ]


@pytest.mark.parametrize("seed_name", list(SEEDS))
def test_damaged_files_raise_only_stdf_errors(seed_name):
    data, headers = SEEDS[seed_name], HEADERS[seed_name]
    rng = np.random.default_rng(sum(seed_name.encode()))
    for _ in range(60):
        check_reader_on(damaged(data, headers, rng))


@settings(max_examples=150, deadline=None)
@given(
    seed_name=st.sampled_from(sorted(SEEDS)),
    rng_seed=st.integers(0, 2**32 - 1),
)
def test_damaged_files_found_by_hypothesis(seed_name, rng_seed):
    check_reader_on(damaged(SEEDS[seed_name], HEADERS[seed_name], np.random.default_rng(rng_seed)))


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=64),
    far=st.sampled_from([b"", b"\x02\x00\x00\x0a\x02\x04", b"\x00\x02\x00\x0a\x01\x04"]),
)
def test_random_bytes_after_a_far(data, far):
    check_reader_on(far + data)


def test_salvaged_tables_can_be_written_back():
    """Whatever strict=False keeps, the writer takes: every damaged seed file's salvage writes
    into a file that reads back to the same values."""
    rng = np.random.default_rng(7)
    for name, data in SEEDS.items():
        for _ in range(25):
            try:
                salvaged = read(damaged(data, HEADERS[name], rng), strict=False)
            except StdfError:
                continue
            rewritten = read(to_bytes(salvaged), strict=False)
            for table_name, table in salvaged.items():
                again = rewritten[table_name].drop_columns(["offset"])
                assert canonical(again.to_pylist()) == canonical(
                    table.drop_columns(["offset"]).to_pylist()
                ), (
                    name,
                    table_name,
                )


def test_nan_is_compared_by_bits():
    assert canonical([math.nan]) == canonical([float("nan")])
    assert canonical(-0.0) != canonical(0.0)


# --------------------------------------------------------------------------------------------
# Damage and edge cases the reader mishandles, each in its smallest file


def far_and(rec_typ: int, rec_sub: int, payload: bytes) -> bytes:
    return (
        b"\x02\x00\x00\x0a\x02\x04" + len(payload).to_bytes(2, "little") + bytes([rec_typ, rec_sub]) + payload
    )


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x02\x07V4-2007", id="two-names-one-there"),
        pytest.param(b"\x03", id="three-names-none-there"),
        pytest.param(b"\x01\x05ab", id="name-of-5-bytes-2-left"),
    ],
)
def test_vur_names_running_past_the_record_end_are_damage(payload):
    """Every other record type raises in strict mode when a field overruns the record; VUR reads
    on silently with UPD_CNT saying more names than UPD_NAM holds."""
    data = far_and(0, 30, payload)
    with pytest.raises(StdfError, match="VUR"):
        read(data)
    salvaged = read(data, strict=False)
    assert salvaged.issues
    (row,) = salvaged["VUR"].to_pylist()
    assert row["UPD_NAM"] is None or len(row["UPD_NAM"]) == row["UPD_CNT"]


def test_kxcf_of_width_zero_ending_a_record():
    """TXT_CNT 3 strings of UTX_SIZE 0 take no bytes: the record holds USER_TXT, it is not cut
    short before it (as arrays of no items at the end of a record are read as present)."""
    buffer = io.BytesIO()
    with StdfWriter(buffer) as writer:
        writer.record("STR", UTX_SIZE=0, USER_TXT=["", "", ""])
    (row,) = read(buffer.getvalue())["STR"].to_pylist()
    assert (row["TXT_CNT"], row["UTX_SIZE"]) == (3, 0)
    assert row["USER_TXT"] == ["", "", ""]
