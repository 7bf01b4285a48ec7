"""A supply model from CSV files a user writes: template -> edit -> import -> risk, stress test,
Monte Carlo, scenarios; missing figures refused or reported; errors name file, line, column."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silicio.cli import app
from silicio.supply import SupplyDataError, read_supply_dir, write_template
from silicio.supply.template import EXAMPLE

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["supply", *args])


def one_line(result) -> str:
    return " ".join(result.output.split())


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def small_model(directory: Path) -> Path:
    """By hand: product P (demand 100/week, margin 10) made at FAB (capacity 150/week, 50 units
    = 0.5 weeks on hand) from component A of S1 (60/week, 20 on hand) or S2 (80/week, none) and
    two units of B from S3 (250/week, 100 on hand): the hand network of test_stress.py, written
    as the CSV files a user would write, with a ';' separator and decimal commas in one file."""
    directory.mkdir()
    write(directory, "sites.csv", "site_id,company,country,region,recovery_weeks\n"
          "FAB,Fab,MX,Bajío,1\nS1,One,US,Texas,4\nS2,Two,TW,Taiwan,1.5\nS3,Three,JP,Kanto,3\n")  # fmt: skip
    write(directory, "routings.csv", "product,step,operation,site_id,input_per_output\nP,10,make,FAB,\n")
    write(directory, "bom.csv", "parent,step,parent_site,component,supplier_site,quantity\n"
          "P,10,,A,S1,1\nP,10,,A,S2,1\nP,10,,B,S3,2\n")  # fmt: skip
    # inventory weeks: S1 20 units of its required rate; rates split A by capacity 60:80.
    write(directory, "capacities.csv", "site_id;item;capacity_per_week;inventory_weeks\n"
          "FAB;make;150;0,5\nS1;A;60;0,4666666666666667\nS2;A;80;0\nS3;B;250;0,5\n")  # fmt: skip
    write(directory, "lead_times.csv", "site_id,item,lead_time_weeks\nFAB,make,2\nS1,A,5\nS2,A,3\nS3,B,4\n")
    write(directory, "demand.csv", "product,demand_per_week\nP,100\n")
    write(directory, "prices.csv", "product,price,unit_cost\nP,25,15\n")
    return directory


def test_hand_model_reproduces_the_ttr_tts_reference(tmp_path):
    """The figures of tests/supply/test_stress.py (worked by hand there) from CSV files."""
    data = read_supply_dir(small_model(tmp_path / "m"))
    assert data.completeness == 1.0 and data.defaults == []
    g = data.network
    assert g.nodes["S1/A"]["inventory"] == pytest.approx(20.0)  # 0.4667 weeks x 300/7 per week
    assert g.nodes["P/10"]["inventory"] == pytest.approx(50.0)
    from silicio.supply import stress_test

    rows = {r["disruption"]: r for r in stress_test(g, by="node").iter_rows(named=True)}
    assert rows["S1/A"]["tts_weeks"] == pytest.approx(3.5) and rows["S1/A"][
        "performance_impact"
    ] == pytest.approx(100)
    assert rows["S3/B"]["performance_impact"] == pytest.approx(2000) and rows["S3/B"][
        "tts_weeks"
    ] == pytest.approx(1)
    assert rows["P/10"]["performance_impact"] == pytest.approx(500) and rows["P/10"][
        "tts_weeks"
    ] == pytest.approx(0.5)


def test_template_edit_import_and_run_everything(tmp_path):
    folder = tmp_path / "mine"
    result = run("template", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted([*EXAMPLE, "README.md"])
    # The user edits: a third product, assembled in Mexico from the Taiwanese leadframe.
    with open(folder / "routings.csv", "a", encoding="utf-8") as f:
        f.write("DRV-300,10,wafer_fab,QRO-FAB,\nDRV-300,20,assembly,GDL-ATP,0.004\n")
    with open(folder / "bom.csv", "a", encoding="utf-8") as f:
        f.write("DRV-300,10,,silicon_wafer,SLP-WAFER,1\nDRV-300,20,,leadframe,KHH-LF,1\n")
    with open(folder / "demand.csv", "a", encoding="utf-8") as f:
        f.write("DRV-300,5000\n")
    with open(folder / "prices.csv", "a", encoding="utf-8") as f:
        f.write("DRV-300,1.20,0.70\n")
    result = run("import", str(folder), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "supply model" and doc["data"]["completeness"] == 1.0
    assert doc["rows"]["routings"] == 8 and doc["nodes"] == 15  # 13 of the template + DRV-300's two steps

    result = run("risk", "--data", str(folder), "--json")
    assert result.exit_code == 0, result.output
    risk = json.loads(result.stdout)
    paths = risk["critical_paths"]
    # DRV-300 (lead_times.csv): wafers from SLP-WAFER 6 weeks, wafer_fab at QRO-FAB 10, then
    # assembly at GDL-ATP 1 (its leadframe from KHH-LF, 5 weeks, is not on the longest chain): 17.
    assert paths["DRV-300/20"]["lead_time_weeks"] == pytest.approx(17.0)
    assert paths["DRV-300/20"]["path"] == ["SLP-WAFER/silicon_wafer", "DRV-300/10", "DRV-300/20"]
    lead = {c["component"]: c for c in risk["concentration"]["by_component"]}
    # leadframe capacity: KHH-LF (TW) 120,000, MTY-LF (MX) 30,000 -> 80 % / 20 % -> 6400 + 400.
    assert lead["leadframe"]["hhi"] == pytest.approx(6800.0)
    assert risk["data"]["completeness"] == 1.0

    result = run("stress-test", "--data", str(folder), "--json")
    assert result.exit_code == 0, result.output
    stress = json.loads(result.stdout)
    assert {r["disruption"] for r in stress["rows"]} == {
        line.split(",")[0] for line in EXAMPLE["sites.csv"].splitlines()[1:]
    }
    assert max(r["rei"] for r in stress["rows"]) == 1.0 and stress["data"]["defaults"] == []

    result = run("monte-carlo", "--data", str(folder), "-n", "500", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    mc = json.loads(result.stdout)
    assert mc["scenarios"] == 500 and mc["seed"] == 3 and mc["data"]["completeness"] == 1.0

    result = run("scenario", "--data", str(folder), "--file", str(folder / "scenarios.toml"), "--json")
    assert result.exit_code == 0, result.output
    names = [r["scenario"] for r in json.loads(result.stdout)["rows"]]
    assert names[0] == "Taiwan earthquake" and len(names) == 4
    assert "demo" not in result.stderr


def test_removing_the_capacity_column_is_refused_or_reported(tmp_path):
    folder = tmp_path / "m"
    write_template(folder)
    lines = (folder / "capacities.csv").read_text().splitlines()
    (folder / "capacities.csv").write_text("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 2)
                                                      for line in lines) + "\n")  # fmt: skip
    result = run("stress-test", "--data", str(folder))
    assert result.exit_code == 2
    text = one_line(result)
    assert "13 figure(s) missing, refused: capacity_per_week of wafer_fab at QRO-FAB" in text
    assert "no column 'capacity_per_week'" in text and "--missing default" in text
    result = run("stress-test", "--data", str(folder), "--missing", "default", "--json")
    assert result.exit_code == 0, result.output
    quality = json.loads(result.stdout)["data"]
    # 13 nodes x 3 figures (capacity, lead time, inventory) + 11 sites' recovery + 2 unit costs = 52;
    # the 13 capacities are missing.
    assert quality["defaults_used"] == 13 and quality["figures"] == 52
    assert quality["completeness"] == pytest.approx(1 - 13 / 52)
    assert {d["column"] for d in quality["defaults"]} == {"capacity_per_week"}
    assert all(d["value"] == "inf" and d["meaning"] == "unlimited capacity" for d in quality["defaults"])


def test_one_empty_lead_time_is_named_by_line(tmp_path):
    folder = tmp_path / "m"
    write_template(folder)
    text = (folder / "lead_times.csv").read_text().replace("KHH-LF,leadframe,5", "KHH-LF,leadframe,")
    (folder / "lead_times.csv").write_text(text)
    with pytest.raises(SupplyDataError, match=r"lead_time_weeks of leadframe at KHH-LF: lead_times.csv line 12 "
                                              r"leaves 'lead_time_weeks' empty"):  # fmt: skip
        read_supply_dir(folder)
    data = read_supply_dir(folder, missing="default")
    assert [(d["for"], d["value"]) for d in data.defaults] == [("leadframe at KHH-LF", 0.0)]
    assert data.completeness == pytest.approx(51 / 52)


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "capacities.csv",
            "QRO-FAB,wafer_fab,100,1",
            "QRO-FAB,wafer_fab,lots,1",
            r"capacities.csv, line 2, column 'capacity_per_week'",
        ),
        (
            "capacities.csv",
            "QRO-FAB,wafer_fab,100,1",
            "QRO-FAB,wafer_fab,-100,1",
            r"capacities.csv, line 2, column 'capacity_per_week': expected a non-negative number, got -100",
        ),
        (
            "routings.csv",
            "MCU-200,20,assembly,PEN-OSAT",
            "MCU-200,20,assembly,PEN-OSATX",
            r"routings.csv, line 6, column 'site_id': site 'PEN-OSATX' is not in sites.csv",
        ),
        (
            "sites.csv",
            "HSC-FDY,Formosa Foundry,TW",
            "HSC-FDY,Formosa Foundry,Taiwan",
            r"sites.csv, line 4, column 'country': expected an ISO 3166 alpha-2 code",
        ),
        (
            "bom.csv",
            "MCU-200,20,,leadframe,KHH-LF,1",
            "MCU-200,25,,leadframe,KHH-LF,1",
            r"bom.csv, line 9, column 'step': no step '25' of product 'MCU-200'",
        ),
        ("demand.csv", "MCU-200,60000", "MCU-201,60000", r"demand.csv: no demand for product 'MCU-200'"),
        ("capacities.csv", "capacity_per_week", "capacity_per_wk", r"unknown column\(s\) capacity_per_wk"),
        ("prices.csv", "PWR-100,0.85,0.52", "PWR-100,,0.52", r"prices.csv, line 2, column 'price': empty"),
    ],
)
def test_row_level_errors(tmp_path, file, old, new, message):
    folder = tmp_path / "m"
    write_template(folder)
    text = (folder / file).read_text()
    assert old in text
    (folder / file).write_text(text.replace(old, new))
    with pytest.raises(SupplyDataError, match=message):
        read_supply_dir(folder)
    result = run("import", str(folder))
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_missing_required_file_and_excel(tmp_path):
    folder = tmp_path / "m"
    write_template(folder)
    (folder / "bom.csv").unlink()
    with pytest.raises(SupplyDataError, match=r"bom.csv: missing; a supply model needs"):
        read_supply_dir(folder)
    (folder / "bom.xlsx").write_bytes(b"PK")
    with pytest.raises(SupplyDataError, match=r"bom.xlsx: not an Excel workbook \(.xlsx\)"):
        read_supply_dir(folder)
    with pytest.raises(SupplyDataError, match="exists"):
        write_template(folder)


def test_registry_of_organisations_only_is_not_a_model(tmp_path):
    (tmp_path / "organisations.csv").write_text("org_id,name,kind,size_class,country\nx,X,foundry,small,MX\n")
    result = run("import", str(tmp_path))
    assert result.exit_code == 0
    text = one_line(result)
    assert "registry checked" in text and "valid" not in text
    assert "incomplete: no sites and no capabilities" in text


def test_demo_is_the_fallback_and_said(tmp_path):
    result = run("stress-test", "--json")
    assert result.exit_code == 0, result.output
    assert "running on the demo supply model (demo seed 0)" in result.stderr
    assert json.loads(result.stdout)["data"]["source"].startswith("demo")


def test_demo_seed_and_draw_seed_are_separate():
    def mc(*args):
        result = run("monte-carlo", "-n", "400", "--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["lost_profit_mean"]

    base = mc()
    assert mc("--seed", "0", "--demo-seed", "0") == base
    assert mc("--seed", "5") != base  # other draws, same demo data
    assert math.isfinite(mc("--demo-seed", "5"))


def test_docs_page_is_the_template_readme():
    from silicio.supply.template import FORMAT_GUIDE

    docs = Path(__file__).resolve().parents[2] / "docs" / "supply-data.md"
    assert docs.read_text(encoding="utf-8") == FORMAT_GUIDE


# -- Excel workbooks -------------------------------------------------------------------------------


def write_book(path: Path, sheets: dict[str, list[list]], blank_first_row: bool = False) -> Path:
    """A workbook as Excel writes it (xlsxwriter): numbers as number cells, text as text."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows, start=1 if blank_first_row else 0):
            for c, cell in enumerate(row):
                if cell is None:
                    continue
                if isinstance(cell, str):
                    sheet.write_string(r, c, cell)
                else:
                    sheet.write_number(r, c, cell)
    book.close()
    return path


def small_model_sheets() -> dict[str, list[list]]:
    """The tables of :func:`small_model`, typed as a user types them in Excel."""
    return {
        "sites": [["site_id", "company", "country", "region", "recovery_weeks"], ["FAB", "Fab", "MX", "Bajío", 1],
                  ["S1", "One", "US", "Texas", 4], ["S2", "Two", "TW", "Taiwan", 1.5], ["S3", "Three", "JP", "Kanto", 3]],
        "routings": [["product", "step", "operation", "site_id", "input_per_output"], ["P", 10, "make", "FAB", None]],
        "bom": [["parent", "step", "parent_site", "component", "supplier_site", "quantity"],
                ["P", 10, None, "A", "S1", 1], ["P", 10, None, "A", "S2", 1], ["P", 10, None, "B", "S3", 2]],
        "capacities": [["site_id", "item", "capacity_per_week", "inventory_weeks"], ["FAB", "make", 150, 0.5],
                       ["S1", "A", 60, 0.4666666666666667], ["S2", "A", 80, 0], ["S3", "B", 250, 0.5]],
        "lead_times": [["site_id", "item", "lead_time_weeks"], ["FAB", "make", 2], ["S1", "A", 5], ["S2", "A", 3],
                       ["S3", "B", 4]],
        "demand": [["product", "demand_per_week"], ["P", 100]],
        "prices": [["product", "price", "unit_cost"], ["P", 25, 15]],
    }  # fmt: skip


def same_network(a, b) -> None:
    assert sorted(a.nodes) == sorted(b.nodes) and sorted(a.edges) == sorted(b.edges)
    for n in a:
        for key in ("capacity", "inventory", "ttr", "lead_time", "demand", "profit", "country"):
            assert a.nodes[n][key] == pytest.approx(b.nodes[n][key]), (n, key)
    for u, v in a.edges:
        assert a.edges[u, v]["units"] == b.edges[u, v]["units"]


def test_one_workbook_reads_as_the_csv_folder(tmp_path):
    book = write_book(tmp_path / "model.xlsx", small_model_sheets())
    from_book = read_supply_dir(book)
    same_network(from_book.network, read_supply_dir(small_model(tmp_path / "m")).network)
    assert from_book.completeness == 1.0 and from_book.counts == {
        "sites": 4, "routings": 1, "bom": 3, "capacities": 4, "lead_times": 4, "demand": 1, "prices": 1
    }  # fmt: skip
    from silicio.supply import stress_test

    rows = {r["disruption"]: r for r in stress_test(from_book.network, by="node").iter_rows(named=True)}
    # the hand figures of tests/supply/test_stress.py: S3 out for 3 weeks loses 2000, lasts 1 week
    assert rows["S3/B"]["performance_impact"] == pytest.approx(2000)
    assert rows["S3/B"]["tts_weeks"] == pytest.approx(1)
    result = run("import", str(book), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["nodes"] == 4  # P/10, S1/A, S2/A, S3/B


def test_workbook_errors_name_file_sheet_excel_row_and_column(tmp_path):
    sheets = small_model_sheets()
    sheets["capacities"][3][2] = "sixty"  # the S2 row: Excel row 5 with the blank row 1 above the header
    book = write_book(tmp_path / "model.xlsx", sheets, blank_first_row=True)
    message = r"model.xlsx, sheet 'capacities', row 5, column 'capacity_per_week': expected a number"
    with pytest.raises(SupplyDataError, match=message):
        read_supply_dir(book)
    result = run("import", str(book))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "sheet 'capacities', row 5, column 'capacity_per_week'" in one_line(result)

    sheets = small_model_sheets()
    sheets["sites"][2][2] = "USA"  # row 3
    book = write_book(tmp_path / "countries.xlsx", sheets)
    with pytest.raises(
        SupplyDataError, match=r"sheet 'sites', row 3, column 'country': expected an ISO 3166"
    ):
        read_supply_dir(book)
    sheets = small_model_sheets()
    sheets["lead_times"][4][2] = None  # S3's lead time left empty, row 5
    book = write_book(tmp_path / "empty.xlsx", sheets)
    with pytest.raises(SupplyDataError, match=r"lead_time_weeks of B at S3: empty.xlsx sheet 'lead_times' row 5 "
                                              r"leaves 'lead_time_weeks' empty"):  # fmt: skip
        read_supply_dir(book)
    sheets = small_model_sheets()
    sheets["Notes"] = [["anything"]]
    with pytest.raises(SupplyDataError, match=r"unknown sheet\(s\) 'Notes'; expected sheets sites, routings"):
        read_supply_dir(write_book(tmp_path / "notes.xlsx", sheets))
    del sheets["Notes"], sheets["bom"]
    with pytest.raises(SupplyDataError, match=r"no sheet 'bom'; a supply model needs the sheets"):
        read_supply_dir(write_book(tmp_path / "nobom.xlsx", sheets))


def test_a_folder_may_mix_csv_files_and_workbooks(tmp_path):
    folder = small_model(tmp_path / "m")
    csv_network = read_supply_dir(folder).network
    (folder / "capacities.csv").unlink()
    write_book(folder / "capacities.xlsx", {"Hoja1": small_model_sheets()["capacities"]})  # its only sheet
    same_network(read_supply_dir(folder).network, csv_network)
    assert run("import", str(folder)).exit_code == 0
    (folder / "capacities.csv").write_text("site_id,item,capacity_per_week,inventory_weeks\n")
    with pytest.raises(SupplyDataError, match=r"capacities.csv: capacities.xlsx is there too; keep one"):
        read_supply_dir(folder)


def test_template_as_a_workbook(tmp_path):
    from silicio.tabular import sheet_names

    folder = tmp_path / "book"
    result = run("template", str(folder), "--xlsx")
    assert result.exit_code == 0, result.output
    book = folder / "supply-model.xlsx"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "scenarios.toml", "supply-model.xlsx"]
    assert sheet_names(book) == ["sites", "routings", "bom", "capacities", "lead_times", "demand", "prices"]
    write_template(tmp_path / "csv")
    same_network(read_supply_dir(book).network, read_supply_dir(tmp_path / "csv").network)
    result = run("stress-test", "--data", str(book), "--json")
    assert result.exit_code == 0, result.output
    with pytest.raises(SupplyDataError, match="exists"):
        write_template(folder, xlsx=True)
