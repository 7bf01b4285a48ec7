"""Errors and salvage reports of the STDF reader."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StdfIssue:
    """Something wrong in a file: where it is and what was expected.

    ``offset`` is the byte offset (in the decompressed stream) of the record header concerned,
    ``record`` its three-letter name where known.
    """

    path: str
    offset: int
    record: str | None
    reason: str

    def __str__(self) -> str:
        where = f"byte {self.offset}" + (f" ({self.record})" if self.record else "")
        return f"{self.path}: at {where}: {self.reason}"


class StdfError(ValueError):
    """A file that is not valid STDF, naming the file, the byte offset and the record."""

    def __init__(self, path: str, offset: int, record: str | None, reason: str):
        self.issue = StdfIssue(path, offset, record, reason)
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
