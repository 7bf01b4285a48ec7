"""The dashboard: ``silicio serve`` shows a lake's yields, wafer maps, tests, screening and files
in a browser, every page with a JSON twin under ``/api`` and a CSV of every table.

:func:`create_app` builds the FastAPI app (:mod:`.app`); :mod:`.data` computes what the pages
show, once per catalog state; :mod:`.models` declares it. Each page is declared once
(:mod:`.declare`: path, parameters, model, template, nav entry, access) in :mod:`.pages`,
:mod:`.spc_pages` or :mod:`.trace_pages`, and its HTML page, JSON twin and CSVs are generated from
that; :mod:`.access` enforces who may see each route; :mod:`.render` draws the HTML.
"""

from .app import create_app
from .dashboard import Dashboard, NotFound, Settings

__all__ = ["Dashboard", "NotFound", "Settings", "create_app"]
