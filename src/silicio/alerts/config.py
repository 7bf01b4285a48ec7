"""The alert rules file (TOML, read with :mod:`tomllib`): rules with their thresholds and
recipients, the channels they are sent through, and the recipients of the scheduled reports.
The format is documented in the package's ``alerts.example.toml`` (:func:`example_path`), which
is also a valid file, and in README.md ("Alerts").

Every mistake is an :class:`AlertConfigError` naming the file and the key, never a default taken
silently.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from .base import AlertRule

__all__ = ["AlertConfig", "AlertConfigError", "Recipients", "RuleConfig", "SmtpChannel", "WebhookChannel",
           "example_path", "load_config", "loads_config", "parse_duration"]  # fmt: skip

SEVERITIES = ("info", "minor", "major", "critical")
#: The quiet period when the file names none: an alert about the same thing is not repeated
#: within a shift (8 hours), the time a line usually needs to act on it.
DEFAULT_QUIET = timedelta(hours=8)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class AlertConfigError(ValueError):
    """A rules file that cannot be used; the message names the file and the key."""


def example_path() -> Path:
    """The example rules file shipped with silicio (documents the format)."""
    return Path(str(resources.files("silicio.alerts") / "alerts.example.toml"))


def parse_duration(value: Any, where: str) -> timedelta:
    """``"30m"``, ``"8h"``, ``"2d"``, ``"1w"`` or a number of seconds (>= 0)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise AlertConfigError(
            f'{where}: expected a duration like "30m", "8h", "2d" or seconds, got {value!r}'
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class Recipients:
    """Who hears of an alert: dashboard inboxes (users, and every user of a role), e-mail
    addresses and the named webhooks of the file."""

    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {"users": list(self.users), "roles": list(self.roles), "emails": list(self.emails),
                "webhooks": list(self.webhooks)}  # fmt: skip


@dataclass(frozen=True)
class WebhookChannel:
    """A webhook: JSON POSTed to ``url``, the body's HMAC-SHA256 under the secret in environment
    variable ``secret_env`` in header X-Silicio-Signature; ``attempts`` tries, waiting
    ``backoff_s``, then twice that, ... between them."""

    name: str
    url: str
    secret_env: str
    attempts: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 10.0

    def secret(self) -> bytes:
        value = os.environ.get(self.secret_env)
        if not value:
            raise AlertConfigError(f"webhook {self.name}: environment variable {self.secret_env} (its HMAC "
                                   "secret) is not set")  # fmt: skip
        return value.encode()


@dataclass(frozen=True)
class SmtpChannel:
    """The SMTP server e-mail goes through."""

    host: str
    port: int = 25
    sender: str = "silicio@localhost"
    starttls: bool = False
    username: str = ""
    password_env: str = ""
    timeout_s: float = 10.0
    attempts: int = 3
    backoff_s: float = 1.0


@dataclass(frozen=True)
class RuleConfig:
    """One configured rule: its unique ``name``, the registered ``kind``, its parameters (the
    rule's defaults with the file's values), severity, quiet period and recipients."""

    name: str
    kind: str
    params: dict[str, Any]
    severity: str
    quiet_period: timedelta
    recipients: Recipients
    rule: AlertRule = field(repr=False, compare=False)


@dataclass(frozen=True)
class AlertConfig:
    source: str
    rules: tuple[RuleConfig, ...]
    webhooks: dict[str, WebhookChannel]
    smtp: SmtpChannel | None
    reports: Recipients
    quiet_period: timedelta = DEFAULT_QUIET


def load_config(path: str | os.PathLike[str]) -> AlertConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AlertConfigError(f"{path}: no such alert rules file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertConfigError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    return loads_config(text, str(path))


def loads_config(text: str, source: str = "<alert rules>") -> AlertConfig:
    from .registry import registered_rules

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertConfigError(f"{source}: not valid TOML: {exc}") from None
    _only(doc, {"alerts", "smtp", "webhooks", "rule", "reports"}, source, "the top level")
    settings = _table(doc, "alerts", source)
    _only(settings, {"quiet_period"}, source, "[alerts]")
    quiet = parse_duration(settings["quiet_period"], f"{source}: [alerts] quiet_period") if "quiet_period" in settings else DEFAULT_QUIET  # fmt: skip

    webhooks = {}
    for name, table in _table(doc, "webhooks", source).items():
        where = f"{source}: [webhooks.{name}]"
        if not isinstance(table, dict):
            raise AlertConfigError(f"{where}: expected a table with url and secret_env")
        _only(
            table, {"url", "secret_env", "attempts", "backoff_s", "timeout_s"}, source, f"[webhooks.{name}]"
        )
        url = _text(table, "url", where)
        if not url.startswith(("http://", "https://")):
            raise AlertConfigError(f"{where}: url must start with http:// or https://, got {url!r}")
        webhooks[name] = WebhookChannel(name, url, _text(table, "secret_env", where),
                                        attempts=_int(table, "attempts", where, 4, 1),
                                        backoff_s=_number(table, "backoff_s", where, 1.0),
                                        timeout_s=_number(table, "timeout_s", where, 10.0))  # fmt: skip

    smtp = None
    if "smtp" in doc:
        table, where = _table(doc, "smtp", source), f"{source}: [smtp]"
        _only(table, {"host", "port", "sender", "starttls", "username", "password_env", "timeout_s", "attempts",
                      "backoff_s"}, source, "[smtp]")  # fmt: skip
        starttls = table.get("starttls", False)
        if not isinstance(starttls, bool):
            raise AlertConfigError(f"{where}: starttls must be true or false, got {starttls!r}")
        smtp = SmtpChannel(_text(table, "host", where), _int(table, "port", where, 25, 1),
                           _text(table, "sender", where, "silicio@localhost"), starttls,
                           _text(table, "username", where, ""), _text(table, "password_env", where, ""),
                           _number(table, "timeout_s", where, 10.0), _int(table, "attempts", where, 3, 1),
                           _number(table, "backoff_s", where, 1.0))  # fmt: skip

    registered = registered_rules()
    rules_in = doc.get("rule", [])
    if not isinstance(rules_in, list):
        raise AlertConfigError(f"{source}: rules are [[rule]] tables")
    rules, names = [], set()
    for n, table in enumerate(rules_in, start=1):
        where = f"{source}: rule {n}"
        _only(table, {"name", "kind", "severity", "quiet_period", "params", "users", "roles", "emails", "webhooks"},
              source, f"rule {n}")  # fmt: skip
        name = _text(table, "name", where)
        if not _NAME.match(name):
            raise AlertConfigError(
                f"{where}: name {name!r}: letters, digits, '_', '.', '-', 1 to 64 characters"
            )
        if name in names:
            raise AlertConfigError(f"{where}: name {name!r} is used twice; each rule has its own")
        names.add(name)
        where = f"{source}: rule {name!r}"
        kind = _text(table, "kind", where)
        if kind not in registered:
            raise AlertConfigError(f"{where}: kind {kind!r} is no registered alert rule; known: "
                                   f"{', '.join(sorted(registered))}")  # fmt: skip
        severity = _text(table, "severity", where, "major")
        if severity not in SEVERITIES:
            raise AlertConfigError(
                f"{where}: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}"
            )
        rule_quiet = (parse_duration(table["quiet_period"], f"{where}: quiet_period")
                      if "quiet_period" in table else quiet)  # fmt: skip
        recipients = _recipients(table, where, webhooks, smtp)
        params = _params(registered[kind], table.get("params", {}), where)
        rules.append(RuleConfig(name, kind, params, severity, rule_quiet, recipients, registered[kind]))

    reports_table = _table(doc, "reports", source)
    _only(reports_table, {"users", "roles", "emails", "webhooks"}, source, "[reports]")
    reports = _recipients(reports_table, f"{source}: [reports]", webhooks, smtp)
    return AlertConfig(source, tuple(rules), webhooks, smtp, reports, quiet)


def _params(rule: AlertRule, given: Any, where: str) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise AlertConfigError(f"{where}: params must be a table")
    unknown = sorted(set(given) - set(rule.parameters))
    if unknown:
        known = ", ".join(sorted(rule.parameters)) or "none"
        raise AlertConfigError(
            f"{where}: unknown parameter(s) {', '.join(unknown)} of {rule.name}; known: {known}"
        )
    params = dict(rule.parameters)
    for key, value in given.items():
        default = rule.parameters[key]
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise AlertConfigError(f"{where}: params.{key} must be a {expected.__name__} like {default!r}, "
                                   f"got {value!r}")  # fmt: skip
        params[key] = value
    try:
        rule.check(params)
    except ValueError as exc:
        raise AlertConfigError(f"{where}: {exc}") from None
    return params


def _recipients(table: dict, where: str, webhooks: dict, smtp: SmtpChannel | None) -> Recipients:
    lists = {}
    for key in ("users", "roles", "emails", "webhooks"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise AlertConfigError(f"{where}: {key} must be a list of names, got {value!r}")
        lists[key] = tuple(v.strip() for v in value)
    for hook in lists["webhooks"]:
        if hook not in webhooks:
            raise AlertConfigError(f"{where}: webhook {hook!r} is not defined (a [webhooks.{hook}] table)")
    if lists["emails"] and smtp is None:
        raise AlertConfigError(f"{where}: e-mail recipients need an [smtp] table naming the server")
    for address in lists["emails"]:
        if "@" not in address or any(c.isspace() for c in address):
            raise AlertConfigError(f"{where}: {address!r} is not an e-mail address")
    return Recipients(**lists)


def _only(table: dict, allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise AlertConfigError(f"{source}: {where}: unknown key(s) {', '.join(unknown)}; expected "
                               f"{', '.join(sorted(allowed))}")  # fmt: skip


def _table(doc: dict, key: str, source: str) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise AlertConfigError(f"{source}: [{key}] must be a table")
    return value


def _text(table: dict, key: str, where: str, default: str | None = None) -> str:
    if key not in table:
        if default is None:
            raise AlertConfigError(f"{where}: {key} is missing")
        return default
    value = table[key]
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise AlertConfigError(f"{where}: {key} must be text, got {value!r}")
    return value.strip()


def _int(table: dict, key: str, where: str, default: int, minimum: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise AlertConfigError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _number(table: dict, key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise AlertConfigError(f"{where}: {key} must be a number >= 0, got {value!r}")
    return float(value)
