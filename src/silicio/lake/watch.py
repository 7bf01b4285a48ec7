"""Watch a folder and ingest the files that land in it (those a data source takes).

Polling, not file-system events: it works the same on local disks and network shares. A file
is taken once its size and modification time are the same in two polls in a row, so a file
still being copied is left for a later poll. Content already in the lake is skipped by hash,
so restarting the watch is harmless.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .ingest import IngestReport, expand_paths, ingest


def watch(
    directory: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    interval: float = 2.0,
    polls: int | None = None,
    on_report: Callable[[IngestReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **ingest_options: Any,
) -> None:
    """Ingest the files that settle in ``directory`` (searched recursively), every ``interval``
    seconds, until interrupted (Ctrl-C) or, when given, after ``polls`` polls.

    ``ingest_options`` go to :func:`silicio.lake.ingest`; ``on_report`` gets each non-empty
    ingest's report.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a folder")
    previous: dict[Path, tuple[int, int]] = {}
    taken: dict[Path, tuple[int, int]] = {}
    done = 0
    while polls is None or done < polls:
        current = _stat_all(directory)
        settled = [p for p, state in current.items() if previous.get(p) == state and taken.get(p) != state]
        if settled:
            report = ingest(settled, data_dir, **ingest_options)
            for path in settled:
                taken[path] = current[path]
            if on_report is not None:
                on_report(report)
        previous = current
        done += 1
        if polls is None or done < polls:
            sleep(interval)


def _stat_all(directory: Path) -> dict[Path, tuple[int, int]]:
    files, _ = expand_paths([directory])
    states = {}
    for path in files:
        try:
            st = path.stat()
        except OSError:  # removed between listing and stat
            continue
        states[path] = (st.st_size, st.st_mtime_ns)
    return states
