"""The ``silicio`` command. Each module here parses arguments and calls the core, nothing more.

A command's module is imported when the command runs (or shows its own help), and imports the
areas it calls inside its commands (after :func:`.errors.needs` has checked the extra): ``silicio
--help`` loads typer alone, ``silicio stdf ...`` its module and the reader, and both run on a
core-only install (tests/test_cold_start.py checks which modules each loads).
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from silicio import __version__

#: The commands in the order ``silicio --help`` lists them: name -> (module of this package,
#: its attribute: a Typer app for a group of subcommands, a function for one command; and the
#: one-line help the listing shows, the first paragraph of the command's own help, which
#: tests/cli checks).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ingest": ("lake", "ingest_command",
               "Take tester files into the lake: partitioned Parquet plus catalog rows, each content once."),
    "sql": ("lake", "sql_command",
            "Run SQL over the lake: a view per record type, tidy, parts, and the catalog tables."),
    "serve": ("web", "serve_command",
              "Serve the dashboard: yields, wafer maps, tests, PAT and files, with a JSON API under /api.\n"
              "Every page but the public ones needs a signed-in account (`silicio users add`)."),
    "report": ("report", "report_command",
               "Yield, bins, HBR/SBR reconciliation, wafer maps, worst tests and screening of one lot."),
    "holds": ("holds", "holds_command",
              "Which lots are held and why: final yield, AEC-Q002 SYL / SBL, PAT share, parametric shift,\n"
              "each reason with its rule, parameters and evidence."),
    "verify": ("certificate", "verify_command",
               "Check a certificate offline: signature, key, content, validity, revocation (exit 1 if not)."),
    "demo": ("demo", "demo_command",
             "Generate the demo fab (Querétaro IDM, three products) as STDF files, with its inline\n"
             "inspection as KLARF files; `silicio serve --demo` also ingests and serves it."),
    "stdf": ("stdf", "app", "Read, inspect and convert STDF tester data."),
    "lake": ("lake", "app", "Look into the data lake: files, quarantine, recovery."),
    "spc": ("spc", "app", "Statistical process control: control charts, run rules, capability."),
    "metrology": ("metrology", "app", "Gage R&R, measurement uncertainty and measurement checks."),
    "trace": ("trace", "app", "Trace genealogy: forward, backward, recall scope, operator flags."),
    "audit": ("trace", "audit_app", "The hash-chained audit log of master data, genealogy and certificates."),
    "keys": ("certificate", "keys_app", "The Ed25519 keys that sign certificates, and the keyring of retired ones."),
    "certificate": ("certificate", "app", "Certificates of conformance and origin: issue, revoke, verify."),
    "supply": ("supply", "app", "Supplier ecosystem: network risk, stress tests, Monte Carlo, nearshoring."),
    "map": ("map", "app",
            "Wafer maps of an STDF file as PNG, SVG, SEMI G85 or E142 (`silicio map FILE --format g85 --out "
            "PATH`), oriented by the file's WCR; `silicio map import` reads a partner's G85 or E142 map."),
    "limits": ("limits", "app",
               "Lot history: SYL/SBL (AEC-Q002) and static PAT limits (AEC-Q001) from earlier lots, versioned."),
    "spatial": ("spatial", "app", "Wafer-map signatures: which shape a wafer's loss has, where, and how it clusters."),
    "disposition": ("disposition", "app",
                    "Lot disposition: held lots reviewed and released, scrapped or returned, each step signed."),
    "users": ("users", "app",
              "Dashboard accounts (roles admin, engineer, quality, auditor, supplier) and API tokens."),
    "alerts": ("alerts", "app", "Alerts on ingested data: rules, the alerts raised, scheduled reports."),
    "correlate": ("correlate", "app", "Correlation: the same units tested twice, and tests within a stage."),
    "retest": ("correlate", "retest_command",
               "Retests and test time of a lot: bin switching, recovery per bin, retest rate per site, tester\n"
               "and handler, dies retested more than N times, UPH and multi-site efficiency."),
}  # fmt: skip


class LazyCommands(TyperGroup):
    """The top-level group: a command's module is imported when the command is resolved (to run
    it or show its help), not to list it, so ``silicio --help`` imports none of them."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        # Listed, not run: what the listing shows, without importing the command's module.
        return TyperCommand(cmd_name, short_help=COMMANDS[cmd_name][2])

    def resolve_command(self, ctx: typer.Context, args: list[str]):
        if args:
            self.load(args[0])
        return super().resolve_command(ctx, args)

    def load(self, cmd_name: str) -> None:
        """Import the command ``cmd_name`` (when it is one not loaded yet) and register it."""
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return
        module, attribute, _ = COMMANDS[cmd_name]
        target = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        if isinstance(target, typer.Typer):
            target.rich_markup_mode = self.rich_markup_mode  # one help style for every command
            command = typer.main.get_group(target)
        else:
            single = typer.Typer(rich_markup_mode=self.rich_markup_mode)
            single.command(name=cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        command.short_help = COMMANDS[cmd_name][2]  # listed the same, loaded or not
        self.add_command(command, cmd_name)


app = typer.Typer(
    cls=LazyCommands,
    help="silicio: semiconductor quality and supply data, from STDF tester files to origin certificates.",
    no_args_is_help=True,
    add_completion=False,
    # Help and usage errors as click prints them: typer's rich panels import rich's Markdown and
    # markdown-it, 0.1 s of CPU, a third of what `silicio --help` may take.
    rich_markup_mode=None,
    # Unexpected errors are bugs: show the traceback, but never local variables (file contents).
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"silicio {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """silicio: semiconductor quality and supply data, from STDF tester files to origin certificates."""


def main() -> None:
    app()
