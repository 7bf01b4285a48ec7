"""The names the pages import from here, where they now live: the lake pages' data in
:mod:`silicio.web.dashboard`, the trace, origin, certificate and supply pages' in
:mod:`silicio.web.tracedata`, the links in :mod:`silicio.web.links`.

A re-export only, so page modules keep working while they move to the new homes.
"""

from __future__ import annotations

# Still imported by tests/web/test_supply_pages.py; their home is silicio.datadir.
from silicio.datadir import PLAN_FILE, REGISTRY_FILE, SUPPLY_DIR, TOKENS_FILE

from .dashboard import Dashboard, NotFound, Pending, Settings
from .links import lot_url, report_url, test_url, wafer_url
from .tracedata import BACKWARD_KINDS, FORWARD_KINDS, SUPPLY_SCENARIOS, BadQuery, TraceData

__all__ = [
    "BACKWARD_KINDS",
    "FORWARD_KINDS",
    "PLAN_FILE",
    "REGISTRY_FILE",
    "SUPPLY_DIR",
    "SUPPLY_SCENARIOS",
    "TOKENS_FILE",
    "BadQuery",
    "Dashboard",
    "NotFound",
    "Pending",
    "Settings",
    "TraceData",
    "lot_url",
    "report_url",
    "test_url",
    "wafer_url",
]
