"""``silicio spc ...``: control charts, run rules and capability of a column of a CSV or Parquet file.

Points are numbered from 1 in what this command prints (the first data row is point 1), as an
engineer counts wafers or subgroups; the library itself indexes from 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .errors import existing_file, fail, needs, reported_errors
from .render import console, print_table

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

app = typer.Typer(
    help="Statistical process control: control charts, run rules, capability.", no_args_is_help=True
)


DataFile = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="CSV or Parquet file, one row per measurement.", show_default=False),
]
Column = Annotated[
    str, typer.Option("--column", "-c", help="Column of the measurements or counts.", show_default=False)
]
Subgroup = Annotated[
    str | None, typer.Option("--subgroup", help="Column labelling the subgroups (X-bar charts, capability).")
]
Size = Annotated[int | None, typer.Option("--size", min=1, help="Subgroups of this many consecutive rows.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


class InputError(ValueError):
    """Bad input file or options; the text names the file, the row and what was expected."""


# -- reading ----------------------------------------------------------------------------------------


def read_table(path: Path) -> pa.Table:
    """A CSV or Parquet file as an Arrow table."""
    import pyarrow as pa

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pa_csv

        return pa_csv.read_csv(path)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: not a readable CSV or Parquet file: {exc}") from None


def _where(path: Path, row: int) -> str:
    line = f" (line {row + 2})" if path.suffix.lower() not in (".parquet", ".pq") else ""
    return f"{path}, row {row + 1}{line}"


def column(table: pa.Table, name: str, path: Path) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise InputError(f"{path}: no column {name!r}; columns are {', '.join(table.column_names)}")
    return table.column(name)


def numeric_column(table: pa.Table, name: str, path: Path) -> np.ndarray:
    """A column as float64; an empty or non-numeric cell is an error naming its row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = column(table, name, path)
    if col.null_count:
        row = int(pc.index(pc.is_null(col), True).as_py())
        raise InputError(f"{_where(path, row)}: column {name!r} is empty, expected a number")
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        values = col.to_numpy().astype(np.float64)
    else:
        cells = col.to_pylist()
        values = np.empty(len(cells))
        for row, cell in enumerate(cells):
            try:
                values[row] = float(cell)
            except (TypeError, ValueError):
                raise InputError(
                    f"{_where(path, row)}: column {name!r} holds {cell!r}, expected a number"
                ) from None
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{_where(path, row)}: column {name!r} holds {values[row]}, expected a finite number"
        )
    return values


# -- charts -------------------------------------------------------------------------------------------


def _scalar_or_list(a: np.ndarray):
    import numpy as np

    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return None
    if np.all(finite == finite[0]) and finite.size == a.size:
        return float(finite[0])
    return [None if not math.isfinite(v) else float(v) for v in a]


def _chart_params(kind, table, path, *, subgroup, size, n, n_column, k, lam, target, sigma, cusum_k, h,
                  asymptotic) -> dict:  # fmt: skip
    """The options that ``kind`` uses, as :func:`silicio.spc.chart` parameters (columns read)."""
    if kind in ("xbar-r", "xbar-s"):
        if (subgroup is None) == (size is None):
            raise InputError(f"--type {kind} needs subgroups: give --subgroup COLUMN or --size N")
        if subgroup is not None:
            return {"subgroup": column(table, subgroup, path).to_numpy(zero_copy_only=False), "k": k}
        return {"size": size, "k": k}
    if kind in ("p", "np", "u"):
        if (n is None) == (n_column is None):
            raise InputError(f"--type {kind} needs the sample size: give --n N or --n-column COLUMN")
        if kind == "np":
            if n is None:
                raise InputError("--type np needs one sample size --n N (use --type p when it varies)")
            return {"size": n, "k": k}
        sizes = float(n) if n is not None else numeric_column(table, n_column, path)
        return {"sizes" if kind == "p" else "units": sizes, "k": k}
    if kind == "c":
        return {"k": k}
    if kind == "imr":
        return {"k": k, "target": target, "sigma": sigma}
    if kind == "ewma":
        return {"lam": lam, "k": k, "target": target, "sigma": sigma, "exact": not asymptotic}
    return {"k": cusum_k, "h": h, "target": target, "sigma": sigma}  # cusum


@app.command()
def chart(
    file: DataFile,
    col: Column,
    kind: Annotated[
        str,
        typer.Option(
            "--type",
            "-t",
            metavar="KIND",
            show_default=True,
            help="Chart kind: imr, xbar-r, xbar-s, p, np, c, u, ewma or cusum (silicio.spc.CHART_KINDS).",
        ),
    ] = "imr",
    subgroup: Subgroup = None,
    size: Size = None,
    n: Annotated[
        int | None, typer.Option("--n", min=1, help="Sample size (p, np) or units (u), every row.")
    ] = None,
    n_column: Annotated[
        str | None, typer.Option("--n-column", help="Column of the sample size (p) or units (u) per row.")
    ] = None,
    baseline: Annotated[
        int | None,
        typer.Option("--baseline", help="Estimate the limits from the first N points (subgroups)."),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            "--rules",
            help="Run rules on the first chart: we, nelson, all, or numbers/codes (1,2,5 = Nelson).",
        ),
    ] = None,
    k: Annotated[float, typer.Option("--k", help="Width of Shewhart and EWMA limits in sigmas.")] = 3.0,
    lam: Annotated[float, typer.Option("--lambda", help="EWMA weight lambda.")] = 0.2,
    target: Annotated[float | None, typer.Option("--target", help="Known mean (imr, ewma, cusum).")] = None,
    sigma: Annotated[
        float | None, typer.Option("--sigma", help="Known process sigma (imr, ewma, cusum).")
    ] = None,
    cusum_k: Annotated[float, typer.Option("--cusum-k", help="CUSUM reference value, in sigmas.")] = 0.5,
    h: Annotated[float, typer.Option("--cusum-h", help="CUSUM decision interval, in sigmas.")] = 5.0,
    asymptotic: Annotated[
        bool, typer.Option("--asymptotic", help="EWMA: constant asymptotic limits instead of the exact ones.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Control limits of a column and the points beyond them or breaking run rules (points from 1)."""
    needs("lake", "silicio spc chart")
    from silicio import spc

    kind = kind.lower()
    with reported_errors():
        try:
            table = read_table(existing_file(file))
            values = numeric_column(table, col, file)
            params = _chart_params(kind, table, file, subgroup=subgroup, size=size, n=n, n_column=n_column, k=k,
                                   lam=lam, target=target, sigma=sigma, cusum_k=cusum_k, h=h,
                                   asymptotic=asymptotic)  # fmt: skip
            _, charts = spc.chart(kind, values, baseline=baseline, **params)
            violations = None
            if rules is not None:
                if kind in ("ewma", "cusum"):
                    raise InputError("--rules applies to Shewhart charts, not to EWMA or CUSUM")
                violations = charts[0].rules(rules)
        except ValueError as exc:  # InputError, and the library's own checks of its arguments
            raise fail(str(exc)) from None
    result = {
        "file": str(file),
        "column": col,
        "type": kind,
        "baseline": baseline,
        "charts": [
            {
                "name": c.name,
                "center": _scalar_or_list(c.center),
                "lcl": _scalar_or_list(c.lcl),
                "ucl": _scalar_or_list(c.ucl),
                "points": int(c.statistic.size),
                "out_of_control": [int(i) + 1 for i in c.out_of_control],
            }
            for c in charts
        ],
    }
    if violations is not None:
        result["rules"] = [
            {
                "rule": r["rule"],
                "description": r["description"],
                "point": r["point"] + 1,
                "first_point": r["first_point"] + 1,
            }
            for r in violations.to_arrow().to_pylist()
        ]
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _print_chart_result(result)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        vals = [x for x in v if x is not None]
        return f"{min(vals):.6g} .. {max(vals):.6g}" if vals else "-"
    return f"{v:.6g}"


def _print_chart_result(result: dict) -> None:
    table = Table(title=f"{escape(result['file'])}: {result['type']} chart of {escape(result['column'])}")
    for name in ("chart", "center", "LCL", "UCL", "points", "beyond limits"):
        table.add_column(name, justify="left" if name in ("chart", "beyond limits") else "right")
    for c in result["charts"]:
        points = c["out_of_control"]
        # Long lists are cut in the table (the JSON output keeps them all).
        beyond = ", ".join(map(str, points[:20])) + (
            f", ... ({len(points)} in all)" if len(points) > 20 else ""
        )
        beyond = beyond or "none"
        table.add_row(c["name"], _fmt(c["center"]), _fmt(c["lcl"]), _fmt(c["ucl"]), str(c["points"]), beyond)
    print_table(console, table)
    if "rules" in result:
        if not result["rules"]:
            console.print("run rules: no violations")
            return
        rt = Table(title="run rule violations (reported at the last point of the pattern)")
        for name in ("rule", "point", "window", "pattern"):
            rt.add_column(name)
        for r in result["rules"]:
            rt.add_row(r["rule"], str(r["point"]), f"{r['first_point']}-{r['point']}", r["description"])
        print_table(console, rt)


# -- capability ---------------------------------------------------------------------------------------


@app.command(name="capability")
def capability_command(
    file: DataFile,
    col: Column,
    lsl: Annotated[float | None, typer.Option("--lsl", help="Lower specification limit.")] = None,
    usl: Annotated[float | None, typer.Option("--usl", help="Upper specification limit.")] = None,
    subgroup: Subgroup = None,
    size: Size = None,
    confidence: Annotated[float, typer.Option("--confidence", help="Level of the intervals.")] = 0.95,
    as_json: AsJson = False,
) -> None:
    """Cp, Cpk (within sigma), Pp, Ppk (overall sigma) with confidence intervals and a normality check."""
    needs("lake", "silicio spc capability")
    from silicio import spc

    with reported_errors():
        try:
            table = read_table(existing_file(file))
            x = numeric_column(table, col, file)
            labels = column(table, subgroup, file).to_numpy(zero_copy_only=False) if subgroup else None
            result = spc.capability(x, lsl, usl, subgroup=labels, size=size, confidence=confidence)
        except ValueError as exc:
            raise fail(str(exc)) from None
    out = {"file": str(file), "column": col} | result.to_dict()
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=lambda v: None if v != v else v))
        return
    t = Table(title=f"{escape(str(file))}: capability of {escape(col)} (n = {result.n})")
    for name in ("index", "value", f"{confidence:.0%} interval", "sigma"):
        t.add_column(name, justify="right")
    rows = [
        (
            "Cp",
            result.cp,
            result.cp_interval,
            f"within {result.sigma_within:.6g} ({result.sigma_within_method})",
        ),
        ("Cpk", result.cpk, result.cpk_interval, ""),
        ("Pp", result.pp, result.pp_interval, f"overall {result.sigma_overall:.6g}"),
        ("Ppk", result.ppk, result.ppk_interval, ""),
    ]
    for name, value, (lo, hi), note in rows:
        t.add_row(
            name,
            "-" if value != value else f"{value:.3f}",
            "-" if lo != lo else f"{lo:.3f} .. {hi:.3f}",
            note,
        )
    print_table(console, t)
    test = result.normality
    if test is None:
        console.print("normality: too few values to test")
    else:
        verdict = (
            "[bold yellow]NOT normal[/bold yellow]: read the indices with care"
            if result.non_normal
            else "normal"
        )
        console.print(
            f"normality ({test.method}): statistic {test.statistic:.4g}, p = {test.p_value:.3g} -> {verdict}"
        )
