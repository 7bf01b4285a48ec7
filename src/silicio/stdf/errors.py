"""Errors and salvage reports of the STDF reader."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StdfIssue:
    """Something wrong in a file: where it is and what was expected.

    ``offset`` is the byte offset (in the decompressed stream) of the record header concerned,
    ``record`` its three-letter name where known. Where the damage is in the compressed data of a
    gzip, bzip2, xz or zip file, ``compressed_offset`` is the byte of the file where it was found
    (the reason says it too).
    """

    path: str
    offset: int
    record: str | None
    reason: str
    compressed_offset: int | None = None

    def __str__(self) -> str:
        where = f"byte {self.offset}" + (f" ({self.record})" if self.record else "")
        return f"{self.path}: at {where}: {self.reason}"


class StdfError(ValueError):
    """A file that is not valid STDF, naming the file, the byte offset and the record."""

    def __init__(self, path: str, offset: int, record: str | None, reason: str,
                 compressed_offset: int | None = None):  # fmt: skip
        self.issue = StdfIssue(path, offset, record, reason, compressed_offset)
        super().__init__(str(self.issue))

    @property
    def path(self) -> str:
        return self.issue.path

    @property
    def offset(self) -> int:
        return self.issue.offset

    @property
    def record(self) -> str | None:
        return self.issue.record

    @property
    def reason(self) -> str:
        return self.issue.reason

    @property
    def compressed_offset(self) -> int | None:
        return self.issue.compressed_offset
