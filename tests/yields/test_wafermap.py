"""Wafer maps: bin, parametric and stacked maps of written wafers; PNG / SVG renders; one palette and
one orientation in PNG, SVG, JSON and the SEMI G85 / E142 files (whose own tests are in
test_semi_maps.py); the orientation read from STDF WCR."""

from __future__ import annotations

import io
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pyarrow as pa
import pytest

from silicio.stdf import StdfWriter, read, tidy
from silicio.stdf.parts import parts
from silicio.yields.wafermap import (
    FAIL_BIN_COLOURS,
    FAIL_FRACTION_SCALE,
    G85_NAMESPACE,
    PARAMETRIC_SCALE,
    PASS_BIN_COLOURS,
    MapHeader,
    Orientation,
    WaferMap,
    bin_colours,
    bin_map,
    describe_map,
    map_json,
    map_svg,
    orientation_of,
    parametric_map,
    read_e142,
    read_g85,
    render_wafer_map,
    stacked_fail_map,
    write_e142,
    write_g85,
)
from tests.conftest import shared_stdf

FAIL = 0x08
# A plus-shaped wafer: (x, y, hard bin, result of test 7); bin 1 passes. (0, 1) fails then passes.
DIES = [(1, 0, 1, 0.5), (0, 1, 6, 9.0), (1, 1, 1, 1.5), (2, 1, 7, 2.5), (1, 2, 1, 3.5), (0, 1, 1, 4.5)]


def wafer_records(wafer_id, dies, lot="L1"):
    recs = [
        ("MIR", {"LOT_ID": lot}),
        ("WIR", {"HEAD_NUM": 1, "SITE_GRP": 255, "START_T": 0, "WAFER_ID": wafer_id}),
    ]
    for x, y, hard, result in dies:
        failed = hard != 1
        recs += [("PIR", {"HEAD_NUM": 1, "SITE_NUM": 1}),
                 ("PTR", {"TEST_NUM": 7, "HEAD_NUM": 1, "SITE_NUM": 1, "TEST_FLG": 0, "PARM_FLG": 0, "RESULT": result,
                          "TEST_TXT": "VOUT", "ALARM_ID": "", "OPT_FLAG": 0x0E, "RES_SCAL": 0, "LLM_SCAL": 0,
                          "HLM_SCAL": 0, "LO_LIMIT": 0.0, "HI_LIMIT": 5.0, "UNITS": "V"}),
                 ("PRR", {"HEAD_NUM": 1, "SITE_NUM": 1, "PART_FLG": FAIL if failed else 0, "NUM_TEST": 1,
                          "HARD_BIN": hard, "SOFT_BIN": hard, "X_COORD": x, "Y_COORD": y})]  # fmt: skip
    recs.append(
        ("WRR", {"HEAD_NUM": 1, "SITE_GRP": 255, "FINISH_T": 0, "PART_CNT": len(dies), "WAFER_ID": wafer_id})
    )
    return recs


def written(path: Path, records):
    with StdfWriter(path) as w:
        for name, fields in records:
            w.record(name, **fields)
    return read(path)


@pytest.fixture
def tables(tmp_path):
    return written(tmp_path / "w.stdf", wafer_records("W1", DIES))


def test_bin_map_final_and_first(tables):
    m = bin_map(parts(tables))
    assert (m.lot_id, m.wafer_id, m.shape) == ("L1", "W1", (3, 3))
    nan = np.nan
    expected = np.array([[nan, 1, nan], [1, 1, 7], [nan, 1, nan]])  # (0, 1) retested to bin 1
    np.testing.assert_array_equal(m.grid(), expected)
    first = bin_map(parts(tables), tests="first")
    assert first.grid()[1, 0] == 6


def test_parametric_map_uses_the_last_execution(tables):
    m = parametric_map(tidy(tables), 7)
    assert m.label == "VOUT [V]"
    assert {(int(x), int(y)): v for x, y, v in zip(m.x, m.y, m.value, strict=True)} == {
        (1, 0): 0.5, (0, 1): 4.5, (1, 1): 1.5, (2, 1): 2.5, (1, 2): 3.5}  # fmt: skip


def test_stacked_fail_map_across_wafers(tmp_path):
    w1 = parts(written(tmp_path / "a.stdf", wafer_records("W1", DIES)))
    w2 = parts(
        written(tmp_path / "b.stdf", wafer_records("W2", [(1, 0, 5, 0.0), (1, 1, 1, 0.0), (2, 1, 1, 0.0)]))
    )
    m = stacked_fail_map(pa.concat_tables([w1, w2]))
    got = {(int(x), int(y)): (f, int(n)) for x, y, f, n in zip(m.x, m.y, m.value, m.count, strict=True)}
    # (1, 0): pass on W1, fail on W2 -> 1/2; (2, 1): fail on W1, pass on W2 -> 1/2; (0, 1) final pass.
    assert got == {(1, 0): (0.5, 2), (0, 1): (0.0, 1), (1, 1): (0.0, 2), (2, 1): (0.5, 2), (1, 2): (0.0, 1)}
    with pytest.raises(ValueError, match="one wafer"):
        bin_map(pa.concat_tables([w1, w2]))
    assert bin_map(pa.concat_tables([w1, w2]), wafer_id="W2").x.size == 3


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_renders_are_valid_images(tables, tmp_path, fmt):
    for i, m in enumerate([bin_map(parts(tables)), parametric_map(tidy(tables), 7)]):
        path = tmp_path / f"map{i}.{fmt}"
        render_wafer_map(m, path)
        data = path.read_bytes()
        if fmt == "png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            import matplotlib.image

            image = matplotlib.image.imread(path)
            assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        else:
            assert ET.fromstring(data).tag.endswith("svg")
    buffer = io.BytesIO()
    render_wafer_map(bin_map(parts(tables)), buffer, fmt="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"


def test_renders_reject_what_they_cannot_draw():
    parametric = WaferMap(np.array([0]), np.array([0]), np.array([1.5]), "parametric")
    with pytest.raises(ValueError, match="fmt"):
        render_wafer_map(parametric, "map.gif")


def test_shared_wafer_files_stack():
    path = shared_stdf("a595_Catalyst_BE.stdf")
    p = parts(read(path))
    stacked = stacked_fail_map(p)
    assert 0 <= stacked.value.min() and stacked.value.max() <= 1 and stacked.count.max() == 3


# -- one palette and one orientation behind every renderer ------------------------------------------

# A full 4 x 3 rectangle, so the PNG's map area is one block of colour. Each row has its own bins;
# bin 1 passes.
RECT_BINS = {0: (1, 3, 1, 5), 1: (8, 1, 3, 1), 2: (5, 5, 8, 1)}  # y -> bins at x = 10, 11, 12, 13


def rect_map() -> WaferMap:
    xs, ys, bins = [], [], []
    for y, row in RECT_BINS.items():
        for i, b in enumerate(row):
            xs.append(10 + i)
            ys.append(y)
            bins.append(b)
    bins = np.array(bins)
    return WaferMap(np.array(xs), np.array(ys), bins, "bin", "L1", "W1", "hard bin", good=bins == 1)


def expected_cell(x, y, x_grows, y_grows):
    """(row, column) where a die belongs, worked out from the directions alone."""
    column = x - 10 if x_grows == "right" else 13 - x
    row = y if y_grows == "down" else 2 - y
    return row, column


def hex_colour(rgb) -> str:
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def png_cell_colours(path, rows, columns):
    """Colour at the centre of each cell of the map drawn in a PNG: the map is the first block of
    saturated pixels from the left (tick labels and frame are black or white; the legend is right
    of the map behind a white gap)."""
    import matplotlib.image

    image = matplotlib.image.imread(path)[..., :3] * 255
    saturated = (image.max(axis=2) - image.min(axis=2)) > 40
    used = np.flatnonzero(saturated.any(axis=0))
    gaps = np.flatnonzero(np.diff(used) > 1)
    left, right = used[0], used[gaps[0]] if gaps.size else used[-1]
    used_rows = np.flatnonzero(saturated[:, left : right + 1].any(axis=1))
    top, bottom = used_rows[0], used_rows[-1]
    width, height = (right - left + 1) / columns, (bottom - top + 1) / rows
    return {
        (r, c): hex_colour(image[int(top + (r + 0.5) * height), int(left + (c + 0.5) * width)])
        for r in range(rows)
        for c in range(columns)
    }


def svg_cells(svg: str):
    """(die x, die y) -> (row, column, fill) of each square of an inline SVG map."""
    root = ET.fromstring(svg)
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    cell = int(rects[0].get("width")) + 1
    return {
        (int(r.get("data-x")), int(r.get("data-y"))): (
            int(r.get("y")) // cell,
            int(r.get("x")) // cell,
            r.get("fill"),
        )
        for r in rects
    }


@pytest.mark.parametrize(("x_grows", "y_grows"), [("right", "down"), ("right", "up"), ("left", "up")])
def test_png_svg_and_json_draw_each_bin_in_one_colour_where_the_orientation_puts_it(
    tmp_path, x_grows, y_grows
):
    wafer_map = rect_map()
    orientation = Orientation(x_grows=x_grows, y_grows=y_grows)
    data = map_json(wafer_map, orientation)
    assert (data["x_grows"], data["y_grows"]) == (x_grows, y_grows)
    json_colour = {e["bin"]: e["color"] for e in data["legend"]}
    # The JSON's per-die colours are its legend's.
    for value, colour in zip(data["value"], data["colors"], strict=True):
        assert json_colour[int(value)] == colour
    assert len(set(json_colour.values())) == 4  # four bins, four colours

    svg = svg_cells(map_svg(describe_map(wafer_map, orientation)))
    path = tmp_path / "map.png"
    render_wafer_map(wafer_map, path, orientation=orientation)
    png = png_cell_colours(path, rows=3, columns=4)
    for y, row in RECT_BINS.items():
        for i, b in enumerate(row):
            x = 10 + i
            where = expected_cell(x, y, x_grows, y_grows)
            assert svg[(x, y)] == (*where, json_colour[b])
            got = png[where]
            # PNG pixels are 8-bit: allow one step of rounding per channel.
            assert (
                max(abs(int(got[k : k + 2], 16) - int(json_colour[b][k : k + 2], 16)) for k in (1, 3, 5)) <= 1
            )


def test_y_growing_up_puts_the_highest_y_on_the_top_row(tmp_path):
    wafer_map = rect_map()
    up = describe_map(wafer_map, Orientation(y_grows="up"))
    top = {int(x): c for x, y, r, c in zip(up.x, up.y, up.row, up.colours, strict=True) if r == 0}
    assert set(up.y[up.row == 0].tolist()) == {2}
    down = describe_map(wafer_map, Orientation())
    assert set(down.y[down.row == 0].tolist()) == {0}
    # The PNG's top row shows the bins of Y = 2: 5, 5, 8, 1.
    path = tmp_path / "up.png"
    render_wafer_map(wafer_map, path, orientation=Orientation(y_grows="up"))
    png = png_cell_colours(path, rows=3, columns=4)
    colour = bin_colours([wafer_map])
    assert [colour[b] for b in RECT_BINS[2]] == [top[x] for x in range(10, 14)]
    for column, b in enumerate(RECT_BINS[2]):
        assert abs(int(png[(0, column)][1:3], 16) - int(colour[b][1:3], 16)) <= 1


def test_palette_passing_bins_green_failing_ones_distinct_and_shared_across_maps():
    first = rect_map()
    second = WaferMap(
        np.array([0, 1]), np.array([0, 0]), np.array([1, 9]), "bin", good=np.array([True, False])
    )
    shared = bin_colours([first, second])
    assert shared[1] == PASS_BIN_COLOURS[0]
    # Failing bins 3, 5, 8, 9 take the failing palette in code order.
    assert [shared[b] for b in (3, 5, 8, 9)] == list(FAIL_BIN_COLOURS[:4])
    drawn = describe_map(second, colours=shared)
    assert drawn.colours == (shared[1], shared[9])
    assert [e.label for e in drawn.legend] == ["bin 1 (pass)", "bin 9"]
    with pytest.raises(ValueError, match=r"no colour for bin\(s\) \[9\]"):
        describe_map(second, colours={1: "#000000"})


def test_measured_maps_use_the_scale_interpolated_between_its_stops():
    values = np.array([2.0, 4.0, 3.0, 2.0 + 2.0 / 16])  # min, max, middle, 1/16 of the way
    m = WaferMap(np.arange(4), np.zeros(4, int), values, "parametric", label="V")
    drawn = describe_map(m)
    stops = PARAMETRIC_SCALE.stops
    # Nine stops: the middle is stop 4; 1/16 of the range is half-way between stops 0 and 1.
    half = "#" + "".join(
        f"{round((int(stops[0][k : k + 2], 16) + int(stops[1][k : k + 2], 16)) / 2):02x}" for k in (1, 3, 5)
    )
    assert drawn.colours == (stops[0], stops[-1], stops[4], half)
    assert (drawn.scale.vmin, drawn.scale.vmax) == (2.0, 4.0)
    stacked = WaferMap(np.arange(2), np.zeros(2, int), np.array([0.0, 1.0]), "fail_fraction")
    assert describe_map(stacked).colours == (FAIL_FRACTION_SCALE.stops[0], FAIL_FRACTION_SCALE.stops[-1])
    assert [e.label for e in describe_map(stacked).legend] == ["0%", "25%", "50%", "75%", "100%"]


def test_orientation_from_wcr_and_bad_directions():
    assert Orientation.from_wcr("L", "U") == Orientation("left", "up")
    assert (Orientation.from_wcr("L", "U").pos_x, Orientation.from_wcr("L", "U").pos_y) == ("L", "U")
    assert Orientation.from_wcr("r", "d").notes == ()
    blank = Orientation.from_wcr(" ", None)  # STDF: a space is unknown
    assert blank == Orientation("right", "down")
    assert [n.split(" is blank")[0] for n in blank.notes] == ["WCR POS_X", "WCR POS_Y"]
    assert Orientation.from_wcr("\x00", "U") == Orientation("right", "up")
    with pytest.raises(ValueError, match="WCR POS_X must be R or L or blank"):
        Orientation.from_wcr("X", "U")
    with pytest.raises(ValueError, match="WCR POS_Y"):
        Orientation.from_wcr("R", "Q")
    with pytest.raises(ValueError, match="y_grows"):
        Orientation(y_grows="sideways")
    # WF_FLAT: the flat's side; blank is unknown (said so); not read (None) says nothing.
    assert Orientation.from_wcr("R", "U", "l") == Orientation("right", "up", flat="L")
    assert Orientation.from_wcr("R", "U", " ").flat is None
    assert Orientation.from_wcr("R", "U", " ").notes == (
        "WCR WF_FLAT is blank (unknown): no flat / notch drawn",
    )
    assert Orientation.from_wcr("R", "U").notes == ()
    with pytest.raises(ValueError, match="WCR WF_FLAT must be U, D, L, R or blank"):
        Orientation.from_wcr("R", "U", "N")
    with pytest.raises(ValueError, match="flat must be"):
        Orientation(flat="north")


def test_orientation_of_a_file_or_of_the_lake_rows_of_a_lot():
    # Rows as the lake's WCR view gives them: one per file, each with its file_sha256.
    rows = [{"file_sha256": "a1", "POS_X": "R", "POS_Y": "U", "WF_FLAT": "D"},
            {"file_sha256": "b2", "POS_X": "R", "POS_Y": "U", "WF_FLAT": "D"}]  # fmt: skip
    assert orientation_of({"WCR": rows}) == Orientation("right", "up", flat="D")
    assert orientation_of({"WCR": pa.Table.from_pylist(rows)}).notes == ()
    # Files that disagree on the flat: the dies still go where they belong; no flat is drawn.
    mixed = orientation_of({"WCR": [rows[0], {**rows[1], "WF_FLAT": "L"}]})
    assert mixed == Orientation("right", "up") and mixed.flat is None
    assert mixed.notes == ("the WCR records disagree on WF_FLAT ['D', 'L']: no flat / notch drawn",)
    # A blank field (unknown) beside one that says it: the one that says it.
    said = orientation_of(
        {"WCR": [{"POS_X": " ", "POS_Y": " ", "WF_FLAT": "U"}, {"POS_X": "L", "POS_Y": " "}]}
    )
    assert said == Orientation("left", "down", "U") and said.notes == (
        "WCR POS_Y is blank: assumed 'D' (down, the prober convention)",
    )
    blank_flat = orientation_of({"WCR": [{"POS_X": "R", "POS_Y": "D", "WF_FLAT": " "}]})
    assert blank_flat.flat is None
    assert blank_flat.notes == ("WCR WF_FLAT is blank (unknown): no flat / notch drawn",)
    with pytest.raises(ValueError, match=r"disagree on POS_Y: \['D', 'U'\]"):
        orientation_of({"WCR": [{"POS_X": "R", "POS_Y": "U"}, {"POS_X": "R", "POS_Y": "D"}]})
    none = orientation_of({"PRR": []})
    assert none == Orientation() and "no WCR record" in none.notes[0] and none.flat is None


@pytest.mark.parametrize(
    "orientation", [Orientation("right", "down"), Orientation("right", "up"), Orientation("left", "up"),
                    Orientation("left", "down")]
)  # fmt: skip
def test_map_files_lay_rows_out_as_the_drawings_do(orientation):
    """A G85 / E142 file and a drawing of one map put every die in the same row and column."""
    wafer_map = rect_map()
    drawn = describe_map(wafer_map, orientation)
    expected = [["255"] * drawn.columns for _ in range(drawn.rows)]
    for r, c, b in zip(drawn.row, drawn.column, wafer_map.value, strict=True):
        expected[r][c] = f"{b:03d}"
    header = MapHeader(orientation=orientation)
    g85 = write_g85(wafer_map, header)
    rows = [row.text.split() for row in ET.fromstring(g85).iter(f"{{{G85_NAMESPACE}}}Row")]
    assert rows == expected
    for text, reader in ((g85, read_g85), (write_e142(wafer_map, header), read_e142)):
        back, back_header = reader(text)
        assert back_header.orientation == orientation
        again = describe_map(back, back_header.orientation)
        assert cells(again) == cells(drawn)


def cells(drawing):
    """(die x, die y) -> (display row, display column)."""
    return {(int(x), int(y)): (int(r), int(c))
            for x, y, r, c in zip(drawing.x, drawing.y, drawing.row, drawing.column, strict=True)}  # fmt: skip


# --------------------------------------------------------------------------------------------
# The wafer's flat: WF_FLAT names a side of the tester's view, which the drawing shows whatever
# way the axes grow; so "D" is below the drawn dies whether Y grows up or down.

FLAT_RGB = (0x0A, 0x3C, 0xFF)  # FLAT_COLOUR, drawn without antialiasing
SIDES = ("U", "D", "L", "R")
AXES = [("right", "down"), ("right", "up"), ("left", "up")]


def beyond_the_dies(side, top, bottom, left, right, xs, ys):
    """Whether points (xs, ys) of a frame with y downward lie wholly past the dies' box on ``side``."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    return bool({"U": ys < top, "D": ys > bottom, "L": xs < left, "R": xs > right}[side].all())


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(("x_grows", "y_grows"), AXES)
def test_svg_draws_the_flat_on_its_side_of_the_view(side, x_grows, y_grows):
    svg = map_svg(describe_map(rect_map(), Orientation(x_grows, y_grows, side)))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f"{ns}rect")
    left = min(float(r.get("x")) for r in rects)
    top = min(float(r.get("y")) for r in rects)
    right = max(float(r.get("x")) + float(r.get("width")) for r in rects)
    bottom = max(float(r.get("y")) + float(r.get("height")) for r in rects)
    (flat,) = [e for e in root.iter(f"{ns}line") if e.get("class") == "wafer-flat"]
    xs = [float(flat.get("x1")), float(flat.get("x2"))]
    ys = [float(flat.get("y1")), float(flat.get("y2"))]
    assert root.get("data-flat") == side
    assert beyond_the_dies(side, top, bottom, left, right, xs, ys)
    # A chord across that side: parallel to it, its middle facing the dies' middle.
    along, across = (xs, ys) if side in "UD" else (ys, xs)
    assert across[0] == pytest.approx(across[1]) and abs(along[0] - along[1]) > 1
    middle = (left + right) / 2 if side in "UD" else (top + bottom) / 2
    assert sum(along) / 2 == pytest.approx(middle, abs=0.5)
    # The dies next to the flat are those of the view's bottom row: the lowest Y when Y grows up.
    nearest = min(rects, key=lambda r: abs(float(r.get("y")) - ys[0]) + abs(float(r.get("x")) - xs[0]))
    if side == "D":
        assert int(nearest.get("data-y")) == (0 if y_grows == "up" else 2)
    if side == "L":
        assert int(nearest.get("data-x")) == (10 if x_grows == "right" else 13)
    # The outline goes round every die.
    (outline,) = [e for e in root.iter(f"{ns}path") if e.get("class") == "wafer-outline"]
    points = np.array([p.split() for p in outline.get("d").strip("MZ ").split(" L ")], float)
    centre = ((left + right) / 2, (top + bottom) / 2)
    radius = np.hypot(points[:, 0] - centre[0], points[:, 1] - centre[1]).max()
    assert radius > np.hypot(right - centre[0], bottom - centre[1])


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(("x_grows", "y_grows"), AXES)
def test_png_draws_the_flat_on_its_side_of_the_view(tmp_path, side, x_grows, y_grows):
    import matplotlib.image

    path = tmp_path / "flat.png"
    render_wafer_map(rect_map(), path, orientation=Orientation(x_grows, y_grows, side))
    image = matplotlib.image.imread(path)[..., :3] * 255
    flat = np.all(np.abs(image - np.array(FLAT_RGB)) <= 1, axis=2)
    # The dies: the first block of saturated pixels from the left (the legend is behind a gap).
    saturated = ((image.max(axis=2) - image.min(axis=2)) > 40) & ~flat
    used = np.flatnonzero(saturated.any(axis=0))
    gaps = np.flatnonzero(np.diff(used) > 1)
    left, right = used[0], used[gaps[0]] if gaps.size else used[-1]
    used_rows = np.flatnonzero(saturated[:, left : right + 1].any(axis=1))
    top, bottom = used_rows[0], used_rows[-1]
    rows, columns = np.nonzero(flat)
    assert rows.size > 20, "no flat drawn"
    assert beyond_the_dies(side, top, bottom, left, right, columns, rows)
    # The dies' block is the 3 x 4 map itself: nothing else saturated crept into it.
    assert (right - left + 1) / (bottom - top + 1) == pytest.approx(4 / 3, rel=0.05)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(("x_grows", "y_grows"), AXES)
def test_json_gives_the_flat_in_die_coordinates(side, x_grows, y_grows):
    """The dashboard draws in die coordinates with the axes turned as the JSON says: the flat's
    side of the view is at the lowest Y when Y grows up ("D"), the highest X when X grows left ("L")."""
    wafer_map = rect_map()  # X 10..13, Y 0..2
    data = map_json(wafer_map, Orientation(x_grows, y_grows, side))
    outline = data["outline"]
    assert data["flat"] == side and outline["flat_color"] == "#" + "".join(f"{c:02x}" for c in FLAT_RGB)
    fx, fy = np.array(outline["flat_x"]), np.array(outline["flat_y"])
    below, above = (fy < -0.5).all(), (fy > 2.5).all()
    left_of, right_of = (fx < 9.5).all(), (fx > 13.5).all()
    expected = {
        "D": below if y_grows == "up" else above,
        "U": above if y_grows == "up" else below,
        "L": left_of if x_grows == "right" else right_of,
        "R": right_of if x_grows == "right" else left_of,
    }
    assert expected[side]
    # The outline encloses every die's cell.
    ox, oy = np.array(outline["x"]), np.array(outline["y"])
    assert ox.min() < 9.5 and ox.max() > 13.5 and oy.min() < -0.5 and oy.max() > 2.5


def test_unknown_flat_draws_the_outline_alone_and_says_why(tmp_path):
    orientation = orientation_of({"WCR": [{"POS_X": "R", "POS_Y": "U", "WF_FLAT": " "}]})
    svg = ET.fromstring(map_svg(describe_map(rect_map(), orientation)))
    ns = "{http://www.w3.org/2000/svg}"
    assert [e for e in svg.iter(f"{ns}line")] == [] and svg.get("data-flat") == ""
    assert "WF_FLAT is blank" in svg.find(f"{ns}desc").text
    assert len([e for e in svg.iter(f"{ns}path") if e.get("class") == "wafer-outline"]) == 1
    data = map_json(rect_map(), orientation)
    assert data["flat"] is None and data["outline"]["flat_x"] is None
    assert data["outline"]["note"] == "WCR WF_FLAT is blank (unknown): no flat / notch drawn"
    path = tmp_path / "none.png"
    render_wafer_map(rect_map(), path, orientation=orientation)
    import matplotlib.image

    image = matplotlib.image.imread(path)[..., :3] * 255
    assert not np.all(np.abs(image - np.array(FLAT_RGB)) <= 1, axis=2).any()
