"""fill_omitted: omitted (null) fields take the STDF V4 spec's missing/invalid values."""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest

from silicio.stdf import read, schema
from silicio.stdf.missing import KEPT_NULL, OMITTED_VALUES, fill_omitted
from silicio.stdf.spec import RECORDS


def table_of(record_type: str, rows: list[dict]) -> pa.Table:
    """A table shaped as ``read`` gives it; fields a row leaves out are null."""
    full = [{"seq": i, "offset": 100 * i, **row} for i, row in enumerate(rows)]
    return pa.Table.from_pylist(full, schema=schema(record_type))


def test_prr_omitted_tail_gets_spec_flags_and_present_values_stay():
    prr = table_of(
        "PRR",
        [
            {"HEAD_NUM": 1, "SITE_NUM": 2, "PART_FLG": 8, "NUM_TEST": 5, "HARD_BIN": 3, "SOFT_BIN": 7,
             "X_COORD": -4, "Y_COORD": 9, "TEST_T": 120, "PART_ID": "17", "PART_TXT": "t", "PART_FIX": b"\x01"},
            {"HEAD_NUM": 1, "SITE_NUM": 3, "PART_FLG": 0, "NUM_TEST": 5, "HARD_BIN": 1},
        ],
    )  # fmt: skip
    filled = fill_omitted({"PRR": prr})["PRR"]
    first, second = filled.to_pylist()
    assert first == prr.to_pylist()[0]
    assert second["SOFT_BIN"] == 65535
    assert (second["X_COORD"], second["Y_COORD"]) == (-32768, -32768)
    assert second["TEST_T"] == 0
    assert (second["PART_ID"], second["PART_TXT"], second["PART_FIX"]) == ("", "", b"")
    assert filled.schema == prr.schema  # types and stdf_type metadata kept


def test_ptr_default_data_fields_stay_null_but_text_fields_fill():
    ptr = table_of(
        "PTR",
        [
            {"TEST_NUM": 1, "HEAD_NUM": 1, "SITE_NUM": 0, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": 1.5,
             "TEST_TXT": "vdd", "ALARM_ID": "", "OPT_FLAG": 0x0E, "RES_SCAL": 0, "LLM_SCAL": 0, "HLM_SCAL": 0,
             "LO_LIMIT": 1.0, "HI_LIMIT": 2.0, "UNITS": "V", "C_RESFMT": "", "C_LLMFMT": "", "C_HLMFMT": "",
             "LO_SPEC": 0.5, "HI_SPEC": 2.5},
            {"TEST_NUM": 1, "HEAD_NUM": 1, "SITE_NUM": 0, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": 1.6},
        ],
    )  # fmt: skip
    second = fill_omitted({"PTR": ptr})["PTR"].to_pylist()[1]
    assert (second["TEST_TXT"], second["ALARM_ID"]) == ("", "")
    for name in ("OPT_FLAG", "RES_SCAL", "LO_LIMIT", "HI_LIMIT", "UNITS", "C_HLMFMT", "LO_SPEC", "HI_SPEC"):
        assert second[name] is None, name


def test_mpr_arrays_before_default_data_fill_per_member_and_rtn_indx_stays_null():
    mpr = table_of("MPR", [{"TEST_NUM": 4, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0,
                            "RTN_ICNT": 2, "RSLT_CNT": 3}])  # fmt: skip
    row = fill_omitted({"MPR": mpr})["MPR"].to_pylist()[0]
    assert row["RTN_STAT"] == [0, 0]
    assert row["RTN_RSLT"] == [0.0, 0.0, 0.0]
    assert row["RTN_INDX"] is None and row["OPT_FLAG"] is None


def test_plr_arrays_get_one_flag_per_member_announced_by_the_count():
    plr = table_of(
        "PLR",
        [
            {"GRP_CNT": 3, "GRP_INDX": [1, 2, 3], "GRP_MODE": [10, 10, 20]},
            {"GRP_CNT": 2, "GRP_INDX": [4, 5], "GRP_MODE": [0, 0], "GRP_RADX": [2, 16], "PGM_CHAR": ["0", "1"],
             "RTN_CHAR": ["L", "H"]},
            {},
        ],
    )  # fmt: skip
    first, second, empty = fill_omitted({"PLR": plr})["PLR"].to_pylist()
    assert first["GRP_MODE"] == [10, 10, 20]
    assert first["GRP_RADX"] == [0, 0, 0]
    assert first["PGM_CHAR"] == first["RTN_CHAL"] == ["", "", ""]
    assert second["RTN_CHAR"] == ["L", "H"]
    assert second["PGM_CHAL"] == second["RTN_CHAL"] == ["", ""]
    assert empty["GRP_CNT"] == 0
    assert empty["GRP_INDX"] == empty["PGM_CHAR"] == []


def test_ftr_bit_fields_flags_and_pattern_generator():
    ftr = table_of("FTR", [{"TEST_NUM": 9, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0x80}])
    row = fill_omitted({"FTR": ftr})["FTR"].to_pylist()[0]
    assert row["TEST_FLG"] == 0x80
    assert row["OPT_FLAG"] == 0
    assert row["FAIL_PIN"] == row["SPIN_MAP"] == {"bit_count": 0, "bit_data": b""}
    assert row["PATG_NUM"] == 255
    assert row["RTN_INDX"] == row["PGM_STAT"] == []
    assert row["VECT_NAM"] == ""


def test_single_characters_get_a_space_and_counts_the_all_ones_flag():
    mir = table_of("MIR", [{"SETUP_T": 1, "START_T": 2, "STAT_NUM": 3}])
    tsr = table_of("TSR", [{"HEAD_NUM": 255, "SITE_NUM": 0}])
    pmr = table_of("PMR", [{"PMR_INDX": 1, "CHAN_TYP": 0, "CHAN_NAM": "c", "PHY_NAM": "p", "LOG_NAM": "l"}])
    out = fill_omitted({"MIR": mir, "TSR": tsr, "PMR": pmr})
    mir_row, tsr_row, pmr_row = (out[name].to_pylist()[0] for name in ("MIR", "TSR", "PMR"))
    assert (mir_row["MODE_COD"], mir_row["CMOD_COD"], mir_row["BURN_TIM"]) == (" ", " ", 65535)
    assert mir_row["LOT_ID"] == ""
    assert tsr_row["TEST_TYP"] == " "
    assert (tsr_row["EXEC_CNT"], tsr_row["FAIL_CNT"], tsr_row["ALRM_CNT"]) == (4294967295,) * 3
    assert tsr_row["TEST_NUM"] == 0 and tsr_row["TST_SQRS"] == 0.0
    assert (pmr_row["HEAD_NUM"], pmr_row["SITE_NUM"]) == (1, 1)


def test_gdr_data_left_out_becomes_pad_fields_and_vur_count_stays_null():
    gdr = table_of("GDR", [{"FLD_CNT": 2}, {}])
    vur = table_of("VUR", [{"UPD_NAM": ["V4-2007"]}])
    out = fill_omitted({"GDR": gdr, "VUR": vur})
    announced, empty = out["GDR"]["GEN_DATA"].to_pylist()
    assert [item["TYPE"] for item in announced] == [0, 0]
    assert all(value is None for item in announced for key, value in item.items() if key != "TYPE")
    assert empty == []
    assert out["VUR"].to_pylist()[0]["UPD_CNT"] is None


def test_unknown_records_and_chunked_tables_pass_through():
    unknown = pa.table({"seq": pa.array([0], pa.uint64()), "REC_DATA": pa.array([None], pa.binary())})
    chunked = pa.concat_tables(
        [table_of("HBR", [{"HEAD_NUM": 1}]), table_of("HBR", [{"HEAD_NUM": 2, "HBIN_PF": "P"}])]
    )
    out = fill_omitted({"UNKNOWN": unknown, "HBR": chunked})
    assert out["UNKNOWN"] is unknown
    assert out["HBR"]["HBIN_PF"].to_pylist() == [" ", "P"]
    assert out["HBR"]["HBIN_NAM"].to_pylist() == ["", ""]


@pytest.mark.parametrize(("record_type", "field_name"), sorted(OMITTED_VALUES))
def test_each_special_value_names_a_spec_field_and_fits_its_column(record_type, field_name):
    field = RECORDS[record_type].field(field_name)
    column_type = schema(record_type).field(field_name).type
    assert field.type[0] in "UI"
    pa.scalar(OMITTED_VALUES[(record_type, field_name)], column_type)  # raises when out of range


def test_kept_null_fields_exist_in_spec():
    for record_type, names in KEPT_NULL.items():
        for name in names:
            RECORDS[record_type].field(name)
    assert {"OPT_FLAG", "LO_LIMIT", "HI_SPEC", "UNITS"} <= KEPT_NULL["PTR"]
    assert "RESULT" not in KEPT_NULL["PTR"] and "ALARM_ID" not in KEPT_NULL["PTR"]


def test_fills_what_the_reader_left_null_in_a_truncated_record():
    def record(rec_typ: int, rec_sub: int, payload: bytes) -> bytes:
        return struct.pack("<HBB", len(payload), rec_typ, rec_sub) + payload

    # a WRR that stops after PART_CNT, as some testers write it
    data = record(0, 10, bytes([2, 4])) + record(2, 20, struct.pack("<BBII", 1, 3, 1_700_000_000, 412))
    wrr = fill_omitted(read(data))["WRR"].to_pylist()[0]
    assert (wrr["SITE_GRP"], wrr["PART_CNT"]) == (3, 412)
    assert wrr["RTST_CNT"] == wrr["FUNC_CNT"] == 4294967295
    assert wrr["WAFER_ID"] == wrr["EXC_DESC"] == ""
