"""What each page shows, as pydantic models: the JSON twins under ``/api`` return them, the HTML
pages render them, and ``/openapi.json`` documents them.

A page is one model; its tables are fields holding a list of row models. A row field's
``title`` is its column header, and ``json_schema_extra={"display": ...}`` says how a cell
shows it (:func:`silicio.web.format.format_cell`): ``percent`` (a fraction shown as 95.03%),
``number`` (4 significant digits), ``capability`` (an index such as Cpk: 3 significant digits),
``integer``, ``id`` (a number naming a test, bin or die, shown as is), ``datetime`` or ``text`` (the default). A row's ``url`` links its first cell and is
left out of tables and CSV.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


def _column(title: str, display: str, default: Any) -> Any:
    return Field(default, title=title, json_schema_extra={"display": display})


# A column of each display; ``default=None`` for the columns that may be empty.
def percent(title: str, default: Any = ...) -> Any:
    return _column(title, "percent", default)


def number(title: str, default: Any = ...) -> Any:
    return _column(title, "number", default)


def capability(title: str, default: Any = ...) -> Any:
    """A capability index (Cp, Cpk): three significant digits."""
    return _column(title, "capability", default)


def integer(title: str, default: Any = ...) -> Any:
    return _column(title, "integer", default)


def ident(title: str, default: Any = ...) -> Any:
    """A number that names something (test, bin, part, coordinate): shown as is."""
    return _column(title, "id", default)


def text(title: str, default: Any = ...) -> Any:
    return _column(title, "text", default)


def moment(title: str, default: Any = ...) -> Any:
    return _column(title, "datetime", default)


class Row(BaseModel):
    """A table row; ``url`` (when set) is where its first cell links to."""

    url: str | None = Field(default=None, title="Link")


# ------------------------------------------------------------------------------------------------
# Shared pieces


class MapLegendEntry(BaseModel):
    """One legend line of a wafer map: a bin (``bin``, ``passing``) or a stop of its colour scale."""

    label: str
    color: str
    bin: int | None = None
    passing: bool | None = None
    value: float | None = None


class MapOutline(BaseModel):
    """The wafer's edge round a map, in die coordinates (silicio.yields.wafermap.map_json): a closed
    polygon and, when the flat's side is known, the flat's chord."""

    x: list[float]
    y: list[float]
    color: str
    flat_x: list[float] | None = Field(default=None, description="the flat's two ends, X")
    flat_y: list[float] | None = Field(default=None, description="the flat's two ends, Y")
    flat_color: str
    note: str | None = Field(default=None, description="why no flat is drawn")


class WaferMapData(BaseModel):
    """Die coordinates and one value per die (``kind``: bin, parametric or fail_fraction)."""

    kind: str
    label: str | None = None
    x: list[int]
    y: list[int]
    value: list[float | None]
    good: list[bool] | None = Field(default=None, description="bin maps: the die passed")
    count: list[int] | None = Field(default=None, description="stacked maps: wafers stacked at the die")
    bin_names: dict[str, str] = Field(default_factory=dict, description="bin maps: bin -> name")
    # How to draw it, from silicio.yields.wafermap.map_json (the one palette and orientation rule).
    colors: list[str] = Field(default_factory=list, description="colour of each die (hex), in x / y order")
    legend: list[MapLegendEntry] = Field(default_factory=list, description="bins, or stops of the scale")
    colorscale: list[tuple[float, str]] | None = Field(default=None, description="measured maps: plotly")
    zmin: float | None = Field(default=None, description="measured maps: value at the scale's start")
    zmax: float | None = Field(default=None, description="measured maps: value at the scale's end")
    x_grows: Literal["right", "left"] = Field(default="right", description="way X grows on the drawing")
    y_grows: Literal["down", "up"] = Field(default="down", description="way Y grows on the drawing")
    flat: Literal["U", "D", "L", "R"] | None = Field(
        default=None, description="side of the drawing the wafer flat / notch is on (STDF WCR WF_FLAT)"
    )
    outline: MapOutline | None = Field(default=None, description="the wafer's edge and flat, in die units")
    orientation_notes: list[str] = Field(
        default_factory=list, description="what the orientation assumed (blank or missing STDF WCR fields)"
    )


class TestStatistics(Row):
    test_num: int = ident("Test")
    test_name: str | None = text("Name", None)
    test_type: str | None = text("Type", None)
    pin: int | None = ident("Pin", None)
    units: str | None = text("Units", None)
    lo_limit: float | None = number("Low limit", None)
    hi_limit: float | None = number("High limit", None)
    count: int = integer("Results")
    mean: float | None = number("Mean", None)
    std: float | None = number("Sigma", None)
    cpk: float | None = capability("Cpk", None)
    fail_count: int = integer("Fails")
    executions: int = integer("Executions")
    #: Results flagged with an alarm (STDF TEST_FLG bit 0): counted here, left out of the statistics.
    alarm_count: int = integer("Alarmed (left out)", 0)


# ------------------------------------------------------------------------------------------------
# Overview


class LotYield(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    stage: str = text("Stage")
    started: datetime | None = moment("Started", None)
    wafers: int = integer("Wafers")
    final_dies: int = integer("Dies")
    final_good: int = integer("Good")
    first_pass_yield: float | None = percent("First-pass yield", None)
    final_yield: float | None = percent("Final yield", None)


class HeldLot(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    stage: str = text("Stage")
    final_yield: float | None = percent("Final yield", None)
    rules: list[str] = text("Rules")
    reasons: list[str] = text("Why held")


class Overview(BaseModel):
    """Yield per lot (the trend by product) and the lots on hold."""

    hold_yield: float = Field(description="lots with a lower final yield are held")
    pat_hold_fraction: float = Field(description="lots with a larger share of PAT outliers are held")
    products: list[str]
    lot_count: int = Field(0, description="lots (distinct lot ids); ``lots`` has a row per lot and stage")
    held_lot_count: int = Field(0, description="lots held at one stage or more (distinct lot ids)")
    lots: list[LotYield]
    held_lots: list[HeldLot]
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Lot


class WaferYield(Row):
    wafer_id: str | None = text("Wafer", None)
    tested: int = integer("Tested")
    retests: int = integer("Retests")
    first_pass_dies: int = integer("Dies")
    first_pass_good: int = integer("First-pass good")
    first_pass_yield: float | None = percent("First-pass yield", None)
    final_good: int = integer("Final good")
    final_yield: float | None = percent("Final yield", None)


class ParetoBin(Row):
    bin: int | None = ident("Soft bin", None)
    name: str | None = text("Name", None)
    count: int = integer("Parts")
    percent_of_tested: float = number("% of tested")
    percent_of_fails: float = number("% of fails")
    cumulative_percent: float = number("Cumulative %")


class HoldReasonRow(Row):
    rule: str = text("Rule")
    reason: str = text("Why held")


class UnitRow(Row):
    """A packaged unit of a lot (final test: no wafer coordinates), by its PRR PART_ID; its page
    is :class:`UnitPage`."""

    part_id: str = text("Part id")
    insertions: int = integer("Insertions")
    hard_bin: int | None = ident("Final hard bin", None)
    soft_bin: int | None = ident("Final soft bin", None)
    passed: bool | None = text("Passed", None)


class LotPage(BaseModel):
    lot_id: str
    product: str | None
    stage: str
    stages: list[str] = Field(description="stages the lot was tested at")
    wafer_count: int = Field(
        0, description="wafers with an id at this stage (0 at final test: packaged units)"
    )
    total: WaferYield = Field(description="the whole lot")
    wafers: list[WaferYield]
    stacked_fail_map: WaferMapData | None = None
    bin_pareto: list[ParetoBin]
    worst_tests: list[TestStatistics]
    report_url: str | None = None
    holds: list[HoldReasonRow] = Field(default_factory=list, description="why the lot is held at this stage")
    holds_complete: bool = Field(
        True, description="False while the screening runs: PAT and shift rules not judged"
    )
    units: list[UnitRow] = Field(
        default_factory=list, description="packaged units by part id (a stage without wafer coordinates)"
    )


# ------------------------------------------------------------------------------------------------
# Wafer


class BinCount(Row):
    bin: int | None = ident("Bin", None)
    name: str | None = text("Name", None)
    count: int = integer("Dies")
    good: int = integer("Good")
    percent: float = number("% of dies")


class TestChoice(BaseModel):
    test_num: int
    test_name: str | None = None
    units: str | None = None


class WaferPage(BaseModel):
    lot_id: str
    wafer_id: str
    product: str | None
    stage: str
    bin_kind: str = Field(description="hard or soft")
    total: WaferYield
    bin_map: WaferMapData
    bins: list[BinCount]
    tests: list[TestChoice] = Field(description="tests the parametric map can show")
    test_num: int | None = Field(default=None, description="test of the parametric map")
    parametric_map: WaferMapData | None = None
    test_statistics: list[TestStatistics] = Field(default_factory=list)
    highlight: list[int] | None = Field(default=None, description="x, y of a die to mark")
    spatial: WaferSpatial | None = Field(
        default=None, description="wafer sort: signature, zonal yield, fail clusters, inline defects"
    )
    die_url: str | None = Field(default=None, description="a die's page, with {x} and {y} to fill in")
    compare_url: str | None = Field(default=None, description="this wafer beside the lot's next one")
    screening_layer: ScreeningLayer | None = Field(default=None, description="dies the screening removed")
    screening_note: str | None = Field(default=None, description="why there is no screening layer")


# ------------------------------------------------------------------------------------------------
# Test


class Histogram(BaseModel):
    edges: list[float]
    counts: list[int]


class LotTestStatistics(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    stage: str = text("Stage")
    started: datetime | None = moment("Started", None)
    count: int = integer("Results")
    mean: float | None = number("Mean", None)
    median: float | None = number("Median", None)
    std: float | None = number("Sigma", None)
    cp: float | None = capability("Cp", None)
    cpk: float | None = capability("Cpk", None)
    fail_count: int = integer("Fails")


class TestPage(BaseModel):
    test_num: int
    test_name: str | None
    names: list[str] = Field(description="names this test number carries")
    units: str | None
    product: str | None = Field(description="the product filter, if any")
    products: list[str]
    count: int = Field(
        description="results in the histogram (each die's last insertion across its lot's files)"
    )
    mean: float | None
    std: float | None
    cpk: float | None
    lo_limit: float | None
    hi_limit: float | None
    pat_lo: float | None = Field(
        description="static PAT limits (AEC-Q001) from all the product's wafer-sort lots: the baseline a next "
        "lot would get; each lot is screened with the limits of its own earlier lots (its report shows them)"
    )
    pat_hi: float | None
    histogram: Histogram
    lots: list[LotTestStatistics]
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# PAT


class LotScreening(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    n_parts: int = integer("Parts")
    good_before: int = integer("Good before")
    good_after: int = integer("Good after")
    yield_before: float | None = percent("Yield before", None)
    yield_after: float | None = percent("Yield after", None)
    pat_parts: int = integer("PAT outliers")
    pat_fraction: float | None = percent("PAT share", None)


class RebinnedPart(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    wafer_id: str | None = text("Wafer", None)
    part_index: int = ident("Part")
    part_id: str | None = text("Part id", None)
    x: int | None = ident("X", None)
    y: int | None = ident("Y", None)
    hard_bin: int | None = ident("Hard bin", None)
    soft_bin: int | None = ident("Soft bin", None)
    new_hard_bin: int | None = ident("New hard bin", None)
    new_soft_bin: int | None = ident("New soft bin", None)
    rules: list[str] = text("Rules")


class ScreeningReason(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    wafer_id: str | None = text("Wafer", None)
    part_index: int = ident("Part")
    rule: str = text("Rule")
    test_num: int | None = ident("Test", None)
    test_name: str | None = text("Test name", None)
    value: float | None = number("Value", None)
    limit_lo: float | None = number("Low limit", None)
    limit_hi: float | None = number("High limit", None)


class PatPage(BaseModel):
    recipe: dict[str, str] = Field(description="name, version and SHA-256 of the screening recipe")
    lots: list[LotScreening]
    parts: list[RebinnedPart]
    reasons: list[ScreeningReason]
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Files


class IngestedFile(Row):
    path: str = text("File")
    product: str | None = text("Product", None)
    lot: str | None = text("Lot", None)
    stage: str = text("Stage")
    tester: str | None = text("Tester", None)
    program: str | None = text("Program", None)
    started: datetime | None = moment("Started", None)
    parts: int = integer("Parts")
    final_yield: float | None = percent("Final yield", None)
    status: str = text("Status")
    issues: int = integer("Issues")
    ingested_at: datetime = moment("Ingested")


class QuarantinedFile(Row):
    path: str = text("File")
    at: datetime = moment("Quarantined")
    offset: int = integer("Byte offset")
    record: str | None = text("Record", None)
    reason: str = text("Error")
    issues: int = integer("Issues")
    salvaged: bool = text("Salvaged")


class FilesPage(BaseModel):
    data_dir: str
    counts: dict[str, int] = Field(description="files per ingest status")
    files: list[IngestedFile]
    quarantine: list[QuarantinedFile]


# ------------------------------------------------------------------------------------------------
# Search


class SearchHit(Row):
    kind: str = text("Kind")
    label: str = text("Match")
    product: str | None = text("Product", None)
    lot_id: str | None = text("Lot", None)
    wafer_id: str | None = text("Wafer", None)


class SearchPage(BaseModel):
    q: str
    hits: list[SearchHit]


# ------------------------------------------------------------------------------------------------
# Tables


class Column(BaseModel):
    key: str
    title: str
    display: str


def row_model_of(page: BaseModel, table: str) -> type[Row] | None:
    """The row model of a page's table field, or None when ``table`` is not one."""
    field = type(page).model_fields.get(table)
    if field is None:
        return None
    args = getattr(field.annotation, "__args__", ())
    if getattr(field.annotation, "__origin__", None) is list and args and isinstance(args[0], type):
        if issubclass(args[0], Row):
            return args[0]
    return None


def table_names(page: BaseModel) -> list[str]:
    return [name for name in type(page).model_fields if row_model_of(page, name) is not None]


def columns_of(model: type[Row]) -> list[Column]:
    """A row model's columns, in field order, without the link."""
    out = []
    for key, field in model.model_fields.items():
        if key == "url":
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        out.append(Column(key=key, title=field.title or key, display=str(extra.get("display", "text"))))
    return out


# ------------------------------------------------------------------------------------------------
# Traceability, origin, certificates (silicio.trace, silicio.origin)


class TraceCount(Row):
    kind: str = text("Kind")
    count: int = integer("Count")
    first_names: str = text("First names")


class ShipmentUnits(Row):
    shipment: str = text("Shipment")
    units: int = integer("Units")
    customer: str | None = text("Customer", None)
    destination: str | None = text("Destination", None)


class CustomerUnits(Row):
    customer: str = text("Customer")
    units: int = integer("Units")


class OperatorFlagRow(Row):
    on: str = text("On")
    node_kind: str = text("Node kind")
    node_name: str = text("Node")
    part_number: str = text("Part")
    step: str = text("Step")
    badge: str = text("Operator")
    flag: str = text("Why flagged")


class AuditStatus(BaseModel):
    """Outcome of walking the audit log's hash chain and checking the tables against it."""

    ok: bool
    entries: int
    head_hash: str
    chain_break: str | None = None
    mismatches: list[str] = Field(default_factory=list)
    anchor_problems: list[str] = Field(default_factory=list, description="what the signed checkpoints and the "
                                       "heads signed into certificates say against the log")  # fmt: skip
    anchors: int = 0
    anchored_seq: int = Field(0, description="the newest entry an anchor vouches for")


class TraceQuery(BaseModel):
    """A forward, backward or recall query and what it reached."""

    direction: str
    start: list[str] = Field(description="kind:name of each starting node")
    units: int = Field(description="units reached")
    coverage: str | None = Field(
        None, description="which dies the genealogy holds: units reached counts theirs only"
    )
    counts: list[TraceCount]
    shipments: list[ShipmentUnits]
    customers: list[CustomerUnits]


class TracePage(BaseModel):
    """Trace forms, the last query's result, operators without qualification, the audit chain."""

    forward_kinds: list[str]
    backward_kinds: list[str]
    query: TraceQuery | None = None
    counts: list[TraceCount] = Field(default_factory=list)
    shipments: list[ShipmentUnits] = Field(default_factory=list)
    customers: list[CustomerUnits] = Field(default_factory=list)
    operator_flags: list[OperatorFlagRow]
    audit: AuditStatus


class ImportShare(Row):
    country: str = text("Country")
    value: float = number("Value per unit (USD)")
    pct: float = number("Share of unit value (%)")


class ProductOrigin(Row):
    part_number: str = text("Part")
    revision: str = text("Rev")
    hs_code: str = text("HS code")
    national_content_pct: float = number("National content (%)")
    rvc_tv_pct: float = number("RVC transaction value (%)")
    rvc_nc_pct: float = number("RVC net cost (%)")
    usmca_originating: bool = text("USMCA originating")
    usmca_criterion: str | None = text("Criterion", None)
    hecho_en_mexico: bool = text("Hecho en México")
    claim: str | None = text("Claim", None)


class OriginPage(BaseModel):
    """National content, USMCA origin and 'Hecho en México' of every product."""

    products: list[ProductOrigin]


class OriginDetail(BaseModel):
    """One product's origin: the figures behind each verdict."""

    part_number: str
    revision: str
    hs_code: str
    national_content_pct: float
    domestic_value: float
    total_value: float
    import_dependence: list[ImportShare]
    usmca: dict[str, Any] = Field(description="USMCA determination (silicio.origin.usmca_origin)")
    hecho_en_mexico: dict[str, Any] = Field(description="'Hecho en México' verdict and why")


class CertificateRow(Row):
    cert_id: str = text("Certificate")
    kind: str = text("Type")
    subject: str = text("Subject")
    issued_at: str = text("Issued")
    sha256: str = text("SHA-256")


class DispositionQueueRow(Row):
    lot_id: str = text("Lot")
    state: str = text("State")
    since: str = text("Since (UTC)")
    by: str = text("Last signed by")


class DispositionStepRow(Row):
    seq: int = ident("Audit entry")
    lot_id: str = text("Lot")
    step: str = text("Step")
    signed_by: str = text("Signed by")
    role: str = text("Role")
    signed_at: str = text("Signed at (UTC)")
    meaning: str = text("Meaning")
    reason: str = text("Reason")
    capa: str = text("8D / corrective action")
    signature_sha256: str = text("Signature SHA-256")


class DispositionPage(BaseModel):
    """Lots awaiting disposition, and every signed disposition step, newest first (21 CFR Part 11
    signatures: printed name, date and time, meaning, reason; bound to the lot's hold record)."""

    queue: list[DispositionQueueRow]
    steps: list[DispositionStepRow]


class CertificatesPage(BaseModel):
    """The signed certificates of conformance and origin the store holds."""

    public_key: bool = Field(description="a public key is there to verify with")
    certificates: list[CertificateRow]


class CertificateField(Row):
    field: str = text("Field")
    value: str = text("Value")


class VerificationResult(BaseModel):
    """A certificate checked with the issuer's public key only: signature, key and content."""

    cert_id: str
    ok: bool
    signature_ok: bool
    problems: list[str]
    key_id: str | None = None
    revoked: bool = False
    notes: list[str] = Field(default_factory=list, description="what was not checked, and the rules' caveats")


class CertificatePage(BaseModel):
    cert_id: str
    kind: str
    subject: str
    issued_at: str
    verify_url: str
    verification: VerificationResult
    fields: list[CertificateField]
    document: dict[str, Any] = Field(description="the signed document: certificate and signature")


class VerifyPage(BaseModel):
    """The public check a certificate's QR code leads to: no internal data beyond the certificate."""

    cert_id: str
    kind: str | None = None
    subject: str | None = None
    issued_at: str | None = None
    verification: VerificationResult
    fields: list[CertificateField]


# ------------------------------------------------------------------------------------------------
# Supplier ecosystem (silicio.supply)


class SupplierRow(Row):
    org_id: str = text("Org id")
    name: str = text("Name")
    kind: str = text("Kind")
    size_class: str = text("Size")
    country: str = text("Country")
    state: str | None = text("State", None)
    sites: int = integer("Sites")
    certifications: str = text("Valid certifications")


class SingleSourceRow(Row):
    type: str = text("Type")
    consumer: str = text("Consumer")
    material: str = text("Material or step")
    org_id: str = text("Sole source")
    country: str = text("Country")


class CountryShare(Row):
    country: str = text("Country")
    share_pct: float = number("Share of value (%)")
    import_share_pct: float | None = number("Share of imports (%)", None)


class StressRow(Row):
    disruption: str = text("Disruption")
    ttr_weeks: float = number("TTR (weeks)")
    tts_weeks: float | None = number("TTS (weeks)", None)
    lost_units: float = number("Lost units")
    performance_impact: float = number("Lost profit (USD)")
    rei: float = number("REI")
    flagged: bool = text("TTS < TTR")


class NearshoreMove(Row):
    product: str = text("Product")
    input: str = text("Input")
    from_country: str = text("From")
    to_org_id: str = text("To")
    to_name: str = text("Supplier")
    to_state: str | None = text("State", None)
    msme: bool = text("MSME")
    national_content_before_pct: float = number("NC before (%)")
    national_content_after_pct: float = number("NC after (%)")


class NearshoreGap(Row):
    product: str = text("Product")
    input: str = text("Input")
    hs_code: str | None = text("HS code", None)
    current_country: str = text("Now from")
    local_candidates: int = integer("Local candidates")
    reason: str = text("Why no local source")


class SupplyPage(BaseModel):
    """The supply analyst's view: registry, concentration, stress test, Monte Carlo, nearshoring."""

    as_of: str
    organisations: int
    value_hhi: float
    import_hhi: float
    concentration_level: str
    stress_flagged: int
    monte_carlo: dict[str, float] = Field(
        description="scenarios, mean, VaR and CVaR of lost profit and units"
    )
    suppliers: list[SupplierRow]
    single_sources: list[SingleSourceRow]
    countries: list[CountryShare]
    stress: list[StressRow]
    nearshore_moves: list[NearshoreMove]
    nearshore_gaps: list[NearshoreGap]


class CountRow(Row):
    group: str = text("Group")
    value: str = text("Value")
    organisations: int = integer("Organisations")


class PortalSite(Row):
    site_id: str = text("Site")
    name: str | None = text("Name", None)
    country: str = text("Country")
    state: str | None = text("State", None)
    city: str | None = text("City", None)
    ttr_weeks: float | None = number("Time to recover (weeks)", None)


class PortalCapability(Row):
    site_id: str = text("Site")
    type: str = text("Type")
    value: str = text("Capability")
    capacity_per_week: float | None = number("Capacity / week", None)
    unit: str | None = text("Unit", None)
    lead_time_weeks: float | None = number("Lead time (weeks)", None)


class PortalCertification(Row):
    standard: str = text("Standard")
    certificate: str | None = text("Certificate", None)
    issued: str | None = text("Issued", None)
    expires: str = text("Expires")


class PortalRequest(Row):
    request_id: str = text("Request")
    kind: str = text("Kind")
    subject: str | None = text("Subject", None)
    status: str = text("Status")
    created: str | None = text("Created", None)


class SupplierPortal(BaseModel):
    """What one supplier sees: its own records and the requests addressed to it."""

    org_id: str
    organisation: dict[str, Any]
    sites: list[PortalSite]
    capabilities: list[PortalCapability]
    certifications: list[PortalCertification]
    requests: list[PortalRequest]


# ------------------------------------------------------------------------------------------------
# Drill-down: one die, two wafers or lots side by side (silicio.web.die_pages)


class DieInsertion(Row):
    insertion: int = ident("#")
    kind: str = text("Insertion")
    final: bool = text("Final")
    file: str = text("File")
    started: datetime | None = moment("File started", None)
    part_index: int = ident("Part")
    part_id: str | None = text("Part id", None)
    site: int | None = ident("Site", None)
    hard_bin: int | None = ident("Hard bin", None)
    soft_bin: int | None = ident("Soft bin", None)
    passed: bool | None = text("Passed", None)
    test_time_ms: int | None = integer("Test time (ms)", None)
    tests: int | None = integer("Tests", None)


class DieResult(Row):
    insertion: int = ident("#")
    final: bool = text("Final")
    test_num: int = ident("Test")
    test_name: str | None = text("Name", None)
    test_type: str | None = text("Type", None)
    pin: int | None = ident("Pin", None)
    units: str | None = text("Units", None)
    lo_limit: float | None = number("Low limit", None)
    result: float | None = number("Result", None)
    hi_limit: float | None = number("High limit", None)
    verdict: str = text("Verdict")
    flags: list[str] = text("Flags")


class DieScreeningReason(Row):
    rule: str = text("Rule")
    test_num: int | None = ident("Test", None)
    test_name: str | None = text("Test name", None)
    value: float | None = number("Value", None)
    limit_lo: float | None = number("Low limit", None)
    limit_hi: float | None = number("High limit", None)


class DiePage(BaseModel):
    """One die: every insertion at the stage (first pass, retests), each result against its
    limits, the bins, why the screening removed it and where it went (the genealogy)."""

    lot_id: str
    wafer_id: str
    x: int
    y: int
    product: str | None
    stage: str
    wafer_url: str = Field(description="the die on its wafer map")
    lot_url: str
    insertion_count: int
    retests: int
    final_hard_bin: int | None
    final_soft_bin: int | None
    final_passed: bool | None
    insertions: list[DieInsertion]
    results: list[DieResult]
    failed_tests: int = Field(description="results of the final insertion that failed their limits")
    alarmed_results: int = Field(description="results of any insertion with an alarm or error flag")
    screened: bool | None = Field(
        description="the screening removed it (None: not judged, see screening_note)"
    )
    screening_rules: list[str] = Field(default_factory=list)
    new_hard_bin: int | None = None
    new_soft_bin: int | None = None
    screening_note: str | None = None
    screening: list[DieScreeningReason] = Field(default_factory=list)
    traced: bool = Field(description="the genealogy holds this die")
    trace_node: str | None = None
    trace_note: str
    units_reached: int | None = None
    reached: list[TraceCount] = Field(default_factory=list)
    shipments: list[ShipmentUnits] = Field(default_factory=list)


class UnitPage(BaseModel):
    """One packaged unit of a final-test lot, found by its part id: every insertion, each result
    against its limits, the bins, and, when the genealogy holds it, the wafer die it came from with
    that die's screening verdict."""

    lot_id: str
    part_id: str
    product: str | None
    stage: str
    lot_url: str
    insertion_count: int
    retests: int
    final_hard_bin: int | None
    final_soft_bin: int | None
    final_passed: bool | None
    insertions: list[DieInsertion]
    results: list[DieResult]
    failed_tests: int = Field(description="results of the final insertion that failed their limits")
    alarmed_results: int = Field(description="results of any insertion with an alarm or error flag")
    traced: bool = Field(description="the genealogy holds this unit")
    trace_node: str | None = None
    trace_note: str = ""
    die_node: str | None = Field(None, description="the genealogy's die the unit was made from")
    die_lot_id: str | None = None
    die_wafer_id: str | None = None
    die_x: int | None = None
    die_y: int | None = None
    die_url: str | None = Field(None, description="the die's own page (wafer sort)")
    came_from: list[TraceCount] = Field(default_factory=list, description="the genealogy backward, by kind")
    screened: bool | None = Field(
        None, description="the screening removed its die at wafer sort (None: not judged, see screening_note)"
    )
    screening_rules: list[str] = Field(default_factory=list)
    new_hard_bin: int | None = None
    new_soft_bin: int | None = None
    screening_note: str | None = None
    screening: list[DieScreeningReason] = Field(default_factory=list)


class ScreeningLayer(BaseModel):
    """The dies the screening removed on a wafer, by the first rule that hit each (the recipe's
    precedence), for the wafer map's layer."""

    x: list[int]
    y: list[int]
    rule: list[str]
    colors: dict[str, str] = Field(description="rule -> colour (silicio.yields.wafermap.rule_colours)")
    counts: dict[str, int] = Field(description="dies removed, by first rule")


class CompareSide(BaseModel):
    """One side of a comparison: a wafer or a whole lot at a stage."""

    label: str
    lot_id: str
    wafer_id: str | None
    stage: str
    product: str | None
    url: str
    total: WaferYield
    bin_map: WaferMapData | None = Field(description="a wafer's bin map, a lot's stacked fail map")


class CompareTest(Row):
    test_num: int = ident("Test")
    test_name: str | None = text("Name", None)
    units: str | None = text("Units", None)
    count_a: int = integer("Results A")
    mean_a: float | None = number("Mean A", None)
    std_a: float | None = number("Sigma A", None)
    count_b: int = integer("Results B")
    mean_b: float | None = number("Mean B", None)
    std_b: float | None = number("Sigma B", None)
    shift_sigma: float | None = number("Shift (sigma)", None)


class CompareBin(Row):
    bin: int | None = ident("Soft bin", None)
    name: str | None = text("Name", None)
    count_a: int = integer("Dies A")
    percent_a: float = number("% A")
    count_b: int = integer("Dies B")
    percent_b: float = number("% B")


class ComparePage(BaseModel):
    """Two wafers or two lots side by side: maps, yields, bins and per-test distributions."""

    a: CompareSide
    b: CompareSide
    test_num: int | None = Field(description="test whose distributions are drawn")
    histogram_edges: list[float] = Field(
        default_factory=list, description="shared bin edges of both histograms"
    )
    histogram_a: list[int] = Field(default_factory=list)
    histogram_b: list[int] = Field(default_factory=list)
    tests: list[CompareTest]
    bins: list[CompareBin]
    notes: list[str] = Field(default_factory=list)


# The wafer page's spatial part lives with the spatial pages' models, which build on this module;
# its screening layer is defined above, after it.
from .spatial_models import WaferSpatial  # noqa: E402

WaferPage.model_rebuild()
