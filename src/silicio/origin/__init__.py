"""Origin and national content: value added in Mexico, USMCA regional value content and origin,
the 'Hecho en México' criteria, and signed certificates of conformance and origin.

>>> from silicio import origin, trace
>>> md = trace.demo_master_data()
>>> origin.origin_report(md.product("SLC-TV100"), md.sites)["usmca"]["originating"]

Modules: :mod:`.rules` (rule sets as TOML data), :mod:`.content` (national content, RVC, de
minimis, tariff shift, origin), :mod:`.schema` (what a certificate may say), :mod:`.keyring`
(signing keys, rotation), :mod:`.revocation` (the signed revocation list), :mod:`.certificates`
(JSON + PDF, Ed25519 signatures, verification).
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
    qr_text,
    render_pdf,
    sign,
    verify,
    verify_bytes,
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
from .keyring import Keyring
from .revocation import RevocationList, load_revocations, revoke
from .rules import (
    HechoEnMexicoRules,
    RuleError,
    UsmcaRules,
    in_range,
    load_hecho_en_mexico_rules,
    load_usmca_rules,
)
from .schema import parse_document

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
    "qr_text",
    "render_pdf",
    "sign",
    "verify",
    "verify_bytes",
    "Keyring",
    "RevocationList",
    "load_revocations",
    "parse_document",
    "revoke",
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
