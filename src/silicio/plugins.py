"""Plugins: the classes registered under an entry-point group (screening rules, alert rules),
silicio's own included. Nothing here imports another silicio module: every area may use it.

silicio declares its built-in plugins in its ``pyproject.toml`` and lists them again in code
(``builtins``), so they are found when the installed metadata is older than the code (an
editable install not reinstalled); for silicio's own names the code's list wins over stale
metadata. Another package registering a built-in name is an error, not an override.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

#: The distribution that ships the built-in plugins.
OWN_DISTRIBUTION = "silicio"


def distribution_of(point: EntryPoint) -> str:
    """The name of the package that registered ``point`` (silicio's for an entry point made here)."""
    dist = getattr(point, "dist", None)
    return dist.name if dist is not None else OWN_DISTRIBUTION


def chosen_entry_points(group: str, builtins: Mapping[str, str], what: str) -> dict[str, EntryPoint]:
    """name -> entry point of every plugin of ``group``: the installed ones and ``builtins`` (name ->
    "module:Class"). ``what`` names the kind in errors ("a screening rule"): a package taking a
    built-in name, or two packages registering one name differently, is a ValueError."""
    chosen: dict[str, EntryPoint] = {}
    for point in entry_points(group=group):
        builtin = builtins.get(point.name)
        if builtin is not None and point.value != builtin:
            if distribution_of(point) == OWN_DISTRIBUTION:
                continue  # silicio's own metadata, older than its code
            raise ValueError(f"package {distribution_of(point)} registers {what} {point.name!r} ({point.value}), "
                             f"the name of silicio's built-in one ({builtin}); choose another name")  # fmt: skip
        known = chosen.get(point.name)
        if known is not None and known.value != point.value:
            raise ValueError(f"two packages register {what} named {point.name!r}: {known.value} "
                             f"({distribution_of(known)}) and {point.value} ({distribution_of(point)})")  # fmt: skip
        chosen[point.name] = point
    for name, value in builtins.items():
        chosen.setdefault(name, EntryPoint(name, value, group))
    return chosen


def load_plugin(point: EntryPoint, base: type, what: str) -> Any:
    """An instance of the class ``point`` names, which must subclass ``base`` and carry the entry
    point's name as its ``name``; any failure is a ValueError naming the plugin and its group."""
    where = f"{what} {point.name!r} ({point.value}, group {point.group})"
    try:
        found = point.load()
    except Exception as exc:  # any import failure of a plugin: name it, do not hide it
        raise ValueError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ValueError(f"{where} is not a {base.__module__}.{base.__qualname__} subclass")
    plugin = found()
    if plugin.name != point.name:
        raise ValueError(f"{where} names itself {plugin.name!r}; the entry point and the plugin must agree")
    return plugin
