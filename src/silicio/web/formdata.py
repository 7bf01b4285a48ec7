"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data`` (RFC 7578, the
only way a browser form sends a file), read into text fields and uploaded files.

The request body is already bounded (:data:`silicio.web.security.MAX_BODY_BYTES`) and read
whole, so the multipart parts are cut out of it by their boundary: each part is its headers,
a blank line, then its bytes up to the CRLF before the next boundary (RFC 2046, section 5.1.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

#: The most parts a form may have (a portal form has about ten).
MAX_PARTS = 200
_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))', re.I)
_PARAMETER = re.compile(r';\s*(name|filename)="([^"]*)"', re.I)


class FormError(ValueError):
    """A form body that cannot be read: the message says what was expected."""


@dataclass(frozen=True)
class UploadedFile:
    """A file of a form: the name the browser gave, the type it declared (not trusted), its bytes."""

    filename: str
    content_type: str | None
    content: bytes


@dataclass
class FormData:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


def read_form(content_type: str, body: bytes) -> FormData:
    """The fields (first value of each name) and files of a form body of ``content_type``."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", "replace")
        # Blank fields are left out, as a form's unfilled inputs (the record keeps its value).
        return FormData(fields={k: v[0] for k, v in parse_qs(text).items()})
    if kind == "multipart/form-data":
        return _multipart(content_type, body)
    raise FormError(f"expected a form (multipart/form-data or urlencoded), got {kind or 'no content type'!r}")


def _multipart(content_type: str, body: bytes) -> FormData:
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise FormError("multipart/form-data without a boundary parameter")
    boundary = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    chunks = body.split(boundary)
    # chunks[0]: the preamble; the last: "--" and the epilogue after the closing delimiter.
    if len(chunks) < 2 or not chunks[-1].startswith(b"--"):
        raise FormError("multipart body without its closing boundary")
    if len(chunks) - 2 > MAX_PARTS:
        raise FormError(f"a form of more than {MAX_PARTS} parts")
    form = FormData()
    for number, chunk in enumerate(chunks[1:-1], start=1):
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise FormError(f"multipart part {number}: expected CRLF after the boundary and before the next")
        head, separator, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not separator:
            raise FormError(f"multipart part {number}: no blank line after its headers")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        parameters = {k.lower(): v for k, v in _PARAMETER.findall(disposition)}
        if not disposition.lower().startswith("form-data") or "name" not in parameters:
            raise FormError(f'multipart part {number}: expected Content-Disposition: form-data; name="..."')
        name = parameters["name"]
        if "filename" in parameters:
            form.files.setdefault(
                name, UploadedFile(parameters["filename"], headers.get("content-type"), content)
            )
        else:
            form.fields.setdefault(name, content.decode("utf-8", "replace"))
    return form
