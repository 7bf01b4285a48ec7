"""``silicio spc ...``: control charts, run rules and capability of a column of a CSV or Parquet file.

Points are numbered from 1 in what this command prints (the first data row is point 1), as an
engineer counts wafers or subgroups; the library itself indexes from 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
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
Separator = Annotated[
    str | None,
    typer.Option("--sep", help="CSV field separator (default: told from the file).", show_default=False),
]
DecimalMark = Annotated[
    str | None,
    typer.Option("--decimal", help="CSV decimal separator, ',' or '.' (default: told from the file).",
                 show_default=False),
]  # fmt: skip


class InputError(ValueError):
    """Bad input file or options; the text names the file, the row and what was expected."""


# -- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """A file read: its table and, for CSV, the file line each row starts on (header line 1,
    blank lines skipped), to name rows as the user counts them."""

    path: Path
    data: pa.Table
    lines: tuple[int, ...] | None = None

    def where(self, row: int) -> str:
        """Row ``row`` (from 0): data row from 1, and its line in a CSV file."""
        if self.lines is None or row >= len(self.lines):
            return f"{self.path}, row {row + 1}"
        return f"{self.path}, row {row + 1} (line {self.lines[row]})"


def read_table(path: Path, sep: str | None = None, decimal: str | None = None) -> Input:
    """A Parquet file, or a CSV file as people and spreadsheets write it (separator and decimal
    comma told from the file or given, UTF-8 with BOM or Windows-1252: :mod:`silicio.tabular`)."""
    import pyarrow as pa

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return Input(path, pq.read_table(path))
        except pa.ArrowInvalid as exc:
            raise InputError(f"{path}: not a readable Parquet file: {exc}") from None
    from silicio.tabular import read_table as read_csv

    table = read_csv(path, sep=sep, decimal=decimal)
    return Input(path, table.data, table.lines)


def column(source: Input, name: str) -> pa.ChunkedArray:
    if name not in source.data.column_names:
        raise InputError(
            f"{source.path}: no column {name!r}; columns are {', '.join(source.data.column_names)}"
        )
    return source.data.column(name)


def numeric_column(source: Input, name: str) -> np.ndarray:
    """A column as float64; an empty or non-numeric cell is an error naming its row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = column(source, name)
    if col.null_count:
        row = int(pc.index(pc.is_null(col), True).as_py())
        raise InputError(f"{source.where(row)}: column {name!r} is empty, expected a number")
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
                    f"{source.where(row)}: column {name!r} holds {cell!r}, expected a number"
                ) from None
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{source.where(row)}: column {name!r} holds {values[row]}, expected a finite number"
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


def _labels(source: Input, name: str):
    return column(source, name).to_numpy(zero_copy_only=False)


def _chart_params(kind, source: Input, *, subgroup, size, n, n_column, part, k, lam, target, sigma, cusum_k, h,
                  asymptotic, alpha, arl0, sigma_by_part) -> dict:  # fmt: skip
    """The options that ``kind`` uses, as :func:`silicio.spc.chart` parameters (columns read)."""
    if kind in ("xbar-r", "xbar-s", "imr-r", "imr-s"):
        if (subgroup is None) == (size is None):
            raise InputError(f"--type {kind} needs subgroups: give --subgroup COLUMN or --size N")
        if subgroup is not None:
            return {"subgroup": _labels(source, subgroup), "k": k}
        return {"size": size, "k": k}
    if kind in ("p", "np", "u", "laney-p", "laney-u"):
        if (n is None) == (n_column is None):
            raise InputError(f"--type {kind} needs the sample size: give --n N or --n-column COLUMN")
        if kind == "np":
            if n is None:
                raise InputError("--type np needs one sample size --n N (use --type p when it varies)")
            return {"size": n, "k": k}
        sizes = float(n) if n is not None else numeric_column(source, n_column)
        return {"sizes" if kind in ("p", "laney-p") else "units": sizes, "k": k}
    if kind == "c":
        return {"k": k}
    if kind == "imr":
        return {"k": k, "target": target, "sigma": sigma}
    if kind == "ewma":
        return {"lam": 0.2 if lam is None else lam, "k": k, "target": target, "sigma": sigma,
                "exact": not asymptotic}  # fmt: skip
    if kind == "zmr":
        if part is None:
            raise InputError("--type zmr needs the part of each row: give --part COLUMN")
        return {
            "part": _labels(source, part),
            "sigma": "by-part" if sigma_by_part else "constant",
            "k": k,
        }
    if kind == "t2":
        return {"alpha": alpha}
    if kind == "mewma":
        return {"lam": 0.1 if lam is None else lam, "arl0": arl0}
    return {"k": cusum_k, "h": h, "target": target, "sigma": sigma}  # cusum


def _where_point(source: Input, exc, column_of: dict[str, str]) -> str:
    """A library PointError as the row the user counts, and the column it is about."""
    index = exc.index if isinstance(exc.index, int) else exc.index[0]
    name = column_of.get(exc.what)
    column_name = f", column {name!r}" if name else ""
    return f"{source.where(index)}{column_name}: {exc.what} {exc.reason}"


@app.command()
def chart(
    file: DataFile,
    col: Column,
    kind: Annotated[
        str | None,
        typer.Option(
            "--type",
            "--chart",
            "-t",
            metavar="KIND",
            show_default=False,
            help="Chart kind: imr, xbar-r, xbar-s, imr-r, imr-s, p, np, c, u, laney-p, laney-u, ewma, cusum, "
            "zmr, t2 or mewma (silicio.spc.CHART_KINDS). Default: imr; with --subgroup or --size one point per "
            "subgroup, imr-s (imr-r for subgroups of 10 or fewer).",
        ),
    ] = None,
    subgroup: Subgroup = None,
    size: Size = None,
    n: Annotated[
        int | None, typer.Option("--n", min=1, help="Sample size (p, np) or units (u), every row.")
    ] = None,
    n_column: Annotated[
        str | None, typer.Option("--n-column", help="Column of the sample size (p) or units (u) per row.")
    ] = None,
    part: Annotated[str | None, typer.Option("--part", help="zmr: column naming each row's part.")] = None,
    sigma_by_part: Annotated[
        bool, typer.Option("--sigma-by-part", help="zmr: one sigma per part instead of one for all.")
    ] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="t2: false-alarm probability per point.")] = 0.0027,
    arl0: Annotated[float, typer.Option("--arl0", help="mewma: in-control average run length.")] = 200.0,
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
    lam: Annotated[
        float | None, typer.Option("--lambda", help="EWMA weight lambda (default 0.2; mewma 0.1).")
    ] = None,
    target: Annotated[float | None, typer.Option("--target", help="Known mean (imr, ewma, cusum).")] = None,
    sigma: Annotated[
        float | None, typer.Option("--sigma", help="Known process sigma (imr, ewma, cusum).")
    ] = None,
    cusum_k: Annotated[float, typer.Option("--cusum-k", help="CUSUM reference value, in sigmas.")] = 0.5,
    h: Annotated[float, typer.Option("--cusum-h", help="CUSUM decision interval, in sigmas.")] = 5.0,
    asymptotic: Annotated[
        bool, typer.Option("--asymptotic", help="EWMA: constant asymptotic limits instead of the exact ones.")
    ] = False,
    sep: Separator = None,
    decimal: DecimalMark = None,
    as_json: AsJson = False,
) -> None:
    """Control limits of a column and the points beyond them or breaking run rules (points from 1).

    t2 and mewma chart several columns: --column A,B,C."""
    needs("lake", "silicio spc chart")
    from silicio import spc

    column_of = {"value": col, "defectives": col, "count": col, "sample size": n_column or "",
                 "inspection units": n_column or ""}  # fmt: skip
    from silicio.tabular import TableError

    with reported_errors(TableError):
        try:
            table = read_table(existing_file(file), sep, decimal)
            if kind is None:
                kind = "imr"
                if subgroup is not None or size is not None:
                    sizes = [size] if size is not None else spc.subgroups(
                        [0.0] * table.data.num_rows, _labels(table, subgroup)).size  # fmt: skip
                    kind = spc.default_subgroup_chart(sizes).replace("_", "-")
            kind = kind.lower()
            if kind.replace("-", "_") in spc.MULTIVARIATE_KINDS:
                import numpy as np

                names = [c.strip() for c in col.split(",") if c.strip()]
                if len(names) < 2:
                    raise InputError(f"--type {kind} charts several columns: give --column A,B (2 or more)")
                values = np.column_stack([numeric_column(table, c) for c in names])
            else:
                values = numeric_column(table, col)
            params = _chart_params(kind, table, subgroup=subgroup, size=size, n=n, n_column=n_column,
                                   part=part, k=k, lam=lam, target=target, sigma=sigma, cusum_k=cusum_k, h=h,
                                   asymptotic=asymptotic, alpha=alpha, arl0=arl0,
                                   sigma_by_part=sigma_by_part)  # fmt: skip
            _, charts = spc.chart(kind, values, baseline=baseline, **params)
            violations = None
            if rules is not None:
                if kind in ("ewma", "cusum", "t2", "mewma"):
                    raise InputError("--rules applies to Shewhart charts, not to EWMA, CUSUM, T^2 or MEWMA")
                violations = charts[0].rules(rules)
        except spc.PointError as exc:
            raise fail(_where_point(table, exc, column_of)) from None
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
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "-m",
            help="Distribution of the performance indices and PPM: auto (best Anderson-Darling fit), normal, "
            "lognormal, lognormal3, weibull, weibull3, boxcox, johnson or percentile.",
        ),
    ] = "auto",
    sep: Separator = None,
    decimal: DecimalMark = None,
    as_json: AsJson = False,
) -> None:
    """Cp, Cpk (within sigma), Pp, Ppk (overall sigma) with confidence intervals; the distribution
    (fitted or chosen) with its Pp, Ppk and expected and observed PPM; between/within capability when
    the data have subgroups."""
    needs("lake", "silicio spc capability")
    from silicio import spc
    from silicio.tabular import TableError

    method = method.lower()
    with reported_errors(TableError):
        try:
            if method not in spc.CAPABILITY_METHODS:
                raise InputError(f"--method {method!r}: expected one of {', '.join(spc.CAPABILITY_METHODS)}")
            table = read_table(existing_file(file), sep, decimal)
            x = numeric_column(table, col)
            labels = _labels(table, subgroup) if subgroup else None
            result = spc.capability(x, lsl, usl, subgroup=labels, size=size, confidence=confidence)
            fitted, note = None, None
            if x.size >= 8 or method != "auto":
                fitted = spc.distribution_capability(x, lsl, usl, method=method)
            else:
                note = f"{x.size} values: too few to fit a distribution (8 or more)"
            bw = (
                spc.between_within(x, lsl, usl, subgroup=labels, size=size)
                if labels is not None or size
                else None
            )
        except ValueError as exc:
            raise fail(str(exc)) from None
    out = {"file": str(file), "column": col} | result.to_dict()
    out["distribution"] = fitted.to_dict() if fitted is not None else None
    out["between_within"] = bw.to_dict() if bw is not None else None
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
    for name, value, (lo, hi), note_ in rows:
        t.add_row(
            name,
            "-" if value != value else f"{value:.3f}",
            "-" if lo != lo else f"{lo:.3f} .. {hi:.3f}",
            note_,
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
    if bw is not None:
        console.print(
            f"between/within ({bw.subgroups} subgroups): sigma within {bw.sigma_within:.6g}, between "
            f"{bw.sigma_between:.6g}, B/W {bw.sigma_bw:.6g}; Cp {_num(bw.cp)}, Cpk {_num(bw.cpk)}"
        )
    if note:
        console.print(note)
    if fitted is not None:
        _print_distribution(fitted)


def _num(v: float, digits: int = 3) -> str:
    if v != v:
        return "-"
    return "inf" if math.isinf(v) else f"{v:.{digits}f}"


def _ppm(v: float) -> str:
    return "-" if v != v else f"{v:,.1f}"


def _print_distribution(fitted) -> None:
    how = "best Anderson-Darling fit" if fitted.selected_by == "anderson-darling" else "chosen"
    params = ", ".join(f"{k} {v:.6g}" for k, v in fitted.fit.parameters.items())
    console.print(f"distribution: [bold]{fitted.method}[/bold] ({how}){': ' + params if params else ''}")
    if len(fitted.candidates) > 1 or fitted.skipped:
        ct = Table(title="candidate distributions (Anderson-Darling)")
        for name in ("distribution", "A^2", "p-value"):
            ct.add_column(name, justify="left" if name == "distribution" else "right")
        for f in fitted.candidates:
            ct.add_row(f.distribution, f"{f.ad_statistic:.4g}", f.p_text)
        for name, why in fitted.skipped.items():
            ct.add_row(name, "-", f"not fitted: {escape(why)}")
        print_table(console, ct)
    it = Table(title=f"performance with the {fitted.method} model")
    for name in ("", "below LSL", "above USL", "total"):
        it.add_column(name, justify="right")
    it.add_row("expected PPM", _ppm(fitted.expected_ppm_below), _ppm(fitted.expected_ppm_above),
               _ppm(fitted.expected_ppm_total))  # fmt: skip
    it.add_row("observed PPM", _ppm(fitted.observed_ppm_below), _ppm(fitted.observed_ppm_above),
               _ppm(fitted.observed_ppm_total))  # fmt: skip
    print_table(console, it)
    console.print(
        f"Pp {_num(fitted.pp)}, Ppk {_num(fitted.ppk)} (percentiles, ISO 22514-2: median {fitted.median:.6g}, "
        f"0.135 % {fitted.p_low:.6g}, 99.865 % {fitted.p_high:.6g}); Ppk {_num(fitted.ppk_z)} (Z-score: the "
        "normal Ppk with the same expected PPM)"
    )
