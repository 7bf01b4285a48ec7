"""The dashboard's one cache: computed results and rendered pages, bounded by bytes.

A count of entries is no bound at all when one entry is a 10 kB lot list and another a 200 MB
table of test results (the server once grew past 8 GB that way), so each value is weighed when
it is stored (:func:`weigh`) and the least recently used are dropped until the total fits.

>>> cache = ByteCache(max_bytes=256 * 2**20)
>>> page = cache.get_or_compute(("lot", "L1"), lambda: expensive())
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

#: Environment variable with the cache's bound in megabytes.
CACHE_MB_ENV = "SILICIO_CACHE_MB"
#: Default bound: enough for every page of a few dozen lots, far below a small server's memory.
DEFAULT_CACHE_MB = 256

_MISSING = object()
# What an array or table object itself costs beside its buffers, roughly.
_HEADER_BYTES = 128


def default_max_bytes() -> int:
    """``$SILICIO_CACHE_MB`` megabytes, else :data:`DEFAULT_CACHE_MB`."""
    text = os.environ.get(CACHE_MB_ENV)
    if not text:
        return DEFAULT_CACHE_MB * 2**20
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(f"{CACHE_MB_ENV}={text!r}: expected a number of megabytes") from None
    if megabytes < 0:
        raise ValueError(f"{CACHE_MB_ENV}={text!r}: expected a number of megabytes >= 0")
    return int(megabytes * 2**20)


def weigh(value: Any, _seen: set[int] | None = None) -> int:
    """Bytes ``value`` holds, roughly: Arrow and polars tables and numpy arrays by their buffers,
    strings by length, pydantic models, dataclasses and containers by their parts (each object
    counted once)."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if value is None or isinstance(value, bool | int | float):
        return sys.getsizeof(value)
    if isinstance(value, str | bytes | bytearray | memoryview):
        return sys.getsizeof(value)
    estimated_size = getattr(value, "estimated_size", None)  # polars DataFrame / Series
    if callable(estimated_size):
        return int(estimated_size())
    nbytes = getattr(value, "nbytes", None)  # numpy arrays, pyarrow tables, arrays and batches
    if isinstance(nbytes, int):
        return nbytes + _HEADER_BYTES  # sys.getsizeof of an array would count its buffer again
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(weigh(k, seen) + weigh(v, seen) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return sys.getsizeof(value) + sum(weigh(item, seen) for item in value)
    fields = getattr(type(value), "model_fields", None)  # pydantic models
    if isinstance(fields, dict):
        # A model also holds the dict of its values and the set of the fields given: counted
        # alone, its values were a fifth of what 20,000 chart points take (tracemalloc).
        holders = sys.getsizeof(getattr(value, "__dict__", None)) + sys.getsizeof(
            getattr(value, "__pydantic_fields_set__", None)
        )
        return (
            sys.getsizeof(value) + holders + sum(weigh(getattr(value, name, None), seen) for name in fields)
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sys.getsizeof(value) + sum(
            weigh(getattr(value, f.name, None), seen) for f in dataclasses.fields(value)
        )
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return sys.getsizeof(value) + weigh(attributes, seen)
    return sys.getsizeof(value)


class ByteCache:
    """Least-recently-used cache of at most ``max_bytes`` (weighed by :func:`weigh`); thread-safe.

    A value heavier than the whole bound is returned but not kept. ``max_bytes=0`` keeps nothing.
    """

    def __init__(self, max_bytes: int | None = None):
        self.max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Hashable]:
        """The keys kept now, least recently used first (a snapshot: the cache may change meanwhile)."""
        with self._lock:
            return iter(list(self._entries))

    @property
    def bytes(self) -> int:
        """Bytes the kept values weigh now."""
        return self._bytes

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The kept value of ``key`` (now the most recently used), else ``default``."""
        with self._lock:
            entry = self._entries.get(key, _MISSING)
            if entry is _MISSING:
                self.misses += 1
                return default
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: Any) -> Any:
        """Keep ``value`` under ``key`` (if it fits at all) and return it."""
        size = weigh(value)
        with self._lock:
            self._drop(key)
            if size <= self.max_bytes:
                self._entries[key] = (value, size)
                self._bytes += size
                while self._bytes > self.max_bytes:
                    self._drop(next(iter(self._entries)))
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The kept value of ``key``, else ``compute()`` kept and returned. ``compute`` runs
        outside the cache's lock: callers that must not compute twice hold their own."""
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value
        return self.put(key, compute())

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._drop(key)

    def clear(self, keep: Callable[[Hashable], bool] | None = None) -> None:
        """Forget every value, except those whose key ``keep`` says to keep."""
        with self._lock:
            for key in list(self._entries):
                if keep is None or not keep(key):
                    self._drop(key)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]
