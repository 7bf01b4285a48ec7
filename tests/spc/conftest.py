"""Reference data of the quality domain, kept in ``shared/`` beside the repository (not in git)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from tests.conftest import missing_shared

QUALITY_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "quality"


@pytest.fixture(scope="session")
def quality():
    """A reader of the shared reference files: ``quality("name.csv")`` -> Arrow table; skips when absent."""

    def read(name: str, **column_types: pa.DataType) -> pa.Table:
        path = QUALITY_DIR / name
        if not path.is_file():
            missing_shared(
                f"reference file {name} not found in {QUALITY_DIR} (shared/ sits beside the repository)"
            )
        options = pa_csv.ConvertOptions(column_types=column_types) if column_types else None
        return pa_csv.read_csv(path, convert_options=options)

    return read
