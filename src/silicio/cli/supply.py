"""``silicio supply ...``: network risk, TTR/TTS stress test, Monte Carlo, nearshoring, public
figures, and registry import/export. Parses arguments, calls :mod:`silicio.supply`, prints.

The model comes from ``--data DIR`` (the user's CSV files: :mod:`silicio.supply.dataset`;
``supply template DIR`` writes an example, ``supply import DIR`` checks one), or from the demo
fab's master data with ``--registry`` (a registry as CSV files or JSON), or, with neither, from
the demo ecosystem, which is then said on the standard error. Missing figures are refused
unless ``--missing default``; every result carries the data completeness and defaults used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

# The package imports its modules on first use (PEP 562): this line loads none of them.
from silicio import supply

from .errors import fail, needs, reported_errors
from .render import console, print_table

if TYPE_CHECKING:
    import polars as pl

app = typer.Typer(help="Supplier ecosystem: network risk, stress tests, Monte Carlo, nearshoring.",
                  no_args_is_help=True)  # fmt: skip

RegistryPath = Annotated[
    Path | None,
    typer.Option("--registry", metavar="PATH", help="Registry (a directory of CSV files or a .json file) "
                 "with the demo fab's bill of materials, routing and demand.", show_default=False),
]  # fmt: skip
DataDir = Annotated[
    Path | None,
    typer.Option("--data", metavar="DIR", help="Your supply model: a folder of CSV files or an .xlsx workbook "
                 "(see `supply template`). Without it (and --registry) the demo model is used, and said.", show_default=False),
]  # fmt: skip
Missing = Annotated[
    str,
    typer.Option("--missing", metavar="refuse|default", help="Missing capacity, lead time, recovery time, "
                 "inventory or unit cost: refuse (default), or fill with the documented defaults and report them."),
]  # fmt: skip
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DemoSeed = Annotated[
    int, typer.Option("--demo-seed", min=0, help="Seed of the demo data and synthetic networks.")
]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed of the Monte Carlo draws.")]
Workers = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Worker threads (default: the cores, for large runs).", show_default=False),
]  # fmt: skip
Dask = Annotated[
    str | None, typer.Option("--dask", metavar="ADDRESS", help="Run on a Dask scheduler instead.")
]
Synthetic = Annotated[
    int | None,
    typer.Option(
        "--synthetic", metavar="NODES", min=2, help="Use a synthetic multi-tier network of NODES nodes."
    ),
]


@contextmanager
def _errors(command: str, dask_address: str | None = None) -> Iterator[None]:
    """The extras of ``command`` checked; then its errors as one line, like the input's."""
    needs("lake", command)
    if dask_address:
        needs("dask", f"{command} --dask")
    from silicio.trace.model import MasterDataError

    with reported_errors():
        try:
            yield
        except (
            supply.SupplyDataError,
            supply.RegistryError,
            supply.NetworkError,
            MasterDataError,
            supply.AccessDenied,
            ValueError,
        ) as exc:
            raise fail(str(exc)) from None


def _read_registry(path: Path) -> supply.Registry:
    if not path.exists():
        raise fail(f"{path}: no such file or directory")
    if path.is_dir():
        return supply.read_csv_dir(path)
    if path.suffix.lower() == ".json":
        return supply.read_json(path)
    raise fail(f"{path}: expected a directory of CSV files or a .json file")


def _ecosystem(registry: Path | None, demo_seed: int) -> supply.Ecosystem:
    eco = supply.demo_ecosystem(demo_seed)
    if registry is not None:
        eco.registry = _read_registry(registry)
    return eco


def _demo_said(demo_seed: int) -> None:
    typer.echo(f"running on the demo supply model (demo seed {demo_seed}); for your own, "
               "`silicio supply template DIR` writes a folder of CSV files to edit and pass as --data DIR", err=True)  # fmt: skip


class _Model:
    """The network a command runs on, where it came from, and how complete its data is."""

    def __init__(self, data: Path | None, registry: Path | None, demo_seed: int, missing: str,
                 synthetic: int | None = None) -> None:  # fmt: skip
        if missing not in ("refuse", "default"):
            raise fail(f"--missing must be 'refuse' or 'default', got {missing!r}")
        if data is not None and registry is not None:
            raise fail("give --data (your supply model) or --registry (with the demo's BOM), not both")
        self.eco: supply.Ecosystem | None = None
        self.data: supply.SupplyData | None = None
        if synthetic:
            self.graph = supply.synthetic_network(
                synthetic, products=max(1, min(10, synthetic // 10)), seed=demo_seed
            )
            self.quality = {"source": f"synthetic network of {synthetic} nodes (demo seed {demo_seed})",
                            "completeness": 1.0, "defaults_used": 0, "defaults": []}  # fmt: skip
            return
        if data is not None:
            self.data = supply.read_supply_dir(data, missing=missing)
            self.graph = self.data.network
            self.quality = self.data.quality()
            return
        if registry is None:
            _demo_said(demo_seed)
        self.eco = _ecosystem(registry, demo_seed)
        self.graph = self.eco.network()
        self.quality = dict(self.graph.graph["data_quality"])
        self.quality["source"] = str(registry) if registry is not None else f"demo (demo seed {demo_seed})"
        if registry is not None and self.quality["defaults"] and missing == "refuse":
            shown = "; ".join(f"{d['column']} of {d['for']}" for d in self.quality["defaults"][:5])
            raise fail(f"{registry}: {self.quality['defaults_used']} of {self.quality['figures']} figures missing "
                       f"from the registry, refused: {shown}. Add them (capabilities, sites), or run with "
                       f"--missing default to use unlimited capacity, no lead time and "
                       f"{supply.network.DEFAULT_TTR_WEEKS:g} weeks to recover, reported")  # fmt: skip


def _say_quality(quality: dict) -> None:
    line = f"data: {quality['source']}; completeness {100 * quality['completeness']:.1f} %"
    if quality["defaults"]:
        line += f"; {quality['defaults_used']} default(s) used, e.g. " + "; ".join(
            f"{d['column']} of {d['for']} = {d['meaning']}" for d in quality["defaults"][:3]
        )
    console.print(escape(line), soft_wrap=True, highlight=False)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(_plain(value), ensure_ascii=False, indent=2, default=str))


def _print_frame(frame: pl.DataFrame, title: str, limit: int = 30) -> None:
    table = Table(title=escape(title), title_justify="left")
    for col in frame.columns:
        table.add_column(escape(col), justify="right" if frame[col].dtype.is_numeric() else "left")
    for row in frame.head(limit).iter_rows():
        table.add_row(*(escape(f"{v:,.3g}" if isinstance(v, float) else ", ".join(v) if isinstance(v, list)
                               else str(v)) for v in row))  # fmt: skip
    print_table(console, table)
    if frame.height > limit:
        console.print(f"... {frame.height - limit} more rows (--json for all)")


@app.command()
def risk(data: DataDir = None, registry: RegistryPath = None, missing: Missing = "refuse",
         demo_seed: DemoSeed = 0, as_json: AsJson = False) -> None:  # fmt: skip
    """Single-source materials and steps, concentration (HHI) and critical (lead-time) paths."""
    with _errors("silicio supply risk"):
        model = _Model(data, registry, demo_seed, missing)
        g = model.graph
        singles = supply.single_sources(g, model.eco.registry if model.eco else None)
        if model.eco is not None:
            conc = supply.country_concentration(model.eco.master, demand=model.eco.demand)
        else:
            conc = {"by_component": supply.component_concentration(g)}
        paths = supply.critical_paths(g)
    if as_json:
        _echo_json({"data": model.quality, "single_sources": singles, "concentration": conc,
                    "critical_paths": paths})  # fmt: skip
        return
    import polars as pl

    _say_quality(model.quality)
    _print_frame(pl.DataFrame(singles), "single sources")
    if "hhi_all" in conc:
        console.print(f"value HHI {conc['hhi_all']:,.0f} ({supply.concentration_level(conc['hhi_all'])}); imports "
                      f"HHI {conc['hhi_imports']:,.0f}; home share {conc['home_share_pct']:.1f} %")  # fmt: skip
        for country, pct in sorted(conc["import_share_pct"].items(), key=lambda kv: -kv[1]):
            console.print(f"  imports from {country}: {pct:.1f} %")
    else:
        for c in conc["by_component"]:
            shares = ", ".join(f"{k} {v:.0f} %" for k, v in c["share_pct"].items())
            console.print(escape(f"{c['component']}: HHI {c['hhi']:,.0f} ({c['level']}; by {c['basis']}): {shares}"),
                          soft_wrap=True, highlight=False)  # fmt: skip
    for product, p in paths.items():
        console.print(f"critical path to {escape(product)}: {p['lead_time_weeks']:.1f} weeks: "
                      f"{escape(' -> '.join(p['path']))}", soft_wrap=True)  # fmt: skip


@app.command("stress-test")
def stress_test_command(
    data: DataDir = None,
    registry: RegistryPath = None,
    missing: Missing = "refuse",
    demo_seed: DemoSeed = 0,
    by: Annotated[str, typer.Option("--by", help="Disrupt each 'node' or each 'facility'.")] = "facility",
    synthetic: Synthetic = None,
    workers: Workers = None,
    dask: Dask = None,
    as_json: AsJson = False,
) -> None:
    """Time-to-recover / time-to-survive LPs for every node or facility (Simchi-Levi et al. 2015)."""
    if by not in ("node", "facility"):
        raise fail(f"--by must be 'node' or 'facility', got {by!r}")
    with _errors("silicio supply stress-test", dask):
        model = _Model(data, registry, demo_seed, missing, synthetic)
        table = supply.stress_test(model.graph, by=by, workers=workers, dask_address=dask)
    if as_json:
        _echo_json({"data": model.quality, "rows": table.to_dicts()})
        return
    _say_quality(model.quality)
    _print_frame(table.drop("nodes"), f"stress test by {by}: {int(table['flagged'].sum())} of {table.height} "
                 "with TTS < TTR")  # fmt: skip


@app.command("monte-carlo")
def monte_carlo_command(
    data: DataDir = None,
    registry: RegistryPath = None,
    missing: Missing = "refuse",
    demo_seed: DemoSeed = 0,
    seed: Seed = 0,
    scenarios: Annotated[int, typer.Option("--scenarios", "-n", min=1, help="Scenario count.")] = 10_000,
    levels: Annotated[str, typer.Option("--levels", help="VaR/CVaR levels, comma-separated.")] = "0.95,0.99",
    synthetic: Synthetic = None,
    workers: Workers = None,
    dask: Dask = None,
    as_json: AsJson = False,
) -> None:
    """Disruption scenarios (regional site outages, pandemic, customs delay): lost output, VaR, CVaR."""
    try:
        alphas = [float(x) for x in levels.split(",") if x.strip()]
    except ValueError:
        raise fail(f"--levels: expected numbers in (0, 1) such as 0.95,0.99, got {levels!r}") from None
    if not alphas or any(not 0 < a < 1 for a in alphas):
        raise fail(f"--levels: every level must be in (0, 1), got {levels!r}")
    with _errors("silicio supply monte-carlo", dask):
        model = _Model(data, registry, demo_seed, missing, synthetic)
        result = supply.monte_carlo(model.graph, scenarios, seed=seed, workers=workers or 1,
                                    dask_address=dask)  # fmt: skip
        summary = result.summary(alphas)
    if as_json:
        _echo_json({**summary, "seed": seed, "data": model.quality})
        return
    _say_quality(model.quality)
    table = Table(title=f"{scenarios:,} scenarios, seed {seed}", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:,.4g}")
    print_table(console, table)


@app.command("scenario")
def scenario_command(
    data: DataDir = None,
    registry: RegistryPath = None,
    missing: Missing = "refuse",
    demo_seed: DemoSeed = 0,
    file: Annotated[
        Path | None, typer.Option("--file", metavar="TOML", help="Scenarios as [[scenario]] tables.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Name of the scenario given by options.")] = "scenario",
    weeks: Annotated[
        float | None, typer.Option("--weeks", help="How long it lasts.", show_default=False)
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="A country or region that stops (repeatable).")
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="A site or company that fails (repeatable).")
    ] = None,
    crossing: Annotated[
        list[str] | None,
        typer.Option(
            "--crossing",
            metavar="FROM-TO",
            help="A border crossing or port that closes, e.g. MX-US (repeatable).",
        ),
    ] = None,
    demand_factor: Annotated[
        float, typer.Option("--demand-factor", help="Demand multiplied (pandemic-like shock).")
    ] = 1.0,
    capacity_factor: Annotated[
        float, typer.Option("--capacity-factor", help="Every site's capacity multiplied.")
    ] = 1.0,
    as_json: AsJson = False,
) -> None:
    """What-if scenarios: a region, a crossing, a supplier, a demand shock; lost output and time to survive."""
    from silicio.supply import scenarios as sc

    with _errors("silicio supply scenario"):
        chosen = sc.read_scenarios(file) if file is not None else []
        given = region or site or crossing or demand_factor != 1.0 or capacity_factor != 1.0
        if given or weeks is not None:
            if weeks is None:
                raise fail("--weeks is required with --region, --site, --crossing or a factor")
            chosen.append(sc.Scenario(name, weeks, tuple(region or ()), tuple(site or ()),
                                      tuple(sc.parse_crossing(c, "--crossing") for c in crossing or ()),
                                      demand_factor, capacity_factor))  # fmt: skip
        if not chosen:
            raise fail(
                "no scenario: give --file TOML, or --weeks with --region, --site, --crossing or a factor"
            )
        model = _Model(data, registry, demo_seed, missing)
        table = sc.run_scenarios(model.graph, chosen)
    if as_json:
        _echo_json({"data": model.quality, "rows": table.to_dicts()})
        return
    _say_quality(model.quality)
    _print_frame(
        table, f"{table.height} scenario(s): {int(table['flagged'].sum())} outlast the network's stock"
    )


@app.command("template")
def template_command(
    directory: Annotated[Path, typer.Argument(help="A new or empty folder.")],
    xlsx: Annotated[
        bool, typer.Option("--xlsx", help="The tables as one Excel workbook, a sheet a table.")
    ] = False,
) -> None:
    """Write an example supply model (CSV files or a workbook, scenarios.toml, README.md) to copy and edit."""
    from silicio.supply.template import WORKBOOK

    with _errors("silicio supply template"):
        written = supply.write_template(directory, xlsx=xlsx)
    for path in written:
        console.print(f"wrote [bold]{escape(str(path))}[/bold]", soft_wrap=True, highlight=False)
    model = directory / WORKBOOK if xlsx else directory
    console.print(escape(f"next: edit them, then `silicio supply import {model}` and "
                         f"`silicio supply risk --data {model}`"), soft_wrap=True, highlight=False)  # fmt: skip


@app.command()
def nearshore(registry: RegistryPath = None, demo_seed: DemoSeed = 0, as_json: AsJson = False) -> None:
    """Local suppliers for each imported input, ranked; national-content change; the gap list."""
    with _errors("silicio supply nearshore"):
        if registry is None:
            _demo_said(demo_seed)
        eco = _ecosystem(registry, demo_seed)
        report = supply.nearshore(
            eco.master, eco.registry, eco.demand, as_of=eco.as_of, automotive=eco.automotive
        )
    if as_json:
        _echo_json(report.as_dict())
        return
    if report.moves.height:
        _print_frame(report.moves.select("product", "input", "from_country", "to_name", "to_state", "msme",
                                         "national_content_before_pct", "national_content_after_pct"),
                     "best qualified local supplier per imported input")  # fmt: skip
    if report.gaps.height:
        _print_frame(report.gaps.select("product", "input", "hs_code", "local_candidates", "reason"),
                     "gaps: inputs no local supplier can take yet")  # fmt: skip


@app.command("public")
def public_command(registry: RegistryPath = None, demo_seed: DemoSeed = 0) -> None:
    """The public transparency figures (JSON): counts and aggregates, no company's numbers, no count
    below 3 (k-anonymity: `suppressed` says what was left out)."""
    with _errors("silicio supply public"):
        if registry is None:
            _demo_said(demo_seed)
        eco = _ecosystem(registry, demo_seed)
        _echo_json(
            supply.publishable(supply.public_summary(eco.registry, eco.master, eco.demand, as_of=eco.as_of))
        )


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="A .json file, or a directory for CSV files.")],
    registry: RegistryPath = None,
    demo_seed: DemoSeed = 0,
) -> None:
    """Write the registry (the demo's by default) as CSV files or one JSON file."""
    with _errors("silicio supply export"):
        if registry is None:
            _demo_said(demo_seed)
        reg = _ecosystem(registry, demo_seed).registry
        written = (
            [supply.write_json(reg, out)] if out.suffix.lower() == ".json" else supply.write_csv_dir(reg, out)
        )
    for path in written:
        console.print(f"wrote [bold]{escape(str(path))}[/bold]", soft_wrap=True, highlight=False)


@app.command("import")
def import_command(
    source: Annotated[
        Path,
        typer.Argument(
            help="Your supply model (a folder with routings.csv, bom.csv ... or .xlsx files, or one .xlsx "
            "workbook with a sheet a table), or a registry (a folder of CSV files or a .json file)."
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Registry only: write it here (.json or a directory).")
    ] = None,
    missing: Missing = "refuse",
    as_json: AsJson = False,
) -> None:
    """Check a supply model (every row, reference and figure) or a registry; say what it holds and lacks."""
    from silicio.supply import dataset

    with _errors("silicio supply import"):
        is_model = source.suffix.lower() in (".xlsx", ".xls") or (source.is_dir() and any(
            (source / f"{n}.{ext}").exists() for n in ("routings", "bom", "demand") for ext in ("csv", "xlsx")))  # fmt: skip
        if is_model:
            model = supply.read_supply_dir(source, missing=missing)
            if as_json:
                _echo_json({"kind": "supply model", "rows": model.counts, "nodes": model.network.number_of_nodes(),
                            "edges": model.network.number_of_edges(), "data": model.quality()})  # fmt: skip
                return
            counts = ", ".join(f"{n} {name}" for name, n in model.counts.items())
            console.print(escape(f"{source}: valid supply model ({counts}; {model.network.number_of_nodes()} nodes, "
                                 f"{len(model.products)} products)"), soft_wrap=True, highlight=False)  # fmt: skip
            _say_quality(model.quality())
            return
        reg = _read_registry(source)
        if out is not None:
            _ = (
                supply.write_json(reg, out)
                if out.suffix.lower() == ".json"
                else supply.write_csv_dir(reg, out)
            )
    counts = ", ".join(f"{t.height} {name}" for name, t in reg.tables().items())
    empty = [name for name in ("sites", "capabilities") if reg.tables()[name].is_empty()]
    console.print(f"{escape(str(source))}: registry checked ({counts})", soft_wrap=True, highlight=False)
    if empty:
        console.print(escape(f"incomplete: no {' and no '.join(empty)}: capacities, lead times and recovery times are "
                             f"unknown; supply commands refuse it unless --missing default (then reported). A supply "
                             f"model of your own BOM and routings: {', '.join(f + '.csv' for f in dataset.REQUIRED_FILES)}"
                             f" (silicio supply template DIR)"), soft_wrap=True, highlight=False)  # fmt: skip
