"""A lake's screening kept on disk, so a restarted dashboard does not screen again.

The PAT screening of a whole lake is the slowest thing the dashboard computes (tens of seconds
to minutes). :func:`save_screening` writes a :class:`~silicio.yields.disposition.LakeScreening`
under a key that names what it was computed from (the lake's files and the recipe:
:func:`screening_key`); :func:`load_screening` gives it back only under the same key, so a new
file, another recipe or another version of silicio screens afresh. Tables are Arrow IPC files,
the rest JSON; a folder is written beside the final one and renamed into place, so a reader
never sees half a screening.

    DATA/screening/<key>/manifest.json
    DATA/screening/<key>/<n>-<field>.arrow          one per table of product n
    DATA/screening/<key>/<n>-tables-<name>.arrow    the rules' own tables
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.feather as feather

from silicio import __version__

from .disposition import LakeScreening
from .screening import ScreeningResult

#: Bumped when what is stored changes shape: older folders are then ignored (and removed).
FORMAT = 1
_MANIFEST = "manifest.json"


def screening_key(file_hashes: Iterable[str], recipe_text: str) -> str:
    """A name for a screening of the lake holding exactly these files (SHA-256s), with this
    recipe (its TOML text), by this version of silicio."""
    digest = hashlib.sha256()
    for part in (f"format {FORMAT}", __version__, recipe_text, *sorted(file_hashes)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _write_table(path: Path, table: pa.Table) -> None:
    feather.write_feather(table, path, compression="zstd")


def save_screening(screening: LakeScreening, directory: str | os.PathLike[str], key: str) -> Path:
    """Write ``screening`` as ``directory/key`` (replacing older screenings there) and return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / f".{key}-{uuid.uuid4().hex}"
    scratch.mkdir()
    try:
        products = []
        for n, (product, result) in enumerate(screening.results.items()):
            entry: dict[str, Any] = {"product": product, "fields": {}, "tables": []}
            for f in dataclasses.fields(result):
                value = getattr(result, f.name)
                if isinstance(value, pa.Table):
                    _write_table(scratch / f"{n}-{f.name}.arrow", value)
                    entry["fields"][f.name] = {"table": f"{n}-{f.name}.arrow"}
                elif f.name == "tables":
                    for name, table in value.items():
                        _write_table(scratch / f"{n}-tables-{name}.arrow", table)
                        entry["tables"].append(name)
                elif isinstance(value, tuple):
                    entry["fields"][f.name] = {"tuple": list(value)}
                else:
                    entry["fields"][f.name] = {"value": value}
            products.append(entry)
        statistics = screening.lot_statistics
        if statistics is not None:
            _write_table(scratch / "lot_statistics.arrow", statistics.to_arrow())
        manifest = {"format": FORMAT, "key": key, "products": products, "notes": list(screening.notes),
                    "lot_statistics": statistics is not None}  # fmt: skip
        (scratch / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        final = directory / key
        if final.exists():
            shutil.rmtree(final)
        scratch.rename(final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    for other in directory.iterdir():  # one screening is kept: the lake's current one
        if other.name != key and not other.name.startswith("."):
            shutil.rmtree(other, ignore_errors=True)
    return final


def load_screening(directory: str | os.PathLike[str], key: str) -> LakeScreening | None:
    """The screening saved under ``key``; None when there is none (or it cannot be read: it
    is then computed again, never half used)."""
    folder = Path(directory) / key
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("key") != key:
            return None
        results: dict[str | None, ScreeningResult] = {}
        for n, entry in enumerate(manifest["products"]):
            values: dict[str, Any] = {}
            for name, stored in entry["fields"].items():
                if "table" in stored:
                    values[name] = feather.read_table(folder / stored["table"])
                elif "tuple" in stored:
                    values[name] = tuple(stored["tuple"])
                else:
                    values[name] = stored["value"]
            values["tables"] = {name: feather.read_table(folder / f"{n}-tables-{name}.arrow")
                                for name in entry["tables"]}  # fmt: skip
            results[entry["product"]] = ScreeningResult(**values)
        statistics = None
        if manifest["lot_statistics"]:
            statistics = pl.from_arrow(feather.read_table(folder / "lot_statistics.arrow"))
        return LakeScreening(results=results, notes=list(manifest["notes"]), lot_statistics=statistics)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None


def stored_keys(directory: str | os.PathLike[str]) -> Mapping[str, Path]:
    """The screenings kept in ``directory``, by key."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    return {p.name: p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")}
