"""What the trace, origin, certificate and supply pages show (the public transparency page's
model is built by :mod:`silicio.web.publicdata`): :mod:`silicio.trace`,
:mod:`silicio.origin` and :mod:`silicio.supply` results turned into the page models of
:mod:`silicio.web.models`.

Their records live beside the lake, each in its place of :class:`silicio.datadir.DataDir`: the
trace store in the catalog database, the signing keys in DATA/keys, the supplier registry and its
plan (demand per product, inventory weeks, the date certifications are judged on) in DATA/supply.
Results are cached (a :class:`~silicio.web.cache.ByteCache`) until one of them changes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from silicio.datadir import DataDir
from silicio.i18n import C_

from . import models as m
from . import public_models as pm
from .cache import ByteCache
from .dashboard import NotFound, clean
from .demo import DEMO_DIES_PER_WAFER
from .links import certificate_url, origin_url, supplier_url, verify_url

#: Monte Carlo scenarios behind the supply page's VaR / CVaR (a second or so on the demo ecosystem).
SUPPLY_SCENARIOS = 2000
#: Node kinds a forward trace starts from, and a backward one.
FORWARD_KINDS = ("lot", "wafer", "material_lot", "assembly_lot", "die")
BACKWARD_KINDS = ("unit", "reel", "shipment", "die", "wafer")


def _stamp(path: Path) -> tuple[int, int] | None:
    """(modification time, size) of a file, one stat; None when there is none."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_mtime_ns, found.st_size


class BadQuery(ValueError):
    """A query the pages cannot answer as asked (an unknown node kind, a malformed suspect); 422."""


def _first_names(names: list[str], count: int, shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (" ..." if count > shown else "")


def _coverage(counts: dict[str, int]) -> str | None:
    """What "units reached" covers: the units of the dies the genealogy holds, which may be a few
    dies a wafer (the demo loads :data:`~silicio.web.demo.DEMO_DIES_PER_WAFER`), not every good die."""
    dies, wafers = counts.get("die", 0), counts.get("wafer", 0)
    if not dies:
        return None
    shown = {
        "dies": f"{dies:,}",
        "per_wafer": f"{dies / wafers:,.0f}" if wafers else "",
        "demo": DEMO_DIES_PER_WAFER,
    }
    if dies == 1:
        return C_("The genealogy holds 1 die on these paths: units reached counts its units only, not every good "
                  "die the tester passed (the demo traces %(demo)s dies a wafer).") % shown  # fmt: skip
    if wafers:
        return C_("The genealogy holds %(dies)s dies on these paths (%(per_wafer)s a wafer): units reached counts "
                  "their units only, not every good die the tester passed (the demo traces %(demo)s dies a "
                  "wafer).") % shown  # fmt: skip
    return C_("The genealogy holds %(dies)s dies on these paths: units reached counts their units only, not every "
              "good die the tester passed (the demo traces %(demo)s dies a wafer).") % shown  # fmt: skip


def _trace_query(result: dict) -> m.TraceQuery:
    counts = [m.TraceCount(kind=kind, count=n, first_names=_first_names(result["nodes"][kind], n))
              for kind, n in result["counts"].items()]  # fmt: skip
    shipments = [m.ShipmentUnits(shipment=s["shipment"], units=s["units"], customer=s.get("customer"),
                                 destination=s.get("destination")) for s in result["shipments"]]  # fmt: skip
    # Each unit once per customer (a reel split over two shipments to one customer is not counted twice).
    by_customer = {c.get("customer") or "(unknown)": c["units"] for c in result.get("customers", [])}
    return m.TraceQuery(
        direction=result["direction"],
        start=[f"{k}:{n}" for k, n in result["start"]],
        units=result["counts"].get("unit", 0),
        coverage=_coverage(result["counts"]) if result["direction"] != "backward" else None,
        counts=counts,
        shipments=shipments,
        customers=[m.CustomerUnits(customer=c, units=u) for c, u in sorted(by_customer.items())],
    )


def _field_rows(content: dict, prefix: str = "") -> list[m.CertificateField]:
    """A certificate's content as (dotted field, value) rows, in document order."""
    rows = []
    for key, value in content.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            rows += _field_rows(value, name)
        else:
            rows.append(m.CertificateField(field=name, value="; ".join(map(str, value))
                                           if isinstance(value, list) else str(value)))  # fmt: skip
    return rows


#: What the public verify page shows of a certificate's content, as dotted fields (a field under
#: one listed is shown too): what is certified, by whom and when, and the claim's conclusion.
#: Prices and costs (USMCA TV, NC, VNM; national content values), quantities, yields, the importer
#: (the customer) and the parties' contacts are left out; so is any field not listed here (a new
#: field stays off the public page until someone decides it is public).
PUBLIC_CERTIFICATE_FIELDS = (
    "type", "id", "issued_at", "issuer", "subject", "part_number", "revision", "lot", "shipment",
    "standards", "pat_status", "spc_status", "verify_url", "content_sha256", "valid_from", "valid_until",
    "minimum_data_elements.certifier_role", "minimum_data_elements.certifier.name",
    "minimum_data_elements.exporter.name", "minimum_data_elements.producer.name",
    "minimum_data_elements.description_and_hs", "minimum_data_elements.origin_criterion",
    "minimum_data_elements.blanket_period", "minimum_data_elements.authorized_signature_and_date.date",
    "usmca.rule", "usmca.originating", "usmca.de_minimis_applied", "usmca.rvc_tv_pct", "usmca.rvc_nc_pct",
    "national_content.country", "national_content.pct", "hecho_en_mexico",
)  # fmt: skip


def public_certificate_field(name: str) -> bool:
    """Whether the dotted content field ``name`` is shown on the public verify page."""
    return any(name == public or name.startswith(public + ".") for public in PUBLIC_CERTIFICATE_FIELDS)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _date_text(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


class TraceData:
    """The trace, origin, certificate and supply pages' data over the data directory ``data_dir``.

    ``cache``: where results are kept (e.g. the dashboard's, so one bound covers both); default
    a cache of its own of the default size."""

    def __init__(self, data_dir: str | os.PathLike[str], database_url: str | None = None,
                 cache: ByteCache | None = None):  # fmt: skip
        self.data_dir = Path(data_dir)
        self.paths = DataDir.at(self.data_dir)
        self.database_url = database_url
        self._store = None
        self.cache = cache if cache is not None else ByteCache()
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- storage

    @property
    def supply_dir(self) -> Path:
        return self.paths.supply

    @property
    def public_key_path(self) -> Path:
        return self.paths.public_key

    def store(self):
        from silicio.trace import TraceStore

        with self._lock:
            if self._store is None:
                if not self.data_dir.is_dir():
                    raise NotFound(f"no data directory {self.data_dir}: nothing traced yet")
                self._store = TraceStore.at(self.data_dir, self.database_url)
            return self._store

    def _version(self) -> Hashable:
        """Changes whenever the audit log grows or a supply or key file (the keyring, the
        revocation list) is rewritten."""
        files = (self.paths.supplier_registry, self.paths.supply_plan, self.paths.public_key, self.paths.keyring,
                 self.paths.revocations)  # fmt: skip
        return self.store().audit_head()[0], tuple(_stamp(p) for p in files)

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept until the audit log or a supply or key file changes."""
        with self._lock:
            version = self._version()
            hit = self.cache.get(("trace", key))
            if hit is not None and hit[0] == version:
                return hit[1]
            value = compute()
            self.cache.put(("trace", key), (version, value))
            return value

    def master_data(self):
        md = self._cached("master_data", lambda: self.store().load_master_data())
        if not md.products:
            raise NotFound("no products in the trace master data; load it with store.save_master_data")
        return md

    # -- trace

    def trace(
        self, direction: str | None = None, kind: str | None = None, name: str | None = None
    ) -> m.TracePage:
        """The trace page; with ``direction``, ``kind`` and ``name`` also that query's result."""
        query = None
        if direction or kind or name:
            if direction not in ("forward", "backward"):
                raise BadQuery(f"direction must be 'forward' or 'backward', got {direction!r}")
            if not kind or not name:
                raise BadQuery("a trace needs both kind and name, e.g. kind=wafer&name=QT0001-01")
            query = self._cached(
                ("trace", direction, kind, name), lambda: self._run_trace(direction, kind, name)
            )
        return self._trace_page(query)

    def recall(self, suspects: list[str]) -> m.TracePage:
        """Recall scope of ``suspects`` (each kind:name): units, shipments and customers affected."""
        if not suspects:
            raise BadQuery("a recall needs at least one suspect, e.g. ?suspect=wafer:QT0001-01")
        nodes = []
        for text_ in suspects:
            kind, sep, name = text_.partition(":")
            if not sep or not kind or not name:
                raise BadQuery(f"suspect {text_!r}: expected kind:name, e.g. wafer:QT0001-01")
            nodes.append((kind, name))
        return self._trace_page(self._cached(("recall", tuple(nodes)), lambda: self._run_recall(nodes)))

    def _genealogy_call(self, call: Callable[[], dict]) -> dict:
        from silicio.trace import GenealogyError

        try:
            return call()
        except GenealogyError as exc:
            if str(exc).startswith("no "):
                raise NotFound(str(exc)) from None
            raise BadQuery(str(exc)) from None

    def _run_trace(self, direction: str, kind: str, name: str) -> m.TraceQuery:
        from silicio import trace

        call = trace.forward if direction == "forward" else trace.backward
        return _trace_query(self._genealogy_call(lambda: call(self.store(), kind, name)))

    def _run_recall(self, nodes: list[tuple[str, str]]) -> m.TraceQuery:
        from silicio import trace

        result = self._genealogy_call(lambda: trace.recall_scope(self.store(), nodes))
        return _trace_query({**result, "direction": "recall"})

    def die_node(self, lot_id: str, wafer_id: str, x: int, y: int) -> str | None:
        """The name of the genealogy's die whose wafer-sort tester key is (lot, wafer, X, Y); None
        when the genealogy does not hold it (or nothing is traced)."""
        if not self.data_dir.is_dir():
            return None

        def index() -> dict[tuple, str]:
            return {(k["lot_id"], k["wafer_id"], k["x"], k["y"]): k["name"] for k in self.store().tester_keys()
                    if k["stage"] == "wafer_sort" and k["kind"] == "die"}  # fmt: skip

        return self._cached("die_keys", index).get((lot_id, wafer_id, x, y))

    def unit_origin(self, lot_id: str, part_id: str) -> dict[str, Any] | None:
        """Where the unit whose final-test tester key is (lot, part id) came from: ``unit`` (its
        genealogy name), ``die`` (the die it was made from, or None), ``die_key`` (that die's
        wafer-sort tester key: lot_id, wafer_id, x, y; or None) and ``query`` (the backward trace,
        a :class:`~silicio.web.models.TraceQuery`). None when the genealogy does not hold the unit."""
        if not self.data_dir.is_dir():
            return None

        def index() -> tuple[dict[tuple[str, str], str], dict[str, dict]]:
            # (lot, part id) -> unit name of the final-test keys; die name -> its wafer-sort key
            keys = self.store().tester_keys()
            units = {(k["lot_id"], k["part_id"]): k["name"] for k in keys
                     if k["stage"] == "final_test" and k["kind"] == "unit"}  # fmt: skip
            dies = {k["name"]: k for k in keys if k["stage"] == "wafer_sort" and k["kind"] == "die"}
            return units, dies

        units, die_keys = self._cached("unit_keys", index)
        name = units.get((lot_id, part_id))
        if name is None:
            return None

        def backward() -> tuple[m.TraceQuery, list[str]]:
            from silicio import trace

            result = self._genealogy_call(lambda: trace.backward(self.store(), "unit", name))
            return _trace_query(result), list(result["nodes"].get("die", []))

        query, dies = self._cached(("trace", "backward", "unit", name), backward)
        die = dies[0] if len(dies) == 1 else None  # a unit comes from one die (the store refuses two)
        die_key = die_keys.get(die) if die is not None else None
        return {"unit": name, "die": die, "query": query,
                "die_key": {f: die_key[f] for f in ("lot_id", "wafer_id", "x", "y")} if die_key else None}  # fmt: skip

    def forward_from(self, kind: str, name: str) -> m.TraceQuery:
        """What (kind, name) went into: units, reels, shipments, customers (cached)."""
        return self._cached(("trace", "forward", kind, name), lambda: self._run_trace("forward", kind, name))

    def _trace_page(self, query: m.TraceQuery | None) -> m.TracePage:
        from silicio import trace

        flags = self._cached("operator_flags", lambda: trace.operator_flags(self.store()))
        return m.TracePage(
            forward_kinds=list(FORWARD_KINDS),
            backward_kinds=list(BACKWARD_KINDS),
            query=query,
            counts=query.counts if query else [],
            shipments=query.shipments if query else [],
            customers=query.customers if query else [],
            operator_flags=[
                m.OperatorFlagRow(**{k: f[k] for k in m.OperatorFlagRow.model_fields if k != "url"})
                for f in flags
            ],  # fmt: skip
            audit=self.audit(),
        )

    def audit(self) -> m.AuditStatus:
        def compute() -> m.AuditStatus:
            report = self.store().verify_audit().as_dict()
            brk = report["chain_break"]
            return m.AuditStatus(ok=report["ok"], entries=report["entries"], head_hash=report["head_hash"],
                                 chain_break=f"entry #{brk['seq']}: {brk['reason']}" if brk else None,
                                 mismatches=report["mismatches"], anchor_problems=report["anchor_problems"],
                                 anchors=report["anchors"], anchored_seq=report["anchored_seq"])  # fmt: skip

        return self._cached("audit", compute)

    # -- origin

    def _origin_report(self, part_number: str) -> dict:
        from silicio.origin import OriginError, origin_report
        from silicio.trace import MasterDataError

        md = self.master_data()
        try:
            product = md.product(part_number)
        except (KeyError, MasterDataError):
            known = ", ".join(sorted({p.part_number for p in md.products.values()}))
            raise NotFound(f"no product {part_number!r} in the master data; products: {known}") from None

        def report() -> dict:
            try:
                return origin_report(product, md.sites)
            except OriginError as exc:  # e.g. a price of 0: no transaction value (USMCA Art. 4.5)
                raise BadQuery(f"{part_number}: {exc}") from None

        return self._cached(("origin", part_number), report)

    def origin(self) -> m.OriginPage:
        md = self.master_data()
        rows = []
        for pn in sorted({p.part_number for p in md.products.values()}):
            r = self._origin_report(pn)
            u, h = r["usmca"], r["hecho_en_mexico"]
            rows.append(m.ProductOrigin(
                url=origin_url(pn), part_number=pn, revision=r["revision"], hs_code=r["hs_code"],
                national_content_pct=r["national_content"]["pct"], rvc_tv_pct=u["rvc_tv_pct"],
                rvc_nc_pct=u["rvc_nc_pct"], usmca_originating=u["originating"], usmca_criterion=u["criterion"],
                hecho_en_mexico=h["qualifies"], claim=h["claim"]))  # fmt: skip
        return m.OriginPage(products=rows)

    def origin_detail(self, part_number: str) -> m.OriginDetail:
        r = self._origin_report(part_number)
        nc = r["national_content"]
        return m.OriginDetail(
            part_number=r["part_number"], revision=r["revision"], hs_code=r["hs_code"],
            national_content_pct=nc["pct"], domestic_value=nc["domestic_value"], total_value=nc["total_value"],
            import_dependence=[m.ImportShare(**row) for row in nc["import_dependence"]],
            usmca=r["usmca"], hecho_en_mexico=r["hecho_en_mexico"])  # fmt: skip

    # -- certificates

    def disposition(self) -> m.DispositionPage:
        from silicio.trace import disposition

        def compute() -> m.DispositionPage:
            store = self.store()
            queue = disposition.queue(store)
            steps = disposition.all_steps(store)
            return m.DispositionPage(
                queue=[m.DispositionQueueRow(lot_id=r["lot_id"], state=r["state"], since=r["since"] or "",
                                             by=r["by"] or "") for r in queue],
                steps=[m.DispositionStepRow(
                    seq=s.seq, lot_id=s.lot_id, step=s.step, signed_by=s.signature.get("printed_name", ""),
                    role=s.signature.get("role", ""), signed_at=s.signature.get("signed_at", ""),
                    meaning=s.signature.get("meaning", ""), reason=s.signature.get("reason", ""),
                    capa=": ".join((s.signature.get("capa") or {}).values()),
                    signature_sha256=s.signature_sha256) for s in reversed(steps)],
            )  # fmt: skip

        return self._cached("disposition", compute)

    def certificates(self) -> m.CertificatesPage:
        rows = self._cached("certificates", lambda: self.store().certificates())
        return m.CertificatesPage(
            public_key=self.public_key_path.exists(),
            certificates=[
                m.CertificateRow(
                    url=certificate_url(r["cert_id"]),
                    **{k: str(r[k]) for k in ("cert_id", "kind", "subject", "issued_at", "sha256")},
                )
                for r in rows
            ],  # fmt: skip
        )

    def certificate_document(self, cert_id: str) -> dict:
        try:
            return self._cached(("certificate", cert_id), lambda: self.store().certificate(cert_id))
        except KeyError:
            raise NotFound(f"no certificate {cert_id!r}") from None

    def verify_document(self, document: Any) -> m.VerificationResult:
        """Check ``document`` with the issuer's public keys alone (the keyring: current and retired
        keys) and its signed revocation list, as anyone holding the certificate can."""
        from silicio.origin import CertificateError, verify
        from silicio.origin.certificates import load_trust

        if not self.public_key_path.exists():
            raise NotFound(f"no public key at {self.public_key_path}: run `silicio keys generate` first")
        try:
            ring, revocations = self._cached("trust", lambda: load_trust(self.paths.keys))
            verification = verify(document, ring, revocations=revocations)
        except CertificateError as exc:
            raise BadQuery(str(exc)) from None
        return m.VerificationResult(**verification.as_dict(), key_id=verification.key_id)

    def certificate(self, cert_id: str) -> m.CertificatePage:
        document = self.certificate_document(cert_id)
        content = document["certificate"]
        return m.CertificatePage(
            cert_id=cert_id, kind=content["type"], subject=str(content.get("subject", "")),
            issued_at=content["issued_at"], verify_url=verify_url(cert_id),
            verification=self.verify_document(document), fields=_field_rows(content), document=document)  # fmt: skip

    def certificate_pdf(self, cert_id: str, language: str = "en") -> bytes:
        """The certificate as PDF, its title and header labels in ``language``."""
        import tempfile

        from silicio.origin import render_pdf

        document = self.certificate_document(cert_id)
        with tempfile.TemporaryDirectory() as tmp:
            return render_pdf(document, Path(tmp) / "certificate.pdf", language).read_bytes()

    def verify_page(self, cert_id: str) -> m.VerifyPage:
        """The public verification: the stored document checked with the public key only."""
        document = self.certificate_document(cert_id)
        return self.verify_upload(document)

    def verify_upload(self, document: Any) -> m.VerifyPage:
        """The public check of ``document``: its verification, and of its content only the
        :data:`PUBLIC_CERTIFICATE_FIELDS` (no price, cost, quantity, yield or customer)."""
        if not isinstance(document, dict) or not isinstance(document.get("certificate"), dict):
            raise BadQuery("not a silicio certificate: expected a JSON object with a 'certificate' object "
                           "and its 'signature'")  # fmt: skip
        verification = self.verify_document(document)
        content = document["certificate"]
        fields = [row for row in _field_rows(content) if public_certificate_field(row.field)]
        return m.VerifyPage(cert_id=verification.cert_id, kind=_text(content.get("type")),
                            subject=_text(content.get("subject")) or "", issued_at=_text(content.get("issued_at")),
                            verification=verification, fields=fields)  # fmt: skip

    # -- supplier ecosystem

    def registry(self):
        from silicio.supply import RegistryError, read_json

        path = self.paths.supplier_registry
        if not path.exists():
            raise NotFound(f"no supplier registry at {path}: write one with silicio.supply.write_json")

        def load():
            try:
                return read_json(path)
            except RegistryError as exc:
                raise BadQuery(str(exc)) from None

        return self._cached("registry", load)

    def plan(self) -> dict[str, Any]:
        import datetime as dt
        import json

        path = self.paths.supply_plan
        plan = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        md = self.master_data()
        return {
            "demand": plan.get("demand") or {p.part_number: 1.0 for p in md.products.values()},
            "inventory_weeks": float(plan.get("inventory_weeks", 2.0)),
            "as_of": dt.date.fromisoformat(plan["as_of"]) if plan.get("as_of") else dt.date.today(),
            "automotive": tuple(plan.get("automotive", ())),
        }

    def save_registry(self, registry, *, actor: str, change: dict[str, Any]) -> None:
        """Write the supplier registry, and log the write (its actor, ``change`` and the new file's
        SHA-256) in the audit chain."""
        import hashlib

        from silicio.supply import write_json

        with self._lock:
            path = self.paths.supplier_registry
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            write_json(registry, tmp)
            digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
            tmp.replace(path)  # readers never see half a file
            self.store().log_change(
                actor, "update", "supplier_registry", path.name, {"sha256": digest, **change}
            )
            self.cache.clear(keep=lambda key: not (isinstance(key, tuple) and key[0] == "trace"))

    def supplier_tokens(self) -> dict[str, str]:
        import json

        path = self.paths.supplier_tokens
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def supply(self) -> m.SupplyPage:
        return self._cached("supply", self._supply_page)

    def _supply_page(self) -> m.SupplyPage:
        from silicio import supply

        registry, md, plan = self.registry(), self.master_data(), self.plan()
        graph = supply.build_network(md, registry, plan["demand"], plan["inventory_weeks"])
        stress = supply.stress_test(graph, by="facility")
        mc = supply.monte_carlo(graph, scenarios=SUPPLY_SCENARIOS, seed=0).summary()
        conc = supply.country_concentration(md, list(plan["demand"]), plan["demand"])
        near = supply.nearshore(
            md, registry, plan["demand"], as_of=plan["as_of"], automotive=plan["automotive"]
        )
        certs = registry.valid_certifications(plan["as_of"])
        held = {org: ", ".join(sorted(set(g["standard"].to_list())))
                for (org,), g in certs.group_by(["org_id"])}  # fmt: skip
        site_counts = dict(registry.sites.group_by("org_id").len().iter_rows())
        suppliers = [m.SupplierRow(url=supplier_url(o["org_id"]), sites=site_counts.get(o["org_id"], 0),
                                   certifications=held.get(o["org_id"], ""),
                                   **{k: o[k] for k in ("org_id", "name", "kind", "size_class", "country", "state")})
                     for o in registry.organisations.iter_rows(named=True)]  # fmt: skip
        countries = [m.CountryShare(country=c, share_pct=s, import_share_pct=conc["import_share_pct"].get(c))
                     for c, s in sorted(conc["share_pct"].items(), key=lambda kv: -kv[1])]  # fmt: skip
        stress_rows = [m.StressRow(**{k: clean(r[k]) for k in m.StressRow.model_fields if k != "url"})
                       for r in stress.iter_rows(named=True)]  # fmt: skip
        return m.SupplyPage(
            as_of=plan["as_of"].isoformat(), organisations=registry.organisations.height,
            value_hhi=conc["hhi_all"], import_hhi=conc["hhi_imports"],
            concentration_level=supply.concentration_level(conc["hhi_imports"]),
            stress_flagged=int(stress["flagged"].sum()), monte_carlo={k: clean(v) for k, v in mc.items()},
            suppliers=suppliers,
            single_sources=[m.SingleSourceRow(**{k: s[k] for k in m.SingleSourceRow.model_fields if k != "url"})
                            for s in supply.single_sources(graph, registry)],
            countries=countries, stress=stress_rows,
            nearshore_moves=[m.NearshoreMove(**{k: r[k] for k in m.NearshoreMove.model_fields if k != "url"})
                             for r in near.moves.iter_rows(named=True)] if near.moves.height else [],
            nearshore_gaps=[m.NearshoreGap(**{k: r[k] for k in m.NearshoreGap.model_fields if k != "url"})
                            for r in near.gaps.iter_rows(named=True)] if near.gaps.height else [],
        )  # fmt: skip

    def transparency(self) -> pm.TransparencyPage:
        """The public transparency page (:mod:`silicio.web.publicdata`), a
        :class:`~silicio.web.public_models.TransparencyPage`."""
        from .publicdata import transparency_page

        return self._cached(
            "transparency", lambda: transparency_page(self.registry(), self.master_data(), self.plan())
        )

    def supplier_portal(self, org_id: str) -> m.SupplierPortal:
        """What supplier ``org_id`` sees: computed through :class:`silicio.supply.SupplierView`,
        so nothing outside its own rows can reach the page."""
        from silicio.supply import SupplierView

        view = SupplierView(self.registry(), org_id)

        def rows(table, model):
            names = [k for k in model.model_fields if k != "url"]
            return [model(**{k: _date_text(r[k]) for k in names}) for r in table.iter_rows(named=True)]

        organisation = {k: _date_text(v) for k, v in view.organisation().items()}
        return m.SupplierPortal(org_id=org_id, organisation=organisation, sites=rows(view.sites(), m.PortalSite),
                                capabilities=rows(view.capabilities(), m.PortalCapability),
                                certifications=rows(view.certifications(), m.PortalCertification),
                                requests=rows(view.requests(), m.PortalRequest))  # fmt: skip
