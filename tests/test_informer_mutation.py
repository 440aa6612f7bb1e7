"""The cache mutation detector (kubecache.mutation), on both front ends."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kubecache import mutation
from kubecache.errors import CacheError
from kubecache.informer import ResourceEventHandlerFuncs
from kubecache.mutation import CacheMutationError, MutationDetector, first_difference
from kubecache.testing import FakeControllerSource
from tests.support.front import AsyncFront, ThreadFront
from tests.support.objects import secret_pod
from tests.support.sync import wait_for

Front = ThreadFront | AsyncFront

pytestmark = pytest.mark.allow_cache_mutations("these tests mutate cached objects on purpose")

SECRET = "hunter2-value"


def test_a_handler_changing_a_cached_object_is_caught_by_a_check(front: Front) -> None:
    src = FakeControllerSource()
    src.add(secret_pod("a", SECRET, labels={"a": "1"}))
    inf = front.new(src, mutation_detector=True)
    done: list[str] = []

    def sloppy(old: Any, new: Any) -> None:
        new["metadata"]["labels"]["seen"] = "yes"  # changes the cache itself
        done.append(new["metadata"]["name"])

    inf.add_event_handler(ResourceEventHandlerFuncs(on_update=sloppy))
    detector = inf.mutation_detector
    assert isinstance(detector, MutationDetector)
    with front.running(inf):
        assert wait_for(inf.has_synced)
        detector.check()  # nothing changed yet
        src.modify(secret_pod("a", SECRET, labels={"a": "1"}, v=2))
        assert wait_for(lambda: done == ["a"])
        with pytest.raises(CacheMutationError) as caught:
            detector.check()
        assert isinstance(caught.value, CacheError)
        message = str(caught.value)
        assert "Pod 'ns/a'" in message and ".metadata.labels.seen" in message
        assert SECRET not in message
        detector.check()  # reported once


def test_a_lister_changing_an_object_is_logged_by_the_periodic_check(
        front: Front, caplog: pytest.LogCaptureFixture) -> None:
    src = FakeControllerSource()
    src.add(secret_pod("a", SECRET, labels={"a": "1"}))
    inf = front.new(src, mutation_detector=True)
    before = mutation.detections()
    with caplog.at_level(logging.ERROR, logger="kubecache.mutation"), front.running(inf):
        assert wait_for(inf.has_synced)
        obj, found = inf.get_store().get_by_key("ns/a")
        assert found
        obj["data"]["token"] = "changed"  # a lister's reader changing what it got
    assert mutation.detections() == before + 1  # the check as the informer stopped
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and "'ns/a'" in logged[0] and ".data.token" in logged[0]
    assert SECRET not in logged[0] and "changed" not in logged[0].split("at ")[-1]


def test_an_old_object_changed_after_it_was_replaced_is_still_caught(front: Front) -> None:
    src = FakeControllerSource()
    src.add(secret_pod("a", SECRET, labels={"a": "1"}))
    inf = front.new(src, mutation_detector=True)
    olds: list[Any] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(on_update=lambda old, new: olds.append(old)))
    with front.running(inf):
        assert wait_for(inf.has_synced)
        src.modify(secret_pod("a", SECRET, labels={"a": "1"}, v=2))
        assert wait_for(lambda: len(olds) == 1)
        olds[0]["spec"] = {}
        with pytest.raises(CacheMutationError, match="after it left the cache"):
            inf.mutation_detector.check()


def test_the_environment_variable_turns_it_on_and_the_option_wins(
        front: Front, monkeypatch: pytest.MonkeyPatch) -> None:
    src = FakeControllerSource()
    monkeypatch.setenv(mutation.ENV_VAR, "1")
    assert front.new(src).mutation_detector is not None
    assert front.new(src, mutation_detector=False).mutation_detector is None
    assert front.new(src, storage="compact").mutation_detector is None  # read-only objects
    monkeypatch.setenv(mutation.ENV_VAR, "0")
    assert front.new(src).mutation_detector is None
    assert front.new(src, mutation_detector=True).mutation_detector is not None


def test_first_difference_names_the_path_only() -> None:
    was = {"a": {"b": [1, {"c": 2}]}, "x-y": 1}
    assert first_difference({"a": {"b": [1, {"c": 3}]}, "x-y": 1}, was) == ".a.b[1].c"
    assert first_difference({"a": {"b": [1, {"c": 2}]}}, was) == "['x-y']"
    assert first_difference({"a": {"b": [1]}, "x-y": 1}, was) == ".a.b (length 2 -> 1)"
    assert first_difference({**was, "new": 0}, was) == ".new"


class Plain:
    """An attribute-style object without its own ``__eq__``."""

    def __init__(self, name: str) -> None:
        self.metadata = {"namespace": "ns", "name": name}
        self.spec = {"v": 1}


def test_objects_without_their_own_equality_are_compared_by_attributes() -> None:
    detector = MutationDetector("t")
    obj = Plain("a")
    detector.track([(None, obj)])
    detector.check()  # a snapshot of an unchanged object compares equal
    obj.spec["v"] = 2
    with pytest.raises(CacheMutationError, match=r"Plain 'ns/a' .* at \.spec\.v"):
        detector.check()
