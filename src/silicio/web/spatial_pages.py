"""Spatial yield pages: wafer-map signatures across the lake (``/signatures``: filter wafers by
signature, the signatures' Pareto, shares per lot, tester, probe card and inspection tool) and the
inline inspections against wafer sort (``/inline``: per step and defect class the defective dies,
kill ratio, capture rate, defect-limited yield and density). The wafer page's signature, zonal
yield, clusters and defect layer come with the wafer page (:mod:`silicio.web.spatialdata`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from . import spatial_models as s
from .api import Product
from .dashboard import Dashboard
from .declare import Nav, Page
from .spatialdata import inline_page, signatures_page

SignatureName = Annotated[
    str | None,
    Query(
        pattern="^[a-z_]{1,16}$",
        description="list only the wafers of this signature (center, edge_ring, ...)",
    ),
]
StepName = Annotated[
    str | None, Query(max_length=200, description="only this inspection step (KLARF StepID)")
]


def signatures(data: Dashboard, signature: SignatureName = None, product: Product = None) -> s.SignaturesPage:
    """The signatures page, cached by the dashboard until the catalog changes."""
    return data._call(
        ("signatures", signature, product), lambda db: signatures_page(data, db, signature, product)
    )


def inline(data: Dashboard, step: StepName = None) -> s.InlinePage:
    return data._call(("inline", step), lambda db: inline_page(data, db, step))


PAGES = (
    Page(path="/signatures", compute=signatures, template="signatures.html", access="internal", charts=True,
         summary="Wafer-map signatures: Pareto, per lot and per equipment", nav=Nav("Signatures", "yield", 4)),
    Page(path="/inline", compute=inline, template="inline.html", access="internal", charts=True,
         summary="Inline defects: kill ratio, capture rate, defect-limited yield", nav=Nav("Inline defects", "yield", 5)),
)  # fmt: skip
