"""Registry tables, CSV/JSON round trips, clear errors, and role separation at the Python API."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from silicio.supply import (
    CONFIDENTIAL_COLUMNS,
    AccessDenied,
    Registry,
    RegistryError,
    SupplierView,
    demo_ecosystem,
    read_csv_dir,
    read_json,
    visible_to,
    write_csv_dir,
    write_json,
)
from silicio.supply.registry import SCHEMAS, TABLES, table_from_rows


@pytest.fixture(scope="module")
def registry() -> Registry:
    return demo_ecosystem(seed=0).registry


def orgs(registry: Registry) -> list[str]:
    return registry.organisations["org_id"].to_list()


# -- import and export ----------------------------------------------------------------------------


def test_csv_and_json_round_trips(registry, tmp_path):
    back_csv = read_csv_dir(tmp_path / "csv") if write_csv_dir(registry, tmp_path / "csv") else None
    back_json = read_json(write_json(registry, tmp_path / "registry.json"))
    for back in (back_csv, back_json):
        for name in TABLES:
            assert getattr(back, name).equals(getattr(registry, name)), name


def test_missing_column_names_file_and_column(tmp_path):
    (tmp_path / "organisations.csv").write_text("org_id,name,kind,country\nx,X Co,materials,MX\n")
    with pytest.raises(RegistryError, match=r"organisations\.csv: missing column 'size_class'"):
        read_csv_dir(tmp_path)


def test_bad_value_names_file_row_and_column(tmp_path):
    (tmp_path / "organisations.csv").write_text(
        "org_id,name,kind,size_class,country\nx,X Co,materials,small,MX\ny,Y Co,materials,small,Mexico\n"
    )
    with pytest.raises(
        RegistryError, match=r"organisations\.csv, row 3: column 'country' expected an ISO 3166"
    ):
        read_csv_dir(tmp_path)


@pytest.mark.parametrize(
    ("table", "row", "message"),
    [
        (
            "sites",
            {"site_id": "S", "org_id": "x", "country": "MX", "latitude": "north"},
            "column 'latitude' expected a number",
        ),
        ("sites", {"site_id": "S", "org_id": "x", "country": "MX", "latitude": 95}, "latitude in"),
        (
            "capabilities",
            {"org_id": "x", "site_id": "S", "type": "magic", "value": "v"},
            "column 'type' expected one of",
        ),
        (
            "capabilities",
            {"org_id": "x", "site_id": "S", "type": "process", "value": "fab", "capacity_per_week": -1},
            "non-negative",
        ),
        (
            "capabilities",
            {"org_id": "x", "site_id": "S", "type": "hs_code", "value": "v", "hs_code": "85.42"},
            "HS code",
        ),
        (
            "certifications",
            {"org_id": "x", "standard": "ISO 9001", "expires": "next year"},
            "a date YYYY-MM-DD",
        ),
        (
            "certifications",
            {"org_id": "x", "standard": "ISO 9002", "expires": "2026-01-01"},
            "column 'standard'",
        ),
        ("certifications", {"org_id": "x", "standard": "ISO 9001"}, "column 'expires' is required"),
        (
            "organisations",
            {
                "org_id": "x",
                "name": "X",
                "kind": "idm",
                "size_class": "small",
                "country": "MX",
                "colour": "red",
            },
            "unknown column 'colour'",
        ),
        (
            "requests",
            {"request_id": "R", "from_org": "x", "to_org": "y", "kind": "rfq", "status": "lost"},
            "column 'status'",
        ),
    ],
)
def test_bad_rows(table, row, message):
    with pytest.raises(RegistryError, match=message) as exc:
        table_from_rows(table, [row], source=f"{table}.json")
    assert f"{table}.json, row 1" in str(exc.value)


def test_references_and_keys(registry):
    tables = registry.tables()
    dup = tables["organisations"].head(1)
    with pytest.raises(RegistryError, match="org_id 'silicio' appears more than once"):
        Registry(**{**tables, "organisations": pl.concat([tables["organisations"], dup])})
    orphan = (
        tables["sites"].head(1).with_columns(pl.lit("nobody").alias("org_id"), pl.lit("X-1").alias("site_id"))
    )
    with pytest.raises(RegistryError, match="org_id 'nobody' is not in organisations"):
        Registry(**{**tables, "sites": pl.concat([tables["sites"], orphan])})
    wrong_site = tables["capabilities"].head(1).with_columns(pl.lit("PEN-OSAT").alias("site_id"))
    with pytest.raises(RegistryError, match="site_id 'PEN-OSAT' is not a site of"):
        Registry(**{**tables, "capabilities": pl.concat([tables["capabilities"], wrong_site])})


def test_json_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RegistryError, match="bad.json: not valid JSON"):
        read_json(bad)
    bad.write_text(json.dumps({"suppliers": []}))
    with pytest.raises(RegistryError, match="unknown table 'suppliers'"):
        read_json(bad)
    bad.write_text(json.dumps({"organisations": [{"org_id": "x"}]}))
    with pytest.raises(RegistryError, match=r"bad.json: organisations, row 1: column 'name' is required"):
        read_json(bad)
    with pytest.raises(RegistryError, match="no such directory"):
        read_csv_dir(tmp_path / "absent")


# -- role separation ------------------------------------------------------------------------------

ACCESSORS = ("sites", "capabilities", "certifications", "requests")


def test_every_accessor_returns_only_own_records(registry):
    for org in orgs(registry):
        view = SupplierView(registry, org)
        assert view.organisation()["org_id"] == org
        for name in ("sites", "capabilities", "certifications"):
            table = getattr(view, name)()
            assert set(table["org_id"].to_list()) <= {org}
            # ... and all of them: what the registry holds for this org.
            assert table.height == getattr(registry, name).filter(pl.col("org_id") == org).height
        assert set(view.requests()["to_org"].to_list()) <= {org}
        for name, table in view.tables().items():
            key = "to_org" if name == "requests" else "org_id"
            assert set(table[key].to_list()) <= {org}, name


def test_no_accessor_reaches_another_supplier(registry):
    view = SupplierView(registry, "etq")
    for other in orgs(registry):
        if other == "etq":
            continue
        with pytest.raises(AccessDenied):
            view.organisation(other)
        for name in ACCESSORS:
            with pytest.raises(AccessDenied):
                getattr(view, name)(other)
    for site in registry.sites.filter(pl.col("org_id") != "etq")["site_id"].to_list():
        with pytest.raises(AccessDenied):
            view.site(site)
    for req in registry.requests.filter(pl.col("to_org") != "etq")["request_id"].to_list():
        with pytest.raises(AccessDenied):
            view.request(req)
        with pytest.raises(AccessDenied):
            view.answer(req)
    # An id that exists nowhere gets the same answer as another's: nothing to probe with.
    with pytest.raises(AccessDenied, match="has no site"):
        view.site("NO-SUCH-SITE")
    assert view.request("CAR-2025-005")["subject"].startswith("Cover tape")


def test_requests_sent_by_a_supplier_are_not_shown_to_it(registry):
    # eeo sent RFQ-2025-008 to peliculas-bc: only the addressee sees it.
    assert "RFQ-2025-008" not in SupplierView(registry, "eeo").requests()["request_id"].to_list()
    assert "RFQ-2025-008" in SupplierView(registry, "peliculas-bc").requests()["request_id"].to_list()


def test_supplier_updates_only_its_own_records(registry):
    view = SupplierView(registry, "troquelados-nl")
    new = view.update(
        "capabilities",
        [
            {
                "site_id": "TROQUELADOS-NL-1",
                "type": "hs_code",
                "value": "8542.90",
                "hs_code": "8542.90",
                "capacity_per_week": 90_000.0,
                "lead_time_weeks": 3.0,
            }
        ],
    )
    caps = new.capabilities.filter(pl.col("org_id") == "troquelados-nl")
    assert caps["capacity_per_week"].to_list() == [90_000.0]
    # Other suppliers' rows are untouched.
    assert new.capabilities.filter(pl.col("org_id") != "troquelados-nl").equals(
        registry.capabilities.filter(pl.col("org_id") != "troquelados-nl")
    )
    with pytest.raises(AccessDenied, match="may not write records of 'etq'"):
        view.update(
            "capabilities", [{"org_id": "etq", "site_id": "ETQ-1", "type": "process", "value": "pack"}]
        )
    with pytest.raises(AccessDenied, match="belongs to another organisation"):
        view.update("sites", [{"site_id": "ETQ-1", "country": "MX"}])
    with pytest.raises(RegistryError, match="is not a site of 'troquelados-nl'"):
        view.update("certifications", [{"site_id": "ETQ-1", "standard": "ISO 9001", "expires": "2027-01-01"}])
    with pytest.raises(AccessDenied, match="may not edit 'requests'"):
        view.update("requests", [])
    answered = view.answer("RFQ-2025-001")
    assert answered.requests.filter(pl.col("request_id") == "RFQ-2025-001")["status"][0] == "answered"


def test_roles(registry):
    assert visible_to(registry, "analyst") is registry
    view = visible_to(registry, "supplier", "mpz")
    assert isinstance(view, SupplierView) and view.org_id == "mpz"
    with pytest.raises(AccessDenied, match="needs its org_id"):
        visible_to(registry, "supplier")
    with pytest.raises(AccessDenied, match="no organisation 'ghost'"):
        visible_to(registry, "supplier", "ghost")
    with pytest.raises(AccessDenied, match="unknown role"):
        visible_to(registry, "admin", "mpz")


def test_public_view_has_no_confidential_numbers(registry):
    eco = demo_ecosystem(seed=0)
    summary = visible_to(registry, "public")
    text = json.dumps(summary, ensure_ascii=False, default=str)
    for column in CONFIDENTIAL_COLUMNS:
        assert column not in text
    for name in registry.organisations["name"].to_list():  # no company named, let alone its figures
        assert name not in text
    for value in registry.capabilities["capacity_per_week"].drop_nulls().to_list():
        assert f"{value}" not in text
    assert summary["organisations"] == registry.organisations.height
    assert sum(summary["local_by_size_class"].values()) == summary["local_organisations"]
    from silicio.supply import public_summary

    full = public_summary(eco.registry, eco.master, eco.demand, as_of=dt.date(2025, 6, 30))
    assert set(full["national_content_pct"]) == set(eco.demand)


def test_schema_columns_documented():
    # Every confidential column is a registry column (so the public test above checks real names).
    columns = {c for schema in SCHEMAS.values() for c in schema}
    assert set(CONFIDENTIAL_COLUMNS) <= columns
