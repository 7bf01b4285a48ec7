"""Sending alerts and reports: webhooks (a JSON POST whose body is signed with HMAC-SHA256) and
e-mail through SMTP, each retried with exponential backoff. A channel that still fails after
its last attempt is a :class:`Delivery` with status ``failed`` and the error: the caller records
it; nothing here raises for a receiver that is down.

The webhook signature (RFC 2104 HMAC with SHA-256) is ``sha256=<hex>`` in header
``X-Silicio-Signature``, over the exact bytes of the body; a receiver recomputes it with the
shared secret and compares in constant time (:func:`verify_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from .config import SmtpChannel, WebhookChannel

__all__ = ["SIGNATURE_HEADER", "Delivery", "send_email", "send_webhook", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Silicio-Signature"
SENT, FAILED = "sent", "failed"


@dataclass(frozen=True)
class Delivery:
    channel: str  # "webhook" or "email"
    target: str
    status: str  # SENT or FAILED
    attempts: int
    error: str | None = None


def sign(body: bytes, secret: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``body`` under ``secret`` (RFC 2104, FIPS 180-4)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time compare)."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


def _retried(attempts: int, backoff_s: float, sleep: Callable[[float], None], send: Callable[[], None]
             ) -> tuple[int, str | None]:  # fmt: skip
    """Call ``send`` up to ``attempts`` times, waiting backoff_s, 2 backoff_s, 4 backoff_s, ...
    between tries; (tries made, the last error or None when one succeeded)."""
    error = None
    for attempt in range(1, attempts + 1):
        try:
            send()
            return attempt, None
        except (OSError, smtplib.SMTPException, ValueError) as exc:  # URLError and timeouts are OSErrors
            error = f"{type(exc).__name__}: {exc}"
        if attempt < attempts:
            sleep(backoff_s * 2 ** (attempt - 1))
    return attempts, error


def send_webhook(channel: WebhookChannel, payload: dict[str, Any], *,
                 sleep: Callable[[float], None] = time.sleep) -> Delivery:  # fmt: skip
    """POST ``payload`` as JSON to the webhook, signed; a 2xx answer is delivered."""
    try:
        secret = channel.secret()
    except ValueError as exc:
        return Delivery("webhook", channel.name, FAILED, 0, str(exc))
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret),
               "User-Agent": "silicio-alerts"}  # fmt: skip

    def post() -> None:
        request = urllib.request.Request(channel.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=channel.timeout_s) as response:  # noqa: S310 - http(s) checked
            if not 200 <= response.status < 300:
                raise ValueError(f"HTTP {response.status}")

    attempts, error = _retried(channel.attempts, channel.backoff_s, sleep, post)
    return Delivery("webhook", channel.name, FAILED if error else SENT, attempts, error)


def send_email(channel: SmtpChannel, to: list[str], subject: str, text: str, html: str | None = None, *,
               sleep: Callable[[float], None] = time.sleep) -> Delivery:  # fmt: skip
    """One message to ``to`` through the SMTP server: plain text, with an HTML alternative when given."""
    import os

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = channel.sender, ", ".join(to), subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")

    def deliver() -> None:
        with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_s) as server:
            if channel.starttls:
                server.starttls()
            if channel.username:
                server.login(channel.username, os.environ.get(channel.password_env, ""))
            refused = server.send_message(message)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)

    attempts, error = _retried(channel.attempts, channel.backoff_s, sleep, deliver)
    return Delivery("email", ", ".join(to), FAILED if error else SENT, attempts, error)
