"""Test doubles for kubecache users and for kubecache's own tests.

- :class:`FakeControllerSource`: an in-memory lister-watcher with
  resourceVersions, retention windows and fault hooks.
- :class:`ApiServer`: an embedded, in-process HTTP server speaking the
  Kubernetes REST list/watch protocol.

Names load lazily so importing one does not pull in the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "FakeControllerSource": "fake_source",
    "ApiServer": "apiserver",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from .apiserver import ApiServer as ApiServer
    from .fake_source import FakeControllerSource as FakeControllerSource
