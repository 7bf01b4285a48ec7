"""silicio: quality and supply platform for a semiconductor value chain."""

__version__ = "0.1.0"


def open(data_dir=None, database_url=None):  # noqa: A001 (silicio.open, as the issue asks)
    """Open the data lake in ``data_dir`` for queries: see :class:`silicio.lake.Lake`."""
    from silicio.lake import open as open_lake  # here, so ``import silicio`` stays light

    return open_lake(data_dir, database_url)
