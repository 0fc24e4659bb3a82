"""Lazy module attributes (PEP 562): a package names its exports as strings and imports each on first use.

Used by ``replenish/__init__.py`` (so ``import replenish`` and the CLI start at
once) and by packages whose members need heavy libraries (``solvers.dqn``: torch).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(module_globals: dict[str, Any], exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a module whose ``exports`` map name → defining module.

    On first access a name is imported from its module and cached in
    ``module_globals``, so later accesses cost nothing.
    """
    name_of_module = module_globals["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {name_of_module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        module_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(module_globals) | set(exports))

    return __getattr__, __dir__
