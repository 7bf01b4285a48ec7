"""No route answers 500, whatever it is sent: every route of the app (read from the app itself, so
a new route is fuzzed without touching this file) gets hostile values in each of its path and
query parameters, and each POST route hostile bodies, from a real server (uvicorn in a
subprocess, as :mod:`tests.web.test_memory` runs it), whose peak memory stays under 1.5 GB.

The other parameters keep values that name real records of the test lake (a lot, a wafer, a
test, a certificate, a supplier and its token), so a hostile value reaches the code behind the
route instead of stopping at the first 404. The cases are a fixed-seed sample (every parameter
gets the core values, then a share of the rest), a minute or so of CPU in all.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute

import silicio
from silicio import lake, trace
from silicio.auth import AuthStore
from silicio.auth.sessions import SESSION_COOKIE
from silicio.datadir import DataDir
from silicio.web import access, create_app
from silicio.web.declare import Page
from silicio.web.demo import load_trace_demo
from silicio.web.security import MAX_BODY_BYTES, MAX_JSON_DEPTH

from .final_test_data import add_final_test
from .test_spc_pages import STUDY, write_gage_study

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/<pid>/status")

SEED = 16
#: The password of the account the sign-in form's benign case signs in with.
FUZZ_PASSWORD = "fuzz-correct-horse-battery"
PEAK_LIMIT_BYTES = 1.5 * 2**30
CACHE_MB = 64
START_SECONDS = 120
REQUEST_SECONDS = 60
#: Extra values per parameter beyond the core ones (a fixed-seed sample of HOSTILE_EXTRA).
EXTRA_PER_PARAMETER = 3

#: Every parameter gets these: numbers past every integer type, negative, not finite, empty,
#: very long, unicode, path traversal.
HOSTILE_CORE = (
    "9" * 40,
    "-1",
    "1e30",
    "nan",
    "-inf",
    "",
    "x" * 4000,
    "\u00e9\u4e2d\U0001f642\u202e",
    "../../../../etc/passwd",
)


class Raw(str):
    """A value put in the URL as it is, not percent-encoded: bytes that are no UTF-8, overlong forms."""


HOSTILE_EXTRA = (
    Raw("%FF%FE"),
    Raw("%C0%AF%C0%AF"),
    Raw("%ED%A0%80"),
    "-" + "9" * 40,
    "0",
    "2147483648",
    "4294967296",
    "9223372036854775808",
    "-9223372036854775809",
    "1e309",
    "inf",
    "NaN",
    "0x10",
    "1_000",
    " 7 ",
    "\x00",
    "\r\nX-Injected: 1",
    "%",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    "a/b",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{}",
    "[]",
    "null",
    "true",
    "x" * 12000,
)

#: Bodies every POST route gets: (content type, bytes).
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HOSTILE_BODIES = (
    (JSON, b"[" * 100_000),
    (JSON, b'{"a":' * 50_000),
    (JSON, b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH),
    (JSON, b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)),
    ("text/plain", b"[" * 5000),
    (JSON, b"1e400"),
    (JSON, b"9" * 5000),
    (JSON, b"\xff\xfe\x00garbage"),
    (JSON, b""),
    (JSON, b"null"),
    (JSON, b"[]"),
    (JSON, b'"just a string"'),
    (JSON, b'{"certificate": 5, "signature": "x"}'),
    (JSON, b'{"certificate": {"type": ["origin"], "issued_at": 5, "subject": {"a": 1}}, "signature": {}}'),
    (JSON, json.dumps({"employees": 1e30}).encode()),
    (JSON, json.dumps({"employees": 10**30}).encode()),
    (JSON, json.dumps({"employees": -1}).encode()),
    (JSON, b'{"employees": NaN}'),
    (JSON, b'{"employees": Infinity}'),
    (JSON, json.dumps({"employees": "12abc"}).encode()),
    (JSON, json.dumps({"name": ["a"], "state": {"b": 1}}).encode()),
    (JSON, json.dumps({"name": "x" * 100_000}).encode()),
    (JSON, json.dumps({"status": 5}).encode()),
    (JSON, json.dumps({"status": None}).encode()),
    (JSON, json.dumps({"unknown": 1}).encode()),
    (JSON, b"x" * (MAX_BODY_BYTES + 1)),
    (FORM, b"employees=1e30"),
    (FORM, b"employees=" + b"9" * 5000),
    (FORM, b"name=" + b"x" * 10_000 + b"&state=%00"),
    (FORM, b"status=%3Cscript%3E&status=answered"),
    (FORM, b"token=" + b"%ff" * 100),
    (FORM, b"%%%%=%%%"),
)


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    #: The route's path; "" for the benign case, else the parameter or "body" made hostile.
    route: str = ""
    hostile: str = ""


@dataclass(frozen=True)
class Answer:
    case: Case
    status: int
    headers: dict[str, str]
    body: bytes
    all_headers: tuple[tuple[str, str], ...] = ()


# ------------------------------------------------------------------------------------------------
# The lake, the server


@pytest.fixture(scope="module")
def fuzz_lake(tmp_path_factory, data_dir) -> Path:
    """The test lake with the trace demo (certificates, suppliers, tokens) and a gage study."""
    copy = tmp_path_factory.mktemp("fuzz-lake") / "data"
    shutil.copytree(data_dir, copy)
    load_trace_demo(copy)
    write_gage_study(copy / "metrology")
    add_final_test(copy, tmp_path_factory.mktemp("fuzz-final-test"))  # a final-test lot: the unit page
    with AuthStore.at(copy) as store:  # the staff's requests carry an admin's API token
        _, secret = store.issue_token(actor="tests", role="admin")
        store.add_user("fuzz", "engineer", FUZZ_PASSWORD, actor="tests")
    (copy / "fuzz-admin-token").write_text(secret)
    return copy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is the answer (a 303 after a form), not something to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def send(base: str, case: Case) -> Answer:
    request = urllib.request.Request(
        base + case.url, data=case.body, method=case.method, headers=dict(case.headers)
    )
    try:
        with _OPENER.open(request, timeout=REQUEST_SECONDS) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    pairs = tuple((k.lower(), v) for k, v in headers.items())
    return Answer(case, status, dict(pairs), body, pairs)


@pytest.fixture(scope="module")
def server(fuzz_lake, tmp_path_factory):
    """The dashboard over the fuzz lake in its own process: (base URL, pid, its stderr file)."""
    port = _free_port()
    source = str(Path(silicio.__file__).resolve().parents[1])
    env = {**os.environ, "SILICIO_CACHE_MB": str(CACHE_MB), "PYTHONPATH": source}
    code = ("import sys, uvicorn; from silicio.web import create_app; "
            "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')")  # fmt: skip
    log = tmp_path_factory.mktemp("fuzz-server") / "stderr.txt"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-c", code, str(fuzz_lake), str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if (
                    send(base, Case("GET", "/api/_health", tuple(staff_headers(fuzz_lake).items()))).status
                    == 200
                ):
                    break
            except OSError:
                time.sleep(0.2)
        yield base, process.pid, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------------------------
# The cases


def staff_headers(lake_dir: Path) -> dict[str, str]:
    """What makes a request the maker's staff: an admin's API token."""
    return {"Authorization": "Bearer " + (lake_dir / "fuzz-admin-token").read_text()}


def signin_headers(base: str) -> dict[str, str]:
    """An anonymous visitor's session cookie and its CSRF token, as the sign-in forms want them."""
    form = send(base, Case("GET", "/login"))
    cookie = next(part.split(";")[0] for name, part in form.all_headers if name == "set-cookie"
                  and part.startswith(SESSION_COOKIE + "="))  # fmt: skip
    token = re.search(rb'name="csrf_token" value="([^"]+)"', form.body).group(1).decode()
    return {"Cookie": cookie, "X-CSRF-Token": token}


def real_values(lake_dir: Path) -> dict[str, str]:
    """A real value of each path parameter name of the app, and the portal token of org_id's."""
    with lake.open(lake_dir) as db:
        lot_id, wafer_id, x, y = db.polars(
            "SELECT lot_id, wafer_id, x, y FROM parts WHERE x IS NOT NULL ORDER BY lot_id, wafer_id, x, y LIMIT 1"
        ).row(0)
        # A unit of the final-test lot (no coordinates, a part id), and that lot for the unit page.
        unit_lot_id, part_id = db.polars(
            "SELECT lot_id, part_id FROM parts WHERE x IS NULL AND part_id <> '' ORDER BY part_id LIMIT 1"
        ).row(0)
    paths = DataDir(lake_dir)
    token, org_id = next(iter(json.loads(paths.supplier_tokens.read_text()).items()))
    registry = json.loads(paths.supplier_registry.read_text())
    requests = [r["request_id"] for r in registry.get("requests", []) if r.get("to_org") == org_id]
    with trace.TraceStore.at(lake_dir) as store:
        cert_id = store.certificates()[0]["cert_id"]
        part_number = sorted({p.part_number for p in store.load_master_data().products.values()})[0]
    values = {"lot_id": lot_id, "wafer_id": wafer_id, "x": str(x), "y": str(y), "test_num": "2010", "name": STUDY, "cert_id": cert_id,
              "part_number": part_number, "org_id": org_id, "request_id": requests[0] if requests else "RQ-1",
              "portal_token": token, "alert_id": "1", "kind": "capacity", "decision": "approve",
              "proposal_id": "1", "part_id": part_id, "unit_lot_id": unit_lot_id}  # fmt: skip
    return values


def credentials(base: str, lake_dir: Path, values: dict[str, str]) -> dict[str, dict[str, str]]:
    """The headers of each access level's requests: staff pages an admin's, the portal its
    organisation's token, sign-in forms a visitor's session and CSRF token, public pages none."""
    staff = staff_headers(lake_dir)
    return {"internal": staff, "quality": staff, "admin": staff, "signin": signin_headers(base),
            "supplier": {"X-Silicio-Token": values["portal_token"]}}  # fmt: skip


def _tables_of(app) -> dict[str, str]:
    """The first table of each page's CSV route, by the route's path."""
    from silicio.web.app import PAGES

    pages: tuple[Page, ...] = PAGES
    return {f"{page.api_path}/{{table}}.csv": page.tables[0] for page in pages if page.tables}


def _encoded(value: str) -> str:
    return value if isinstance(value, Raw) else quote(value, safe="")


def _url(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m_: _encoded(values[m_.group(1)]), path)


def fuzz_cases(
    app, values: dict[str, str], credentials: dict[str, dict[str, str]], seed: int = SEED
) -> list[Case]:
    """Every route x parameter x (core values + a sample of the rest), and every POST route x body,
    each sent with the ``credentials`` of its route's access level (none for public pages)."""
    rng = random.Random(seed)
    tables = _tables_of(app)
    cases: list[Case] = []
    for route in access.routes(app):
        if not isinstance(route, APIRoute):
            continue
        headers = credentials.get(access.access_of(route), {})
        benign = {**values, "table": tables.get(route.path, "x")}
        if "{part_id}" in route.path:  # a unit's page: the final-test lot that holds the unit
            benign["lot_id"] = values["unit_lot_id"]
        path_params = [p.name for p in route.dependant.path_params]
        query_params = [p.alias for p in route.dependant.query_params]
        for method in sorted(route.methods - {"HEAD"}):
            body = b"{}" if method == "POST" else None
            kind = {"Content-Type": JSON} if method == "POST" else {}
            if route.path == "/supplier/login" and method == "POST":  # its form, the token the benign case
                body, kind = f"token={quote(values['portal_token'])}".encode(), {"Content-Type": FORM}
            if route.path == "/login" and method == "POST":
                body, kind = f"username=fuzz&password={FUZZ_PASSWORD}".encode(), {"Content-Type": FORM}
            sent = tuple({**headers, **kind}.items())
            cases.append(Case(method, _url(route.path, benign), sent, body, route.path))
            for name in path_params + query_params:
                for value in HOSTILE_CORE + tuple(rng.sample(HOSTILE_EXTRA, EXTRA_PER_PARAMETER)):
                    if name in path_params:
                        url = _url(route.path, {**benign, name: value})
                    else:
                        url = _url(route.path, benign) + "?" + f"{quote(name)}={_encoded(value)}"
                    cases.append(Case(method, url, sent, body, route.path, name))
            if method == "POST":
                for content_type, hostile in HOSTILE_BODIES:
                    sent = tuple({**headers, "Content-Type": content_type}.items())
                    cases.append(Case(method, _url(route.path, benign), sent, hostile, route.path, "body"))
    return cases


@pytest.fixture(scope="module")
def fuzzed(server, fuzz_lake) -> list[Answer]:
    base, _, _ = server
    values = real_values(fuzz_lake)
    cases = fuzz_cases(create_app(fuzz_lake), values, credentials(base, fuzz_lake, values))
    started = time.process_time()
    answers, seconds = [], {}
    for case in cases:
        began = time.perf_counter()
        try:
            answers.append(send(base, case))
        except OSError as exc:  # the server closed on a refused body before reading it all
            answers.append(Answer(case, 0, {}, repr(exc).encode()))
        seconds[case.route] = seconds.get(case.route, 0.0) + time.perf_counter() - began
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:5]
    print(f"{len(cases)} cases, {time.process_time() - started:.1f} s CPU here; load {os.getloadavg()[0]:.1f}; "
          f"slowest routes (wall s): {', '.join(f'{r} {t:.1f}' for r, t in slowest)}")  # fmt: skip
    return answers


# ------------------------------------------------------------------------------------------------
# The checks


def _show(answer: Answer) -> str:
    case = answer.case
    return f"{case.method} {case.url[:120]} body={(case.body or b'')[:40]!r} -> {answer.status} {answer.body[:160]!r}"


def _errors(log: Path) -> str:
    """The server log's last lines, each cut short (a hostile URL is long)."""
    return "\n".join(line[:300] for line in log.read_text(errors="replace").splitlines()[-60:])


def test_the_cases_are_fixed_and_bounded(fuzz_lake):
    values = real_values(fuzz_lake)
    app = create_app(fuzz_lake)
    cases = fuzz_cases(app, values, {})
    assert cases == fuzz_cases(app, values, {}), "a fixed seed: the same cases every run"
    assert 1000 < len(cases) < 5000, len(cases)
    fuzzed_routes = {re.sub(r"\?.*", "", c.url) for c in cases}
    for route in access.routes(app):
        if isinstance(route, APIRoute):
            assert any(route.path_regex.match(url) for url in fuzzed_routes), route.path


def test_no_route_answers_500(fuzzed, server):
    _, _, log = server
    failed = [a for a in fuzzed if a.status >= 500 and not (a.status == 503 and "retry-after" in a.headers)]
    dropped = [a for a in fuzzed if a.status == 0]
    problems = "\n".join(_show(a) for a in (failed + dropped)[:25])
    assert not failed and not dropped, (
        f"{len(failed)} answers 5xx, {len(dropped)} without an answer of {len(fuzzed)}:\n{problems}\n"
        f"server log:\n{_errors(log)}"
    )


def test_every_answer_carries_the_security_headers(fuzzed):
    for answer in fuzzed:
        policy = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, _show(answer)
        assert "script-src 'self';" in policy, _show(answer)  # no inline script, no other site
        assert answer.headers.get("x-content-type-options") == "nosniff", _show(answer)
        assert answer.headers.get("referrer-policy") == "no-referrer", _show(answer)


def test_the_fuzz_reached_every_route(fuzzed):
    """Each route's benign case got past the access gate (not 401/403): the hostile values, sent
    the same way, reached the route's own code."""
    benign = [answer for answer in fuzzed if not answer.case.hostile]
    assert len({(a.case.method, a.case.route) for a in benign}) == len(benign)
    gated = [_show(answer) for answer in benign if answer.status in (401, 403)]
    assert not gated, gated[:20]


def test_server_memory_stays_under_1_5_gb(fuzzed, server, fuzz_lake):
    base, pid, _ = server
    peak = _status_kib(pid, "VmHWM") * 1024
    health = send(base, Case("GET", "/api/_health", tuple(staff_headers(fuzz_lake).items())))
    caches = json.loads(health.body)["caches"]
    ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]  # utime, stime
    cpu = sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")
    print(f"peak RSS {peak / 2**20:.0f} MB, server CPU {cpu:.1f} s over {len(fuzzed)} fuzz requests "
          f"(load {os.getloadavg()[0]:.1f}); caches {caches}")  # fmt: skip
    assert peak < PEAK_LIMIT_BYTES, f"peak RSS {peak / 2**20:.0f} MB"
    for name, cache in caches.items():
        assert cache["bytes"] <= cache["max_bytes"] == CACHE_MB * 2**20, (name, cache)
