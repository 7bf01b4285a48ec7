"""Which way is up on a wafer map: the one :class:`Orientation` that the drawings (PNG, SVG, the
dashboard's JSON, the report) and the SEMI G85 / E142 files all lay their rows and columns out by,
and :func:`orientation_of`, the orientation an STDF file's WCR record gives.

A map is laid out as the wafer is seen: display row 0 is the top, column 0 the left. When Y grows
upward the top row is the highest Y; when X grows to the left the left column is the largest X.

The flat (or notch) is a side of that same view: STDF WF_FLAT "D" puts it at the bottom of the
drawing whichever way Y grows, since POS_X / POS_Y and WF_FLAT all describe the wafer as the
tester sees it. Turning the axes round renumbers the dies; it does not move the flat.

References
----------
STDF V4, WCR (Wafer Configuration Record): POS_X "L" / "R" and POS_Y "U" / "D", the directions of
positive X and Y; WF_FLAT "U" / "D" / "L" / "R", the side of the wafer flat in that view; a space
means unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

__all__ = ["DEFAULT_ORIENTATION", "FLAT_SIDES", "Orientation", "orientation_of"]

_GROWS = {"R": "right", "L": "left", "U": "up", "D": "down"}
_LETTER = {v: k for k, v in _GROWS.items()}
#: STDF WCR WF_FLAT letters: the side of the view the flat / notch is on.
FLAT_SIDES = {"U": "top", "D": "bottom", "L": "left", "R": "right"}


def _letter(value) -> str:
    """A WCR C*1 field as an upper-case letter; "" when blank (a space or NUL: unknown)."""
    return ("" if value is None else str(value)).strip(" \x00").upper()


@dataclass(frozen=True)
class Orientation:
    """Which way die coordinates grow as the map is seen: X to the ``"right"`` or ``"left"``, Y
    ``"down"`` or ``"up"``; and ``flat``, the side of that view the wafer's flat or notch is on
    (STDF WF_FLAT "U", "D", "L" or "R"; None: not known, and no flat is drawn). The default is the
    usual prober view (X right, Y down) with the flat unknown.

    ``notes`` say what was assumed (a blank WCR field, no WCR at all); they take no part in
    comparisons.
    """

    x_grows: str = "right"
    y_grows: str = "down"
    flat: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if self.x_grows not in ("right", "left"):
            raise ValueError(f"x_grows must be 'right' or 'left'; got {self.x_grows!r}")
        if self.y_grows not in ("down", "up"):
            raise ValueError(f"y_grows must be 'down' or 'up'; got {self.y_grows!r}")
        if self.flat is not None and self.flat not in FLAT_SIDES:
            raise ValueError(f"flat must be 'U', 'D', 'L', 'R' or None (unknown); got {self.flat!r}")

    @classmethod
    def from_wcr(cls, pos_x: str | None, pos_y: str | None, wf_flat: str | None = None) -> Orientation:
        """From STDF V4 WCR POS_X ("L" / "R"), POS_Y ("U" / "D") and WF_FLAT ("U" / "D" / "L" / "R").

        A blank or missing POS_X / POS_Y (STDF: unknown) is taken as the prober convention (X
        right, Y down) and said so in ``notes``; any other value is an error, since guessing would
        turn the map over. A blank WF_FLAT leaves ``flat`` None (no flat drawn), said so in
        ``notes``; ``wf_flat`` None means the caller did not read it, and adds no note.
        """
        flat = None if wf_flat is None else _letter(wf_flat)
        if flat and flat not in FLAT_SIDES:
            raise ValueError(f"WCR WF_FLAT must be U, D, L, R or blank (unknown); got {wf_flat!r}")
        grows, notes = [], []
        for name, value, allowed, default in (("POS_X", pos_x, "RL", "R"), ("POS_Y", pos_y, "UD", "D")):
            letter = _letter(value)
            if letter and letter not in allowed:
                raise ValueError(
                    f"WCR {name} must be {' or '.join(allowed)} or blank (unknown); got {value!r}"
                )
            if not letter:
                notes.append(
                    f"WCR {name} is blank: assumed {default!r} ({_GROWS[default]}, the prober convention)"
                )
            grows.append(_GROWS[letter or default])
        if flat == "":
            notes.append("WCR WF_FLAT is blank (unknown): no flat / notch drawn")
        return cls(grows[0], grows[1], flat or None, tuple(notes))

    @property
    def axes(self) -> Orientation:
        """The directions alone (no flat, no notes): what a map file's origin corner depends on."""
        return Orientation(self.x_grows, self.y_grows)

    @property
    def pos_x(self) -> str:
        """The STDF WCR POS_X letter: "R" or "L"."""
        return _LETTER[self.x_grows]

    @property
    def pos_y(self) -> str:
        """The STDF WCR POS_Y letter: "U" or "D"."""
        return _LETTER[self.y_grows]

    def columns(self, x: np.ndarray, x_min: int, x_max: int) -> np.ndarray:
        """Display column of each X (0 at the left) on a map spanning ``x_min`` .. ``x_max``."""
        return x - x_min if self.x_grows == "right" else x_max - x

    def rows(self, y: np.ndarray, y_min: int, y_max: int) -> np.ndarray:
        """Display row of each Y (0 at the top) on a map spanning ``y_min`` .. ``y_max``."""
        return y - y_min if self.y_grows == "down" else y_max - y

    def x_of_columns(self, columns: np.ndarray, x_min: int, x_max: int) -> np.ndarray:
        """Die X of each display column: the inverse of :meth:`columns`."""
        return x_min + columns if self.x_grows == "right" else x_max - columns

    def y_of_rows(self, rows: np.ndarray, y_min: int, y_max: int) -> np.ndarray:
        """Die Y of each display row: the inverse of :meth:`rows`."""
        return y_min + rows if self.y_grows == "down" else y_max - rows


DEFAULT_ORIENTATION = Orientation()


def _records(table) -> list[dict]:
    if table is None:
        return []
    return table.to_pylist() if isinstance(table, pa.Table) else [dict(r) for r in table]


def orientation_of(tables: Mapping) -> Orientation:
    """The orientation of an STDF file's maps: its WCR POS_X / POS_Y and WF_FLAT
    (:meth:`Orientation.from_wcr`).

    ``tables`` maps record names to tables (``silicio.stdf.read``) or lists of dicts; only
    ``tables["WCR"]`` is used, so the WCR rows of the lake's ``WCR`` view for the files of one
    lot work too. No WCR record, or blank fields only: the prober convention and no flat, said so
    in ``notes``. Records that disagree on a direction are an error (a blank one agrees with any);
    records that disagree on the flat leave it unknown, said so in ``notes`` (the dies still lie
    where they belong; only the mark would be wrong).
    """
    records = _records(tables.get("WCR"))
    if not records:
        return Orientation(
            notes=("no WCR record: X assumed to grow right and Y down (the prober convention), "
                   "no flat / notch drawn",)
        )  # fmt: skip
    said = {
        name: sorted({_letter(r.get(name)) for r in records} - {""}) for name in ("POS_X", "POS_Y", "WF_FLAT")
    }
    for name in ("POS_X", "POS_Y"):
        if len(said[name]) > 1:  # a map has one orientation; a blank record (unknown) agrees with any
            raise ValueError(f"the WCR records disagree on {name}: {said[name]}")
    pos_x, pos_y = (said[name][0] if said[name] else None for name in ("POS_X", "POS_Y"))
    if len(said["WF_FLAT"]) > 1:
        orientation = Orientation.from_wcr(pos_x, pos_y)
        note = f"the WCR records disagree on WF_FLAT {said['WF_FLAT']}: no flat / notch drawn"
        return replace(orientation, notes=(*orientation.notes, note))
    return Orientation.from_wcr(pos_x, pos_y, said["WF_FLAT"][0] if said["WF_FLAT"] else "")
