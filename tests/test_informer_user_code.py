"""User code on the informer's threads: whatever it raises, it is logged, counted, survived.

Handlers, transforms and index functions run on threads the informer owns
(delivery threads; the reflector's thread, which applies what it queued).
``SystemExit`` or ``KeyboardInterrupt`` raised there used to end the thread
without a word. Also: a handler that falls behind is reported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kubecache.informer import ResourceEventHandlerFuncs, SharedIndexInformer
from kubecache.testing import FakeControllerSource
from tests.support.front import (
    AsyncFront,
    ThreadFront,
    new_informer,
    running,
)
from tests.support.objects import secret_pod
from tests.support.sync import wait_for

SECRET = "s3cr3t-content"


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def names(informer: SharedIndexInformer) -> list[str]:
    return sorted(informer.get_store().list_keys())


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, RuntimeError])
def test_a_handler_raising_anything_keeps_its_delivery_thread(
        front: ThreadFront | AsyncFront, exc: type[BaseException],
        caplog: pytest.LogCaptureFixture) -> None:
    """On asyncio the handler is a coroutine function (CancelledError: test_aio_informer)."""
    src = FakeControllerSource()
    got: list[str] = []

    def picky_now(obj: Any) -> None:
        got.append(obj["metadata"]["name"])
        if obj["metadata"]["name"] == "b":
            raise exc("handler gave up")

    async def apicky(obj: Any) -> None:
        picky_now(obj)

    picky = apicky if front.name == "asyncio" else picky_now
    inf = front.new(src)
    inf.add_event_handler(ResourceEventHandlerFuncs(on_add=picky))
    with caplog.at_level(logging.ERROR), front.running(inf):
        for name in "abc":
            src.add(secret_pod(name, SECRET))
        assert wait_for(lambda: got == ["a", "b", "c"]), got
        assert inf.stats.handler_errors == 1
        src.add(secret_pod("d", SECRET))
        assert wait_for(lambda: got[-1:] == ["d"])
    logged = [m for m in messages(caplog) if "failed on add" in m]
    assert len(logged) == 1 and "picky" in logged[0] and "'ns/b'" in logged[0]
    assert not any(SECRET in m for m in messages(caplog, logging.DEBUG))


def test_a_transform_raising_system_exit_leaves_the_object_out_and_goes_on(
        front: ThreadFront | AsyncFront, caplog: pytest.LogCaptureFixture) -> None:
    src = FakeControllerSource()
    src.add(secret_pod("a", SECRET))
    src.add(secret_pod("bad", SECRET))  # fails in the list: the list still syncs, without it

    def strip(obj: Any) -> Any:
        if obj["metadata"]["name"].startswith("bad"):
            raise SystemExit("transform gave up")
        return {k: v for k, v in obj.items() if k != "data"}

    inf = front.new(src, transform=strip)
    added: list[str] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: added.append(o["metadata"]["name"])))
    with caplog.at_level(logging.ERROR), front.running(inf):
        assert wait_for(inf.has_synced)
        assert names(inf) == ["ns/a"]
        src.add(secret_pod("bad2", SECRET))  # fails on a watch event
        src.add(secret_pod("c", SECRET))  # the reflector's thread is alive: this one arrives
        assert wait_for(lambda: names(inf) == ["ns/a", "ns/c"]), names(inf)
        assert inf.stats.transform_errors == 2
        assert all("data" not in o for o in inf.get_store().list())
        reflector = inf.reflector
        assert reflector is not None and reflector.stats.lists == 1  # no relist was needed
    assert added == ["a", "c"]
    logged = [m for m in messages(caplog) if "transform" in m]
    assert len(logged) == 2 and all("strip" in m for m in logged)
    assert "'ns/bad'" in logged[0] and "'ns/bad2'" in logged[1]
    assert not any(SECRET in m for m in messages(caplog, logging.DEBUG))


def test_a_failed_transform_of_a_listed_object_keeps_its_cached_state(
        front: ThreadFront | AsyncFront) -> None:
    src = FakeControllerSource()
    src.add(secret_pod("a", SECRET, v=1))
    broken = threading.Event()

    def transform(obj: Any) -> Any:
        if broken.is_set():
            raise KeyboardInterrupt  # raised by user code on the reflector's thread
        return obj

    deleted: list[Any] = []
    inf = front.new(src, transform=transform)
    inf.add_event_handler(ResourceEventHandlerFuncs(on_delete=deleted.append))
    with front.running(inf):
        assert wait_for(inf.has_synced)
        broken.set()
        src.modify(secret_pod("a", SECRET, v=2))  # skipped: the cache keeps v=1
        assert wait_for(lambda: inf.stats.transform_errors == 1)
        src.drop_watches(expired=True)  # a 410: relist, whose transform fails too
        assert wait_for(lambda: inf.stats.reflector.relists >= 1)
        assert wait_for(lambda: inf.stats.transform_errors >= 2)
        assert inf.get_store().get_by_key("ns/a")[0]["v"] == 1
        src.delete(secret_pod("a", SECRET, v=2))  # a deletion is never lost: the cached state goes
        assert wait_for(lambda: len(deleted) == 1)
        assert names(inf) == []
    assert deleted[0].key == "ns/a" and deleted[0].obj["v"] == 1


def test_an_index_function_raising_system_exit_drops_only_that_key(
        front: ThreadFront | AsyncFront, caplog: pytest.LogCaptureFixture) -> None:
    def by_color(obj: Any) -> list[str]:
        if obj.get("color") == "bad":
            raise SystemExit("index function gave up")
        return [obj.get("color", "none")]

    src = FakeControllerSource()
    for name, color in (("a", "red"), ("b", "bad"), ("c", "red")):
        src.add(secret_pod(name, SECRET, color=color))
    inf = front.new(src, indexers={"color": by_color})
    added: list[str] = []
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: added.append(o["metadata"]["name"])))
    with caplog.at_level(logging.ERROR), front.running(inf):
        assert wait_for(inf.has_synced)
        assert wait_for(lambda: sorted(added) == ["a", "c"])
        src.add(secret_pod("d", SECRET, color="red"))
        assert wait_for(lambda: names(inf) == ["ns/a", "ns/c", "ns/d"])
        assert inf.stats.index_errors == 1
        assert len(inf.get_indexer().by_index("color", "red")) == 3
    logged = [m for m in messages(caplog) if "'ns/b'" in m]
    assert len(logged) == 1 and "SystemExit" in logged[0]
    assert "index function 'color'" in logged[0]  # the index is named, as for an Exception
    assert not any(SECRET in m for m in messages(caplog, logging.DEBUG))


# --- a handler that falls behind -----------------------------------------------------


def test_a_slow_handler_is_reported_once_per_tenfold_backlog_and_loses_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    src = FakeControllerSource()
    gate = threading.Event()
    seen: list[int] = []

    class SlowHandler:
        def on_add(self, obj: Any) -> None:
            gate.wait(10)
            seen.append(obj["v"])

        def on_update(self, old: Any, new: Any) -> None:
            gate.wait(10)
            seen.append(new["v"])

    fast: list[int] = []
    inf = new_informer(src, backlog_warning=20)
    inf.add_event_handler(SlowHandler())
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda o: fast.append(o["v"]), on_update=lambda old, new: fast.append(new["v"])))
    with caplog.at_level(logging.INFO, logger="kubecache.informer"), running(inf), \
            _opened(gate):
        assert wait_for(inf.has_synced)
        for v in range(250):
            (src.add if v == 0 else src.modify)(secret_pod("x", SECRET, v=v))
        assert wait_for(lambda: len(fast) == 250)
        slow_name, fast_name = inf.stats.backlog  # by handler name, in registration order
        assert slow_name.endswith("<locals>.SlowHandler")
        assert fast_name.startswith("ResourceEventHandlerFuncs(on_add=")
        assert wait_for(lambda: inf.stats.backlog[fast_name] == 0)
        backlog = inf.stats.backlog
        assert backlog[slow_name] >= 249
        assert inf.stats.snapshot()["backlog"] == backlog
        warnings = [r.getMessage() for r in caplog.records
                    if r.levelno == logging.WARNING and "SlowHandler" in r.getMessage()]
        assert len(warnings) == 2, warnings  # at 20 and at 200, not at every event
        assert all("falling behind" in w for w in warnings)
        assert "20 notifications" in warnings[0] and "200 notifications" in warnings[1]
        gate.set()
        assert wait_for(lambda: len(seen) == 250)
        assert seen == list(range(250))  # nothing dropped, in order
        assert wait_for(lambda: inf.stats.backlog[slow_name] == 0)
        src.modify(secret_pod("x", SECRET, v=250))
        assert wait_for(lambda: any("SlowHandler caught up" in r.getMessage()
                                    for r in caplog.records))


@contextmanager
def _opened(gate: threading.Event) -> Iterator[None]:
    """Open ``gate`` on the way out, so a failed assertion does not leave a handler blocked."""
    try:
        yield
    finally:
        gate.set()


def test_backlog_warnings_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    src = FakeControllerSource()
    gate = threading.Event()
    inf = new_informer(src, backlog_warning=0)
    inf.add_event_handler(ResourceEventHandlerFuncs(on_add=lambda o: gate.wait(10)))
    with caplog.at_level(logging.WARNING, logger="kubecache.informer"), running(inf), \
            _opened(gate):
        for i in range(50):
            src.add(secret_pod(f"p{i}", SECRET))
        assert wait_for(lambda: inf.stats.pending >= 49)
        gate.set()
        assert wait_for(lambda: inf.stats.pending == 0)
    assert not [r for r in caplog.records if "falling behind" in r.getMessage()]


def test_a_coroutine_handler_on_the_threaded_informer_is_refused() -> None:
    # a threaded informer cannot await: an async on_add was registered, never ran (a
    # "never awaited" warning at best) and its registration even reported synced
    informer = new_informer(FakeControllerSource())

    async def on_add(obj: Any) -> None:
        pass

    class Async:
        async def on_update(self, old: Any, new: Any) -> None:
            pass

    for handler in (ResourceEventHandlerFuncs(on_add=on_add), Async()):
        for inline in (False, True):
            with pytest.raises(TypeError, match=r"cannot await.*AsyncSharedIndexInformer"):
                informer.add_event_handler(handler, inline=inline)
    assert informer.stats.handlers == 0


def test_a_handler_returning_an_awaitable_on_the_threaded_informer_is_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    # a plain function returning a coroutine: it cannot be refused up front, so each such
    # call is logged and counted (it was dropped without a word)
    src = FakeControllerSource()
    src.add(secret_pod("a", SECRET))
    informer = new_informer(src)
    made: list[Any] = []

    async def work(obj: Any) -> None:
        pass

    def on_add(obj: Any) -> Any:
        made.append(work(obj))
        return made[-1]

    informer.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add))
    with caplog.at_level(logging.ERROR), running(informer):
        assert wait_for(lambda: informer.stats.handler_errors == 1)
    assert made and made[0].cr_frame is None  # closed: no "never awaited" warning later
    logged = [m for m in messages(caplog) if "returned an awaitable" in m]
    assert len(logged) == 1 and "'ns/a'" in logged[0] and SECRET not in logged[0]


def test_an_asyncio_lister_watcher_on_the_threaded_informer_is_refused() -> None:
    # its list() made a coroutine that was never awaited: the reflector logged "list
    # response of type coroutine has no 'items'" and retried for good
    class AsyncSource:
        async def list(self, options: Any) -> Any:
            return {"metadata": {"resourceVersion": "1"}, "items": []}

        async def watch(self, options: Any) -> Any:
            return iter(())

    with pytest.raises(TypeError, match=r"AsyncSource.*coroutine.*AsyncSharedIndexInformer"):
        SharedIndexInformer(AsyncSource())
