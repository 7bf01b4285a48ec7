"""The public transparency page's model (``/transparency`` and its JSON twin): headline figures of
the supplier ecosystem, one table per chart (each also a CSV and a JSON file, the numbers the page
shows), national content per product, and the data dictionary of the open data.

Every label is given in English (``name``) and Mexican Spanish (``name_es``): the page shows the
reader's, the open data files carry both.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from .models import Row, integer, number, text


class GroupCount(Row):
    """Organisations in one group of a chart; ``pooled``: the row pools the groups of fewer than
    three organisations (k-anonymity, k = 3)."""

    name: str = text("Name")
    name_es: str = text("Name in Spanish")
    organisations: int = integer("Organisations")
    pooled: bool = text("Pooled small groups", False)


class StateCount(GroupCount):
    """Organisations with a site in a Mexican state."""


class SizeCount(GroupCount):
    """Local organisations of one size class (DOF 30-06-2009 employee strata)."""

    size_class: str | None = text("Size class", None)


class CapabilityCount(GroupCount):
    """Local organisations offering a capability: a process step, or goods of an HS subheading."""

    hs_subheading: str | None = text("HS subheading", None)


class KindCount(GroupCount):
    """Local organisations of one kind (device maker, foundry, assembly and test, materials...)."""


class ProductContent(Row):
    """A product's national content (silicio.origin) and the rules it is judged by."""

    part_number: str = text("Product")
    description: str | None = text("Description", None)
    hs_subheading: str = text("HS subheading")
    national_content_pct: float = number("National content (%)")
    hecho_en_mexico_min_pct: float = number("Hecho en México minimum (%)")
    hecho_en_mexico: bool = text("Hecho en México")
    usmca_rule: str = text("USMCA rule")
    usmca_rvc_pct: float | None = number("USMCA RVC, transaction value (%)", None)
    usmca_originating: bool | None = text("USMCA originating", None)


class DictionaryEntry(Row):
    """One column of one open data file: what it holds, in English and Spanish."""

    dataset: str = text("Data set")
    column: str = text("Column")
    kind: str = text("Type")
    meaning: str = text("Meaning")
    meaning_es: str = text("Meaning in Spanish")


class TransparencyPage(BaseModel):
    """Public figures of the supplier ecosystem: counts of organisations (never a company's own
    figures, never a group of fewer than three) and the national content of each product."""

    home_country: str
    as_of: str = Field(description="the date certifications and the registry are read on (ISO 8601)")
    organisations: int | None = Field(description="organisations in the registry; None when fewer than 3")
    local_organisations: int | None = Field(
        description="with a site in the home country; None when fewer than 3"
    )
    local_msmes: int | None = Field(
        description="local micro, small and medium companies; None when fewer than 3"
    )
    sized_by_declaration: int = Field(
        0, description="local organisations without an employee count, classed by their declared size"
    )
    by_state: list[StateCount]
    by_size: list[SizeCount]
    by_capability: list[CapabilityCount]
    by_kind: list[KindCount]
    national_content: list[ProductContent]
    dictionary: list[DictionaryEntry]
    left_out: dict[str, int] = Field(
        default_factory=dict, description="per data set, groups of fewer than 3 whose pool was under 3 too"
    )
    licence: str
    licence_url: str
