"""The first run: the dashboard answers while its data is prepared (a progress page, the steps as
JSON), turns into the dashboard when the data is in, and keeps the screening across restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from fastapi.testclient import TestClient

from silicio.web import Settings, create_app
from silicio.web.dashboard import Dashboard
from silicio.web.preparing import Preparation
from silicio.yields import disposition
from silicio.yields.stored import stored_keys

from .conftest import HOLD_YIELD, signed_in

STEPS = (("generate", "Writing files"), ("ingest", "Ingesting"), ("screening", "Screening"))


def test_progress_page_until_ready_then_the_dashboard(tmp_path, data_dir):
    preparation = Preparation(STEPS, background=("screening",))
    with TestClient(
        create_app(data_dir, settings=Settings(hold_yield=HOLD_YIELD), preparation=preparation)
    ) as client:
        anonymous = client.get("/")  # the sign-in page waits too (the accounts are there, the data not yet)
        assert anonymous.status_code == 503 and "preparing its data" in anonymous.text
        signed_in(client)
        preparation.start("generate", total=4)
        preparation.advance("generate", 1, detail="lot A")
        page = client.get("/")
        assert page.status_code == 503 and page.headers["Retry-After"] == "1"
        assert "Writing files" in page.text and "lot A" in page.text and "/static/progress.js" in page.text
        api = client.get("/api/overview")
        assert api.status_code == 503 and api.json()["progress"]["steps"][0]["done"] == 1
        state = client.get("/api/_progress").json()
        assert state["ready"] is False
        assert [(s["name"], s["state"], s["done"], s["total"]) for s in state["steps"]] == [
            ("generate", "running", 1, 4), ("ingest", "waiting", 0, None), ("screening", "waiting", 0, None)]  # fmt: skip
        assert client.get("/static/progress.js").status_code == 200
        preparation.finish("generate")
        preparation.start("ingest")
        preparation.finish("ingest")
        # The screening is a background step: pages open before it is done.
        assert client.get("/api/_progress").json()["ready"] is True
        served = client.get("/", follow_redirects=False)
        assert served.status_code != 503 and "preparing its data" not in served.text


def test_a_failed_step_is_shown_not_swallowed(data_dir):
    preparation = Preparation(STEPS)
    with TestClient(create_app(data_dir, preparation=preparation)) as client:
        preparation.start("generate")
        preparation.fail("generate", "generate: OSError: disk full")
        page = client.get("/")
        assert page.status_code == 503 and "disk full" in page.text
        assert client.get("/api/_progress").json()["error"] == "generate: OSError: disk full"


def test_screening_is_kept_across_restarts(lake_copy, monkeypatch):
    settings = Settings(hold_yield=HOLD_YIELD)
    first = Dashboard(lake_copy, settings=settings)
    screened = first._screenings()
    first.close()
    assert len(stored_keys(lake_copy / "screening")) == 1

    def not_again(*args, **kwargs):
        raise AssertionError("screened again although the lake and the recipe did not change")

    monkeypatch.setattr(disposition, "screen_lake", not_again)
    second = Dashboard(lake_copy, settings=settings)
    again = second._screenings()
    second.close()
    assert list(again.results) == list(screened.results)
    for product, result in screened.results.items():
        assert again.results[product].parts.equals(result.parts)
        assert again.results[product].reasons.equals(result.reasons)
    # Another recipe is another screening.
    recipe = lake_copy.parent / "recipe.toml"
    recipe.write_text(Path(disposition.default_recipe_path()).read_text(encoding="utf-8") + "\n# changed\n")
    third = Dashboard(lake_copy, settings=Settings(hold_yield=HOLD_YIELD, recipe=recipe))
    try:
        third._screenings()
    except AssertionError as exc:
        assert "screened again" in str(exc)
    else:
        raise AssertionError("a changed recipe reused the old screening")
    finally:
        third.close()


def test_serve_demo_answers_before_the_demo_is_written(tmp_path):
    """`silicio serve --demo` (what `make run` runs) on an empty folder answers the progress at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "silicio"), "serve", "--demo", "--data", str(tmp_path / "lake"), "--port", str(port)],
        stdout=subprocess.PIPE, start_new_session=True, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)  # fmt: skip
    try:
        state = None
        deadline = time.monotonic() + 300  # a generous bound for a loaded machine: the claim is "it answers"
        while state is None:
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "serve --demo did not answer"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/_progress", timeout=5) as answer:
                    state = json.load(answer)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        assert [s["name"] for s in state["steps"]] == ["generate", "ingest", "trace", "screening"]
        assert state["error"] is None
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
            page_status = 200
        except urllib.error.HTTPError as refused:
            page_status = refused.code
            page = refused.read().decode()
        if not state["ready"]:
            assert page_status == 503 and "preparing its data" in page
    finally:
        # The whole group: the demo fab writes its lots in worker processes of its own.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while _group_alive(process.pid):
            assert time.monotonic() < deadline, "a worker of serve --demo outlived SIGTERM"
            time.sleep(0.2)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_failing_demo_step_is_named_in_the_progress(tmp_path, monkeypatch):
    from silicio.web import demo
    from silicio.web.demo import DEMO_STEPS, prepare_demo

    def full_disk(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(demo, "load_trace_demo", full_disk)
    monkeypatch.setattr(demo, "write_demo_files", lambda stdf_dir, **_: stdf_dir)
    monkeypatch.setattr(demo.lake, "ingest", lambda *args, **kwargs: None)
    said = []
    preparation = Preparation(DEMO_STEPS, background=("screening",))
    assert prepare_demo(tmp_path / "lake", preparation, say=said.append) is False
    assert preparation.error == "trace: OSError: disk full"
    assert [s["state"] for s in preparation.snapshot()["steps"]] == ["done", "done", "failed", "waiting"]
    assert said[-1] == "error: trace: OSError: disk full"
