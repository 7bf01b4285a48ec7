"""A lake's screening kept on disk (silicio.yields.stored): written, read back equal, found only
under the key of the same files and recipe, and never half read."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from silicio.yields.disposition import LakeScreening
from silicio.yields.screening import ScreeningResult
from silicio.yields.stored import load_screening, save_screening, screening_key, stored_keys


def _screening() -> LakeScreening:
    reasons = pa.table({"lot_id": ["L1", "L1"], "part_index": pa.array([3, 9], pa.uint32()), "rule": ["NNR", "PAT_STATIC"],
                        "value": [1.5, None]})  # fmt: skip
    parts = pa.table(
        {
            "lot_id": ["L1"] * 3,
            "part_index": pa.array([3, 9, 10], pa.uint32()),
            "screened": [True, True, False],
        }
    )
    result = ScreeningResult(
        recipe={"name": "auto", "pat": "robust"},
        reasons=reasons,
        parts=parts,
        bin_summary=pa.table({"lot_id": ["L1"], "count_after": [1]}),
        yield_summary=pa.table({"lot_id": ["L1"], "yield_after": [1 / 3]}),
        yield_before=float("nan"),
        yield_after=1 / 3,
        tables={
            "static_limits": pa.table({"test_num": pa.array([7], pa.uint32()), "lo": [0.1], "hi": [0.9]})
        },
        notes=("a note",),
    )
    statistics = pl.DataFrame({"lot": ["L1", "L2"], "yield": [0.9, 0.5]})
    return LakeScreening(
        results={"SLC-TV100": result, None: result}, notes=["P2: not screened"], lot_statistics=statistics
    )


def test_round_trip_equal(tmp_path):
    original = _screening()
    key = screening_key(["b" * 64, "a" * 64], "[pat]\nmethod = 'robust'\n")
    save_screening(original, tmp_path, key)
    back = load_screening(tmp_path, key)
    assert back is not None
    assert list(back.results) == ["SLC-TV100", None]
    for product, result in original.results.items():
        again = back.results[product]
        for name in ("reasons", "parts", "bin_summary", "yield_summary"):
            assert getattr(again, name).equals(getattr(result, name)), name
        assert again.tables["static_limits"].equals(result.tables["static_limits"])
        assert again.recipe == result.recipe and again.notes == result.notes
        assert (
            again.yield_after == result.yield_after and again.yield_before != again.yield_before
        )  # NaN kept
    assert back.notes == original.notes
    assert back.lot_statistics.equals(original.lot_statistics)


def test_key_names_files_recipe_and_order_does_not_matter():
    assert screening_key(["a", "b"], "r") == screening_key(["b", "a"], "r")
    assert screening_key(["a", "b"], "r") != screening_key(["a", "b", "c"], "r")
    assert screening_key(["a"], "r") != screening_key(["a"], "r2")


def test_other_keys_are_not_served_and_are_replaced(tmp_path):
    first, second = screening_key(["a"], "r"), screening_key(["a", "b"], "r")
    save_screening(_screening(), tmp_path, first)
    assert load_screening(tmp_path, second) is None
    save_screening(_screening(), tmp_path, second)
    assert set(stored_keys(tmp_path)) == {second}


def test_damaged_folder_is_computed_again_not_half_read(tmp_path):
    key = screening_key(["a"], "r")
    folder = save_screening(_screening(), tmp_path, key)
    (folder / "0-parts.arrow").write_bytes(b"not arrow")
    assert load_screening(tmp_path, key) is None
    (folder / "manifest.json").unlink()
    assert load_screening(tmp_path, key) is None
