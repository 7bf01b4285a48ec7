import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from silicio.web.cache import CACHE_MB_ENV, ByteCache, default_max_bytes, weigh


def test_weigh_counts_buffers_not_object_headers():
    values = np.arange(100_000, dtype=np.float64)
    assert weigh(values) >= 800_000
    assert weigh(pa.table({"v": values})) >= 800_000
    assert weigh(pl.DataFrame({"v": values})) >= 800_000
    # a container weighs its parts, an object shared twice once
    assert weigh([values, values]) < 2 * 800_000


def test_least_recently_used_dropped_until_the_bound_holds():
    cache = ByteCache(max_bytes=3 * 850_000)
    arrays = {key: np.zeros(100_000) for key in "abcd"}  # 800 kB each
    for key in "abc":
        cache.put(key, arrays[key])
    assert cache.get("a") is arrays["a"]  # a is now the most recently used
    cache.put("d", arrays["d"])
    assert "b" not in cache and {"a", "c", "d"} <= set(cache._entries)
    assert cache.bytes <= cache.max_bytes


def test_value_heavier_than_the_bound_is_returned_not_kept():
    cache = ByteCache(max_bytes=1000)
    big = np.zeros(1000)
    assert cache.get_or_compute("big", lambda: big) is big
    assert "big" not in cache and cache.bytes == 0


def test_get_or_compute_computes_once():
    cache = ByteCache(max_bytes=10_000)
    calls = []
    for _ in range(3):
        cache.get_or_compute("k", lambda: calls.append(1) or "value")
    assert calls == [1] and cache.hits == 2


def test_clear_keeps_what_it_is_told_to():
    cache = ByteCache(max_bytes=10_000)
    cache.put(("screenings",), "s")
    cache.put(("lot", "L1"), "l")
    cache.clear(keep=lambda key: key == ("screenings",))
    assert list(cache._entries) == [("screenings",)]
    assert cache.bytes == weigh("s")


def test_bound_from_the_environment(monkeypatch):
    monkeypatch.setenv(CACHE_MB_ENV, "1.5")
    assert default_max_bytes() == int(1.5 * 2**20)
    monkeypatch.setenv(CACHE_MB_ENV, "lots")
    with pytest.raises(ValueError, match=CACHE_MB_ENV):
        default_max_bytes()
