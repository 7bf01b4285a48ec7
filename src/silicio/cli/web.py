"""``silicio serve``: the dashboard in a browser, over the lake in the data directory."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from silicio.datadir import default_data_dir

from .errors import needs, reported_errors
from .options import DatabaseUrl, DataDir, needs_database

console = Console()


def serve_command(
    data: DataDir = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Serve the demo lake (out/demo-lake, generated and ingested on first use)."
        ),
    ] = False,
) -> None:
    """Serve the dashboard: yields, wafer maps, tests, PAT and files, with a JSON API under /api."""
    needs("web", "silicio serve")
    needs_database("silicio serve", database_url)
    import uvicorn

    from silicio.web import Settings, create_app
    from silicio.web.demo import DEFAULT_DEMO_DIR, demo_lake

    with reported_errors():
        if demo:
            data = data or DEFAULT_DEMO_DIR
            console.print(f"preparing the demo lake in [bold]{escape(str(data))}[/bold] ...", highlight=False)
            demo_lake(data)
        data_dir = data or default_data_dir()
        # Pages never wait for the screening: it starts now and the overview adds its holds when done.
        app = create_app(data_dir, database_url, Settings(wait_for_screening=False), warm=True)
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    console.print(f"silicio dashboard of [bold]{escape(str(data_dir))}[/bold] at http://{shown_host}:{port}/ "
                  "(Ctrl-C stops)", highlight=False, soft_wrap=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning")
