"""Models of the spatial pages (:mod:`silicio.web.spatial_pages`) and of the wafer page's spatial
part (:class:`WaferSpatial`): signatures, zonal yield, fail clusters, inline defects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from .models import Row, ident, integer, moment, number, percent, text

# ------------------------------------------------------------------------------------------------
# The wafer page's spatial part


class ClassProbability(BaseModel):
    signature: str
    probability: float


class ZoneYield(BaseModel):
    zone: str = Field(description="centre, middle, edge (rings of equal area) or a quadrant as drawn")
    dies: int
    zone_yield: float | None = Field(description="pass fraction of its dies; None without dies")


class FailCluster(BaseModel):
    cluster: int = Field(description="0 the largest")
    dies: int
    radius: float = Field(description="centroid's distance from the wafer's centre, 1 at the edge")
    angle: float = Field(description="degrees counter-clockwise from the right, as drawn")


class DefectPoint(BaseModel):
    """A KLARF defect on its die of the bin map (STDF coordinates)."""

    x: int
    y: int
    step_id: str | None = None
    classnumber: int | None = None
    classname: str | None = None
    defectid: int | None = None
    failed: bool | None = Field(default=None, description="the die failed wafer sort")


class DefectClassOnWafer(BaseModel):
    step_id: str | None
    classname: str
    defects: int
    defective_dies: int
    failing_defective_dies: int


class SignatureChange(BaseModel):
    label: str
    confidence: float
    model: str
    classified_at: datetime
    actor: str
    superseded_at: datetime
    superseded_by: str


class WaferSpatial(BaseModel):
    """The wafer's signature (WM-811K class) with its confidence, zonal yield, clusters of fails
    and, when it was inspected inline, its defects on the bin map."""

    signature: str
    confidence: float
    stored: bool = Field(description="as stored in the catalog (False: classified for this page only)")
    classified_at: datetime | None = None
    actor: str | None = None
    model: str | None = None
    probabilities: list[ClassProbability]
    zones: list[ZoneYield]
    clusters: list[FailCluster]
    defects: list[DefectPoint] = Field(default_factory=list)
    defect_classes: list[DefectClassOnWafer] = Field(default_factory=list)
    history: list[SignatureChange] = Field(default_factory=list, description="signatures it had before")
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Signatures page


class SignatureCount(Row):
    signature: str = text("Signature")
    wafers: int = integer("Wafers")
    percent_of_wafers: float = number("% of wafers")
    cumulative_percent: float = number("Cumulative %")
    mean_yield: float | None = percent("Mean yield", None)


class WaferSignatureRow(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    wafer_id: str = text("Wafer")
    signature: str = text("Signature")
    confidence: float = number("Confidence")
    wafer_yield: float | None = percent("Yield", None)
    centre_yield: float | None = percent("Centre yield", None)
    middle_yield: float | None = percent("Middle yield", None)
    edge_yield: float | None = percent("Edge yield", None)
    largest_cluster_dies: int = integer("Largest cluster (dies)")
    tester: str | None = text("Tester", None)
    probe_card: str | None = text("Probe card", None)
    inspection_tool: str | None = text("Inspection tool", None)
    classified_at: datetime | None = moment("Classified", None)


class LotSignatureShare(Row):
    product: str | None = text("Product", None)
    lot_id: str = text("Lot")
    started: datetime | None = moment("Started", None)
    signature: str = text("Signature")
    wafers: int = integer("Wafers")
    share: float = percent("Share of the lot's wafers")


class EquipmentSignatureShare(Row):
    equipment: str = text("Equipment")
    name: str = text("Name")
    signature: str = text("Signature")
    wafers: int = integer("Wafers")
    share: float = percent("Share of its wafers")
    mean_yield: float | None = percent("Mean yield", None)


class SignaturesPage(BaseModel):
    """Wafer signatures of the lake's wafer-sort wafers (as stored at ingest or by `silicio spatial
    classify`), their Pareto, and their shares per lot and per equipment."""

    signature: str | None = Field(description="the wafers listed have this signature (None: all)")
    product: str | None = Field(description="the product filter, if any")
    signatures: list[str] = Field(description="the classes, in the model's order")
    products: list[str]
    pareto: list[SignatureCount]
    wafers: list[WaferSignatureRow]
    by_lot: list[LotSignatureShare]
    by_equipment: list[EquipmentSignatureShare]
    notes: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Inline defects page


class DefectClassRow(Row):
    step_id: str | None = text("Step", None)
    classnumber: int | None = ident("Class", None)
    classname: str | None = text("Name", None)
    wafers: int = integer("Wafers")
    defects: int = integer("Defects")
    inspected_dies: int = integer("Dies inspected and tested")
    defective_dies: int = integer("Defective dies")
    defective_failed: int = integer("Defective dies failing")
    failed_dies: int = integer("Dies failing")
    kill_ratio: float | None = number("Kill ratio", None)
    capture_rate: float | None = percent("Capture rate", None)
    defect_limited_yield: float | None = percent("Defect-limited yield", None)
    defect_density: float | None = number("Defects / cm²", None)


class InspectedWafer(Row):
    lot_id: str | None = text("Lot", None)
    wafer_id: str | None = text("Wafer", None)
    step_id: str | None = text("Step", None)
    station_id: str | None = text("Inspection tool", None)
    match: str | None = text("Matched by", None)
    defects: int = integer("Defects")
    inspected_dies: int = integer("Dies inspected and tested")
    defective_dies: int = integer("Defective dies")
    signature: str | None = text("Signature", None)


class InlinePage(BaseModel):
    """Per inspection step and defect class: defective dies, kill ratio, capture rate,
    defect-limited yield and density, over the inspected wafers matched to wafer sort."""

    step: str | None = Field(description="the step shown (None: every step)")
    steps: list[str]
    classes: list[DefectClassRow]
    wafers: list[InspectedWafer]
    notes: list[str] = Field(default_factory=list)
