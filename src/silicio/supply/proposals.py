"""Changes a supplier proposes to its own registry records, checked here and applied to the
registry only once the maker's reviewer approves them (the supplier portal,
:mod:`silicio.web.supplier_pages`, stores them pending in the meantime).

Kinds of proposal, and what an approved one changes (always through :class:`SupplierView`, so
only the proposing organisation's rows):

=============  ===================================================================================
organisation   the organisation's name, state and employees
capacity       a capability's ``capacity_per_week`` and ``unit`` (the row of that site, type and
               value; a new capability row when the site has none)
lead_time      a capability's ``lead_time_weeks`` (the same row, or a new one)
certification  the organisation's certification of that standard (and site): certificate number,
               issue and expiry dates; the issuer and the certificate's file stay with the proposal
survey         answers to :data:`SURVEY_QUESTIONS` (the demo's "Capacity and TTR survey"): the
               organisation's employees, each site's weeks to recover after a disruption
=============  ===================================================================================

A bad value raises :class:`~silicio.supply.registry.RegistryError` naming the field and what was
expected; a site of another organisation :class:`~silicio.supply.registry.AccessDenied`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from silicio.i18n import N_

from .registry import CAPABILITY_TYPES, CERTIFICATIONS, Registry, RegistryError, SupplierView

PROPOSAL_KINDS = ("organisation", "capacity", "lead_time", "certification", "survey")
#: The organisation fields a supplier changes (its kind, size class and country are the maker's to set).
ORGANISATION_FIELDS = ("name", "state", "employees")
#: The most characters a text field of a proposal may have.
MAX_TEXT_CHARS = 200
#: Above these a figure is a typing error, not a capacity or a lead time.
MAX_CAPACITY_PER_WEEK = 1e12
MAX_WEEKS = 520.0
MAX_EMPLOYEES = 10_000_000
#: The largest certificate file accepted (the server reads request bodies of at most 1 MiB).
MAX_FILE_BYTES = 900_000
#: Certificate files accepted, by the first bytes of their content (what they declare is not trusted).
FILE_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


@dataclass(frozen=True)
class SurveyQuestion:
    """One question of the supplier survey: its key, its text, whether it is asked per site, and
    the registry column (``table.column``) an approved answer sets."""

    key: str
    text: str
    per_site: bool
    column: str
    maximum: float
    whole: bool = False


#: The supplier survey (the registry's ``capacity_survey`` requests): the figures the supply
#: models take from the supplier itself.
SURVEY_QUESTIONS = (
    SurveyQuestion("employees", N_("How many people does your organisation employ?"), False,
                   "organisations.employees", MAX_EMPLOYEES, whole=True),
    SurveyQuestion("ttr_weeks", N_("Weeks this site needs to recover full output after a disruption"), True,
                   "sites.ttr_weeks", MAX_WEEKS),
)  # fmt: skip
_QUESTIONS = {q.key: q for q in SURVEY_QUESTIONS}


def file_type(name: str, content: bytes) -> str:
    """The media type of certificate file ``name`` by its content (PDF, PNG or JPEG), or
    RegistryError saying what is accepted."""
    if not content:
        raise RegistryError(
            f"certificate file {name!r} is empty: attach the certificate as a PDF or an image"
        )
    if len(content) > MAX_FILE_BYTES:
        raise RegistryError(f"certificate file {name!r} has {len(content):,} bytes; "
                            f"at most {MAX_FILE_BYTES:,} are accepted")  # fmt: skip
    for magic, media_type in FILE_SIGNATURES:
        if content.startswith(magic):
            return media_type
    raise RegistryError(f"certificate file {name!r} is not a PDF, PNG or JPEG (by its content): "
                        "attach the certificate as a PDF or an image")  # fmt: skip


def _text(fields: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RegistryError(f"{name}: required, expected text")
        return None
    if not isinstance(value, str):
        raise RegistryError(f"{name}: expected text, got {type(value).__name__}")
    value = value.strip()
    if len(value) > MAX_TEXT_CHARS or not value.isprintable():
        raise RegistryError(f"{name}: expected at most {MAX_TEXT_CHARS} printable characters")
    return value


def _number(fields: Mapping[str, Any], name: str, maximum: float, whole: bool = False) -> float | int:
    value = fields.get(name)
    expected = f"a {'whole ' if whole else ''}number from 0 to {maximum:,.0f}"
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        raise RegistryError(f"{name}: required, expected {expected}")
    text = str(value).strip()
    if len(text) > 40:  # no 5,000-digit number to parse
        raise RegistryError(f"{name}: expected {expected}, got {text[:40]!r}...")
    try:
        number = float(text) if not isinstance(value, int | float) else float(value)
    except ValueError:
        raise RegistryError(f"{name}: expected {expected}, got {text!r}") from None
    if not math.isfinite(number) or not 0 <= number <= maximum or (whole and not number.is_integer()):
        raise RegistryError(f"{name}: expected {expected}, got {text!r}")
    return int(number) if whole else number


def _date(fields: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = _text(fields, name, required)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise RegistryError(f"{name}: expected a date YYYY-MM-DD, got {value[:40]!r}") from None


def _capability_key(view: SupplierView, fields: Mapping[str, Any]) -> dict[str, str]:
    site_id = _text(fields, "site_id")
    view.site(site_id)  # AccessDenied: not a site of this organisation
    kind = _text(fields, "type")
    if kind not in CAPABILITY_TYPES:
        raise RegistryError(f"type: expected one of {', '.join(CAPABILITY_TYPES)}, got {kind[:40]!r}")
    return {"site_id": site_id, "type": kind, "value": _text(fields, "value")}


def checked_proposal(view: SupplierView, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a ``kind`` proposal of ``view``'s organisation from ``fields`` (form or JSON),
    each value checked; unknown fields are refused rather than dropped."""
    if kind not in PROPOSAL_KINDS:
        raise RegistryError(f"kind of change {kind[:40]!r}: expected one of {', '.join(PROPOSAL_KINDS)}")
    if kind == "organisation":
        known = ORGANISATION_FIELDS
        payload = {name: _text(fields, name) for name in ("name", "state") if name in fields}
        if "employees" in fields:
            payload["employees"] = _number(fields, "employees", MAX_EMPLOYEES, whole=True)
        current = view.organisation()
        payload = {name: value for name, value in payload.items() if value != current.get(name)}
        if not payload and not set(fields) - set(known):
            raise RegistryError(f"no change: {', '.join(ORGANISATION_FIELDS)} are as the registry has them")
    elif kind == "capacity":
        known = ("site_id", "type", "value", "capacity_per_week", "unit")
        payload = {**_capability_key(view, fields), "unit": _text(fields, "unit"),
                   "capacity_per_week": _number(fields, "capacity_per_week", MAX_CAPACITY_PER_WEEK)}  # fmt: skip
    elif kind == "lead_time":
        known = ("site_id", "type", "value", "lead_time_weeks")
        payload = {**_capability_key(view, fields),
                   "lead_time_weeks": _number(fields, "lead_time_weeks", MAX_WEEKS)}  # fmt: skip
    elif kind == "certification":
        known = ("standard", "issuer", "certificate", "issued", "expires", "site_id")
        standard = _text(fields, "standard")
        if standard not in CERTIFICATIONS:
            raise RegistryError(
                f"standard: expected one of {', '.join(CERTIFICATIONS)}, got {standard[:40]!r}"
            )
        site_id = _text(fields, "site_id", required=False)
        if site_id is not None:
            view.site(site_id)
        payload = {"standard": standard, "issuer": _text(fields, "issuer"),
                   "certificate": _text(fields, "certificate"), "issued": _date(fields, "issued", True),
                   "expires": _date(fields, "expires", True), "site_id": site_id}  # fmt: skip
        if payload["expires"] < payload["issued"]:
            raise RegistryError(f"expires: {payload['expires']} is before issued {payload['issued']}")
    else:
        known, payload = _survey_answers(view, fields)
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise RegistryError(f"field {str(unknown[0])[:40]!r} is not part of {kind} changes; "
                            f"expected: {', '.join(known) if known else 'the survey questions'}")  # fmt: skip
    return payload


def survey_fields(view: SupplierView) -> list[tuple[str, SurveyQuestion, str | None]]:
    """(field name, question, site id) of each answer the survey asks of ``view``'s organisation:
    ``employees``, ``ttr_weeks.SITE`` per site."""
    sites = view.sites()["site_id"].to_list()
    out = []
    for question in SURVEY_QUESTIONS:
        if question.per_site:
            out += [(f"{question.key}.{site}", question, site) for site in sites]
        else:
            out.append((question.key, question, None))
    return out


def _survey_answers(view: SupplierView, fields: Mapping[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    asked = {name: question for name, question, _ in survey_fields(view)}
    answers = {}
    for name, value in fields.items():
        question = asked.get(name)
        if question is None:
            continue  # refused as unknown by the caller
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # a question left blank is not answered
        answers[name] = _number(fields, name, question.maximum, question.whole)
    if not answers and not (set(fields) - set(asked)):
        raise RegistryError(f"no survey answer: answer at least one of {', '.join(asked)}")
    return tuple(asked), {"answers": answers}


def apply_proposal(registry: Registry, org_id: str, kind: str, payload: Mapping[str, Any]) -> Registry:
    """The registry with the approved ``kind`` proposal of ``org_id`` applied (checked again: the
    registry may have changed since it was proposed)."""
    view = SupplierView(registry, org_id)
    if kind == "organisation":
        return view.update("organisations", [{**view.organisation(), **payload}])
    if kind in ("capacity", "lead_time"):
        key = {k: payload[k] for k in ("site_id", "type", "value")}
        view.site(key["site_id"])
        changes = ({"capacity_per_week": payload["capacity_per_week"], "unit": payload["unit"]}
                   if kind == "capacity" else {"lead_time_weeks": payload["lead_time_weeks"]})  # fmt: skip
        rows, found = [], False
        for row in view.capabilities().iter_rows(named=True):
            if all(row[k] == v for k, v in key.items()):
                row, found = {**row, **changes}, True
            rows.append(row)
        if not found:
            rows.append({**key, **changes})
        return view.update("capabilities", rows)
    if kind == "certification":
        if payload.get("site_id") is not None:
            view.site(payload["site_id"])
        new = {k: payload[k] for k in ("standard", "certificate", "issued", "expires", "site_id")}
        rows = [row for row in view.certifications().iter_rows(named=True)
                if (row["standard"], row["site_id"]) != (new["standard"], new["site_id"])]  # fmt: skip
        return view.update("certifications", [*rows, new])
    if kind == "survey":
        answers = dict(payload["answers"])
        if "employees" in answers:
            registry = view.update(
                "organisations", [{**view.organisation(), "employees": answers.pop("employees")}]
            )
            view = SupplierView(registry, org_id)
        ttr = {
            name.split(".", 1)[1]: value for name, value in answers.items() if name.startswith("ttr_weeks.")
        }
        if ttr:
            sites = view.sites()
            missing = sorted(set(ttr) - set(sites["site_id"].to_list()))
            if missing:
                raise RegistryError(f"ttr_weeks: {org_id!r} has no site {missing[0]!r} any more")
            rows = [{**row, "ttr_weeks": ttr.get(row["site_id"], row["ttr_weeks"])}
                    for row in sites.iter_rows(named=True)]  # fmt: skip
            registry = view.update("sites", rows)
        return registry
    raise RegistryError(f"kind of change {kind!r}: expected one of {', '.join(PROPOSAL_KINDS)}")
