"""Fixtures of the trace tests: a store on a throwaway SQLite database, with the demo master data."""

from __future__ import annotations

import pytest

from silicio.trace import TraceStore, demo_master_data


@pytest.fixture
def store(tmp_path):
    s = TraceStore.at(tmp_path / "data")
    s.save_master_data(demo_master_data(), actor="test")
    yield s
    s.close()
