"""The dashboard: ``silicio serve`` shows a lake's yields, wafer maps, tests, screening and files
in a browser, every page with a JSON twin under ``/api`` and a CSV of every table.

:func:`create_app` builds the FastAPI app (:mod:`.app`); :mod:`.data` computes what the pages
show, once per catalog state; :mod:`.models` declares it; :mod:`.pages` and :mod:`.api` are the
HTML and JSON views of the same models.
"""

from .app import create_app
from .data import Dashboard, NotFound, Settings

__all__ = ["Dashboard", "NotFound", "Settings", "create_app"]
