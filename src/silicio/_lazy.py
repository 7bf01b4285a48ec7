"""Names of a package imported on first use (PEP 562), so importing the package stays light."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public names live in its submodules:
    ``exports`` maps each name to the submodule that defines it; the submodule is imported when
    the name is first asked for, and the name then kept in the package."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__


def lazy_package(package: str, exports: Mapping[str, str]) -> None:
    """Make ``package`` import its public names on first use (:func:`lazy_exports`), and keep a
    public function named like the module that defines it (``silicio.stdf.tidy`` in
    ``silicio/stdf/tidy.py``) the function, as eager imports did: importing that submodule binds
    the package attribute of its name, which must not become the module."""
    module = sys.modules[package]
    module.__getattr__, module.__dir__ = lazy_exports(package, exports)
    module.__class__ = _FunctionsOverModules
    module._same_name_exports = frozenset(name for name, where in exports.items() if name == where)


class _FunctionsOverModules(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_same_name_exports", ()):
            value = getattr(value, name)
        super().__setattr__(name, value)
