"""Saves every result of ``screen_lake`` on a lake, or compares them with a saved snapshot.

    python benchmarks/screen_lake_snapshot.py save LAKE DIR
    python benchmarks/screen_lake_snapshot.py compare LAKE DIR

Per product: reasons, parts, bin and yield summaries, every kept table (static, dynamic and NNR
limits, AEC-Q002 lot limits and flags), the yields and the notes; and the lot statistics. The
comparison is exact: same columns and types, same rows in the same order (floats bit for bit,
NaN equal to NaN); where the rows differ only in order it says so.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl


def tables_of(lake_dir: Path) -> tuple[dict[str, pl.DataFrame], dict, float]:
    from silicio import lake
    from silicio.yields.disposition import default_recipe, screen_lake

    with lake.open(lake_dir) as db:
        start = time.process_time()
        screening = screen_lake(db, default_recipe())
        cpu = time.process_time() - start
    out, meta = {}, {"notes": screening.notes, "products": {}}
    for product, result in screening.results.items():
        name = str(product)
        for what in ("reasons", "parts", "bin_summary", "yield_summary"):
            out[f"{name}.{what}"] = pl.from_arrow(getattr(result, what))
        for what, table in result.tables.items():
            out[f"{name}.{what}"] = pl.from_arrow(table)
        meta["products"][name] = {"yield_before": result.yield_before.hex(), "yield_after": result.yield_after.hex(),
                                  "notes": list(result.notes), "recipe": result.recipe}  # fmt: skip
    out["lot_statistics"] = screening.lot_statistics
    return out, meta, cpu


def _bits(frame: pl.DataFrame) -> pl.DataFrame:
    """Floats as their bit patterns, so equality is bit for bit (and NaN equals NaN)."""
    return frame.with_columns(
        pl.col(c).reinterpret(signed=True).alias(c) for c, t in frame.schema.items() if t == pl.Float64
    )


def main() -> None:
    mode, lake_dir, folder = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    tables, meta, cpu = tables_of(lake_dir)
    print(f"screen_lake: {cpu:.1f} CPU s")
    if mode == "save":
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            frame.write_parquet(folder / f"{name}.parquet")
        (folder / "meta.json").write_text(json.dumps(meta, indent=1))
        print(f"saved {len(tables)} tables in {folder}")
        return
    bad = 0
    saved_meta = json.loads((folder / "meta.json").read_text())
    if saved_meta != json.loads(json.dumps(meta)):
        bad += 1
        print("notes / yields / recipe differ")
    names = {p.stem for p in folder.glob("*.parquet")}
    if names != set(tables):
        bad += 1
        print(
            f"tables differ: only saved {sorted(names - set(tables))}, only now {sorted(set(tables) - names)}"
        )
    for name in sorted(names & set(tables)):
        before, now = pl.read_parquet(folder / f"{name}.parquet"), tables[name]
        if before.schema != now.schema:
            bad += 1
            print(f"{name}: schema differs: {before.schema} vs {now.schema}")
            continue
        if before.height == now.height and _bits(before).equals(_bits(now), null_equal=True):
            continue
        sortable = [c for c, t in before.schema.items() if not isinstance(t, pl.List)]
        a, b = (_bits(f).sort(sortable, nulls_last=True) for f in (before, now))
        same_rows = a.height == b.height and a.equals(b, null_equal=True)
        bad += 1
        print(f"{name}: {'same rows, other order' if same_rows else 'DIFFERENT rows'} "
              f"({before.height} vs {now.height} rows)")  # fmt: skip
    print("IDENTICAL" if not bad else f"{bad} difference(s)")


if __name__ == "__main__":
    main()
