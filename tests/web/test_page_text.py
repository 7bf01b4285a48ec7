"""What a reader sees: every declared page, in English and in Spanish, over the demo lake with
traceability, certificates, suppliers and a gage study, shows no number in exponent form
(5.519e+04) and no raw Python value (None, True, False, nan, inf); /docs and /redoc load nothing
from another site."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from silicio import lake
from silicio.web import create_app
from silicio.web.app import PAGES

from .conftest import signed_in
from .final_test_data import add_final_test
from .test_spc_pages import STUDY, TEST, write_gage_study
from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)

#: The supplier whose portal is scanned (a request is addressed to it in the demo registry).
SUPPLIER = "mpz"
#: A number in exponent form as Python and JavaScript write it (1e+30, 5.519e+04, 2.5E-07); a
#: hash (3e4f...) has no sign after its "e".
EXPONENT = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?[eE][-+]\d+(?!\w)")
#: Python's spelling of missing, true, false and not-a-number values, as whole words.
RAW_VALUE = re.compile(r"\b(None|True|False|nan|NaN|inf|-inf|Infinity)\b")


def visible_text(page: str) -> str:
    """The text a reader sees: no scripts or styles, tags dropped, entities read; attributes a
    reader also sees (title, placeholder, aria-label, value of options) kept."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    shown_attributes = re.findall(r'\s(?:title|placeholder|aria-label)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(" ".join([text, *shown_attributes]))


def problems_of(text: str) -> list[str]:
    found = []
    for pattern in (EXPONENT, RAW_VALUE):
        for match in pattern.finditer(text):
            start, end = max(0, match.start() - 40), match.end() + 40
            found.append(f"{match.group(0)!r} in …{' '.join(text[start:end].split())}…")
    return found


def test_the_scan_finds_what_it_looks_for():
    assert problems_of(visible_text("<td>5.519e+04</td>")) and problems_of("mean 2.5E-07 V")
    assert problems_of(visible_text("<span>None</span>")) and problems_of("True") and problems_of("x nan y")
    assert problems_of(visible_text('<input placeholder="None">'))
    # Not these: a hash, an id, a word that contains one of them, a script's JSON.
    assert not problems_of(visible_text("<span>3e4f09ab12e45</span> QT0001 Nonetheless inform"))
    assert not problems_of(visible_text('<script type="application/json">{"a": null, "b": 1e+30}</script>'))


@pytest.fixture(scope="module")
def scan_dir(tmp_path_factory, trace_data_dir) -> Path:  # noqa: F811
    copy = tmp_path_factory.mktemp("scan-lake") / "data"
    shutil.copytree(trace_data_dir, copy)
    write_gage_study(copy / "metrology")
    add_final_test(copy, tmp_path_factory.mktemp("scan-final-test"))  # a final-test lot: the unit page
    return copy


@pytest.fixture(scope="module")
def scan_client(scan_dir):
    with TestClient(create_app(scan_dir)) as client:
        yield signed_in(client)


@pytest.fixture(scope="module")
def samples(scan_client) -> dict[str, str]:
    """A value of each path parameter that names something in the lake."""

    def first(url: str, key: str) -> str:
        rows = scan_client.get(url).json()
        return next(row[key] for table in rows.values() if isinstance(table, list) for row in table
                    if isinstance(row, dict) and row.get(key))  # fmt: skip

    lots = scan_client.get("/api/overview").json()["lots"]
    lot = next(row["lot_id"] for row in lots if row["stage"] == "wafer_sort")
    final_lot = next(row["lot_id"] for row in lots if row["stage"] == "final_test")
    wafer = first(f"/api/lot/{lot}", "wafer_id")
    with lake.open(scan_client.app.state.dashboard.data_dir) as db:
        x, y = db.polars(
            "SELECT x, y FROM parts WHERE lot_id = $1 AND wafer_id = $2 LIMIT 1", [lot, wafer]
        ).row(0)
    return {
        "lot_id": lot,
        "wafer_id": wafer,
        "x": str(x),
        "y": str(y),
        "test_num": str(TEST),
        "cert_id": first("/api/certificates", "cert_id"),
        "part_number": first("/api/origin", "part_number"),
        "org_id": SUPPLIER,
        "name": STUDY,
        "part_id": first(f"/api/lot/{final_lot}", "part_id"),
        "unit_lot_id": final_lot,
    }


def page_urls(samples: dict[str, str]) -> list[tuple[str, str]]:
    """(declared path, a URL of it) of every declared page, and the pages reached by a query."""
    lot, test = samples["lot_id"], samples["test_num"]
    needs = {"/trace/recall": f"?suspect=lot:{lot}"}  # a recall needs a suspect (else 422)
    urls = []
    for page in PAGES:
        if page.path == "/compare":  # needs its two sides: below
            continue
        values = {**samples, "lot_id": samples["unit_lot_id"]} if "{part_id}" in page.path else samples
        url = re.sub(r"\{(\w+)\}", lambda m, values=values: values[m.group(1)], page.path)
        urls.append((page.path, url + needs.get(page.path, "")))
    urls += [
        ("/trace", f"/trace?direction=forward&kind=lot&name={lot}"),
        ("/search", f"/search?q={lot[:3]}"),
        ("/spc/test/{test_num}", f"/spc/test/{test}?chart=xbar-s&rules=nelson"),
        ("/lot/{lot_id}/report", f"/lot/{lot}/report"),
        ("/compare", f"/compare?a={lot}/{samples['wafer_id']}&b={lot}/{samples['wafer_id']}"),
        ("/lot/{lot_id}", f"/lot/{samples['unit_lot_id']}"),  # a final-test lot: its units table
        ("/account", "/account"),
    ]
    return urls


@pytest.mark.parametrize("language", ["en", "es"])
def test_no_page_shows_exponents_or_raw_python_values(scan_client, samples, language):
    supplier = scan_client.app.state.authority.store.issue_token(
        actor="tests", role="supplier", organisation=SUPPLIER
    )[1]
    failures = []
    for path, url in page_urls(samples):
        headers = {"Accept-Language": language}
        if path.startswith("/supplier/"):
            headers["Authorization"] = f"Bearer {supplier}"
        response = scan_client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
        failures += [f"{path} ({url}, {language}): {p}" for p in problems_of(visible_text(response.text))]
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_only_local_assets(scan_client, path):
    answer = scan_client.get(path)
    assert answer.status_code == 200
    referenced = re.findall(r'(?:src|href)="([^"]+)"', answer.text)
    referenced += re.findall(r"""(?:url|spec-url)\s*[:=(]\s*['"]([^'"]+)['"]""", answer.text)
    assert referenced, "the page loads its assets by URL"
    external = [u for u in referenced if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", u, re.I)]
    assert external == []
    for url in referenced:
        if url.startswith("/static/"):
            asset = scan_client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 10_000, url
    policy = answer.headers["content-security-policy"]
    assert "http" not in policy  # no other site allowed to serve scripts, styles or fonts


def test_the_lot_report_and_the_certificates_in_spanish(scan_client, samples):
    from silicio.origin.certificates import _pdf_lines

    report = scan_client.get(f"/lot/{samples['lot_id']}/report?lang=es").text
    assert '<html lang="es-MX">' in report and "<h2>Rendimiento por oblea</h2>" in report
    assert "<th>rendimiento a la primera</th>" in report
    english = scan_client.get(f"/lot/{samples['lot_id']}/report?lang=en").text
    assert '<html lang="en">' in english and "<h2>Yield per wafer</h2>" in english

    document = scan_client.app.state.trace_data.certificate_document(samples["cert_id"])
    spanish, plain = _pdf_lines(document, "es"), _pdf_lines(document)
    assert spanish[0] in ("CERTIFICADO DE CONFORMIDAD", "CERTIFICACIÓN DE ORIGEN (T-MEC)")
    assert plain[0] in ("CERTIFICATE OF CONFORMANCE", "CERTIFICATION OF ORIGIN (USMCA)")
    assert spanish[2].startswith(f"Certificado {document['certificate']['id']}    emitido ")
    assert spanish[3] == f"Emisor: {document['certificate']['issuer']}"
    assert spanish[5:] == plain[5:]  # the signed content itself is printed as signed
    pdf = scan_client.get(f"/certificates/{samples['cert_id']}/pdf?lang=es")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
