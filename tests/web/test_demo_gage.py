"""The demo lab's gage studies: the gage page is not empty in the demo."""

from __future__ import annotations

import csv
from collections import Counter

from silicio.datadir import DataDir
from silicio.metrology import gage_rr_anova
from silicio.metrology.io import read_table
from silicio.web.demo import DEMO_GAGE_STUDIES, _demo_gage_studies


def test_demo_gage_studies_are_balanced_and_kept(tmp_path):
    paths = DataDir.at(tmp_path)
    _demo_gage_studies(paths)
    grr = {}
    for name in DEMO_GAGE_STUDIES:
        path = paths.gage_study(name)
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        cells = Counter((r["part"], r["appraiser"]) for r in rows)
        assert len(cells) == 30 and set(cells.values()) == {3}  # 10 parts x 3 appraisers x 3 trials
        grr[name] = gage_rr_anova(read_table(path)).percent_grr
    # AIAG MSA 4th ed. bands: one marginal (10-30 %), one unacceptable (> 30 %).
    assert sorted(10 < v <= 30 for v in grr.values()) == [False, True]
    before = {name: paths.gage_study(name).read_bytes() for name in DEMO_GAGE_STUDIES}
    paths.gage_study(next(iter(DEMO_GAGE_STUDIES))).write_text("part,appraiser,value\n", encoding="utf-8")
    _demo_gage_studies(paths)  # a study already there is kept, even one the lab edited
    assert (
        paths.gage_study(next(iter(DEMO_GAGE_STUDIES))).read_text(encoding="utf-8")
        == "part,appraiser,value\n"
    )
    assert paths.gage_study(list(DEMO_GAGE_STUDIES)[1]).read_bytes() == before[list(DEMO_GAGE_STUDIES)[1]]
