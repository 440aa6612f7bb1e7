"""Reflector helpers, now part of the one fixture family in :mod:`tests.support.front`.

Kept as thin aliases only: take the ``front`` fixture (tests/conftest.py) and call
``front.reflector(...)`` / ``front.start_reflector(...)`` instead.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.support.front import FRONTS, AsyncReflectorRunner, LoopThread, new_front

FRONTENDS = FRONTS

__all__ = ["FRONTENDS", "AsyncReflectorRunner", "LoopThread", "frontend_fixture",
           "make_reflector", "start_reflector"]


def frontend_fixture() -> Any:
    """Alias: a ``frontend`` fixture giving the ``front`` fixture's name (use ``front``)."""
    import pytest

    @pytest.fixture
    def frontend(front: Any) -> str:
        return str(front.name)

    return frontend


def make_reflector(frontend: str, lw: Any, expected_type: Any, store: Any,
                   resync_period: float = 0.0, **kw: Any) -> Any:
    """``front.reflector(...)`` of the front end called ``frontend``."""
    return new_front(frontend).reflector(lw, expected_type, store, resync_period, **kw)


def start_reflector(frontend: str, lw: Any, store: Any, stop: threading.Event,
                    **kw: Any) -> Any:
    """``front.start_reflector(...)`` of the front end called ``frontend``."""
    return new_front(frontend).start_reflector(lw, store, stop, **kw)
