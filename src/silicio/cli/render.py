"""Terminal presentation of core results (rich); no logic beyond formatting."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table

from silicio.stdf.errors import StdfIssue

if TYPE_CHECKING:
    from silicio.stdf.summary import FileSummary

# Issues beyond this many are counted, not listed: a badly damaged file can have thousands.
MAX_ISSUES_SHOWN = 20

#: Width of output that goes to a file or a pipe: wide enough that nothing is wrapped.
UNWRAPPED_WIDTH = 10_000


class OutputConsole(Console):
    """A console that wraps at the terminal's width, and not at all when the output is a file or
    a pipe: rich would wrap there at 80 columns (or ``$COLUMNS``), breaking the paths and values
    a script or a test reads out of a table."""

    @property
    def size(self) -> ConsoleDimensions:
        real = Console.size.fget(self)
        return real if self.is_terminal else ConsoleDimensions(UNWRAPPED_WIDTH, real.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


#: Where every command prints: results on stdout, problems and notes on stderr.
console = OutputConsole()
stderr = OutputConsole(stderr=True)


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` with every cell that is too wide folded onto more lines, never cut with "…"
    (rich's default): what the user reads must be all there, whatever the terminal's width.

    The title is printed as its own line, soft-wrapped (the terminal wraps it, rich inserts no
    line break): rich would wrap it to the table's width, cutting a path in a title into pieces.
    """
    for column in table.columns:
        column.overflow = "fold"
    if table.title:
        console.print(table.title, style="bold", soft_wrap=True, highlight=False)
        table.title = None
    console.print(table)


def summary_tables(summary: FileSummary) -> tuple[Table, Table]:
    """The facts of a file, and its records per type."""
    facts = Table(title=escape(summary.path or "STDF file"), show_header=False, title_justify="left")
    facts.add_column("field", style="bold")
    facts.add_column("value")
    good = f"{summary.good_parts:,}"
    if summary.yield_percent is not None:
        good += f" ({summary.yield_percent:.1f}% yield)"
    rows = [
        ("format", _joined(summary.stdf_version, summary.byte_order)),
        ("lot", _joined(summary.lot_id, summary.sublot_id and f"sublot {summary.sublot_id}")),
        ("part type", summary.part_type),
        ("tester", _joined(summary.tester_type, summary.tester_node and f"on {summary.tester_node}")),
        ("program", _joined(summary.program, summary.program_revision and f"rev {summary.program_revision}")),
        ("operator", summary.operator),
        ("test code / mode", _joined(summary.test_code, summary.mode_code, sep=" / ")),
        ("started", summary.started and f"{summary.started:%Y-%m-%d %H:%M:%S} UTC"),
        ("finished", summary.finished and f"{summary.finished:%Y-%m-%d %H:%M:%S} UTC"),
        ("wafers", _wafers(summary.wafers, summary.wafer_count)),
        ("parts tested", f"{summary.parts:,}"),
        ("good parts", good),
        ("distinct tests", f"{summary.tests:,}"),
        ("heads / sites", f"{summary.heads} / {summary.sites}"),
        ("records", f"{summary.total_records:,}"),
        ("errors", f"[red]{len(summary.issues)}[/red]" if summary.issues else "none"),
    ]
    for label, value in rows:
        facts.add_row(label, escape(value) if value and label != "errors" else (value or "[dim]-[/dim]"))

    from silicio.stdf.spec import RECORDS

    records = Table(title="records per type", title_justify="left")
    records.add_column("type", style="bold")
    records.add_column("count", justify="right")
    records.add_column("record")
    for name, count in summary.records.items():
        title = RECORDS[name].title if name in RECORDS else "not in the specification"
        records.add_row(name, f"{count:,}", title)
    return facts, records


def print_summary(console: Console, summary: FileSummary) -> None:
    for table in summary_tables(summary):
        print_table(console, table)
    for warning in summary.warnings[:MAX_ISSUES_SHOWN]:
        console.print(f"[yellow]warning: {escape(str(warning))}[/yellow]", soft_wrap=True)
    if len(summary.warnings) > MAX_ISSUES_SHOWN:
        console.print(f"[yellow]... and {len(summary.warnings) - MAX_ISSUES_SHOWN} more warnings[/yellow]")
    print_issues(console, summary.issues)


def print_issues(console: Console, issues: Iterable[StdfIssue]) -> None:
    issues = list(issues)
    for issue in issues[:MAX_ISSUES_SHOWN]:
        console.print(f"[red]{escape(str(issue))}[/red]", soft_wrap=True)
    if len(issues) > MAX_ISSUES_SHOWN:
        console.print(f"[red]... and {len(issues) - MAX_ISSUES_SHOWN} more problems[/red]")


def print_problems(console: Console, title: str, problems: Iterable[tuple[str, str]]) -> None:
    """Under ``title``, one line per problem: ``path: what``, never cut.

    Not a table: a table cuts or folds a long path to the terminal's width, and a user must be
    able to copy the path (and grep the output). The lines are soft-wrapped: the terminal wraps
    them, rich inserts no line break.
    """
    problems = list(problems)
    if not problems:
        return
    console.print(f"[bold]{escape(title)}[/bold]", highlight=False)
    for path, what in problems:
        console.print(f"  {escape(path)}: {escape(what)}", soft_wrap=True, highlight=False)


def _joined(*parts: str | None, sep: str = " ") -> str | None:
    present = [p for p in parts if p]
    return sep.join(present) if present else None


def _wafers(wafers: list[str], count: int) -> str | None:
    if not count:
        return None
    if not wafers:
        return f"{count} (no wafer id)"
    shown = ", ".join(wafers[:6]) + (", ..." if len(wafers) > 6 else "")
    return f"{count}: {shown}"


def print_fab(console: Console, fab, out_dir) -> None:
    """The demo fab's lots: product, wafers, dies and yields, and what was planted in them."""
    table = Table(title=f"demo fab in {escape(str(out_dir))}" + (" (cached)" if fab.cached else ""),
                  title_justify="left")  # fmt: skip
    for name, justify in (("lot", "left"), ("product", "left"), ("wafers", "right"), ("dies", "right"),
                          ("sort yield", "right"), ("final-test parts", "right"), ("final yield", "right"),
                          ("excursion", "left")):  # fmt: skip
        table.add_column(name, justify=justify)
    for lot in fab.lot_table:
        table.add_row(escape(lot.lot_id), escape(lot.product), f"{lot.wafers:,}", f"{lot.dies:,}",
                      _percent(lot.ws_good, lot.dies), f"{lot.ft_parts:,}", _percent(lot.ft_good, lot.ft_parts),
                      "yes" if lot.excursion else "")  # fmt: skip
    print_table(console, table)
    inspections = f", {len(fab.inspections):,} KLARF inspection files" if fab.inspections else ""
    console.print(f"{len(fab.files):,} STDF files{inspections}, {fab.total_bytes / 1e6:,.1f} MB; "
                  "`silicio serve --demo` ingests and serves the demo", highlight=False)  # fmt: skip


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else ""
