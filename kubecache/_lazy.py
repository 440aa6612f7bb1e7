"""Lazy re-exports (PEP 562) for the package ``__init__`` modules.

A package lists ``name -> submodule``; a name's submodule is imported on first
access and the value cached in the package, so importing the package is cheap
and optional dependencies load only when their names are used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], extra: str = "",
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` exporting ``exports`` lazily.

    ``extra`` names the optional-dependency group the submodules need: a missing
    third-party package then raises an ImportError that says what to install.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            loaded = importlib.import_module(f".{module}", package)
        except ImportError as err:
            if not extra or (err.name or "").startswith("kubecache"):
                raise
            raise ImportError(
                f"{package}.{name} needs the '{extra}' extra ({err.name} is missing): "
                f"pip install 'kubecache[{extra}]'", name=err.name) from err
        value = getattr(loaded, name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
