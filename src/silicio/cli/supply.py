"""``silicio supply ...``: network risk, TTR/TTS stress test, Monte Carlo, nearshoring, public
figures, and registry import/export. Parses arguments, calls :mod:`silicio.supply`, prints.

With no ``--registry`` every command runs on the demo ecosystem (the demo fab's master data
and suppliers); ``--registry`` swaps in a registry exported as CSV files or JSON.
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
    typer.Option("--registry", metavar="PATH", help="Registry: a directory of CSV files or a .json file "
                 "(default: the demo ecosystem's).", show_default=False),
]  # fmt: skip
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed of the demo data (and of the scenarios).")]
Workers = Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")]
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


def _ecosystem(registry: Path | None, seed: int) -> supply.Ecosystem:
    eco = supply.demo_ecosystem(seed)
    if registry is not None:
        eco.registry = _read_registry(registry)
    return eco


def _network(registry: Path | None, seed: int, synthetic: int | None):
    if synthetic:
        return supply.synthetic_network(synthetic, products=max(1, min(10, synthetic // 10)), seed=seed)
    return _ecosystem(registry, seed).network()


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
def risk(registry: RegistryPath = None, seed: Seed = 0, as_json: AsJson = False) -> None:
    """Single-source materials and steps, country concentration (HHI) and critical paths."""
    with _errors("silicio supply risk"):
        eco = _ecosystem(registry, seed)
        g = eco.network()
        singles = supply.single_sources(g, eco.registry)
        conc = supply.country_concentration(eco.master, demand=eco.demand)
        paths = supply.critical_paths(g)
    if as_json:
        _echo_json({"single_sources": singles, "concentration": conc, "critical_paths": paths})
        return
    import polars as pl

    _print_frame(pl.DataFrame(singles), "single sources")
    console.print(f"value HHI {conc['hhi_all']:,.0f} ({supply.concentration_level(conc['hhi_all'])}); imports HHI "
                  f"{conc['hhi_imports']:,.0f}; home share {conc['home_share_pct']:.1f} %")  # fmt: skip
    for country, pct in sorted(conc["import_share_pct"].items(), key=lambda kv: -kv[1]):
        console.print(f"  imports from {country}: {pct:.1f} %")
    for product, p in paths.items():
        console.print(f"critical path to {escape(product)}: {p['lead_time_weeks']:.1f} weeks: "
                      f"{escape(' -> '.join(p['path']))}", soft_wrap=True)  # fmt: skip


@app.command("stress-test")
def stress_test_command(
    registry: RegistryPath = None,
    seed: Seed = 0,
    by: Annotated[str, typer.Option("--by", help="Disrupt each 'node' or each 'facility'.")] = "facility",
    synthetic: Synthetic = None,
    workers: Workers = 1,
    dask: Dask = None,
    as_json: AsJson = False,
) -> None:
    """Time-to-recover / time-to-survive LPs for every node or facility (Simchi-Levi et al. 2015)."""
    if by not in ("node", "facility"):
        raise fail(f"--by must be 'node' or 'facility', got {by!r}")
    with _errors("silicio supply stress-test", dask):
        table = supply.stress_test(
            _network(registry, seed, synthetic), by=by, workers=workers, dask_address=dask
        )
    if as_json:
        _echo_json(table.to_dicts())
        return
    _print_frame(table.drop("nodes"), f"stress test by {by}: {int(table['flagged'].sum())} of {table.height} "
                 "with TTS < TTR")  # fmt: skip


@app.command("monte-carlo")
def monte_carlo_command(
    registry: RegistryPath = None,
    seed: Seed = 0,
    scenarios: Annotated[int, typer.Option("--scenarios", "-n", min=1, help="Scenario count.")] = 10_000,
    levels: Annotated[str, typer.Option("--levels", help="VaR/CVaR levels, comma-separated.")] = "0.95,0.99",
    synthetic: Synthetic = None,
    workers: Workers = 1,
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
        result = supply.monte_carlo(_network(registry, seed, synthetic), scenarios, seed=seed, workers=workers,
                                    dask_address=dask)  # fmt: skip
        summary = result.summary(alphas)
    if as_json:
        _echo_json(summary)
        return
    table = Table(title=f"{scenarios:,} scenarios, seed {seed}", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:,.4g}")
    print_table(console, table)


@app.command()
def nearshore(registry: RegistryPath = None, seed: Seed = 0, as_json: AsJson = False) -> None:
    """Local suppliers for each imported input, ranked; national-content change; the gap list."""
    with _errors("silicio supply nearshore"):
        eco = _ecosystem(registry, seed)
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
def public_command(registry: RegistryPath = None, seed: Seed = 0) -> None:
    """The public transparency figures (JSON): counts and aggregates, no company's numbers, no count
    below 3 (k-anonymity: `suppressed` says what was left out)."""
    with _errors("silicio supply public"):
        eco = _ecosystem(registry, seed)
        _echo_json(
            supply.publishable(supply.public_summary(eco.registry, eco.master, eco.demand, as_of=eco.as_of))
        )


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="A .json file, or a directory for CSV files.")],
    registry: RegistryPath = None,
    seed: Seed = 0,
) -> None:
    """Write the registry (the demo's by default) as CSV files or one JSON file."""
    with _errors("silicio supply export"):
        reg = _ecosystem(registry, seed).registry
        written = (
            [supply.write_json(reg, out)] if out.suffix.lower() == ".json" else supply.write_csv_dir(reg, out)
        )
    for path in written:
        console.print(f"wrote [bold]{escape(str(path))}[/bold]", soft_wrap=True, highlight=False)


@app.command("import")
def import_command(
    source: Annotated[Path, typer.Argument(help="A directory of CSV files or a .json file.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the checked registry here (.json or a directory).")
    ] = None,
) -> None:
    """Check a registry (every row and reference); with --out, convert it between CSV and JSON."""
    with _errors("silicio supply import"):
        reg = _read_registry(source)
        if out is not None:
            _ = (
                supply.write_json(reg, out)
                if out.suffix.lower() == ".json"
                else supply.write_csv_dir(reg, out)
            )
    counts = ", ".join(f"{t.height} {name}" for name, t in reg.tables().items())
    console.print(f"{escape(str(source))}: valid registry ({counts})", soft_wrap=True, highlight=False)
