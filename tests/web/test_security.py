"""The app's defences (silicio.web.security): security headers on every answer, refusals included;
request bodies bounded by size and JSON nesting before a route parses them; no inline script in
any template or page; and the inputs that were a 500 (a 40-digit test number, nested JSON) now a
4xx that says what is wrong."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from silicio.web import security
from silicio.web.security import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_depth

TEMPLATES = Path(security.__file__).parent / "templates"
TEST = 2010  # a test of the demo program with two-sided limits


class Scripts(HTMLParser):
    """The <script> elements of a document: (attributes, text)."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[dict, str]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = dict(attrs)
            self.found.append((self._open, ""))

    def handle_data(self, data):
        if self._open is not None:
            attrs, text = self.found[-1]
            self.found[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


def scripts_of(html: str) -> list[tuple[dict, str]]:
    parser = Scripts()
    parser.feed(html)
    return parser.found


def inline_code(html: str) -> list[str]:
    """The scripts a browser would run from the page itself (not data blocks, not files)."""
    return [
        text
        for attrs, text in scripts_of(html)
        if "src" not in attrs and attrs.get("type") != "application/json"
    ]


# ------------------------------------------------------------------------------------------------
# JSON nesting


def _depth(value) -> int:
    """Nesting of a parsed JSON value, by recursion over the Python object (the reference)."""
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _random_json(rng: random.Random, depth: int):
    tricky = ["[", "]", '{"', "\\", '"', '\\"[', "plain", "é]"]
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([1, 2.5, None, True, "".join(rng.choices(tricky, k=rng.randint(0, 4)))])
    if rng.random() < 0.5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {
        "".join(rng.choices(tricky, k=2)) + str(i): _random_json(rng, depth - 1)
        for i in range(rng.randint(0, 3))
    }


def test_json_depth_is_the_nesting_of_the_parsed_document():
    rng = random.Random(7)
    for _ in range(300):
        value = _random_json(rng, rng.randint(0, 12))
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        assert json_depth(text) == _depth(value), text


def test_json_depth_stops_past_its_limit_and_survives_any_bytes():
    assert json_depth(b"[" * 1_000_000, limit=32) == 33
    assert json_depth(b'"[[[[' + b"[" * 100 + b'"') == 0  # all inside one string
    assert json_depth(b'["\\\\", [[]]]') == 3  # an escaped backslash closes nothing
    assert json_depth(b"\xff\xfe]]]}") == 0


# ------------------------------------------------------------------------------------------------
# Bodies


def test_deeply_nested_json_is_refused_before_parsing(client):
    for body in (
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    ):
        answer = client.post("/api/verify", content=body)
        assert answer.status_code == 422, answer.text[:200]
        assert answer.json()["detail"] == f"JSON body nested deeper than {MAX_JSON_DEPTH} levels"
    # At the limit the route reads it (its own reader, a certificate's, says what it is not).
    answer = client.post("/api/verify", content=b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert answer.status_code in (404, 422) and f"deeper than {MAX_JSON_DEPTH} levels" not in answer.text
    assert "not a JSON certificate" in answer.json()["detail"]


def test_a_body_over_the_limit_is_413(client):
    answer = client.post("/api/verify", content=b"x" * (MAX_BODY_BYTES + 1))
    assert answer.status_code == 413
    assert answer.json()["detail"] == f"request body larger than {MAX_BODY_BYTES:,} bytes"
    assert answer.headers["x-content-type-options"] == "nosniff"


def _refusal_events(body_chunks: list[bytes], headers: list[tuple[bytes, bytes]], **limits) -> list[str]:
    """What :class:`~silicio.web.security.SecurityMiddleware` does, in order, with a POST whose
    body arrives in ``body_chunks``: "read N" for each chunk it takes, "sent STATUS" for its answer."""
    import asyncio

    events: list[str] = []
    pending = list(body_chunks)

    async def receive():
        chunk = pending.pop(0)
        events.append(f"read {len(chunk)}")
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        if message["type"] == "http.response.start":
            events.append(f"sent {message['status']}")

    async def app(scope, receive, send):  # never reached: the body is refused
        raise AssertionError("the app got a refused body")

    middleware = security.SecurityMiddleware(app, **limits)
    asyncio.run(middleware({"type": "http", "method": "POST", "path": "/api/verify", "headers": headers},
                           receive, send))  # fmt: skip
    return events


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_refused_body_is_read_to_its_end_before_the_413(declared):
    """A client still sending its body when the server answers and closes gets a reset, not the
    413 (the web fuzz saw it, now and then, on a 1 MiB body): the rest is read first, dropped."""
    chunks = [b"x" * 400] * 5  # 2,000 bytes, over a limit of 1,000
    headers = [(b"content-length", b"2000")] if declared else [(b"transfer-encoding", b"chunked")]
    events = _refusal_events(chunks, headers, max_body_bytes=1000, drained_bytes=4000)
    assert events == ["read 400"] * 5 + ["sent 413"]


def test_a_body_past_what_is_drained_is_refused_unread():
    # declared larger than the drained bytes: refused at once, nothing of it read
    events = _refusal_events([b"x" * 400] * 5, [(b"content-length", b"5000")], max_body_bytes=1000,
                             drained_bytes=4000)  # fmt: skip
    assert events == ["sent 413"]
    # sent without a length: read up to the drained bytes, then refused
    events = _refusal_events([b"x" * 1000] * 10, [(b"transfer-encoding", b"chunked")], max_body_bytes=1000,
                             drained_bytes=4000)  # fmt: skip
    assert events == ["read 1000"] * 4 + ["sent 413"]


def test_a_number_past_python_s_digits_limit_is_a_422(client):
    answer = client.post("/api/verify", content=b"9" * 5000)
    assert answer.status_code == 422 and "not a JSON certificate" in answer.json()["detail"]


# ------------------------------------------------------------------------------------------------
# Headers


@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        ("/files", {}, 200),
        ("/api/files", {}, 200),
        ("/static/silicio.css", {}, 200),
        ("/no/such/page", {}, 404),
        (f"/api/spc/test/{TEST}?chart=pareto", {}, 422),
        ("/files", {"Authorization": "Bearer slc_not_a_token"}, 401),  # the access gate's own refusal
        ("/api/files", {"Authorization": ""}, 401),  # anonymous on an internal page
    ],
)
def test_every_answer_carries_the_security_headers(client, url, headers, status):
    answer = client.get(url, headers=headers)
    assert answer.status_code == status
    policy = dict(part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"


def test_api_docs_allow_exactly_their_own_inline_script(client):
    answer = client.get("/docs")
    assert answer.status_code == 200
    code = inline_code(answer.text)
    assert code, "Swagger UI starts from an inline script"
    policy = answer.headers["content-security-policy"]
    for text in code:
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


# ------------------------------------------------------------------------------------------------
# No inline script


def test_no_template_has_inline_script():
    for template in sorted(TEMPLATES.glob("*.html")):
        text = template.read_text()
        assert not inline_code(text), template.name
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", text), f"{template.name}: an inline event handler"
        assert "javascript:" not in text.lower(), template.name


def test_pages_with_charts_run_no_inline_script(client, db):
    lot_id, wafer_id = db.polars("SELECT lot_id, wafer_id FROM parts ORDER BY lot_id, wafer_id LIMIT 1").row(
        0
    )
    for url in (
        "/",
        f"/lot/{lot_id}",
        f"/lot/{lot_id}/wafer/{wafer_id}",
        f"/test/{TEST}",
        f"/spc/test/{TEST}",
    ):
        answer = client.get(url)
        assert answer.status_code == 200, url
        found = scripts_of(answer.text)
        assert any(attrs.get("type") == "application/json" for attrs, _ in found), url  # the chart data
        assert not inline_code(answer.text), url
    assert '<script src="/static/spc.js" defer>' in client.get(f"/spc/test/{TEST}").text
    assert client.get("/static/spc.js").status_code == 200


# ------------------------------------------------------------------------------------------------
# What was a 500


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/test/" + "9" * 40, "test_num: Input should be less than or equal to 4294967295"),
        ("/api/test/" + "9" * 40, "less than or equal to 4294967295"),
        ("/api/test/-1", "greater than or equal to 0"),
        ("/spc/test/" + "9" * 40, "less than or equal to 4294967295"),
        (f"/api/spc/test/{TEST}?baseline=" + "9" * 40, "less than or equal to 2147483647"),
        ("/api/lot/L/wafer/W?x=99999&y=0", "less than or equal to 32767"),
        ("/api/lot/L/wafer/W?test=" + "9" * 40, "less than or equal to 4294967295"),
        ("/api/gage/any?tolerance=inf", "finite number"),
        ("/api/gage/any?tolerance=nan", "finite number"),
        ("/api/gage/" + "x" * 300, "up to 100 letters"),
    ],
)
def test_out_of_range_numbers_are_a_clear_4xx(client, url, words):
    answer = client.get(url)
    assert 400 <= answer.status_code < 500 and words in answer.text, (answer.status_code, answer.text[:300])
