"""Reference data of the metrology tests, kept in ``shared/`` beside the repository (not in git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import missing_shared

QUALITY_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "quality"


@pytest.fixture(scope="session")
def quality_file():
    """``quality_file("name.csv")`` -> the path of a shared reference file; skips when it is absent."""

    def find(name: str) -> Path:
        path = QUALITY_DIR / name
        if not path.is_file():
            missing_shared(
                f"reference file {name} not found in {QUALITY_DIR} (shared/ sits beside the repository)"
            )
        return path

    return find
