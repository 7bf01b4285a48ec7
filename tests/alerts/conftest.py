"""A webhook receiver and an SMTP server the tests start on 127.0.0.1 (port chosen by the OS),
each in a thread, each keeping what it received; and :func:`wait_for`, which polls with a
generous deadline instead of sleeping for a fixed time."""

from __future__ import annotations

import email
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``deadline_s`` (never met on
    a healthy run: deliveries are synchronous, the poll only absorbs a slow machine)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass
class Received:
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    #: answer this many requests with HTTP 500 before answering 204
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def webhook():
    """(url, received): POSTs to url are kept in received.requests as (headers, body)."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with received.lock:
                received.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = received.fail_first > 0
                received.fail_first -= failing
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    messages: list[tuple[str, list[str], email.message.Message]] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    """The commands smtplib sends for a plain message (RFC 5321 §4.1), answered as a server that
    takes everything; the DATA is dot-unstuffed (§4.5.2) and parsed."""

    def reply(self, text: str) -> None:
        self.wfile.write((text + "\r\n").encode())

    def handle(self) -> None:
        self.reply("220 test-smtp ready")
        sender, recipients = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 test-smtp")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip().strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    data = self.rfile.readline()
                    if data in (b".\r\n", b".\n", b""):
                        break
                    lines.append(data[1:] if data.startswith(b"..") else data)
                self.server.mailbox.messages.append(
                    (sender, recipients, email.message_from_bytes(b"".join(lines)))
                )
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP
                self.reply("250 OK")


@pytest.fixture
def smtp_server():
    """(port, mailbox): messages sent to 127.0.0.1:port land in mailbox.messages as (from, to, message)."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.mailbox = Mailbox()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], server.mailbox
    server.shutdown()
    server.server_close()
