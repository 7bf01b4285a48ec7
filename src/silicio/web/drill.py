"""The data source of the drill-down pages (a die, a comparison): the lake's
:class:`~silicio.web.dashboard.Dashboard` and the genealogy's :class:`~silicio.web.tracedata.TraceData`
together, since a die page shows what the tester said and where the die went."""

from __future__ import annotations

from dataclasses import dataclass

from .dashboard import Dashboard
from .tracedata import TraceData


@dataclass(frozen=True)
class Drill:
    dashboard: Dashboard
    trace: TraceData
