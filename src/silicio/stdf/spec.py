"""Record layouts of STDF V4 and its V4-2007 additions.

References
----------
Teradyne, *Standard Test Data Format (STDF) Specification Version 4* (1997), and the
*STDF V4-2007* addendum (scan records VUR, PSR, NMR, CNR, SSR, CDR, STR).

Field names are the specification's own (TEST_NUM, RESULT, ...). Data type codes:

=========  =====================================================================
``U1..U8``  unsigned integer of 1, 2, 4 or 8 bytes
``I1..I8``  signed integer
``R4 R8``   IEEE float
``C1``      one character
``B1``      one byte of flags
``Cn``      string, 1-byte length prefix; ``Sn``: 2-byte length prefix (V4-2007)
``Bn``      bytes, 1-byte length prefix
``Dn``      bit field, 2-byte *bit* count prefix
``Kx<T>``   array of ``count`` items of type T (``N1``: packed nibbles, two per byte)
``KxUf``    array of unsigned integers whose width in bytes is given by another field
``KxCf``    array of fixed-width strings whose width is given by another field
``Vn``      GDR generic data: each item is a type byte followed by its value
=========  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

#: Width in bytes of the fixed-size scalar types.
FIXED_SIZE = {
    "U1": 1, "U2": 2, "U4": 4, "U8": 8,
    "I1": 1, "I2": 2, "I4": 4, "I8": 8,
    "R4": 4, "R8": 8, "C1": 1, "B1": 1,
}  # fmt: skip

#: numpy dtype code (without byte order) of each fixed-size scalar type.
NUMPY_CODE = {
    "U1": "u1", "U2": "u2", "U4": "u4", "U8": "u8",
    "I1": "i1", "I2": "i2", "I4": "i4", "I8": "i8",
    "R4": "f4", "R8": "f8", "B1": "u1", "C1": "u1",
}  # fmt: skip

#: GDR generic data type codes (spec, GDR 'Notes on Specific Fields').
GDR_TYPE_CODES = {
    0: "B0", 1: "U1", 2: "U2", 3: "U4", 4: "I1", 5: "I2", 6: "I4",
    7: "R4", 8: "R8", 10: "Cn", 11: "Bn", 12: "Dn", 13: "N1",
}  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One field of a record: its spec name, its STDF data type and, for arrays, the field
    holding the item count (``count``) and, for ``KxUf``/``KxCf``, the one holding the width."""

    name: str
    type: str
    count: str | None = None
    size: str | None = None

    @property
    def item_type(self) -> str | None:
        return self.type[2:] if self.type.startswith("Kx") else None


@dataclass(frozen=True)
class RecordType:
    name: str
    rec_typ: int
    rec_sub: int
    title: str
    fields: tuple[Field, ...]
    since_2007: bool = False

    @property
    def code(self) -> tuple[int, int]:
        return (self.rec_typ, self.rec_sub)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _fields(spec: str, **arrays: str) -> tuple[Field, ...]:
    """Parse 'NAME:TYPE NAME:TYPE ...'; ``arrays`` maps an array field to its count field
    (and 'COUNT/SIZE' for KxUf / KxCf)."""
    out = []
    for item in spec.split():
        name, typ = item.split(":")
        count = size = None
        if typ.startswith("Kx"):
            ref = arrays[name]
            count, _, size = ref.partition("/")
            size = size or None
        out.append(Field(name, typ, count, size))
    return tuple(out)


_MIR = (
    "SETUP_T:U4 START_T:U4 STAT_NUM:U1 MODE_COD:C1 RTST_COD:C1 PROT_COD:C1 BURN_TIM:U2 CMOD_COD:C1 "
    "LOT_ID:Cn PART_TYP:Cn NODE_NAM:Cn TSTR_TYP:Cn JOB_NAM:Cn JOB_REV:Cn SBLOT_ID:Cn OPER_NAM:Cn "
    "EXEC_TYP:Cn EXEC_VER:Cn TEST_COD:Cn TST_TEMP:Cn USER_TXT:Cn AUX_FILE:Cn PKG_TYP:Cn FAMLY_ID:Cn "
    "DATE_COD:Cn FACIL_ID:Cn FLOOR_ID:Cn PROC_ID:Cn OPER_FRQ:Cn SPEC_NAM:Cn SPEC_VER:Cn FLOW_ID:Cn "
    "SETUP_ID:Cn DSGN_REV:Cn ENG_ID:Cn ROM_COD:Cn SERL_NUM:Cn SUPR_NAM:Cn"
)
_SDR = (
    "HEAD_NUM:U1 SITE_GRP:U1 SITE_CNT:U1 SITE_NUM:KxU1 HAND_TYP:Cn HAND_ID:Cn CARD_TYP:Cn CARD_ID:Cn "
    "LOAD_TYP:Cn LOAD_ID:Cn DIB_TYP:Cn DIB_ID:Cn CABL_TYP:Cn CABL_ID:Cn CONT_TYP:Cn CONT_ID:Cn "
    "LASR_TYP:Cn LASR_ID:Cn EXTR_TYP:Cn EXTR_ID:Cn"
)
_WRR = (
    "HEAD_NUM:U1 SITE_GRP:U1 FINISH_T:U4 PART_CNT:U4 RTST_CNT:U4 ABRT_CNT:U4 GOOD_CNT:U4 FUNC_CNT:U4 "
    "WAFER_ID:Cn FABWF_ID:Cn FRAME_ID:Cn MASK_ID:Cn USR_DESC:Cn EXC_DESC:Cn"
)
_TSR = (
    "HEAD_NUM:U1 SITE_NUM:U1 TEST_TYP:C1 TEST_NUM:U4 EXEC_CNT:U4 FAIL_CNT:U4 ALRM_CNT:U4 TEST_NAM:Cn "
    "SEQ_NAME:Cn TEST_LBL:Cn OPT_FLAG:B1 TEST_TIM:R4 TEST_MIN:R4 TEST_MAX:R4 TST_SUMS:R4 TST_SQRS:R4"
)
_PTR = (
    "TEST_NUM:U4 HEAD_NUM:U1 SITE_NUM:U1 TEST_FLG:B1 PARM_FLG:B1 RESULT:R4 TEST_TXT:Cn ALARM_ID:Cn "
    "OPT_FLAG:B1 RES_SCAL:I1 LLM_SCAL:I1 HLM_SCAL:I1 LO_LIMIT:R4 HI_LIMIT:R4 UNITS:Cn C_RESFMT:Cn "
    "C_LLMFMT:Cn C_HLMFMT:Cn LO_SPEC:R4 HI_SPEC:R4"
)
_MPR = (
    "TEST_NUM:U4 HEAD_NUM:U1 SITE_NUM:U1 TEST_FLG:B1 PARM_FLG:B1 RTN_ICNT:U2 RSLT_CNT:U2 RTN_STAT:KxN1 "
    "RTN_RSLT:KxR4 TEST_TXT:Cn ALARM_ID:Cn OPT_FLAG:B1 RES_SCAL:I1 LLM_SCAL:I1 HLM_SCAL:I1 LO_LIMIT:R4 "
    "HI_LIMIT:R4 START_IN:R4 INCR_IN:R4 RTN_INDX:KxU2 UNITS:Cn UNITS_IN:Cn C_RESFMT:Cn C_LLMFMT:Cn "
    "C_HLMFMT:Cn LO_SPEC:R4 HI_SPEC:R4"
)
_FTR = (
    "TEST_NUM:U4 HEAD_NUM:U1 SITE_NUM:U1 TEST_FLG:B1 OPT_FLAG:B1 CYCL_CNT:U4 REL_VADR:U4 REPT_CNT:U4 "
    "NUM_FAIL:U4 XFAIL_AD:I4 YFAIL_AD:I4 VECT_OFF:I2 RTN_ICNT:U2 PGM_ICNT:U2 RTN_INDX:KxU2 RTN_STAT:KxN1 "
    "PGM_INDX:KxU2 PGM_STAT:KxN1 FAIL_PIN:Dn VECT_NAM:Cn TIME_SET:Cn OP_CODE:Cn TEST_TXT:Cn ALARM_ID:Cn "
    "PROG_TXT:Cn RSLT_TXT:Cn PATG_NUM:U1 SPIN_MAP:Dn"
)
_STR = (
    "CONT_FLG:B1 TEST_NUM:U4 HEAD_NUM:U1 SITE_NUM:U1 PSR_REF:U2 TEST_FLG:B1 LOG_TYP:Cn TEST_TXT:Cn "
    "ALARM_ID:Cn PROG_TXT:Cn RSLT_TXT:Cn Z_VAL:U1 FMU_FLG:B1 MASK_MAP:Dn FAL_MAP:Dn CYC_CNT_T:U8 "
    "TOTF_CNT:U4 TOTL_CNT:U4 CYC_BASE:U8 BIT_BASE:U4 COND_CNT:U2 LIM_CNT:U2 CYC_SIZE:U1 PMR_SIZE:U1 "
    "CHN_SIZE:U1 PAT_SIZE:U1 BIT_SIZE:U1 U1_SIZE:U1 U2_SIZE:U1 U3_SIZE:U1 UTX_SIZE:U1 CAP_BGN:U2 "
    "LIM_INDX:KxU2 LIM_SPEC:KxU4 COND_LST:KxCn CYC_CNT:U2 CYC_OFST:KxUf PMR_CNT:U2 PMR_INDX:KxUf "
    "CHN_CNT:U2 CHN_NUM:KxUf EXP_CNT:U2 EXP_DATA:KxU1 CAP_CNT:U2 CAP_DATA:KxU1 NEW_CNT:U2 NEW_DATA:KxU1 "
    "PAT_CNT:U2 PAT_NUM:KxUf BPOS_CNT:U2 BIT_POS:KxUf USR1_CNT:U2 USR1:KxUf USR2_CNT:U2 USR2:KxUf "
    "USR3_CNT:U2 USR3:KxUf TXT_CNT:U2 USER_TXT:KxCf"
)

_RECORDS = [
    RecordType("FAR", 0, 10, "File Attributes Record", _fields("CPU_TYPE:U1 STDF_VER:U1")),
    RecordType("ATR", 0, 20, "Audit Trail Record", _fields("MOD_TIM:U4 CMD_LINE:Cn")),
    # VUR has two layouts in use; the reader detects which (see reader._decode_vur).
    RecordType("VUR", 0, 30, "Version Update Record", _fields("UPD_CNT:U1 UPD_NAM:KxCn", UPD_NAM="UPD_CNT"), True),
    RecordType("MIR", 1, 10, "Master Information Record", _fields(_MIR)),
    RecordType("MRR", 1, 20, "Master Results Record", _fields("FINISH_T:U4 DISP_COD:C1 USR_DESC:Cn EXC_DESC:Cn")),
    RecordType("PCR", 1, 30, "Part Count Record",
               _fields("HEAD_NUM:U1 SITE_NUM:U1 PART_CNT:U4 RTST_CNT:U4 ABRT_CNT:U4 GOOD_CNT:U4 FUNC_CNT:U4")),
    RecordType("HBR", 1, 40, "Hardware Bin Record",
               _fields("HEAD_NUM:U1 SITE_NUM:U1 HBIN_NUM:U2 HBIN_CNT:U4 HBIN_PF:C1 HBIN_NAM:Cn")),
    RecordType("SBR", 1, 50, "Software Bin Record",
               _fields("HEAD_NUM:U1 SITE_NUM:U1 SBIN_NUM:U2 SBIN_CNT:U4 SBIN_PF:C1 SBIN_NAM:Cn")),
    RecordType("PMR", 1, 60, "Pin Map Record",
               _fields("PMR_INDX:U2 CHAN_TYP:U2 CHAN_NAM:Cn PHY_NAM:Cn LOG_NAM:Cn HEAD_NUM:U1 SITE_NUM:U1")),
    RecordType("PGR", 1, 62, "Pin Group Record",
               _fields("GRP_INDX:U2 GRP_NAM:Cn INDX_CNT:U2 PMR_INDX:KxU2", PMR_INDX="INDX_CNT")),
    RecordType("PLR", 1, 63, "Pin List Record",
               _fields("GRP_CNT:U2 GRP_INDX:KxU2 GRP_MODE:KxU2 GRP_RADX:KxU1 PGM_CHAR:KxCn RTN_CHAR:KxCn "
                       "PGM_CHAL:KxCn RTN_CHAL:KxCn",
                       **dict.fromkeys(["GRP_INDX", "GRP_MODE", "GRP_RADX", "PGM_CHAR", "RTN_CHAR",
                                        "PGM_CHAL", "RTN_CHAL"], "GRP_CNT"))),
    RecordType("RDR", 1, 70, "Retest Data Record", _fields("NUM_BINS:U2 RTST_BIN:KxU2", RTST_BIN="NUM_BINS")),
    RecordType("SDR", 1, 80, "Site Description Record", _fields(_SDR, SITE_NUM="SITE_CNT")),
    RecordType("PSR", 1, 90, "Pattern Sequence Record",
               _fields("CONT_FLG:B1 PSR_INDX:U2 PSR_NAM:Cn OPT_FLG:B1 TOTP_CNT:U2 LOCP_CNT:U2 PAT_BGN:KxU8 "
                       "PAT_END:KxU8 PAT_FILE:KxCn PAT_LBL:KxCn FILE_UID:KxCn ATPG_DSC:KxCn SRC_ID:KxCn",
                       **dict.fromkeys(["PAT_BGN", "PAT_END", "PAT_FILE", "PAT_LBL", "FILE_UID",
                                        "ATPG_DSC", "SRC_ID"], "LOCP_CNT")), True),
    RecordType("NMR", 1, 91, "Name Map Record",
               _fields("CONT_FLG:B1 TOTM_CNT:U2 LOCM_CNT:U2 PMR_INDX:KxU2 ATPG_NAM:KxCn",
                       PMR_INDX="LOCM_CNT", ATPG_NAM="LOCM_CNT"), True),
    RecordType("CNR", 1, 92, "Cell Name Record", _fields("CHN_NUM:U2 BIT_POS:U4 CELL_NAM:Sn"), True),
    RecordType("SSR", 1, 93, "Scan Structure Record",
               _fields("SSR_NAM:Cn CHN_CNT:U2 CHN_LIST:KxU2", CHN_LIST="CHN_CNT"), True),
    RecordType("CDR", 1, 94, "Chain Description Record",
               _fields("CONT_FLG:B1 CDR_INDX:U2 CHN_NAM:Cn CHN_LEN:U4 SIN_PIN:U2 SOUT_PIN:U2 MSTR_CNT:U1 "
                       "M_CLKS:KxU2 SLAV_CNT:U1 S_CLKS:KxU2 INV_VAL:U1 LST_CNT:U2 CELL_LST:KxSn",
                       M_CLKS="MSTR_CNT", S_CLKS="SLAV_CNT", CELL_LST="LST_CNT"), True),
    RecordType("WIR", 2, 10, "Wafer Information Record",
               _fields("HEAD_NUM:U1 SITE_GRP:U1 START_T:U4 WAFER_ID:Cn")),
    RecordType("WRR", 2, 20, "Wafer Results Record", _fields(_WRR)),
    RecordType("WCR", 2, 30, "Wafer Configuration Record",
               _fields("WAFR_SIZ:R4 DIE_HT:R4 DIE_WID:R4 WF_UNITS:U1 WF_FLAT:C1 CENTER_X:I2 CENTER_Y:I2 "
                       "POS_X:C1 POS_Y:C1")),
    RecordType("PIR", 5, 10, "Part Information Record", _fields("HEAD_NUM:U1 SITE_NUM:U1")),
    RecordType("PRR", 5, 20, "Part Results Record",
               _fields("HEAD_NUM:U1 SITE_NUM:U1 PART_FLG:B1 NUM_TEST:U2 HARD_BIN:U2 SOFT_BIN:U2 X_COORD:I2 "
                       "Y_COORD:I2 TEST_T:U4 PART_ID:Cn PART_TXT:Cn PART_FIX:Bn")),
    RecordType("TSR", 10, 30, "Test Synopsis Record", _fields(_TSR)),
    RecordType("PTR", 15, 10, "Parametric Test Record", _fields(_PTR)),
    RecordType("MPR", 15, 15, "Multiple-Result Parametric Record",
               _fields(_MPR, RTN_STAT="RTN_ICNT", RTN_RSLT="RSLT_CNT", RTN_INDX="RTN_ICNT")),
    RecordType("FTR", 15, 20, "Functional Test Record",
               _fields(_FTR, RTN_INDX="RTN_ICNT", RTN_STAT="RTN_ICNT", PGM_INDX="PGM_ICNT",
                       PGM_STAT="PGM_ICNT")),
    RecordType("STR", 15, 30, "Scan Test Record",
               _fields(_STR, LIM_INDX="LIM_CNT", LIM_SPEC="LIM_CNT", COND_LST="COND_CNT",
                       CYC_OFST="CYC_CNT/CYC_SIZE", PMR_INDX="PMR_CNT/PMR_SIZE", CHN_NUM="CHN_CNT/CHN_SIZE",
                       EXP_DATA="EXP_CNT", CAP_DATA="CAP_CNT", NEW_DATA="NEW_CNT", PAT_NUM="PAT_CNT/PAT_SIZE",
                       BIT_POS="BPOS_CNT/BIT_SIZE", USR1="USR1_CNT/U1_SIZE", USR2="USR2_CNT/U2_SIZE",
                       USR3="USR3_CNT/U3_SIZE", USER_TXT="TXT_CNT/UTX_SIZE"), True),
    RecordType("BPS", 20, 10, "Begin Program Section Record", _fields("SEQ_NAME:Cn")),
    RecordType("EPS", 20, 20, "End Program Section Record", ()),
    RecordType("GDR", 50, 10, "Generic Data Record", _fields("FLD_CNT:U2 GEN_DATA:Vn")),
    RecordType("DTR", 50, 30, "Datalog Text Record", _fields("TEXT_DAT:Cn")),
]  # fmt: skip

#: Record types by their three-letter name, in specification order.
RECORDS: dict[str, RecordType] = {r.name: r for r in _RECORDS}
#: Record types by (REC_TYP, REC_SUB).
BY_CODE: dict[tuple[int, int], RecordType] = {r.code: r for r in _RECORDS}

#: Table name for records whose (REC_TYP, REC_SUB) the specification does not define: vendor
#: records, and the record types it reserves. The reader keeps them as they are.
UNKNOWN = "UNKNOWN"

#: REC_TYP codes the specification reserves (V4, "Record Types and Subtypes").
RESERVED_REC_TYP = {180: "reserved for use by Image software", 181: "reserved for use by IG900 software"}

#: Widths in bytes a KxUf item may take: those of the unsigned integers U*1, U*2, U*4 and U*8
#: (V4-2007, STR: each ``*_SIZE`` field gives one of them).
UF_WIDTHS = (1, 2, 4, 8)

_ARROW_SCALAR = {
    "U1": pa.uint8(), "U2": pa.uint16(), "U4": pa.uint32(), "U8": pa.uint64(),
    "I1": pa.int8(), "I2": pa.int16(), "I4": pa.int32(), "I8": pa.int64(),
    "R4": pa.float32(), "R8": pa.float64(), "B1": pa.uint8(), "C1": pa.string(),
    "Cn": pa.string(), "Sn": pa.string(), "Cf": pa.string(), "Bn": pa.binary(),
    "N1": pa.uint8(), "Uf": pa.uint64(),
}  # fmt: skip

#: Dn bit fields keep their exact bit count beside the bytes that hold them.
DN_TYPE = pa.struct([("bit_count", pa.uint16()), ("bit_data", pa.binary())])

#: One GDR generic-data item: its type code and the value in the column of that type.
GDR_ITEM_TYPE = pa.struct(
    [("TYPE", pa.uint8())]
    + [
        (code, DN_TYPE if code == "Dn" else _ARROW_SCALAR[code])
        for code in GDR_TYPE_CODES.values()
        if code != "B0"
    ]
)


def arrow_type(field: Field) -> pa.DataType:
    """The Arrow type a field is read into."""
    if field.type == "Dn":
        return DN_TYPE
    if field.type == "Vn":
        return pa.list_(GDR_ITEM_TYPE)
    if field.item_type is not None:
        return pa.list_(_ARROW_SCALAR[field.item_type])
    return _ARROW_SCALAR[field.type]


#: Columns every table starts with: position of the record in the file and its header offset.
POSITION_COLUMNS = [
    pa.field("seq", pa.uint64(), nullable=False),
    pa.field("offset", pa.uint64(), nullable=False),
]

UNKNOWN_SCHEMA = pa.schema(
    POSITION_COLUMNS
    + [pa.field("REC_TYP", pa.uint8()), pa.field("REC_SUB", pa.uint8()), pa.field("REC_DATA", pa.binary())]
)


def schema(record_type: str) -> pa.Schema:
    """Arrow schema of a record type's table: ``seq``, ``offset``, then every field in spec order.

    Each field's STDF type is kept in its metadata (``stdf_type``).
    """
    if record_type == UNKNOWN:
        return UNKNOWN_SCHEMA
    rt = RECORDS[record_type]
    fields = [pa.field(f.name, arrow_type(f), metadata={"stdf_type": f.type}) for f in rt.fields]
    return pa.schema(POSITION_COLUMNS + fields, metadata={"record_type": rt.name, "title": rt.title})
