"""Form bodies as browsers send them: urlencoded and multipart (RFC 7578), a file's bytes kept
exactly, a malformed body refused with what was expected."""

from __future__ import annotations

import httpx
import pytest

from silicio.web.formdata import FormError, read_form

#: A file of every byte value, with CR LF and a boundary-like line inside.
CONTENT = bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n\r\n" + bytes(range(255, -1, -1))


def test_a_multipart_form_gives_its_fields_and_the_file_byte_for_byte():
    request = httpx.Request("POST", "http://x/", data={"issuer": "Bureau Veritas México", "empty": ""},
                            files={"file": ("certificado ISO.pdf", CONTENT, "application/pdf")})  # fmt: skip
    form = read_form(request.headers["content-type"], request.read())
    assert form.fields == {"issuer": "Bureau Veritas México", "empty": ""}
    upload = form.files["file"]
    assert (upload.filename, upload.content_type, upload.content) == (
        "certificado ISO.pdf",
        "application/pdf",
        CONTENT,
    )


def test_an_urlencoded_form_leaves_blank_fields_out():
    assert read_form("application/x-www-form-urlencoded", b"a=1&b=&c=%C3%A9").fields == {"a": "1", "c": "é"}


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", b"--x\r\n\r\n--x--", "without a boundary"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n",
         "without its closing boundary"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Type: text/plain\r\n\r\n1\r\n--x--", "form-data; name"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n--x--",
         "no blank line"),
        ("text/plain", b"a=1", "expected a form"),
    ],
)  # fmt: skip
def test_a_malformed_form_is_refused_with_what_was_expected(content_type, body, message):
    with pytest.raises(FormError, match=message):
        read_form(content_type, body)
