"""``silicio supply template DIR``: an example supply model a user copies and edits, one CSV
file a table (:data:`silicio.supply.dataset.FILES`) or one workbook with a sheet a table
(``--xlsx``), a scenario file and a README."""

from __future__ import annotations

from pathlib import Path

#: File name -> content. Two products of a Mexican fab, made partly abroad; tier-2 resin.
EXAMPLE: dict[str, str] = {
    "sites.csv": """site_id,company,country,region,recovery_weeks
QRO-FAB,Mi Fab S.A. de C.V.,MX,Bajío,8
GDL-ATP,Ensambles de Occidente,MX,Occidente,4
HSC-FDY,Formosa Foundry,TW,Taiwan,12
PEN-OSAT,Penang Assembly,MY,Penang,6
SLP-WAFER,Obleas del Potosí,MX,Bajío,10
TKY-WAFER,Tokyo Silicon,JP,Kanto,10
TX-CHEM,Texas Process Chemicals,US,Texas,3
MTY-LF,Troquelados del Norte,MX,Norte,4
KHH-LF,Leadframe Tech,TW,Taiwan,6
OSK-MOLD,Osaka Mold Materials,JP,Kansai,5
JAL-RESIN,Resinas de Jalisco,MX,Occidente,3
""",
    "routings.csv": """product,step,operation,site_id,input_per_output
PWR-100,10,wafer_fab,QRO-FAB,
PWR-100,20,assembly,GDL-ATP,0.002
PWR-100,30,final_test,GDL-ATP,1
MCU-200,10,wafer_fab,HSC-FDY,
MCU-200,20,assembly,PEN-OSAT,0.001
MCU-200,30,final_test,PEN-OSAT,1
""",
    "bom.csv": """parent,step,parent_site,component,supplier_site,quantity
PWR-100,10,,silicon_wafer,SLP-WAFER,1
PWR-100,10,,silicon_wafer,TKY-WAFER,1
PWR-100,10,,process_chemicals,TX-CHEM,2
PWR-100,20,,leadframe,MTY-LF,1
PWR-100,20,,leadframe,KHH-LF,1
PWR-100,20,,mold_compound,OSK-MOLD,0.5
MCU-200,10,,silicon_wafer,TKY-WAFER,1
MCU-200,20,,leadframe,KHH-LF,1
MCU-200,20,,mold_compound,OSK-MOLD,0.3
mold_compound,,OSK-MOLD,epoxy_resin,JAL-RESIN,0.8
""",
    "capacities.csv": """site_id,item,capacity_per_week,inventory_weeks
QRO-FAB,wafer_fab,100,1
GDL-ATP,assembly,50000,1
GDL-ATP,final_test,48000,2
HSC-FDY,wafer_fab,90,2
PEN-OSAT,assembly,75000,1
PEN-OSAT,final_test,70000,2
SLP-WAFER,silicon_wafer,60,2
TKY-WAFER,silicon_wafer,200,3
TX-CHEM,process_chemicals,250,2
MTY-LF,leadframe,30000,2
KHH-LF,leadframe,120000,3
OSK-MOLD,mold_compound,50000,4
JAL-RESIN,epoxy_resin,45000,2
""",
    "lead_times.csv": """site_id,item,lead_time_weeks
QRO-FAB,wafer_fab,10
GDL-ATP,assembly,1
GDL-ATP,final_test,1
HSC-FDY,wafer_fab,12
PEN-OSAT,assembly,2
PEN-OSAT,final_test,1
SLP-WAFER,silicon_wafer,6
TKY-WAFER,silicon_wafer,8
TX-CHEM,process_chemicals,2
MTY-LF,leadframe,3
KHH-LF,leadframe,5
OSK-MOLD,mold_compound,6
JAL-RESIN,epoxy_resin,2
""",
    "demand.csv": """product,demand_per_week
PWR-100,40000
MCU-200,60000
""",
    "prices.csv": """product,price,unit_cost
PWR-100,0.85,0.52
MCU-200,1.90,1.10
""",
    "scenarios.toml": """# silicio supply scenario --data DIR --file DIR/scenarios.toml
[[scenario]]
name = "Taiwan earthquake"
region = ["TW"]
weeks = 12

[[scenario]]
name = "Laredo crossing closed (US into MX)"
crossing = ["US-MX"]
weeks = 2

[[scenario]]
name = "Mold compound supplier fails"
site = ["OSK-MOLD"]
weeks = 10

[[scenario]]
name = "Pandemic: demand up 30 %, sites at 80 %"
demand_factor = 1.3
capacity_factor = 0.8
weeks = 16
""",
}


def write_template(directory: str | Path, xlsx: bool = False) -> list[Path]:
    """Write :data:`EXAMPLE` and the format description (``README.md``) into ``directory``;
    with ``xlsx``, the tables as one workbook (:data:`WORKBOOK`, a sheet a table) instead of CSV
    files. Existing files are not overwritten (an error names the first)."""
    from .dataset import SupplyDataError

    directory = Path(directory)
    tables = {name: text for name, text in EXAMPLE.items() if name.endswith(".csv")}
    others = {name: text for name, text in EXAMPLE.items() if name not in tables}
    names = [*([WORKBOOK] if xlsx else tables), *others, "README.md"]
    clash = [n for n in names if (directory / n).exists()]
    if clash:
        raise SupplyDataError(f"{directory / clash[0]}: exists; the template writes only into new files")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if xlsx:
        _write_workbook(directory / WORKBOOK, tables)
        written.append(directory / WORKBOOK)
    for name, text in (others if xlsx else EXAMPLE).items():
        (directory / name).write_text(text, encoding="utf-8")
        written.append(directory / name)
    (directory / "README.md").write_text(FORMAT_GUIDE, encoding="utf-8")
    written.append(directory / "README.md")
    return written


#: The workbook ``write_template(..., xlsx=True)`` writes.
WORKBOOK = "supply-model.xlsx"


def _write_workbook(path: Path, tables: dict[str, str]) -> None:
    """The CSV tables as sheets named after them; number columns as numbers."""
    import csv
    import io

    import xlsxwriter

    from .dataset import FILES

    book = xlsxwriter.Workbook(str(path))
    try:
        bold = book.add_format({"bold": True})
        for file_name, text in tables.items():
            name = file_name.removesuffix(".csv")
            sheet = book.add_worksheet(name)
            rows = list(csv.reader(io.StringIO(text)))
            header = rows[0]
            sheet.write_row(0, 0, header, bold)
            for r, row in enumerate(rows[1:], start=1):
                for c, cell in enumerate(row):
                    if cell == "":
                        continue
                    if FILES[name][header[c]][0] == "number":
                        sheet.write_number(r, c, float(cell))
                    else:
                        sheet.write_string(r, c, cell)
            sheet.set_column(0, len(header) - 1, 16)
    finally:
        book.close()


FORMAT_GUIDE = """# A supply model in CSV files or an Excel workbook

`silicio supply import DIR` checks a folder of these files; every supply command reads it with
`--data DIR`. Files may be `,`- or `;`-separated, with a decimal point or a decimal comma (as Excel
writes them in Mexico), UTF-8 (with or without BOM) or Latin-1. Errors name the file, the line
(the header is line 1), the column and what was expected.

Excel workbooks (.xlsx) are read too: a table's file may be a workbook (`bom.xlsx`, its sheet
`bom` or its only sheet), or the whole model one workbook with a sheet a table, named as the
files below without `.csv` (`silicio supply import model.xlsx`, `--data model.xlsx`;
`silicio supply template DIR --xlsx` writes one). Cells keep the type Excel stored, so a number
is read the same whatever decimal separator Excel showed; a formula counts with its last
computed value. Errors name the file, the sheet, the row as Excel numbers it and the column.

| file | one row per | columns (**required**) |
|---|---|---|
| sites.csv | site or supplier plant | **site_id**, company, **country** (ISO alpha-2), region, recovery_weeks |
| routings.csv | routing step, in order | **product**, **step**, **operation**, **site_id**, input_per_output |
| bom.csv | component going into a step or a component | **parent**, step *or* parent_site, **component**, **supplier_site**, **quantity** |
| capacities.csv | (site, item) | **site_id**, **item**, capacity_per_week, inventory_weeks |
| lead_times.csv | (site, item) | **site_id**, **item**, lead_time_weeks |
| demand.csv | product | **product**, **demand_per_week** |
| prices.csv | product | **product**, **price**, unit_cost |

- A product's steps run in the order of routings.csv; `input_per_output` is the previous step's
  output per unit of this step's (0.002 wafers per packaged unit at 500 good dies a wafer; empty = 1).
- bom.csv: with `step`, `parent` is a product and the component goes into that step; with
  `parent_site`, `parent` is a component made at that site (tier 2 and up: the resin of a mold
  compound). Several rows for one parent and component with different `supplier_site`s are
  alternative sources.
- capacities.csv and lead_times.csv: `item` is the routing `operation` for a step (each product's
  step gets the site's capacity for that operation) or the component name for a supplier.
  Capacity is in the item's own units per week; `inventory_weeks` is cover on hand, in weeks of
  the rate the demand needs from that node.
- recovery_weeks (sites.csv): how long the site takes to recover after a disruption (its TTR).
- prices.csv: `price - unit_cost` is the margin lost per unit not shipped.

Missing figures (capacity_per_week, inventory_weeks, lead_time_weeks, recovery_weeks,
unit_cost: an empty cell, a missing row or a missing column) are refused. With
`--missing default` they are filled (unlimited capacity, no inventory, no lead time, 4 weeks to
recover, unit cost 0) and every result lists them with a data completeness score (the share of
needed figures that came from the files). Demand and price are never filled.

## Scenarios

`silicio supply scenario --data DIR --file scenarios.toml` evaluates named what-if scenarios,
each a `[[scenario]]` table; kinds combine within one scenario:

```toml
[[scenario]]
name = "Taiwan earthquake"
region = ["TW"]                 # countries (ISO alpha-2) or regions of sites.csv: their sites stop
weeks = 12

[[scenario]]
name = "Laredo crossing closed (US into MX)"
crossing = ["US-MX"]            # FROM-TO: nothing shipped from the first country into the second
weeks = 2

[[scenario]]
name = "Mold compound supplier fails"
site = ["OSK-MOLD"]             # site ids or company names
weeks = 10

[[scenario]]
name = "Pandemic: demand up 30 %, sites at 80 %"
demand_factor = 1.3
capacity_factor = 0.8
weeks = 16
```

The same from the command line: `--region TW --weeks 12`, `--crossing US-MX --weeks 2`,
`--site OSK-MOLD --weeks 10`, `--demand-factor 1.3 --capacity-factor 0.8 --weeks 16` (with
`--name`). Each scenario gives the units and margin lost over its weeks (the time-to-recover LP)
and how long the network's stock lasts (the time-to-survive LP; flagged when shorter).

Seeds: `--demo-seed` sets the demo data and synthetic networks, `--seed` the Monte Carlo draws.
"""
