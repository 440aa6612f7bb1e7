"""Informer helpers, now part of the one fixture family in :mod:`tests.support.front`.

Kept as names only: take the ``front`` fixture (tests/conftest.py) instead of
``informer_front_fixture()``.
"""

from __future__ import annotations

from typing import Any

from tests.support.front import (
    FRONTS,
    AsyncFront,
    AsyncRecorder,
    Front,
    Recorder,
    ThreadFront,
    key,
    new_informer,
    running,
    rv,
)

__all__ = ["FRONTS", "AsyncFront", "AsyncRecorder", "Front", "Recorder", "ThreadFront",
           "informer_front_fixture", "key", "new_informer", "running", "rv"]


def informer_front_fixture() -> Any:
    """Alias of the ``front`` fixture (tests/conftest.py): a module may simply drop it."""
    import pytest

    @pytest.fixture
    def front(front: Front) -> Front:
        return front

    return front
