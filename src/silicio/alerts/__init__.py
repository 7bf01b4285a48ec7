"""Alerts: rules on the stream of ingested data, sent to the people who act on them.

Each rule is a plugin (:class:`AlertRule`) registered in the entry-point group
``silicio.alert_rules`` (:mod:`.registry`; silicio's own in :mod:`.rules`: yield below SYL, bin
above SBL, PAT outlier rate, SPC run rule on a lot or wafer yield, a new wafer-map signature, a
quarantined file, a test site drifting). A TOML file (:mod:`.config`; the format in the example
shipped with the package, :func:`example_path`) configures them: thresholds, severity, quiet
period, recipients. They are evaluated at ingest (``silicio ingest --alerts FILE``, or the data
directory's ``alerts.toml``; a test program without stored lot-history limits gets its first
version there, :meth:`AlertContext.establish_limits`), deduplicated and stored in the catalog (:mod:`.engine`), and sent to
the dashboard inbox, webhooks (HMAC-signed JSON) and e-mail (:mod:`.channels`). Scheduled
reports (:mod:`.reports`) go through the same channels.
"""

from __future__ import annotations

from .base import AlertContext, AlertRule, Finding, QuarantinedFile
from .config import AlertConfig, AlertConfigError, example_path, load_config, loads_config
from .engine import Evaluation, context_of_ingest, evaluate, open_lake
from .ingested import KEPT_AT_INGEST
from .registry import BUILTIN_RULES, ENTRY_POINT_GROUP, registered_rules

__all__ = [
    "BUILTIN_RULES",
    "ENTRY_POINT_GROUP",
    "KEPT_AT_INGEST",
    "AlertConfig",
    "AlertConfigError",
    "AlertContext",
    "AlertRule",
    "Evaluation",
    "Finding",
    "QuarantinedFile",
    "context_of_ingest",
    "evaluate",
    "example_path",
    "load_config",
    "loads_config",
    "open_lake",
    "registered_rules",
]
