"""Revisions of the trace tables."""
