"""``silicio serve``: the dashboard in a browser, over the lake in the data directory."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from silicio.datadir import default_data_dir

from .errors import needs, reported_errors
from .options import DatabaseUrl, DataDir, needs_database
from .render import console


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
    public_only: Annotated[
        bool,
        typer.Option(
            "--public-only",
            help="Serve only the public pages (transparency, certificate "
            "verification); every other page answers 404 and nobody signs in.",
        ),
    ] = False,
) -> None:
    """Serve the dashboard: yields, wafer maps, tests, PAT and files, with a JSON API under /api.
    Every page but the public ones needs a signed-in account (`silicio users add`)."""
    needs("web", "silicio serve")
    needs_database("silicio serve", database_url)
    import uvicorn

    from silicio.auth import AuthError
    from silicio.web import Settings, create_app
    from silicio.web.demo import DEFAULT_DEMO_DIR, demo_users, prepare_demo

    with reported_errors(AuthError):
        preparation = None
        if demo:
            from silicio.web.demo import DEMO_STEPS
            from silicio.web.preparing import Preparation

            data = data or DEFAULT_DEMO_DIR
            console.print(f"preparing the demo lake in [bold]{escape(str(data))}[/bold]: the dashboard answers "
                          "at once and shows the progress", highlight=False, soft_wrap=True)  # fmt: skip
            if not public_only:
                _print_demo_accounts(demo_users(data), data)
            preparation = Preparation(DEMO_STEPS, background=("screening",))
        data_dir = data or default_data_dir()
        # Pages never wait for the screening: it starts now and the overview adds its holds when done.
        app = create_app(data_dir, database_url, Settings(wait_for_screening=False), warm=not demo,
                         public_only=public_only, preparation=preparation)  # fmt: skip
    if preparation is not None:
        import threading

        say = lambda line: console.print(line, highlight=False, soft_wrap=True)  # noqa: E731
        threading.Thread(target=prepare_demo, args=(data_dir, preparation), daemon=True, name="silicio-demo",
                         kwargs={"warm": app.state.dashboard.warm, "say": say}).start()  # fmt: skip
    if public_only:
        console.print("public pages only: /transparency and /verify", highlight=False)
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    console.print(f"silicio dashboard of [bold]{escape(str(data_dir))}[/bold] at http://{shown_host}:{port}/ "
                  "(Ctrl-C stops)", highlight=False, soft_wrap=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _print_demo_accounts(made: dict[str, tuple[str, str]], data) -> None:
    """The demo accounts' passwords, once: on the console only, never in a file."""
    from silicio.web.demo import DEMO_USERS

    if made:
        console.print("demo accounts (passwords shown once, now):", highlight=False)
        for name, (role, password) in made.items():
            console.print(f"  [bold]{escape(name)}[/bold] ({role}): {escape(password)}", highlight=False)
    else:
        console.print(f"demo accounts: {', '.join(DEMO_USERS)} (their passwords were shown when made; "
                      f"`silicio users password NAME --data {escape(str(data))}` makes a new one)",
                      highlight=False, soft_wrap=True)  # fmt: skip
