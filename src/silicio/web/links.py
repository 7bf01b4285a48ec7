"""Every URL the dashboard hands out, built in one place: pages link to each other through these,
so a route that moves is changed here only. Path parts are percent-encoded; empty query values
are left out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode


def _part(text: str) -> str:
    return quote(str(text), safe="")


def _query(params: dict[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(kept)}" if kept else ""


def lot_url(lot_id: str, stage: str | None = None) -> str:
    return f"/lot/{_part(lot_id)}" + _query({"stage": stage})


def wafer_url(lot_id: str, wafer_id: str, stage: str | None = None, **query: Any) -> str:
    return f"/lot/{_part(lot_id)}/wafer/{_part(wafer_id)}" + _query({"stage": stage, **query})


def die_url(lot_id: str, wafer_id: str | None, stage: str, x: int | None, y: int | None) -> str:
    """A die's own page (its insertions, results, screening, genealogy); its wafer map for a die
    without coordinates, its lot for a part outside wafers."""
    if wafer_id is None:
        return lot_url(lot_id, stage)
    if x is None or y is None:
        return wafer_url(lot_id, wafer_id, stage)
    return die_page_url(lot_id, wafer_id, x, y, stage)


def die_page_url(lot_id: str, wafer_id: str, x: int | str, y: int | str, stage: str | None = None) -> str:
    """The die page; ``x`` and ``y`` may be the placeholders ``"{x}"`` and ``"{y}"`` (kept as they
    are) for the wafer map's script to fill in."""
    return f"/lot/{_part(lot_id)}/wafer/{_part(wafer_id)}/die/{x}/{y}" + _query({"stage": stage})


def unit_page_url(lot_id: str, part_id: str, stage: str | None = None) -> str:
    """The page of a packaged unit (final test) of a lot, by its part id."""
    return f"/lot/{_part(lot_id)}/unit/{_part(part_id)}" + _query({"stage": stage})


def on_map_url(lot_id: str, wafer_id: str, stage: str, x: int, y: int) -> str:
    """A die on its wafer map, highlighted."""
    return wafer_url(lot_id, wafer_id, stage, x=x, y=y)


def compare_url(a: str, b: str, **query: Any) -> str:
    return "/compare" + _query({"a": a, "b": b, **query})


def report_url(lot_id: str, stage: str) -> str:
    return f"/lot/{_part(lot_id)}/report" + _query({"stage": stage})


def test_url(test_num: int, product: str | None = None, name: str | None = None) -> str:
    return f"/test/{int(test_num)}" + _query({"product": product, "name": name})


def spc_test_url(test_num: int, product: str | None = None, name: str | None = None, **query: Any) -> str:
    return f"/spc/test/{int(test_num)}" + _query({"product": product, "name": name, **query})


def gage_url(name: str) -> str:
    return f"/gage/{_part(name)}"


def gage_report_url(name: str, **query: Any) -> str:
    return f"/gage/{_part(name)}/report" + _query(query)


def origin_url(part_number: str) -> str:
    return f"/origin/{_part(part_number)}"


def certificate_url(cert_id: str) -> str:
    return f"/certificates/{_part(cert_id)}"


def verify_url(cert_id: str) -> str:
    return f"/verify/{_part(cert_id)}"


def supplier_url(org_id: str) -> str:
    return f"/supplier/{_part(org_id)}"


def api_url(page_url: str) -> str:
    """The JSON twin of a page: the same path under ``/api``."""
    return "/api" + (page_url if page_url != "/" else "/overview")
