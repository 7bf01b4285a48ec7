"""The same lake whichever runs the worker step: this process, a local process pool, or a Dask
cluster (a LocalCluster of two worker processes)."""

from __future__ import annotations

import pytest

from silicio.lake import INGESTED, ingest


@pytest.fixture(scope="module")
def inputs(small_files, synthetic_files):
    return [small_files(61), small_files(62), synthetic_files("p", 0, 63)]


@pytest.fixture(scope="module")
def in_process_lake(inputs, tmp_path_factory, snapshot):
    data = tmp_path_factory.mktemp("in_process")
    report = ingest(inputs, data, workers=1)
    assert [o.status for o in report.outcomes] == [INGESTED] * len(inputs)
    return snapshot(data)


def test_process_pool_builds_the_same_lake(inputs, in_process_lake, tmp_path, snapshot, same_lake):
    report = ingest(inputs, tmp_path, workers=2)
    assert [o.status for o in report.outcomes] == [INGESTED] * len(inputs)
    same_lake(snapshot(tmp_path), in_process_lake)


def test_dask_cluster_builds_the_same_lake(inputs, in_process_lake, tmp_path, snapshot, same_lake):
    import distributed

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        report = ingest(inputs, tmp_path, dask_address=cluster.scheduler_address)
    assert [o.status for o in report.outcomes] == [INGESTED] * len(inputs)
    same_lake(snapshot(tmp_path), in_process_lake)
