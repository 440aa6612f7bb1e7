"""Test doubles for kubecache users and for kubecache's own tests.

- :class:`FakeControllerSource`: an in-memory lister-watcher with
  resourceVersions, retention windows and fault hooks.
- :class:`ApiServer`: an embedded, in-process HTTP server speaking the
  Kubernetes REST list/watch protocol.

Names load lazily so importing one does not pull in the other.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "FakeControllerSource": "fake_source",
    "ApiServer": "apiserver",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kubecache.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .apiserver import ApiServer as ApiServer
    from .fake_source import FakeControllerSource as FakeControllerSource
