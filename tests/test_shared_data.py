"""Tests that read the shared samples (``shared/`` beside the checkout) skip without them, and fail
instead under ``SILICIO_REQUIRE_SHARED=1`` (set by ``.ci/run``): a CI machine that lost shared/
must not pass green with hundreds of real-file tests skipped.

The test helpers are run as they are (``tests/conftest.py`` and the areas' conftests, copied)
in a checkout that has no ``shared/`` beside it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import silicio

TESTS = Path(__file__).resolve().parent
SOURCE = Path(silicio.__file__).resolve().parents[1]

#: One test through each way a test reaches shared data.
PROBES = {
    "tests/test_probe.py": """
from tests.conftest import shared_stdf

def test_each_file(shared_stdf_file):
    pass

def test_all_files(shared_stdf_files):
    pass

def test_one_file():
    shared_stdf("galaxy_lot3_A530_BE.stdf")
""",
    "tests/spc/test_probe.py": """
def test_quality_reference(quality):
    quality("nist_pmc331_wafer_defects_cchart.csv")
""",
    "tests/metrology/test_probe.py": """
def test_quality_file(quality_file):
    quality_file("nist_pmc331_wafer_defects_cchart.csv")
""",
}


def _checkout_without_shared(root: Path) -> Path:
    """``root/checkout/tests`` with the real conftests and the probes; no ``root/shared``."""
    checkout = root / "checkout"
    for relative in ("__init__.py", "conftest.py", "spc/__init__.py", "spc/conftest.py",
                     "metrology/__init__.py", "metrology/conftest.py"):  # fmt: skip
        (checkout / "tests" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TESTS / relative, checkout / "tests" / relative)
    for relative, code in PROBES.items():
        (checkout / relative).write_text(code)
    assert not (root / "shared").exists()
    return checkout


def _pytest(checkout: Path, require: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("SILICIO_STDF_DATA", "SILICIO_REQUIRE_SHARED")}
    # Wide, so that pytest's summary lines carry the whole reason.
    env |= {"PYTHONPATH": os.pathsep.join([str(checkout), str(SOURCE)]), "COLUMNS": "1000"}
    if require:
        env["SILICIO_REQUIRE_SHARED"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", "tests"],
        cwd=checkout, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return done.stdout + done.stderr


def test_missing_shared_data_skips_and_fails_under_ci(tmp_path):
    checkout = _checkout_without_shared(tmp_path)

    relaxed = _pytest(checkout, require=False)
    assert re.search(r"^5 skipped in ", relaxed, re.MULTILINE), relaxed
    assert "shared" in relaxed

    # A test fails; one whose fixture (the shared files, or one of them) fails is an error: both
    # make the run fail, each saying why.
    required = _pytest(checkout, require=True)
    assert re.search(r"^3 failed, 2 errors in ", required, re.MULTILINE), required
    failures = [line for line in required.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    assert len(failures) == 5 and all("SILICIO_REQUIRE_SHARED=1: " in line for line in failures), required
