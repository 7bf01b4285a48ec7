"""A supplier's proposed changes: checked field by field with errors that name the field, and
applied (once approved) to that supplier's rows only."""

from __future__ import annotations

import polars as pl
import pytest

from silicio.supply import AccessDenied, Registry, RegistryError, SupplierView, demo_ecosystem
from silicio.supply.proposals import MAX_FILE_BYTES, apply_proposal, checked_proposal, file_type


@pytest.fixture(scope="module")
def registry() -> Registry:
    return demo_ecosystem(seed=0).registry


def _others(registry: Registry, table: str, org_id: str) -> pl.DataFrame:
    return getattr(registry, table).filter(pl.col("org_id") != org_id)


def test_a_capacity_changes_its_row_and_a_new_capability_is_added(registry):
    org = "mpz"
    row = registry.capabilities.filter(pl.col("org_id") == org).row(0, named=True)
    view = SupplierView(registry, org)
    payload = checked_proposal(view, "capacity", {"site_id": row["site_id"], "type": row["type"], "value": row["value"],
                                                  "capacity_per_week": "2.5", "unit": "kg"})  # fmt: skip
    after = apply_proposal(registry, org, "capacity", payload)
    mine = after.capabilities.filter((pl.col("org_id") == org) & (pl.col("value") == row["value"]))
    assert mine.select("capacity_per_week", "unit", "lead_time_weeks").rows() == [
        (2.5, "kg", row["lead_time_weeks"])
    ]
    assert after.capabilities.height == registry.capabilities.height
    new = checked_proposal(view, "lead_time", {"site_id": row["site_id"], "type": "material", "value": "Silver paste",
                                               "lead_time_weeks": 3})  # fmt: skip
    grown = apply_proposal(after, org, "lead_time", new)
    assert grown.capabilities.height == registry.capabilities.height + 1
    assert _others(grown, "capabilities", org).equals(_others(registry, "capabilities", org))


def test_survey_answers_set_employees_and_each_site_s_recovery_time(registry):
    org = "eeo"
    sites = registry.sites.filter(pl.col("org_id") == org)["site_id"].to_list()
    view = SupplierView(registry, org)
    payload = checked_proposal(view, "survey", {"employees": "260", f"ttr_weeks.{sites[0]}": "12"})
    assert payload == {"answers": {"employees": 260, f"ttr_weeks.{sites[0]}": 12.0}}
    after = apply_proposal(registry, org, "survey", payload)
    assert after.organisation(org)["employees"] == 260
    assert after.sites.filter(pl.col("site_id") == sites[0])["ttr_weeks"].to_list() == [12.0]
    assert _others(after, "sites", org).equals(_others(registry, "sites", org))


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("capacity", {"site_id": "GDL-ATP", "type": "process", "value": "x", "capacity_per_week": 1, "unit": "u"},
         "has no site 'GDL-ATP'"),
        ("lead_time", {"site_id": "{site}", "type": "process", "value": "x", "lead_time_weeks": "521"},
         "lead_time_weeks: expected a number from 0 to 520"),
        ("lead_time", {"site_id": "{site}", "type": "process", "value": "x", "lead_time_weeks": "nan"},
         "lead_time_weeks: expected a number"),
        ("lead_time", {"site_id": "{site}", "type": "robot", "value": "x", "lead_time_weeks": 1},
         "type: expected one of process, material, hs_code"),
        ("certification", {"standard": "ISO 9001", "issuer": "x", "certificate": "1", "issued": "2025-13-01",
                           "expires": "2026-01-01"}, "issued: expected a date YYYY-MM-DD"),
        ("certification", {"standard": "ISO 27001", "issuer": "x", "certificate": "1", "issued": "2025-01-01",
                           "expires": "2026-01-01"}, "standard: expected one of ISO 9001"),
        ("survey", {"employees": "12.5"}, "employees: expected a whole number"),
        ("survey", {"ttr_weeks.GDL-ATP": "3"}, "field 'ttr_weeks.GDL-ATP' is not part of survey changes"),
        ("survey", {}, "no survey answer"),
        ("organisation", {"kind": "idm"}, "field 'kind' is not part of organisation changes"),
        ("organisation", {"name": "Metales Preciosos de Zacatecas"}, "no change"),
        ("prices", {}, "kind of change 'prices'"),
    ],
)  # fmt: skip
def test_a_bad_proposal_names_its_field(registry, kind, fields, message):
    view = SupplierView(registry, "mpz")
    site = view.sites()["site_id"][0]
    fields = {k: (v.format(site=site) if isinstance(v, str) else v) for k, v in fields.items()}
    with pytest.raises((RegistryError, AccessDenied), match=message.replace("(", r"\(")):
        checked_proposal(view, kind, fields)


def test_certificate_files_are_told_by_their_content():
    assert file_type("a.pdf", b"%PDF-1.7\n...") == "application/pdf"
    assert file_type("a.bin", b"\x89PNG\r\n\x1a\n...") == "image/png"
    assert file_type("a.pdf", b"\xff\xd8\xff\xe0...") == "image/jpeg"
    for content, message in ((b"", "is empty"), (b"<html>%PDF-", "is not a PDF, PNG or JPEG"),
                             (b"%PDF-" + bytes(MAX_FILE_BYTES), f"at most {MAX_FILE_BYTES:,}")):  # fmt: skip
        with pytest.raises(RegistryError, match=message):
            file_type("a.pdf", content)
