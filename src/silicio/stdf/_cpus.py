"""CPUs kept busy by work other than this process: what the reader's thread choice goes by.

The 1-minute load average counts this process's own threads too: a threaded read that runs for
a minute raises it to the number of its threads, after which the machine looks busy and the
reader drops to one thread, though nobody else runs. The machine's busy time from /proc/stat,
less this process's own CPU time over the same interval, counts only the others' work.
"""

from __future__ import annotations

import os
import time

#: Readings closer together than this keep the previous figure: /proc/stat counts in clock
#: ticks (1/100 s), too coarse for a shorter interval.
MIN_INTERVAL_S = 0.2

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_seconds(stat_path: str = "/proc/stat") -> float | None:
    """CPU seconds all CPUs have spent busy since boot (None where /proc/stat is missing).

    Busy is everything but idle and iowait; steal (time the hypervisor gave other guests)
    counts as busy: a CPU this process could not use."""
    try:
        with open(stat_path, "rb") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 6 or fields[0] != b"cpu":
        return None
    ticks = [int(value) for value in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS_PER_SECOND


def own_seconds() -> float:
    """CPU seconds this process's threads have used (children not counted)."""
    times = os.times()
    return times.user + times.system


class OtherWork:
    """How many CPUs other processes kept busy between readings: ``others()``."""

    def __init__(self, busy=machine_busy_seconds, own=own_seconds, clock=time.monotonic):
        self._busy, self._own, self._clock = busy, own, clock
        self._last = self._reading()
        self._figure: float | None = None

    def _reading(self) -> tuple[float, float | None, float]:
        return self._clock(), self._busy(), self._own()

    def others(self) -> float | None:
        """CPUs busy with other work since the previous figure (at least
        :data:`MIN_INTERVAL_S` ago; until then the previous figure); None without /proc/stat
        or before the first interval has passed."""
        now = self._reading()
        then = self._last
        elapsed = now[0] - then[0]
        if now[1] is None or then[1] is None:
            return None
        if elapsed < MIN_INTERVAL_S:
            return self._figure
        self._figure = max(0.0, (now[1] - then[1]) - (now[2] - then[2])) / elapsed
        self._last = now
        return self._figure
