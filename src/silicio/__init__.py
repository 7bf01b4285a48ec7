"""silicio: quality and supply platform for a semiconductor value chain."""

__version__ = "0.1.0"
