"""The reader's threads: ranges of records decoded side by side give the tables of one thread."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

import silicio.stdf.reader as reader
from silicio.stdf import _driver, read
from silicio.stdf import _kernels as K
from silicio.stdf._cpus import OtherWork, machine_busy_seconds

N_PTR = 3 * K.PARALLEL_MIN_ITEMS + 123  # enough records for several ranges, not a multiple of 64


def _record(rec_typ: int, rec_sub: int, payload: bytes) -> bytes:
    return struct.pack("<HBB", len(payload), rec_typ, rec_sub) + payload


def _cn(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def _ptr_file(high_text: bool, damaged_at: int | None = None) -> tuple[bytes, np.ndarray, list[bytes]]:
    """A FAR and N_PTR PTRs: every third carries limits and units, every fifth stops after
    RESULT. Returns the file, the results and the test texts written."""
    rng = np.random.default_rng(3)
    results = rng.standard_normal(N_PTR).astype(np.float32)
    texts = []
    parts = [_record(0, 10, bytes([2, 4]))]
    for i in range(N_PTR):
        text = f"T{i % 97}".encode() + (b"\xe9" if high_text and i % 1000 == 7 else b"")
        payload = struct.pack("<IBBBBf", 1000 + i % 97, 1, i % 4, 0, 0, results[i])
        if i % 5 == 4:
            texts.append(None)  # TEST_TXT omitted
        else:
            texts.append(text)
            payload += _cn(text) + _cn(b"")
            if i % 3 == 0:
                payload += struct.pack("<Bbbbff", 0x0E, 0, 0, 0, -1.0, 1.0) + _cn(b"V") + _cn(b"%7.3f") * 3
        rec = _record(15, 10, payload)
        if i == damaged_at:  # the record ends two bytes into TEST_TXT: it runs past the end
            rec = _record(15, 10, payload[:14])
        parts.append(rec)
    return b"".join(parts), results, texts


def _read_with(monkeypatch, data: bytes, threads: int, **kwargs):
    monkeypatch.setattr(reader, "_decode_threads", lambda: threads)
    return read(data, **kwargs)


@pytest.mark.parametrize("high_text", [False, True], ids=["ipc-message", "column-by-column"])
def test_threads_read_what_one_thread_reads(monkeypatch, high_text):
    data, results, texts = _ptr_file(high_text)
    one = _read_with(monkeypatch, data, 1)
    several = _read_with(monkeypatch, data, 3)
    assert set(one) == set(several) == {"FAR", "PTR"}
    for name in one:
        assert several[name].equals(one[name]), name
    ptr = several["PTR"]
    np.testing.assert_array_equal(ptr["RESULT"].to_numpy(), results)
    expected = [
        None if t is None else t.decode("utf-8" if not t.endswith(b"\xe9") else "latin-1") for t in texts
    ]
    assert ptr["TEST_TXT"].to_pylist() == expected
    units = ptr["UNITS"].to_pylist()
    assert (
        units[0] == "V"
        and units[1] is None
        and units.count("V") == sum(1 for i in range(N_PTR) if i % 3 == 0 and i % 5 != 4)
    )


def test_threads_report_damage_as_one_thread(monkeypatch):
    data, _, _ = _ptr_file(False, damaged_at=N_PTR // 2 + 3)
    one = _read_with(monkeypatch, data, 1, strict=False)
    several = _read_with(monkeypatch, data, 2, strict=False)
    assert several["PTR"].equals(one["PTR"])
    assert [(i.offset, i.reason) for i in several.issues] == [(i.offset, i.reason) for i in one.issues]
    assert len(several.issues) == 1 and "field TEST_TXT (Cn) runs past" in several.issues[0].reason
    assert several["PTR"]["TEST_TXT"][N_PTR // 2 + 3].as_py() is None


@pytest.mark.parametrize("n", [0, 1, K.PARALLEL_MIN_ITEMS - 1, K.PARALLEL_MIN_ITEMS, 100_003])
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_chunk_bounds_cover_every_record_once(n, threads):
    bounds = K.chunk_bounds(n, threads)
    assert bounds[0] == 0 and bounds[-1] == n
    assert all(lo < hi for lo, hi in zip(bounds, bounds[1:], strict=False)) or n == 0
    assert all(lo % 64 == 0 for lo in bounds[:-1])  # a validity byte never spans two ranges
    if threads == 1 or n < K.PARALLEL_MIN_ITEMS:
        assert bounds == [0, n]
    else:
        assert 2 <= len(bounds) - 1 <= threads * K.CHUNKS_PER_THREAD


class _Others:
    def __init__(self, cpus):
        self.cpus = cpus

    def others(self):
        return self.cpus


def test_busy_machine_gets_one_thread(monkeypatch):
    monkeypatch.delenv(reader.THREADS_ENV, raising=False)
    monkeypatch.setattr(reader.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(reader.os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # not read: /proc/stat says
    for others, threads in ((4.0, 1), (3.6, 1), (0.0, 4), (0.4, 4), (0.6, 3), (1.5, 3), (2.6, 1)):
        monkeypatch.setattr(reader, "_other_work", _Others(others))
        assert reader._decode_threads() == threads, others


def test_without_proc_stat_the_load_average_less_this_reader(monkeypatch):
    monkeypatch.delenv(reader.THREADS_ENV, raising=False)
    monkeypatch.setattr(reader.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(reader, "_other_work", _Others(None))
    monkeypatch.setattr(reader.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert reader._decode_threads() == 1
    monkeypatch.setattr(reader.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # this reader alone
    assert reader._decode_threads() == 4
    monkeypatch.setattr(reader.os, "getloadavg", lambda: (2.5, 1.0, 1.0))  # 1.5 CPUs taken by others
    assert reader._decode_threads() == 3


def test_others_work_is_the_machines_busy_time_less_this_process():
    """Readings fed by hand: machine busy seconds, own CPU seconds, clock."""
    readings = iter(
        [(0.0, 100.0, 10.0), (0.1, 100.1, 10.1), (1.0, 101.5, 10.5), (2.0, 103.0, 12.0), (3.0, 103.0, 13.0)]
    )
    current = {}

    def step():
        current["now"] = next(readings)

    step()
    work = OtherWork(
        busy=lambda: current["now"][1], own=lambda: current["now"][2], clock=lambda: current["now"][0]
    )
    step()
    assert work.others() is None  # 0.1 s: too short for a first figure
    step()
    assert work.others() == pytest.approx((1.5 - 0.5) / 1.0)  # 1.5 busy, 0.5 of it ours
    step()
    assert work.others() == pytest.approx(0.0)  # all the busy time was ours
    step()
    assert work.others() == 0.0  # own time above the machine's (tick rounding): never below 0


def test_others_work_without_proc_stat(tmp_path):
    assert machine_busy_seconds(str(tmp_path / "missing")) is None
    (tmp_path / "stat").write_text("cpu  100 0 50 1000 20 0 5 0 0 0\ncpu0 1 2 3\n")
    assert machine_busy_seconds(str(tmp_path / "stat")) == pytest.approx(155 / os.sysconf("SC_CLK_TCK"))
    work = OtherWork(busy=lambda: None)
    assert work.others() is None


def test_thread_setting(monkeypatch):
    monkeypatch.setattr(reader, "_other_work", _Others(0.0))
    monkeypatch.setenv(reader.THREADS_ENV, "1")
    assert reader._decode_threads() == 1
    monkeypatch.setenv(reader.THREADS_ENV, "3")
    assert reader._decode_threads() == 3
    monkeypatch.setenv(reader.THREADS_ENV, "many")
    with pytest.raises(ValueError, match="SILICIO_STDF_THREADS='many'"):
        reader._decode_threads()


def test_reads_on_several_threads_at_once(monkeypatch):
    """Reads sharing the decoding threads, while the pool grows, each get their own tables."""
    from concurrent.futures import ThreadPoolExecutor

    data, results, _ = _ptr_file(False)
    monkeypatch.setattr(_driver, "_pool", None)
    monkeypatch.setattr(_driver, "_pool_threads", 0)
    counts = iter([2, 3, 4, 2, 3, 4, 2, 3])
    monkeypatch.setattr(reader, "_decode_threads", lambda: next(counts, 2))
    with ThreadPoolExecutor(4) as callers:
        tables = list(callers.map(lambda _: read(data), range(4)))
    for t in tables:
        np.testing.assert_array_equal(t["PTR"]["RESULT"].to_numpy(), results)
