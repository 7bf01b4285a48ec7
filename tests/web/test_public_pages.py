"""The public transparency page: in both languages no registry key reaches it; its counts are
those computed here from the registry's rows (states, size classes from the employee strata of
DOF 30-06-2009, capabilities, kinds; groups under 3 pooled); its national content is the value
added in Mexico recomputed here from each product's cost roll-up; the CSV and JSON of each data
set hold the numbers the JSON twin and the HTML page show."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re

import polars as pl
import pytest
from fastapi.testclient import TestClient

from silicio import supply, trace
from silicio.datadir import DataDir
from silicio.i18n.formats import format_integer, format_share
from silicio.supply.transparency import size_class_by_employees
from silicio.trace.model import cost_rollup
from silicio.web import create_app
from silicio.web.publicdata import DATASETS, pooled_groups, transparency_page

from .test_trace_pages import trace_data_dir  # noqa: F401  (the fixture)

#: Registry keys and group names of the program, none of which the public may read.
INTERNAL_KEYS = ("hs_code:", "local_by_capability", "local_by_", "organisations_by_country", "atp_osat",
                 "customs_broker", "wafer_sort", "bump_dice", "final_test", "process:", "material:")  # fmt: skip
#: DOF 30-06-2009 (Acuerdo de estratificación de las MIPYMES), employees: micro 0-10 in every
#: sector; small 11-50 in industry and services; medium 51-250 in industry, 51-100 in services.
STRATA = {"industry": [(10, "micro"), (50, "small"), (250, "medium")],
          "services": [(10, "micro"), (50, "small"), (100, "medium")]}  # fmt: skip
SERVICE_KINDS = {"logistics", "customs_broker"}
K = 3
COUNT_SETS = ("by_state", "by_size", "by_capability", "by_kind")


def stratum(employees: int, kind: str) -> str:
    for ceiling, size in STRATA["services" if kind in SERVICE_KINDS else "industry"]:
        if employees <= ceiling:
            return size
    return "large"


@pytest.fixture(scope="module")
def public(trace_data_dir):  # noqa: F811
    """An anonymous visitor: the page is for everyone."""
    with TestClient(create_app(trace_data_dir)) as client:
        yield client


@pytest.fixture(scope="module")
def page(public) -> dict:
    answer = public.get("/api/transparency")
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


@pytest.fixture(scope="module")
def registry(trace_data_dir):  # noqa: F811
    return supply.read_json(DataDir(trace_data_dir).supplier_registry)


@pytest.fixture(scope="module")
def master(trace_data_dir):  # noqa: F811
    with trace.TraceStore.at(trace_data_dir) as store:
        return store.load_master_data()


def local_rows(registry) -> tuple[list[dict], list[dict]]:
    """(organisations with a site in Mexico, the Mexican sites), as plain rows."""
    sites = [s for s in registry.sites.to_dicts() if s["country"] == "MX"]
    ids = {s["org_id"] for s in sites}
    return [o for o in registry.organisations.to_dicts() if o["org_id"] in ids], sites


def expected_groups(members: dict) -> tuple[list[int], int | None]:
    """(the counts of the groups of 3 or more, sorted; the pool of the rest when it reaches 3)."""
    shown = sorted(len(orgs) for orgs in members.values() if len(orgs) >= K)
    pool = set().union(*(orgs for orgs in members.values() if len(orgs) < K))
    return shown, (len(pool) if len(pool) >= K else None)


def shown_groups(rows: list[dict]) -> tuple[list[int], int | None]:
    pooled = [r["organisations"] for r in rows if r["pooled"]]
    return sorted(r["organisations"] for r in rows if not r["pooled"]), (pooled[0] if pooled else None)


def test_no_internal_key_in_either_language(public):
    urls = ["/transparency?lang=en", "/transparency?lang=es", "/api/transparency"]
    urls += [f"/api/transparency/{name}.{kind}" for name in DATASETS for kind in ("csv", "json")]
    for url in urls:
        answer = public.get(url)
        assert answer.status_code == 200, (url, answer.text[:200])
        for key in INTERNAL_KEYS:
            assert key not in answer.text, (url, key)
    english, spanish = (visible(public.get(f"/transparency?lang={lang}").text) for lang in ("en", "es"))
    assert "Other inorganic acids" in english and "Los demás ácidos inorgánicos" in spanish
    assert "Other inorganic acids" not in spanish and "Final test of packaged devices" not in spanish
    assert "Cómo se calculan las cifras" in spanish and "How the figures are computed" in english


def visible(page: str) -> str:
    """The page's text a reader sees (the charts' data, both languages' labels, left out)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)))


def test_counts_by_state_are_the_registrys(page, registry):
    _, sites = local_rows(registry)
    members: dict = {}
    for s in sites:
        members.setdefault(s["state"], set()).add(s["org_id"])
    assert shown_groups(page["by_state"]) == expected_groups(members)
    named = {r["name"]: r["organisations"] for r in page["by_state"] if not r["pooled"]}
    assert named == {state: len(orgs) for state, orgs in members.items() if len(orgs) >= K}
    small = [state for state, orgs in members.items() if len(orgs) < K]
    assert page["left_out"].get("by_state", 0) == (len(small) if expected_groups(members)[1] is None else 0)


def test_counts_by_size_follow_the_employee_strata(page, registry):
    orgs, _ = local_rows(registry)
    assert all(o["employees"] is not None for o in orgs), "the demo registry gives every employee count"
    members: dict = {}
    for o in orgs:
        members.setdefault(stratum(o["employees"], o["kind"]), set()).add(o["org_id"])
    named = {r["size_class"]: r["organisations"] for r in page["by_size"] if not r["pooled"]}
    assert named == {size: len(ids) for size, ids in members.items() if len(ids) >= K}
    assert [r["size_class"] for r in page["by_size"] if not r["pooled"]] == [
        s for s in ("micro", "small", "medium", "large") if s in named
    ]
    assert shown_groups(page["by_size"]) == expected_groups(members)
    # The sector matters: a logistics company of 180 employees is medium in industry, large in services.
    carriers = [o for o in orgs if o["kind"] == "logistics" and 100 < o["employees"] <= 250]
    assert carriers and all(stratum(o["employees"], o["kind"]) == "large" for o in carriers)
    msmes = sum(1 for o in orgs if stratum(o["employees"], o["kind"]) != "large")
    assert page["local_msmes"] == msmes and page["local_organisations"] == len(orgs)
    assert page["organisations"] == registry.organisations.height


def test_counts_by_capability_and_kind_are_the_registrys(page, registry):
    orgs, sites = local_rows(registry)
    local_sites = {s["site_id"] for s in sites}
    members: dict = {}
    for c in registry.capabilities.to_dicts():
        if c["site_id"] not in local_sites:
            continue
        code = c["hs_code"] or (c["value"] if c["type"] == "hs_code" else None)
        group = (
            ("process", c["value"]) if c["type"] == "process" else ("hs", code[:7]) if code else c["value"]
        )
        members.setdefault(group, set()).add(c["org_id"])
    assert shown_groups(page["by_capability"]) == expected_groups(members)
    by_code = {r["hs_subheading"]: r["organisations"] for r in page["by_capability"] if r["hs_subheading"]}
    assert by_code == {g[1]: len(ids) for g, ids in members.items() if g[0] == "hs" and len(ids) >= K}
    assert by_code["2811.19"] == 3
    row = next(r for r in page["by_capability"] if r["hs_subheading"] == "2811.19")
    assert (row["name"], row["name_es"]) == ("Other inorganic acids", "Los demás ácidos inorgánicos")
    kinds: dict = {}
    for o in orgs:
        kinds.setdefault(o["kind"], set()).add(o["org_id"])
    assert shown_groups(page["by_kind"]) == expected_groups(kinds)


def test_national_content_is_the_value_added_in_mexico(page, master, trace_data_dir):  # noqa: F811
    plan = json.loads(DataDir(trace_data_dir).supply_plan.read_text())
    rows = {r["part_number"]: r for r in page["national_content"]}
    assert sorted(rows) == sorted(plan["demand"])
    for pn, row in rows.items():
        product = master.product(pn)
        lines = cost_rollup(product, master.sites)
        total = sum(line.per_unit for line in lines)
        mexican = sum(line.per_unit for line in lines if line.country == "MX")
        assert row["national_content_pct"] == round(100 * mexican / total, 1), pn
        transforming = [s for s in product.routing if s.substantial_transformation]
        last_in_mexico = master.sites[transforming[-1].site].country == "MX"
        assert row["hecho_en_mexico"] == (100 * mexican / total >= 50.0 and last_in_mexico), pn
        assert row["hecho_en_mexico_min_pct"] == 50.0
    assert {r["hecho_en_mexico"] for r in rows.values()} == {True, False}, "the demo has both verdicts"


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_each_csv_equals_its_json_and_the_twin(public, page):
    for name in DATASETS:
        table = list(csv.reader(io.StringIO(public.get(f"/api/transparency/{name}.csv").text)))
        document = public.get(f"/api/transparency/{name}.json").json()
        assert table[0] == document["columns"], name
        assert table[1:] == [[_csv_text(row[c]) for c in document["columns"]] for row in document["rows"]], (
            name
        )
        assert document["rows"] == [{c: row[c] for c in document["columns"]} for row in page[name]], name
        assert document["licence"] == page["licence"] and "CC BY 4.0" in document["licence"]
        assert document["as_of"] == page["as_of"]
    assert public.get("/api/transparency/suppliers.json").status_code == 404


def test_the_dictionary_describes_every_column(public, page):
    described = {(r["dataset"], r["column"]) for r in page["dictionary"]}
    for name in DATASETS:
        columns = public.get(f"/api/transparency/{name}.json").json()["columns"]
        assert {(name, c) for c in columns} <= described, name
    assert all(
        r["meaning"] and r["meaning_es"] and r["meaning"] != r["meaning_es"] for r in page["dictionary"]
    )


def _cells(text: str, table: str, column: str) -> list[str]:
    body = re.search(rf'<table data-table="{table}">(.*?)</table>', text, re.S).group(1)
    return [html.unescape(c) for c in re.findall(rf'data-column="{column}">([^<]*)<', body)]


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_number_shown_is_the_twins(public, page, language):
    text = public.get(f"/transparency?lang={language}").text
    for key in ("organisations", "local_organisations", "local_msmes"):
        assert f'data-stat="{key}">{format_integer(page[key], language)}<' in text, key
    for row in page["national_content"]:
        assert (
            f'data-stat="nc_{row["part_number"]}">{format_share(row["national_content_pct"], 1, language)}<'
            in text
        )
    for name in COUNT_SETS:
        assert _cells(text, name, "organisations") == [
            format_integer(r["organisations"], language) for r in page[name]
        ]
    assert _cells(text, "national_content", "national_content_pct") == [
        format_share(r["national_content_pct"], 1, language) for r in page["national_content"]
    ]
    assert 'src="/static/plotly.min.js"' in text and 'src="/static/transparency.js"' in text
    assert "cdn" not in text.lower()
    # The charts draw from this: the twin itself.
    data = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', text, re.S).group(1)
    assert json.loads(html.unescape(data)) == page


def test_a_pool_is_shown_from_three_and_left_out_below():
    def describe(group):
        return {"name": group, "name_es": group}

    rows, left_out = pooled_groups([("a", "1"), ("a", "2"), ("a", "3"), ("a", "3"), ("b", "4"), ("c", "5"), ("c", "6")],
                                   describe, "other")  # fmt: skip
    assert [(r["name"], r["organisations"], r.get("pooled", False)) for r in rows] == [
        ("a", 3, False),
        ("other", 3, True),
    ]
    assert left_out == 0
    rows, left_out = pooled_groups(
        [("a", "1"), ("a", "2"), ("a", "3"), ("b", "4"), ("c", "4")], describe, "other"
    )
    assert [r["name"] for r in rows] == ["a"] and left_out == 2


@pytest.mark.parametrize(
    ("employees", "kind", "size"),
    [(0, "materials", "micro"), (10, "materials", "micro"), (11, "materials", "small"), (50, "idm", "small"),
     (51, "idm", "medium"), (250, "atp_osat", "medium"), (251, "atp_osat", "large"), (100, "logistics", "medium"),
     (101, "logistics", "large"), (51, "customs_broker", "medium"), (11, "customs_broker", "small")],
)  # fmt: skip
def test_size_class_by_employees_follows_the_dof_strata(employees, kind, size):
    assert size_class_by_employees(employees, kind) == size == stratum(employees, kind)


def test_an_organisation_without_employees_keeps_its_declared_size(registry, master, trace_data_dir):  # noqa: F811
    plan = json.loads(DataDir(trace_data_dir).supply_plan.read_text())
    plan = {**plan, "as_of": dt.date.fromisoformat(plan["as_of"])}
    unknown = "transportes-bajio"  # 180 employees in logistics: large by employees, medium as declared
    organisations = registry.organisations.with_columns(
        employees=pl.when(pl.col("org_id") == unknown).then(None).otherwise(pl.col("employees"))
    )
    changed = supply.Registry(organisations=organisations, sites=registry.sites,
                              capabilities=registry.capabilities, certifications=registry.certifications,
                              requests=registry.requests)  # fmt: skip
    before = transparency_page(registry, master, plan)
    after = transparency_page(changed, master, plan)
    assert after.sized_by_declaration == 1 and before.sized_by_declaration == 0
    assert after.local_msmes == before.local_msmes + 1
    medium = {r.size_class: r.organisations for r in after.by_size}["medium"]
    assert medium == {r.size_class: r.organisations for r in before.by_size}["medium"] + 1
