"""``silicio map``: the maps of galaxy_lot2 (WCR: Y grows upward) come out with the highest Y on top,
in G85 and in the PNG; G85 and E142 files go through ``silicio map import`` byte for byte; the PyPI
g85 reader counts the CLI's bins as the STDF does; bad input is one line and exit 2.

The expected maps are worked out here from the raw PRR records with numpy, not through
silicio.yields: each position's bin is that of the last PRR at its X/Y (a retest supersedes).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from typer.testing import CliRunner

from silicio.cli import app
from silicio.stdf import read
from tests.conftest import shared_stdf

runner = CliRunner()
G85 = "{http://www.semi.org}"
NULL = 255


def silicio(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def final_grid(path: Path) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(bins, passed) as rows x columns arrays with row 0 the HIGHEST Y and column 0 the smallest X
    (NULL / False where there is no die), and the Y, X of the grid's top-left cell, from the PRR
    records: the last PRR at each position wins; PART_FLG bit 3 set is a fail, bit 4 no verdict."""
    prr = read(path)["PRR"]
    x, y = prr["X_COORD"].to_numpy().astype(np.int64), prr["Y_COORD"].to_numpy().astype(np.int64)
    hard, flags = prr["HARD_BIN"].to_numpy().astype(np.int64), prr["PART_FLG"].to_numpy().astype(np.int64)
    # np.unique's first index of each position in the reversed records is its last PRR.
    _, first_reversed = np.unique(np.stack([x[::-1], y[::-1]], axis=1), axis=0, return_index=True)
    last = len(x) - 1 - first_reversed
    y_max, x_min = int(y.max()), int(x.min())
    shape = (y_max - int(y.min()) + 1, int(x.max()) - x_min + 1)
    bins, passed = np.full(shape, NULL), np.zeros(shape, bool)
    bins[y_max - y[last], x[last] - x_min] = hard[last]
    passed[y_max - y[last], x[last] - x_min] = (flags[last] & 0x18) == 0
    return bins, passed, y_max, x_min


@pytest.fixture(scope="module")
def galaxy() -> Path:
    return shared_stdf("galaxy_lot2_A530_BE.stdf")


@pytest.fixture(scope="module")
def truth(galaxy):
    return final_grid(galaxy)


@pytest.fixture(scope="module")
def exported(galaxy, tmp_path_factory) -> dict[str, Path]:
    """galaxy_lot2 exported once in each format."""
    folder = tmp_path_factory.mktemp("maps")
    out = {}
    for fmt, name in (("g85", "map.g85.xml"), ("e142", "map.e142.xml"), ("png", "map.png")):
        result = silicio("map", galaxy, "--format", fmt, "--out", folder / name)
        assert result.exit_code == 0, result.output
        assert "Y grows up" in result.stdout
        out[fmt] = folder / name
    return out


def test_galaxy_g85_first_row_is_the_highest_y(galaxy, exported, truth):
    wcr = read(galaxy)["WCR"].to_pylist()[0]
    assert (wcr["POS_X"], wcr["POS_Y"]) == ("R", "U")  # the file says Y grows upward
    bins, _, y_max, x_min = truth
    device = ET.parse(exported["g85"]).getroot().find(f"{G85}Map/{G85}Device")
    rows = [[int(code) for code in row.text.split()] for row in device.iter(f"{G85}Row")]
    assert np.array_equal(np.array(rows), bins)  # row 0 is Y = y_max, the last row the lowest Y
    assert device.get("OriginLocation") == "3"  # SEMI G85: origin lower left (X right, Y up)
    # The first reference device is the origin corner: smallest X, smallest Y.
    origin = device.find(f"{G85}ReferenceDevice")
    assert (int(origin.get("ReferenceDeviceX")), int(origin.get("ReferenceDeviceY"))) == (
        x_min, y_max - bins.shape[0] + 1)  # fmt: skip


#: The wafer flat's colour in the drawings (silicio.yields.wafermap.FLAT_COLOUR), drawn without
#: antialiasing: its pixels are exactly this.
FLAT_RGB = (0x0A, 0x3C, 0xFF)


def flat_pixels(image: np.ndarray) -> np.ndarray:
    return np.all(np.abs(image - np.array(FLAT_RGB)) <= 1, axis=2)


def die_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) pixel bounds of the map's dies in a PNG: the first block of
    saturated pixels from the left, the flat's pixels left out (frame, labels and the wafer outline
    are black, grey or white; the legend sits right of the map behind a white gap)."""
    saturated = ((image.max(axis=2) - image.min(axis=2)) > 40) & ~flat_pixels(image)
    used = np.flatnonzero(saturated.any(axis=0))
    gaps = np.flatnonzero(np.diff(used) > 1)
    left, right = used[0], used[gaps[0]] if gaps.size else used[-1]
    used_rows = np.flatnonzero(saturated[:, left : right + 1].any(axis=1))
    return used_rows[0], used_rows[-1], left, right


def png_cells(path: Path, rows: int, columns: int) -> np.ndarray:
    """RGB (0-255) at the centre of each cell of the map drawn in a PNG (:func:`die_box`)."""
    import matplotlib.image

    image = matplotlib.image.imread(path)[..., :3] * 255
    top, bottom, left, right = die_box(image)
    height, width = (bottom - top + 1) / rows, (right - left + 1) / columns
    r = (top + (np.arange(rows) + 0.5) * height).astype(int)
    c = (left + (np.arange(columns) + 0.5) * width).astype(int)
    return image[np.ix_(r, c)]


def test_galaxy_png_top_row_is_the_highest_y(exported, truth):
    from silicio.yields.wafermap import WaferMap, bin_colours

    bins, passed, _, _ = truth
    present = bins != NULL
    # The palette (which colour a bin gets) is not under test here: take it from the bins found.
    palette = bin_colours([WaferMap(np.zeros(present.sum()), np.zeros(present.sum()), bins[present], "bin",
                                    good=passed[present])])  # fmt: skip
    rgb = {b: np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) for b, c in palette.items()}
    cells = png_cells(exported["png"], *bins.shape)
    for row in (0, 1, bins.shape[0] - 1):  # the top rows are the highest Y, the bottom one the lowest
        for column in np.flatnonzero(present[row]):
            expected = rgb[int(bins[row, column])]
            assert np.abs(cells[row, column] - expected).max() <= 2, (row, column)
    # Upside down, the top row would show the lowest Y's dies: they differ from the highest's.
    assert not np.array_equal(bins[0], bins[-1])


def test_galaxy_png_draws_the_flat_on_the_wcr_wf_flat_side(galaxy, exported, truth):
    """WF_FLAT names a side of the tester's view (the view the drawing shows): "D" is below the
    dies' lowest drawn row whichever way Y grows."""
    import matplotlib.image

    flat = read(galaxy)["WCR"].to_pylist()[0]["WF_FLAT"]
    image = matplotlib.image.imread(exported["png"])[..., :3] * 255
    top, bottom, left, right = die_box(image)
    rows, columns = np.nonzero(flat_pixels(image))
    assert rows.size > 20, "no flat drawn"
    beyond = {"D": rows > bottom, "U": rows < top, "L": columns < left, "R": columns > right}[flat]
    assert beyond.all()
    # Beside the dies, not off in a corner: the flat's middle faces the dies' middle.
    middle = {"D": columns, "U": columns, "L": rows, "R": rows}[flat].mean()
    lo, hi = (left, right) if flat in "UD" else (top, bottom)
    assert abs(middle - (lo + hi) / 2) < 0.1 * (hi - lo)
    result = silicio("map", galaxy, "--format", "png", "--out", exported["png"].parent / "again.png")
    assert {"D": "flat bottom", "U": "flat top", "L": "flat left", "R": "flat right"}[flat] in result.stdout


@pytest.mark.parametrize("fmt", ["g85", "e142"])
def test_map_files_round_trip_byte_for_byte_through_import(exported, truth, tmp_path, fmt):
    again = tmp_path / f"again.{fmt}.xml"
    result = silicio("map", "import", exported[fmt], "--format", fmt, "--out", again, "--json")
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == exported[fmt].read_bytes()
    summary = json.loads(result.stdout)
    bins, passed, _, _ = truth
    codes, counts = np.unique(bins[bins != NULL], return_counts=True)
    assert (summary["format"], summary["substrate_id"], summary["lot_id"]) == (
        {"g85": "SEMI G85", "e142": "SEMI E142"}[fmt], "GAL-LOT-02", "GAL-LOT")  # fmt: skip
    assert (summary["rows"], summary["columns"], summary["dies"]) == (*bins.shape, int(counts.sum()))
    assert (summary["x_grows"], summary["y_grows"], summary["written"]) == ("right", "up", str(again))
    assert {b["code"]: b["count"] for b in summary["bins"]} == dict(
        zip(codes.tolist(), counts.tolist(), strict=True)
    )
    passing = set(bins[passed].tolist())
    assert {b["code"] for b in summary["bins"] if b["quality"] == "Pass"} == passing
    assert summary["good_dies"] == int(passed.sum())


def test_import_prints_the_summary_and_converts_to_png(exported, tmp_path):
    png = tmp_path / "partner.png"
    result = silicio("map", "import", exported["e142"], "--format", "png", "--out", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for text in ("SEMI E142", "GAL-LOT-02", "43 x 42", "Y grows up", "1,389", "Pass"):
        assert text in result.stdout


def test_the_g85_package_reads_the_cli_g85_with_the_same_bin_counts(exported, truth):
    import g85

    bins, passed, _, _ = truth
    (their_map,) = g85.read(io.StringIO(exported["g85"].read_text(encoding="utf-8")))
    (device,) = their_map.devices
    assert (device.Rows, device.Columns) == bins.shape
    assert dict(device.bin_counts()) == dict(zip(*np.unique(bins, return_counts=True), strict=True))
    assert {code for code, ok in device.bin_pass.items() if ok} == set(bins[passed].tolist())
    assert np.array_equal(np.array(device.map), bins)  # their rows as ours: highest Y first


@pytest.fixture(scope="module")
def a595() -> Path:
    return shared_stdf("a595_Catalyst_BE.stdf")


def test_several_wafers_go_to_a_folder_or_need_a_wafer(a595, tmp_path):
    assert_one_line_error(silicio("map", a595, "--format", "g85", "--out", tmp_path / "one.xml"),
                          "holds 3 wafers (02, 03, 09)", "--wafer")  # fmt: skip
    assert_one_line_error(silicio("map", a595, "--format", "g85", "--out", tmp_path / "x.xml", "--wafer", "77"),
                          "no wafer '77'", "02, 03, 09")  # fmt: skip
    result = silicio("map", a595, "--format", "e142", "--kind", "soft", "--out", f"{tmp_path / 'maps'}/")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert written == ["02.e142.xml", "03.e142.xml", "09.e142.xml"]
    tables = read(a595)
    # Each PRR belongs to the wafer of the last WIR before it (record order); count its positions.
    wirs = sorted((r["seq"], r["WAFER_ID"]) for r in tables["WIR"].to_pylist())
    positions: dict[str, set] = {}
    for r in tables["PRR"].to_pylist():
        wafer = [w for seq, w in wirs if seq < r["seq"]][-1]
        positions.setdefault(wafer, set()).add((r["X_COORD"], r["Y_COORD"]))
    for name in written:
        result = silicio("map", "import", tmp_path / "maps" / name, "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["substrate_id"] == name[:2] and summary["y_grows"] == "down"  # a595's WCR: POS_Y "D"
        assert summary["dies"] == len(positions[name[:2]]) == sum(b["count"] for b in summary["bins"])


def test_bad_input_is_one_line(galaxy, exported, tmp_path):
    not_a_map = tmp_path / "drawing.svg"
    not_a_map.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert_one_line_error(
        silicio("map", "import", not_a_map), "drawing.svg", "not a wafer map", "Maps", "MapData"
    )
    assert_one_line_error(silicio("map", "import", galaxy), "galaxy_lot2_A530_BE.stdf", "not well-formed XML")
    assert_one_line_error(silicio("map", exported["g85"], "--format", "png", "--out", tmp_path / "m.png"),
                          "map.g85.xml", "not an STDF file")  # fmt: skip
    assert_one_line_error(
        silicio("map", galaxy, "--format", "gif", "--out", tmp_path / "m.gif"), "--format gif"
    )
    assert_one_line_error(silicio("map", galaxy, "--format", "g85", "--out", tmp_path / "m.xml", "--wafer", "W9"),
                          "no wafer 'W9'", "GAL-LOT-02")  # fmt: skip
    assert_one_line_error(silicio("map", "import", exported["g85"], "--format", "g85"), "--format and --out")
    assert_one_line_error(silicio("map", "import", tmp_path / "missing.xml"), "missing.xml", "no such file")
    broken = tmp_path / "broken.xml"
    broken.write_text(exported["g85"].read_text().replace('Rows="43"', 'Rows="44"'))
    assert_one_line_error(silicio("map", "import", broken), "broken.xml", "43 rows, expected 44")
