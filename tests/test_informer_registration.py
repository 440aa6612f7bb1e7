"""Handler registrations, the initial-list flag, inline handlers, delivery order (issue 16).

Every test runs on both front ends through the ``front`` fixture.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

import kubecache
from kubecache.informer import ResourceEventHandlerFuncs, ResourceEventHandlerRegistration
from kubecache.testing import FakeControllerSource
from tests.support.front import AsyncFront, ThreadFront, key
from tests.support.objects import pod
from tests.support.sync import await_event, wait_for

Front = ThreadFront | AsyncFront


def name(obj: Any) -> str:
    return str(obj["metadata"]["name"])


class FlagRecorder:
    """Records ``(name, is_in_initial_list)`` per add; gated like the shared recorder."""

    def __init__(self) -> None:
        self.adds: list[tuple[str, bool]] = []
        self.gate = threading.Event()
        self.gate.set()

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self.gate.wait(5)
        self.adds.append((name(obj), is_in_initial_list))


class AsyncFlagRecorder(FlagRecorder):
    async def on_add(self, obj: Any, is_in_initial_list: bool) -> None:  # type: ignore[override]
        await await_event(self.gate)
        self.adds.append((name(obj), is_in_initial_list))


def flag_recorder(front: Front) -> FlagRecorder:
    return AsyncFlagRecorder() if front.name == "asyncio" else FlagRecorder()


# --- registrations ----------------------------------------------------------------------


def test_a_registration_syncs_once_its_handler_got_the_initial_list(front: Front) -> None:
    src = FakeControllerSource()
    for i in range(3):
        src.add(pod(f"p{i}"))
    inf = front.new(src)
    rec = front.recorder()
    rec.gate.clear()
    reg = inf.add_event_handler(rec)
    assert isinstance(reg, ResourceEventHandlerRegistration)
    assert kubecache.ResourceEventHandlerRegistration is ResourceEventHandlerRegistration
    assert reg.handler is rec and not reg.inline
    assert not reg.has_synced()
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        assert not reg.has_synced()  # the informer synced; its handler is held up
        rec.gate.set()
        assert wait_for(reg.has_synced)
        assert len(rec.events) == 3
        assert front.call(inf.remove_event_handler, reg) is True
        assert front.call(inf.remove_event_handler, reg) is False
        src.add(pod("late"))
        assert wait_for(lambda: "ns/late" in inf.get_store().list_keys())
    assert len(rec.events) == 3


def test_a_handler_added_late_syncs_after_its_catch_up(front: Front) -> None:
    src = FakeControllerSource()
    for i in range(20):
        src.add(pod(f"p{i}"))
    inf = front.new(src)
    first = inf.add_event_handler(front.recorder())
    with front.running(inf):
        assert wait_for(first.has_synced)
        rec = front.recorder()
        rec.gate.clear()
        reg = front.call(inf.add_event_handler, rec)
        src.add(pod("live"))
        assert wait_for(lambda: len(inf.get_store().list_keys()) == 21)
        assert not reg.has_synced() and first.has_synced()
        rec.gate.set()
        assert wait_for(reg.has_synced)
        assert wait_for(lambda: len(rec.events) == 21)
        assert rec.events[-1][1] == "ns/live"


def test_an_empty_initial_list_syncs_every_registration(front: Front) -> None:
    inf = front.new(FakeControllerSource())
    reg = inf.add_event_handler(front.recorder())
    with front.running(inf):
        assert wait_for(reg.has_synced)


def test_the_initial_list_flag_marks_the_first_list_and_a_late_handlers_catch_up(
        front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    src.add(pod("b"))
    inf = front.new(src)
    early = flag_recorder(front)
    kw_only: list[tuple[str, bool]] = []
    plain: list[str] = []
    inf.add_event_handler(early)
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda obj, *, is_in_initial_list: kw_only.append((name(obj),
                                                                  is_in_initial_list))))
    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=lambda obj, extra=None: plain.append(name(obj))))  # no flag asked: none given
    with front.running(inf):
        assert wait_for(lambda: len(early.adds) == 2)
        src.add(pod("c"))
        assert wait_for(lambda: len(early.adds) == 3)
        late = flag_recorder(front)
        front.call(inf.add_event_handler, late)
        assert wait_for(lambda: len(late.adds) == 3)
        src.add(pod("d"))
        assert wait_for(lambda: len(late.adds) == 4 and len(early.adds) == 4)
        assert wait_for(lambda: len(kw_only) == 4 and len(plain) == 4)
    assert early.adds == [("a", True), ("b", True), ("c", False), ("d", False)]
    assert kw_only == early.adds
    assert plain == ["a", "b", "c", "d"]
    assert sorted(late.adds[:3]) == [("a", True), ("b", True), ("c", True)]
    assert late.adds[3] == ("d", False)


def test_a_relist_is_not_the_initial_list(front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    inf = front.new(src)
    rec = flag_recorder(front)
    inf.add_event_handler(rec)
    with front.running(inf):
        assert wait_for(lambda: len(rec.adds) == 1)
        src.drop_watches(expired=True)
        src.add(pod("b"))  # may arrive with the relist
        assert wait_for(lambda: len(rec.adds) == 2)
    assert rec.adds == [("a", True), ("b", False)]


# --- inline handlers -----------------------------------------------------------------------


class Inline:
    """An inline handler that notes where it runs and what the cache held."""

    def __init__(self, inf: Any) -> None:
        self.inf = inf
        self.got: list[str] = []
        self.cached: list[bool] = []
        self.where: set[str] = set()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def _note(self, obj: Any) -> None:
        self.got.append(key(obj))
        self.cached.append(self.inf.get_store().get_by_key(key(obj))[1])
        task = _current_task()
        self.where.add(task.get_name() if task is not None else
                       threading.current_thread().name)

    def on_add(self, obj: Any) -> None:
        self._note(obj)
        if name(obj) == "slow":
            self.entered.set()
            self.gate.wait(5)
        if name(obj) == "bad":
            raise RuntimeError("inline handler failed")

    def on_delete(self, obj: Any) -> None:
        self._note(obj)


class AsyncInline(Inline):
    async def on_add(self, obj: Any) -> None:  # type: ignore[override]
        self._note(obj)
        if name(obj) == "slow":
            self.entered.set()
            await await_event(self.gate, timeout=30)
        if name(obj) == "bad":
            raise RuntimeError("inline handler failed")


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def inline_handler(front: Front, inf: Any) -> Inline:
    return AsyncInline(inf) if front.name == "asyncio" else Inline(inf)


def test_an_inline_handler_runs_on_the_informers_own_thread_after_the_cache_holds_it(
        front: Front) -> None:
    src = FakeControllerSource()
    src.add(pod("a"))
    inf = front.new(src)
    h = inline_handler(front, inf)
    reg = inf.add_event_handler(h, inline=True)
    assert reg.inline
    with front.running(inf):
        assert wait_for(reg.has_synced)
        for i in range(20):
            src.add(pod(f"p{i}"))
        src.delete(pod("a"))
        assert wait_for(lambda: len(h.got) == 22)
        assert inf.stats.pending == 0
    assert h.got == ["ns/a", *(f"ns/p{i}" for i in range(20)), "ns/a"]
    assert h.cached == [True] * 21 + [False]  # the cache held each change (and the deletion)
    assert not any(w.startswith("informer handler") for w in h.where), h.where


def test_a_slow_inline_handler_holds_up_the_informer(front: Front) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    h = inline_handler(front, inf)
    h.gate.clear()
    inf.add_event_handler(h, inline=True)
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        src.add(pod("slow"))
        assert h.entered.wait(5)
        src.add(pod("next"))
        assert not wait_for(lambda: "ns/next" in inf.get_store().list_keys(), timeout=0.2)
        h.gate.set()
        assert wait_for(lambda: h.got == ["ns/slow", "ns/next"])
        assert "ns/next" in inf.get_store().list_keys()


def test_a_raising_inline_handler_is_logged_and_counted(
        front: Front, caplog: pytest.LogCaptureFixture) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    h = inline_handler(front, inf)
    inf.add_event_handler(h, inline=True)
    with caplog.at_level(logging.ERROR), front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        src.add(pod("bad"))
        src.add(pod("good"))
        assert wait_for(lambda: h.got == ["ns/bad", "ns/good"])
        assert wait_for(lambda: inf.stats.handler_errors == 1)
        assert "ns/good" in inf.get_store().list_keys()
    assert any("failed on add of 'ns/bad'" in r.getMessage() for r in caplog.records)


def test_an_inline_handler_added_late_gets_the_cache_then_live_events(front: Front) -> None:
    src = FakeControllerSource()
    for i in range(5):
        src.add(pod(f"p{i}"))
    inf = front.new(src)
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        h = inline_handler(front, inf)
        reg = front.call(lambda: inf.add_event_handler(h, inline=True))
        assert wait_for(reg.has_synced)  # no later event needed to finish the catch-up
        assert sorted(h.got) == [f"ns/p{i}" for i in range(5)]
        src.add(pod("live"))
        assert wait_for(lambda: h.got[-1:] == ["ns/live"])
        assert front.call(inf.remove_event_handler, reg)
        src.add(pod("after"))
        assert wait_for(lambda: "ns/after" in inf.get_store().list_keys())
    assert "ns/after" not in h.got


# --- delivery order ------------------------------------------------------------------------


@pytest.mark.parametrize("inline", [False, True], ids=["buffered", "inline"])
def test_each_handler_gets_notifications_in_arrival_order_across_keys(
        front: Front, inline: bool) -> None:
    src = FakeControllerSource()
    inf = front.new(src)
    seen: list[tuple[str, str, str]] = []

    def record(kind: str) -> Any:
        def fn(*objs: Any) -> None:
            obj = objs[-1]
            seen.append((kind, name(obj), "" if kind == "delete" else str(obj["v"])))
        return fn

    inf.add_event_handler(ResourceEventHandlerFuncs(
        on_add=record("add"), on_update=record("update"), on_delete=record("delete")),
        inline=inline)
    expected: list[tuple[str, str, str]] = []
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        for step in range(300):
            n = f"k{(step * 7) % 13}"
            if src.items() and any(name(o) == n for o in src.items()):
                if step % 5 == 0:
                    src.delete(pod(n))
                    expected.append(("delete", n, ""))
                else:
                    src.modify(pod(n, v=step))
                    expected.append(("update", n, str(step)))
            else:
                src.add(pod(n, v=step))
                expected.append(("add", n, str(step)))
        assert wait_for(lambda: len(seen) == len(expected))
    assert seen == expected


# --- handlers added or removed by an inline handler, or while one runs ---------------------


class Keys:
    """A plain buffered handler recording the keys it is told about."""

    def __init__(self) -> None:
        self.got: list[str] = []

    def on_add(self, obj: Any) -> None:
        self.got.append(key(obj))

    def on_update(self, old: Any, new: Any) -> None:
        self.got.append(key(new))


def test_an_inline_handler_may_add_a_handler(front: Front) -> None:
    # the inline handler runs under the informer's delta lock; adding a handler from it
    # deadlocked the informer (and its stop) for good
    src = FakeControllerSource()
    src.add(pod("a"))
    inf = front.new(src)
    late = Keys()
    regs: list[Any] = []

    def on_add(obj: Any) -> None:
        if name(obj) == "trigger":
            regs.append(inf.add_event_handler(late))

    inf.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add), inline=True)
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        src.add(pod("trigger"))
        assert wait_for(lambda: regs and regs[0].has_synced()), "the added handler never synced"
        src.add(pod("after"))
        assert wait_for(lambda: "ns/after" in late.got)
    # its catch-up (everything cached, "trigger" included), then the live stream: no gap,
    # no duplicate
    assert sorted(late.got[:2]) == ["ns/a", "ns/trigger"] and late.got[2:] == ["ns/after"]


def test_a_handler_added_while_an_inline_handler_adds_one_deadlocks_nobody(
        front: Front) -> None:
    # lock order: a thread adding a handler held the lifecycle lock while waiting for the
    # delta lock; the inline handler, holding the delta lock, wanted the lifecycle lock
    src = FakeControllerSource()
    inf = front.new(src)
    first, second = Keys(), Keys()
    entered, gate = threading.Event(), threading.Event()
    regs: list[Any] = []

    def on_add(obj: Any) -> None:
        if name(obj) == "trigger":
            entered.set()
            gate.wait(10)
            regs.append(inf.add_event_handler(first))

    inf.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add), inline=True)
    with front.running(inf):
        assert wait_for(inf.has_synced) and wait_for(lambda: src.open_watches() == 1)
        src.add(pod("trigger"))
        assert entered.wait(5)
        adder = threading.Thread(target=lambda: regs.append(inf.add_event_handler(second)),
                                 name="test adder")
        adder.start()
        # let the adder reach its lock (this wait decides nothing: the test passes or
        # deadlocks whichever way it ends)
        wait_for(lambda: _lifecycle_held_elsewhere(inf), timeout=0.5)
        gate.set()
        adder.join(5)
        assert not adder.is_alive(), "add_event_handler deadlocked"
        assert wait_for(lambda: len(regs) == 2 and all(r.has_synced() for r in regs))
        src.add(pod("after"))
        assert wait_for(lambda: "ns/after" in first.got and "ns/after" in second.got)
    for h in (first, second):
        assert h.got == ["ns/trigger", "ns/after"]


def _lifecycle_held_elsewhere(inf: Any) -> bool:
    lock = inf.lifecycle._cond
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


def test_an_inline_handler_removed_during_a_batch_is_not_called_after_the_removal(
        front: Front) -> None:
    # remove_event_handler from another thread while the inline handler is in its call for
    # the first object of a batch: once the removal returned, the handler was still called
    # for the rest of that batch
    src = FakeControllerSource()
    for n in ("a", "b", "c"):
        src.add(pod(n))  # listed together: one batch
    inf = front.new(src)
    entered, gate, removed = threading.Event(), threading.Event(), threading.Event()
    calls: list[tuple[str, bool]] = []

    def on_add(obj: Any) -> None:
        calls.append((name(obj), removed.is_set()))
        if name(obj) == "a":
            entered.set()
            gate.wait(10)

    reg = inf.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add), inline=True)

    def remove() -> None:
        assert inf.remove_event_handler(reg)
        removed.set()

    with front.running(inf):
        assert entered.wait(5)
        remover = threading.Thread(target=remove, name="test remover")
        remover.start()
        assert wait_for(lambda: not inf.remove_event_handler(reg))  # it is being removed
        remover.join(0.5)  # lets a removal that does not wait return (decides nothing)
        gate.set()
        remover.join(5)
        assert removed.is_set()
        assert wait_for(lambda: len(inf.get_store().list_keys()) == 3)
    assert calls[0] == ("a", False)
    assert not [n for n, after in calls if after], f"called after its removal: {calls}"


def test_a_handler_without_any_callback_is_refused(front: Front) -> None:
    # a plain function (or None) was registered as a handler that silently did nothing
    inf = front.new(FakeControllerSource())
    for wrong in (lambda obj: None, print, None, object()):
        with pytest.raises(TypeError, match=r"on_add.*ResourceEventHandlerFuncs"):
            inf.add_event_handler(wrong)
        with pytest.raises(TypeError, match=r"on_add.*ResourceEventHandlerFuncs"):
            inf.add_event_handler(wrong, inline=True)
    assert inf.stats.handlers == 0
    inf.add_event_handler(ResourceEventHandlerFuncs())  # nothing asked for: allowed
    assert inf.stats.handlers == 1


def test_repr_does_not_wait_for_an_inline_handler(front: Front) -> None:
    # repr() (logs, debuggers, test reports) took the queue's lock, held while an inline
    # handler runs: it blocked until the handler returned (for good, when deadlocked)
    src = FakeControllerSource()
    src.add(pod("slow"))
    inf = front.new(src)
    h = inline_handler(front, inf)
    h.gate.clear()
    inf.add_event_handler(h, inline=True)
    with front.running(inf):
        assert h.entered.wait(5)
        shown: list[str] = []
        t = threading.Thread(target=lambda: shown.append(repr(inf)), name="test repr")
        t.start()
        t.join(5)
        done = not t.is_alive()
        h.gate.set()
        t.join(5)
        assert done, "repr waited for the inline handler"
        assert "items=1" in shown[0]
