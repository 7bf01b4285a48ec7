"""Origin and national content: value added in Mexico, USMCA regional value content and origin,
the 'Hecho en México' criteria, and signed certificates of conformance and origin.

>>> from silicio import origin, trace
>>> md = trace.demo_master_data()
>>> origin.origin_report(md.product("SLC-TV100"), md.sites)["usmca"]["originating"]

Modules: :mod:`.rules` (rule sets as TOML data), :mod:`.content` (national content, RVC, de
minimis, tariff shift, origin), :mod:`.certificates` (JSON + PDF, Ed25519 signatures, keys).
"""

from .certificates import (
    ANNEX_5A_ELEMENTS,
    CertificateError,
    Verification,
    conformance_content,
    generate_keys,
    issue,
    load_private_key,
    load_public_key,
    origin_content,
    render_pdf,
    sign,
    verify,
)
from .content import (
    HechoEnMexico,
    NationalContent,
    OriginDetermination,
    OriginError,
    hecho_en_mexico,
    national_content,
    national_content_of,
    origin_report,
    rvc_net_cost,
    rvc_transaction_value,
    usmca_origin,
    within_de_minimis,
)
from .rules import (
    HechoEnMexicoRules,
    RuleError,
    UsmcaRules,
    in_range,
    load_hecho_en_mexico_rules,
    load_usmca_rules,
)

__all__ = [
    "ANNEX_5A_ELEMENTS",
    "CertificateError",
    "Verification",
    "conformance_content",
    "generate_keys",
    "issue",
    "load_private_key",
    "load_public_key",
    "origin_content",
    "render_pdf",
    "sign",
    "verify",
    "HechoEnMexico",
    "HechoEnMexicoRules",
    "NationalContent",
    "OriginDetermination",
    "OriginError",
    "RuleError",
    "UsmcaRules",
    "hecho_en_mexico",
    "in_range",
    "load_hecho_en_mexico_rules",
    "load_usmca_rules",
    "national_content",
    "national_content_of",
    "origin_report",
    "rvc_net_cost",
    "rvc_transaction_value",
    "usmca_origin",
    "within_de_minimis",
]
