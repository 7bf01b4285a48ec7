"""A lake of demo data for the dashboard: what ``silicio serve --demo`` (and ``make run``) serve.

The demo fab of :mod:`silicio.demo` (``generate_fab``) with its inline inspection (KLARF files
whose defects follow the wafers' planted signatures: the dashboard's defect overlay and kill
ratios), each wafer's map signature stored as ``silicio ingest`` stores it, and one file that is
not STDF, so the files page has a quarantine entry; and one account per role (:func:`demo_users`),
whose random passwords ``silicio serve --demo`` prints once, when they are made.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silicio import lake

if TYPE_CHECKING:
    from .preparing import Preparation

DEFAULT_DEMO_DIR = Path("out") / "demo-lake"


def write_demo_files(stdf_dir: Path, *, lots: int | None = None, seed: int = 0,
                     progress: Callable[[str, int, int], None] | None = None, inspection: bool = True) -> Path:  # fmt: skip
    """STDF files of the demo fab (:func:`silicio.demo.generate_fab`) in ``stdf_dir``, with its
    inline inspection's KLARF files unless ``inspection`` is False; ``progress(message, done,
    total)`` after each lot."""
    from silicio.demo import generate_fab

    stdf_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(os.cpu_count() or 1, 4))
    generate_fab(stdf_dir, **({"lots": lots} if lots is not None else {}), seed=seed, workers=workers,
                 progress=progress, inspection=inspection)  # fmt: skip
    # A file the reader rejects, as a tester share always has one.
    (stdf_dir / "interrupted_transfer.stdf").write_bytes(b"\x00\x00 partial upload, not STDF\n" * 8)
    return stdf_dir


def demo_lake(data_dir: str | os.PathLike[str] = DEFAULT_DEMO_DIR, **files) -> Path:
    """The demo lake in ``data_dir``: its STDF files written (the demo fab reuses files already
    there), ingested, traced and its wafers' signatures stored, as :func:`prepare_demo` does it
    (without the screening). Ingest skips content the lake holds, so a run cut short is completed
    and a finished lake costs only the hashing of its files."""
    from .preparing import Preparation

    data_dir = Path(data_dir)
    _prepare(data_dir, Preparation(DEMO_STEPS), **files)
    return data_dir


def _store_new_signatures(data_dir: Path, report) -> int:
    """The signatures of the wafers an ingest took in; of every wafer when the lake has none yet
    (a lake made before signatures were stored at ingest gets them once)."""
    taken = [o.sha256 for o in report.with_status(lake.INGESTED, lake.PARTIAL)]
    if not taken:
        with lake.open(data_dir) as db:
            if db.catalog.counts()["wafer_signatures"] == 0:
                taken = [o.sha256 for o in report.outcomes if o.sha256]
    return store_demo_signatures(data_dir, taken)


#: The steps of preparing the demo for the dashboard (:func:`prepare_demo`); the screening runs
#: while pages are already served.
DEMO_STEPS = (
    ("generate", "Writing the demo fab's STDF files"),
    ("ingest", "Ingesting them into the lake"),
    ("trace", "Traceability, certificates and suppliers"),
    ("screening", "Wafer signatures and the PAT screening of every lot (pages are open meanwhile)"),
)


def prepare_demo(data_dir: str | os.PathLike[str], preparation: Preparation, *, warm: Callable[[], Any] | None = None,
                 say: Callable[[str], None] = lambda line: None, **files) -> bool:  # fmt: skip
    """:func:`demo_lake` step by step, each reported to ``preparation`` (what the browser shows)
    and, a line per step and every few lots, to ``say`` (the console); then ``warm()`` (the
    dashboard's screening) as the last step. False when a step failed (its message is in
    ``preparation.error`` and said)."""
    try:
        _prepare(Path(data_dir), preparation, warm=warm, say=say, **files)
        return True
    except Exception as exc:  # shown in the browser and on the console instead of a dead thread
        step = next((s.name for s in preparation.steps.values() if s.state == "running"), "demo")
        message = f"{step}: {type(exc).__name__}: {exc}"
        preparation.fail(step, message)
        say(f"error: {message}")
        return False


def _prepare(data_dir: Path, preparation: Preparation, *, warm: Callable[[], Any] | None = None,
             say: Callable[[str], None] = lambda line: None, **files) -> None:  # fmt: skip
    """The demo's steps (:data:`DEMO_STEPS`), each reported to ``preparation`` and ``say``; an
    error is raised as it comes."""
    preparation.start("generate")
    say("writing the demo fab's STDF files ...")

    def generated(message: str, done: int, total: int) -> None:
        preparation.advance("generate", done, total, message)
        if done == total or done % 5 == 0:
            say(f"  {done}/{total} lots written")

    stdf_dir = write_demo_files(data_dir.parent / f"{data_dir.name}-stdf", progress=generated, **files)
    preparation.finish("generate")
    preparation.start("ingest")
    say("ingesting them into the lake ...")
    counts = {"files": 0, "total": 0}

    def started(files: int, _bytes: int) -> None:
        counts["total"] = files
        preparation.advance("ingest", 0, files)

    def ingested(outcome) -> None:
        counts["files"] += 1
        preparation.advance("ingest", counts["files"], counts["total"], Path(outcome.path).name)
        if counts["files"] == counts["total"] or counts["files"] % 20 == 0:
            say(f"  {counts['files']}/{counts['total']} files ingested")

    report = lake.ingest([stdf_dir], data_dir, on_start=started, on_file=ingested)
    preparation.finish("ingest")
    preparation.start("trace")
    say("traceability, certificates and suppliers ...")
    load_trace_demo(data_dir)
    preparation.finish("trace")
    say("the dashboard's pages are open; the PAT screening runs now")
    preparation.start("screening")
    # The wafer signatures too, while pages are served: the wafer page classifies a wafer
    # itself until its signature is stored (9 CPU s for the demo's 120 wafers, measured).
    _store_new_signatures(data_dir, report)
    if warm is not None:
        warm()
    preparation.finish("screening")
    say("PAT screening done")


def store_demo_signatures(data_dir: str | os.PathLike[str], sha256s: list[str]) -> int:
    """The wafer-map signature of each wafer-sort wafer of these files, stored as ``silicio
    ingest`` stores it (actor ``demo``); wafers already classified alike are left as they are.
    Returns the wafers classified (none without the spatial extra: the pages then say so)."""
    from silicio.extras import missing_modules

    if missing_modules("spatial"):
        return 0
    from silicio.spatial.signatures import classify_ingested

    with lake.open(data_dir) as db:
        return classify_ingested(db, sha256s, actor="demo").wafers


# ------------------------------------------------------------------------------------------------
# Traceability, certificates and the supplier ecosystem of the demo

#: Who issues the demo certificates, and the parties USMCA Annex 5-A asks a certification of origin for.
DEMO_ISSUER = "Silicio Semiconductores QA"
DEMO_PARTIES = {
    "certifier_role": "producer",
    "certifier": {"name": "Silicio Semiconductores", "address": "Parque Industrial, Querétaro, MX",
                  "telephone": "+52 442 000 0000", "email": "origin@silicio.example"},
    "exporter": {"name": "Silicio Semiconductores", "address": "Parque Industrial, Querétaro, MX",
                 "telephone": "+52 442 000 0000", "email": "export@silicio.example"},
    "producer": {"name": "Silicio Semiconductores", "address": "Parque Industrial, Querétaro, MX",
                 "telephone": "+52 442 000 0000", "email": "origin@silicio.example"},
    "importer": {"name": "Demo Importer Inc.", "address": "Laredo, TX, US",
                 "telephone": "+1 956 000 0000", "email": "imports@importer.example"},
}  # fmt: skip
DEMO_SIGNER = {"name": "Jimena López", "title": "Trade compliance"}
#: Dies traced per demo wafer (the genealogy stays small: the trace page answers at once).
DEMO_DIES_PER_WAFER = 20


def _lake_lots(data_dir: Path) -> list[dict]:
    """product, lot, wafer ids, parts tested and passed of each wafer-sort lot in the lake."""
    from silicio.lake import queries

    with lake.open(data_dir) as db:
        return queries.wafer_sort_lots(db)


def load_trace_demo(data_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Trace master data, a genealogy for each wafer-sort lot of the lake, a signing key, a
    conformance and an origin certificate per product, and the supplier ecosystem, in
    ``data_dir``. What is already there is kept, so a second run adds nothing."""
    import json
    import secrets

    from silicio import origin, supply, trace
    from silicio.datadir import DataDir
    from silicio.origin import certificates

    data_dir = Path(data_dir)
    paths = DataDir.at(data_dir)
    added = {"lots": 0, "certificates": 0}
    with trace.TraceStore.at(data_dir) as store:
        md = store.load_master_data()
        if not md.products:
            store.save_master_data(trace.demo_master_data(), actor="demo")
            md = store.load_master_data()
        part_numbers = sorted({p.part_number for p in md.products.values()})
        graph = store.genealogy()
        traced = set(graph.names[graph.kinds == graph.kind_code("lot")].tolist()) if graph.n else set()
        first_lot: dict[str, dict] = {}
        for n, lot_row in enumerate(_lake_lots(data_dir)):
            # Stand-in lots name no product of the master data: they take turns.
            pn = (
                lot_row["product"]
                if lot_row["product"] in part_numbers
                else part_numbers[n % len(part_numbers)]
            )
            first_lot.setdefault(pn, lot_row)
            if lot_row["lot"] in traced:
                continue
            wafers = [w for w in lot_row["wafers"] if w is not None] or [f"{lot_row['lot']}-01"]
            store.add_genealogy(actor="demo", **trace.demo_genealogy(
                md.product(pn), lot_row["lot"], wafers=len(wafers), dies_per_wafer=DEMO_DIES_PER_WAFER,
                wafer_ids=wafers))  # fmt: skip
            added["lots"] += 1

        if not paths.private_key.exists():
            certificates.generate_keys(paths.keys)
        private_key = certificates.load_private_key(paths.private_key)
        issued = {(c["kind"], c["subject"]) for c in store.certificates()}
        for pn, lot_row in sorted(first_lot.items()):
            product = md.product(pn)
            if ("conformance", lot_row["lot"]) not in issued:
                tested, good = lot_row["tested"], lot_row["good"]
                content = origin.conformance_content(
                    lot=lot_row["lot"], part_number=pn, revision=product.revision, quantity=max(good, 1),
                    test_summary={"wafer_sort": {"tested": tested, "good": good,
                                                 "yield": round(good / tested, 6) if tested else 0.0}},
                    pat_status="PAT screened (AEC-Q001)", spc_status="all charts in control",
                    standards=["AEC-Q100"], issuer=DEMO_ISSUER, shipment=f"SH-{lot_row['lot']}-01")  # fmt: skip
                origin.issue(store, content, private_key, actor="demo")
                added["certificates"] += 1
            if ("origin", pn) not in issued:
                report = origin.origin_report(product, md.sites)
                if report["usmca"]["originating"]:  # no certification of origin for a non-originating good
                    content = origin.origin_content(
                        report=report, parties=DEMO_PARTIES, blanket_period=None, signer=DEMO_SIGNER,
                        issuer=DEMO_ISSUER)  # fmt: skip
                    origin.issue(store, content, private_key, actor="demo")
                    added["certificates"] += 1

    _demo_gage_studies(paths)
    if not paths.supplier_registry.exists():
        paths.supply.mkdir(parents=True, exist_ok=True)
        eco = supply.demo_ecosystem(seed=0)
        supply.write_json(eco.registry, paths.supplier_registry)
        plan = {"demand": eco.demand, "inventory_weeks": eco.inventory_weeks, "as_of": eco.as_of.isoformat(),
                "automotive": list(eco.automotive)}  # fmt: skip
        paths.supply_plan.write_text(json.dumps(plan, indent=1), encoding="utf-8")
        # One random token per supplier account; whoever holds it acts as that organisation.
        tokens = {secrets.token_urlsafe(18): org for org in eco.registry.organisations["org_id"].to_list()}
        path = paths.supplier_tokens
        path.write_text(json.dumps(tokens, indent=1), encoding="utf-8")
        path.chmod(0o600)
    return added


#: Gage R&R studies the demo lab ran: name -> (characteristic's part-to-part sd, repeatability sd,
#: reproducibility sd, nominal): the gage page opens on a marginal gage (%GRR 10-30) and an unacceptable one.
DEMO_GAGE_STUDIES = {
    "vth_probe_card_PC-07": (0.020, 0.0030, 0.0020, 0.450),
    "idd_standby_handler_HDL-07": (0.50, 0.12, 0.09, 12.0),
}


def _demo_gage_studies(paths) -> None:
    """10 parts x 3 appraisers x 3 trials per study in DATA/metrology (the gage page lists the
    folder); a study already there is kept."""
    import numpy as np

    paths.metrology.mkdir(parents=True, exist_ok=True)
    for n, (name, (part_sd, repeat_sd, appraiser_sd, nominal)) in enumerate(
        sorted(DEMO_GAGE_STUDIES.items())
    ):
        path = paths.gage_study(name)
        if path.exists():
            continue
        rng = np.random.default_rng(100 + n)
        parts = nominal + rng.normal(0, part_sd, 10)
        appraisers = rng.normal(0, appraiser_sd, 3)
        lines = ["part,appraiser,value"]
        for _trial in range(3):
            for a, offset in zip("ABC", appraisers, strict=True):
                for p, true_value in enumerate(parts, 1):
                    lines.append(f"{p},{a},{true_value + offset + rng.normal(0, repeat_sd):.5f}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# Accounts of the demo

#: The organisation the demo's supplier account acts for (an outside assembly and test house).
DEMO_SUPPLIER_ORG = "eeo"
#: Demo account name -> (role, organisation).
DEMO_USERS = {
    "admin": ("admin", None),
    "engineer": ("engineer", None),
    "quality": ("quality", None),
    "auditor": ("auditor", None),
    DEMO_SUPPLIER_ORG: ("supplier", DEMO_SUPPLIER_ORG),
}


def demo_users(data_dir: str | os.PathLike[str], **store_options) -> dict[str, tuple[str, str]]:
    """One account per role in ``data_dir`` (:data:`DEMO_USERS`), each with a random password.
    Returns ``{name: (role, password)}`` of the accounts made now: those already there are kept
    as they are (their passwords were shown when they were made, and are stored only hashed)."""
    import secrets

    from silicio.auth import AuthStore

    made = {}
    with AuthStore.at(data_dir, **store_options) as store:
        existing = {user.username for user in store.users()}
        for name, (role, organisation) in DEMO_USERS.items():
            if name in existing:
                continue
            password = secrets.token_urlsafe(12)  # 96 random bits, 16 characters
            store.add_user(name, role, password, actor="demo", organisation=organisation)
            made[name] = (role, password)
    return made
