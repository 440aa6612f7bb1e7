"""The reflector's state machine on its own: outcomes in, effects and requests out.

No threads, no I/O: a small harness applies the effects the machine returns
(through the same :class:`EffectApplier` the drivers use) to a plain store.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.clock import FakeClock
from kubecache.errors import StatusError
from kubecache.keys import meta_namespace_key_func
from kubecache.reflector import INITIAL_EVENTS_END, ListPagingError, ReflectorMachine
from kubecache.reflector._sink import EffectApplier, as_sink
from kubecache.reflector._values import (
    Apply,
    ApplyMany,
    BackingOff,
    Done,
    Effect,
    EndWatch,
    Failed,
    Flush,
    FreezePage,
    Hold,
    Listed,
    Listing,
    ListPage,
    OpenWatch,
    PauseGC,
    Replace,
    Report,
    Request,
    ResumeGC,
    Resync,
    ScheduleResync,
    SetRV,
    Sleep,
    Slept,
    Stopped,
    StopRequested,
    Streaming,
    Thaw,
    WatchEnded,
    Watching,
)
from kubecache.store import new_store
from kubecache.testing.fake_source import gone_status
from tests.support.objects import pod

_HARNESSES: list[Harness] = []


@pytest.fixture(autouse=True)
def _thaw_as_a_driver_does() -> Iterator[None]:
    """The harness applies real page freezes and leaves some lists unfinished: thaw them
    as a driver does when it ends (else the process-wide PageFreeze count stays up and
    later lists, in later tests, freeze the GC for good)."""
    yield
    while _HARNESSES:
        _HARNESSES.pop().applier.thaw()


def page(items: list[Any], rv: str = "10", token: str = "") -> dict[str, Any]:
    return {"metadata": {"resourceVersion": rv, "continue": token}, "items": items}


class Recorder:
    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def __call__(self, _owner: Any, err: BaseException) -> None:
        self.errors.append(err)


class Harness:
    """A machine whose effects are applied to ``store`` as a driver would; records them."""

    def __init__(self, store: Any = None, **kw: Any) -> None:
        self.store = store if store is not None else new_store(meta_namespace_key_func)
        self.rec = Recorder()
        self.clock = FakeClock(100.0)
        kw.setdefault("backoff", Backoff(initial=1.0, maximum=30.0, jitter=0.0))
        sink = as_sink(self.store)
        kw.setdefault("prepare", sink.prepare)
        self.m = ReflectorMachine(kw.pop("expected_type", None), clock=self.clock,
                                  rng=random.Random(0), **kw)
        self.applier = EffectApplier(None, sink, self.m.stats, "test", self.rec)
        self.applier.on_end_watch = lambda: self.ended.append(True)
        self.ended: list[bool] = []
        self.effects: list[Effect] = []
        self.stats = self.m.stats
        _HARNESSES.append(self)

    def _apply(self, effects: tuple[Effect, ...]) -> None:
        self.effects.extend(effects)
        self.applier.apply(effects)

    def start(self, **kw: Any) -> Request:
        step = self.m.start(**kw)
        self._apply(step.effects)
        return step.request

    def step(self, outcome: Any) -> Request:
        step = self.m.step(outcome)
        self._apply(step.effects)
        return step.request

    def on_events(self, batch: list[Any]) -> BaseException | None:
        recorded = self.effects

        def tee(gen: Any) -> Any:
            try:
                while True:
                    effect = next(gen)
                    recorded.append(effect)
                    yield effect
            except StopIteration as end:
                return end.value

        return self.applier.run(tee(self.m.on_events(batch)))

    def on_event(self, event: Any) -> BaseException | None:
        """One event read alone: the machine's one-event path (as ``EffectApplier.take``)."""
        effects = self.m.on_event(event)
        if effects is None:  # not watching (a streamed list): read as a batch of one
            return self.on_events([event])
        if isinstance(effects, BaseException):
            return effects
        self._apply((effects,))
        return None

    def tick(self) -> tuple[Effect, ...]:
        effects = self.m.tick()
        self._apply(effects)
        return effects

    @property
    def state(self) -> Any:
        return self.m.state

    @property
    def last_sync_rv(self) -> str:
        return self.applier.rv


def drain(gen: Any) -> tuple[tuple[Effect, ...], BaseException | None]:
    """All the effects a batch yields, and the error it returns."""
    effects: list[Effect] = []
    while True:
        try:
            effects.append(next(gen))
        except StopIteration as end:
            return tuple(effects), end.value


def machine(**kw: Any) -> tuple[Harness, Any, Recorder]:
    h = Harness(**kw)
    return h, h.store, h.rec


def synced(m: Harness, items: list[Any], rv: str = "10") -> OpenWatch:
    first = m.start()
    assert isinstance(first, ListPage)
    nxt = m.step(Listed(page(items, rv)))
    assert isinstance(nxt, OpenWatch)
    return nxt


def test_first_request_is_a_paged_list_at_rv_zero() -> None:
    m, _, _ = machine()
    req = m.start()
    assert isinstance(req, ListPage)
    assert (req.options.resource_version, req.options.limit, req.options.continue_) == (
        "0", 500, None)
    assert m.state == Listing("0", 500)
    assert m.effects == []  # the GC is never paused (FreezePage comes with pages)


def test_pages_accumulate_aside_and_reach_the_store_at_once() -> None:
    m, store, _ = machine(page_size=2)
    m.start()
    req = m.step(Listed(page([pod("a"), pod("b")], token="t1")))
    assert isinstance(req, ListPage) and req.options.continue_ == "t1"
    assert req.options.limit == 2 and not req.options.resource_version
    assert len(store) == 0  # nothing stored before the last page
    req = m.step(Listed(page([pod("c")], rv="12")))
    assert isinstance(req, OpenWatch)
    assert req.options.resource_version == "12" and req.options.allow_watch_bookmarks
    assert sorted(store.list_keys()) == ["ns/a", "ns/b", "ns/c"]
    assert m.last_sync_rv == "12" and m.stats.list_pages == 2 and m.stats.lists == 1


def test_a_repeated_continue_token_fails_the_attempt_and_lists_afresh() -> None:
    m, store, rec = machine(page_size=1)
    store.add(pod("deleted-on-server"))
    m.start()
    m.step(Listed(page([pod("a")], token="same")))
    req = m.step(Listed(page([pod("b")], token="same")))  # the server pages in circles
    assert isinstance(req, Sleep) and req.seconds >= 1.0
    assert isinstance(rec.errors[-1], ListPagingError)
    assert "repeated a continue token" in str(rec.errors[-1])
    assert store.list_keys() == ["ns/deleted-on-server"]  # the failed attempt's pages never landed
    req = m.step(Slept())
    assert isinstance(req, ListPage) and req.options.continue_ is None  # a fresh list
    assert req.options.resource_version == "0"
    m.step(Listed(page([pod("a")], rv="20")))
    assert store.list_keys() == ["ns/a"]


def test_runaway_pagination_is_capped() -> None:
    m, store, rec = machine(page_size=1, max_list_pages=5)
    m.start()
    req: Any = None
    for i in range(5):
        req = m.step(Listed(page([pod(f"p{i}")], token=f"t{i}")))
    assert isinstance(req, Sleep)
    assert isinstance(rec.errors[-1], ListPagingError) and "more than 5 pages" in str(
        rec.errors[-1])
    assert len(store) == 0


def test_expired_continue_token_restarts_as_one_full_list() -> None:
    m, _, _ = machine(page_size=1)
    m.start()
    m.step(Listed(page([pod("a")], token="t1")))
    req = m.step(Failed(StatusError(gone_status("too old"))))
    assert isinstance(req, ListPage)
    assert req.options.limit is None and req.options.continue_ is None
    assert req.options.resource_version == "0" and m.stats.gone == 1


def test_410_for_the_list_rv_relists_at_once_with_a_consistent_read() -> None:
    m, _, _ = machine()
    synced(m, [pod("a")], rv="10")
    m.m._state = Listing("10", None)  # a relist at the last version, as after a restart
    req = m.step(Failed(StatusError(gone_status("too old"))))
    assert isinstance(req, ListPage) and req.options.resource_version == ""
    assert not isinstance(m.state, BackingOff)


def test_watch_after_events_rewatches_from_the_last_rv_without_backoff() -> None:
    m, store, _ = machine()
    synced(m, [pod("a")])
    assert m.on_event({"type": "MODIFIED", "object": pod("a", rv="11")}) is None
    assert m.on_event(("ADDED", pod("b", rv="12"))) is None
    assert m.on_event(("BOOKMARK", {"metadata": {"resourceVersion": "15"}})) is None
    m.clock.step(30.0)
    req = m.step(WatchEnded())
    assert isinstance(req, OpenWatch) and req.options.resource_version == "15"
    assert m.stats.watch_restarts == 1 and len(store) == 2


def test_watch_closing_at_once_without_events_backs_off() -> None:
    m, _, rec = machine()
    synced(m, [])
    m.clock.step(0.1)
    req = m.step(WatchEnded())
    assert isinstance(req, Sleep) and "closed at once" in str(rec.errors[-1])
    assert isinstance(m.step(Slept()), OpenWatch)


def test_410_error_event_after_events_relists_at_once_but_backs_off_when_immediate() -> None:
    m, _, _ = machine()
    synced(m, [pod("a")])
    assert m.on_event(("MODIFIED", pod("a", rv="11"))) is None
    err = m.on_event({"type": "ERROR", "object": gone_status("too old")})
    assert isinstance(err, StatusError) and err.code == 410
    req = m.step(WatchEnded(err))
    assert isinstance(req, ListPage) and req.options.resource_version == ""
    m.step(Listed(page([pod("a")], rv="30")))
    req = m.step(WatchEnded(err))  # 410 right away: must not spin
    assert isinstance(req, Sleep)
    req = m.step(Slept())
    assert isinstance(req, ListPage) and req.options.resource_version == ""


def test_retry_after_is_honoured_within_the_backoff_cap() -> None:
    m, _, _ = machine(backoff=Backoff(initial=0.1, maximum=30.0, jitter=0.0))
    m.start()
    req = m.step(Failed(StatusError({"code": 429, "details": {"retryAfterSeconds": 5}})))
    assert isinstance(req, Sleep) and req.seconds == pytest.approx(5.0)
    m.step(Slept())
    req = m.step(Failed(StatusError({"code": 503, "details": {"retryAfterSeconds": 3600}})))
    assert isinstance(req, Sleep) and req.seconds == pytest.approx(30.0)


def test_a_store_rejecting_one_event_skips_it_and_goes_on() -> None:
    m, store, _ = machine()
    synced(m, [])
    assert m.on_event(("ADDED", {"spec": {}})) is None  # no metadata: no key
    assert m.on_event(("ADDED", pod("b", rv="12"))) is None
    assert m.stats.skipped == 1 and store.list_keys() == ["ns/b"]


def test_a_system_exit_from_the_store_is_absorbed_in_background_code() -> None:
    def exploding(obj: Any) -> None:
        raise SystemExit(3)

    m, store, _ = machine()
    synced(m, [])
    store.add = exploding
    m.applier.sink = as_sink(store)
    import threading

    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(m.on_event(("ADDED", pod("x", rv="2")))))
    t.start()
    t.join(5)
    assert result == [None] and m.stats.skipped == 1


def test_streamed_list_collects_aside_until_the_initial_events_end_bookmark() -> None:
    m, store, _ = machine(watch_list=True)
    store.add(pod("stale"))
    req = m.start()
    assert isinstance(req, OpenWatch)
    o = req.options
    assert (o.send_initial_events, o.resource_version_match, o.resource_version,
            o.allow_watch_bookmarks) == (True, "NotOlderThan", "", True)
    m.on_event(("ADDED", pod("a", rv="5")))
    m.on_event(("ADDED", pod("b", rv="6")))
    assert store.list_keys() == ["ns/stale"]  # untouched until the end bookmark
    end = {"metadata": {"resourceVersion": "9", "annotations": {INITIAL_EVENTS_END: "true"}}}
    m.on_event(("BOOKMARK", end))
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"] and m.last_sync_rv == "9"
    assert isinstance(m.state, Watching)
    m.on_event(("MODIFIED", pod("a", rv="10")))  # the same watch goes on
    assert m.last_sync_rv == "10"


def test_a_streamed_list_failing_before_its_end_falls_back_to_a_list() -> None:
    m, store, rec = machine(watch_list=True)
    store.add(pod("kept"))
    m.start()
    m.on_event(("ADDED", pod("a", rv="5")))
    req = m.step(WatchEnded(StatusError(code=500, message="broken stream")))
    assert isinstance(req, ListPage) and req.options.resource_version == "0"
    assert store.list_keys() == ["ns/kept"] and rec.errors
    assert isinstance(m.state, Listing)
    assert isinstance(m.step(Listed(page([pod("z")], rv="7"))), OpenWatch)
    assert store.list_keys() == ["ns/z"]


def test_a_mismatching_outcome_is_a_bug_not_a_silent_transition() -> None:
    m, _, _ = machine()
    m.start()
    with pytest.raises(RuntimeError, match="does not fit"):
        m.step(Slept())


def test_relist_is_back_to_a_listing_state() -> None:
    m, _, _ = machine()
    synced(m, [pod("a")])
    m.on_event(("MODIFIED", pod("a", rv="11")))
    m.step(WatchEnded(StatusError(gone_status("too old"))))
    assert isinstance(m.state, Listing) and m.state.rv == "" and not isinstance(
        m.state, Streaming)


class HoldingStore:
    """A store recording hold/flush around the writes (as the informer's pipeline has)."""

    def __init__(self) -> None:
        self.inner = new_store(meta_namespace_key_func)
        self.log: list[str] = []

    def hold(self) -> None:
        self.log.append("hold")

    def update_resource_version(self, rv: str) -> None:
        pass

    def prepare(self, items: list[Any]) -> list[Any]:
        return items

    def replace_prepared(self, items: Any, rv: str = "") -> None:
        self.log.append("replace")
        self.inner.replace(list(items), rv)

    def flush(self) -> None:
        self.log.append("flush")

    def __getattr__(self, name: str) -> Any:
        inner = getattr(self.inner, name)
        if name in ("add", "update", "delete"):
            def write(obj: Any) -> None:
                self.log.append(name)
                inner(obj)
            return write
        return inner


def test_events_that_arrived_together_are_applied_as_one_held_batch() -> None:
    store = HoldingStore()
    m = Harness(store)
    m.start()
    m.step(Listed(page([])))
    store.log.clear()
    err = m.on_events([("ADDED", pod("a", rv="2")), ("ADDED", pod("b", rv="3"))])
    assert err is None
    assert store.log == ["hold", "add", "add", "flush"]
    store.log.clear()
    assert m.on_events([("MODIFIED", pod("a", rv="4"))]) is None
    assert store.log == ["update"]  # a lone event needs no hold
    store.log.clear()
    err = m.on_events([("DELETED", pod("a", rv="5")),
                       ("ERROR", gone_status("too old")), ("ADDED", pod("c", rv="6"))])
    assert isinstance(err, StatusError) and err.code == 410
    assert store.log == ["hold", "delete", "flush"]  # flushed even when the batch ends early
    assert m.last_sync_rv == "5"


class PreparingStore(HoldingStore):
    """A store that transforms each list page as it arrives (as the informer's pipeline does)."""

    def prepare(self, items: list[Any]) -> list[Any]:
        self.log.append(f"prepare {len(items)}")
        return [{**o, "prepared": True} for o in items]

    def replace_prepared(self, items: Any, rv: str = "") -> None:
        items = list(items)
        self.log.append(f"replace_prepared {len(items)}")
        self.inner.replace(items, rv)

    def replace(self, items: list[Any], rv: str = "") -> None:
        self.log.append("replace")
        self.inner.replace(items, rv)


def test_each_list_page_is_prepared_as_it_arrives_and_replaced_once() -> None:
    store = PreparingStore()
    m = Harness(store, page_size=2)
    m.start()
    m.step(Listed(page([pod("a"), pod("b")], token="t1")))
    assert store.log == ["prepare 2"] and len(store.inner) == 0
    m.step(Listed(page([pod("c")], rv="9")))
    assert store.log == ["prepare 2", "prepare 1", "replace_prepared 3"]
    assert all(o["prepared"] for o in store.inner.list())


def test_changes_during_a_streamed_list_are_applied_to_the_collected_state() -> None:
    m, store, _ = machine(watch_list=True)
    m.start()
    for event in [("ADDED", pod("a", rv="5")), ("ADDED", pod("b", rv="6")),
                  ("DELETED", pod("a", rv="7")), ("MODIFIED", pod("b", rv="8"))]:
        assert m.on_event(event) is None
    end = {"metadata": {"resourceVersion": "8", "annotations": {INITIAL_EVENTS_END: "true"}}}
    m.on_event(("BOOKMARK", end))
    assert store.list_keys() == ["ns/b"]  # the deleted one does not come back
    assert store.get_by_key("ns/b")[0]["metadata"]["resourceVersion"] == "8"


def test_a_streamed_list_ending_inside_a_held_batch_reaches_the_store_unheld() -> None:
    store = PreparingStore()
    m = Harness(store, watch_list=True)
    m.start()
    end = {"metadata": {"resourceVersion": "9", "annotations": {INITIAL_EVENTS_END: "true"}}}
    err = m.on_events([("ADDED", pod("a", rv="5")), ("BOOKMARK", end),
                       ("MODIFIED", pod("a", rv="10")), ("MODIFIED", pod("a", rv="11"))])
    assert err is None
    # the replace reaches the store on its own; the later events are held as usual
    assert store.log == ["prepare 1", "replace_prepared 1", "hold", "update", "update", "flush"]


# --- issue 15: effects as values, immutable states, initial state, codec, deadlines -------


def test_a_step_returns_effects_as_values_and_touches_no_store() -> None:
    m = ReflectorMachine(clock=FakeClock(), backoff=Backoff(jitter=0.0), page_size=0)
    first = m.start()
    assert first.effects == () and isinstance(first.request, ListPage)
    step = m.step(Listed(page([pod("a")], rv="7")))
    assert step.effects == (PauseGC(), Thaw(), Replace([pod("a")], "7"), SetRV("7"),
                            ResumeGC(), ScheduleResync(None))
    assert isinstance(step.request, OpenWatch) and m.state == Watching(
        "7", started=0.0, events=0, resync_at=None)
    effects, err = drain(m.on_events([("ADDED", pod("b", rv="8")),
                                      ("BOOKMARK", pod("", rv="9"))]))
    assert err is None
    # a batch's changes are one effect, not one per event
    assert effects == (Hold(), ApplyMany([Apply("ADDED", pod("b", rv="8"))]), Flush(), SetRV("9"))
    assert m.state == Watching("9", started=0.0, events=2, resync_at=None)
    step = m.step(WatchEnded(StatusError(code=500, message="boom")))
    assert isinstance(step.effects[0], Report) and isinstance(step.request, Sleep)


def test_states_are_never_mutated() -> None:
    m = ReflectorMachine(clock=FakeClock(), backoff=Backoff(jitter=0.0), page_size=1)
    m.start()
    m.step(Listed(page([pod("a")], token="t1")))
    before = m.state
    assert isinstance(before, Listing)
    snapshot = dataclasses.astuple(before)
    m.step(Listed(page([pod("b")], token="t2")))
    assert dataclasses.astuple(before) == snapshot  # the old value is as it was
    after = m.state
    assert isinstance(after, Listing) and after.tokens == {"t1", "t2"} and len(after.pages) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.token = "x"  # type: ignore[misc]


def test_a_stop_is_not_a_failure_whatever_the_request() -> None:
    m, _, rec = machine()
    m.start()
    assert isinstance(m.step(StopRequested()), Done)
    assert not rec.errors and m.stats.errors == 0 and m.stats.backoffs == 0
    assert isinstance(m.state, Stopped) and Thaw() in m.effects
    assert isinstance(m.start(), ListPage)  # a new run syncs again


def test_resuming_from_a_filled_store_watches_without_listing() -> None:
    """The explicit initial state a warm restart needs: Watching(rv) over a filled store."""
    m, store, _ = machine(resume_from="42")
    store.add(pod("a", rv="40"))
    req = m.start()
    assert isinstance(req, OpenWatch) and req.options.resource_version == "42"
    assert m.last_sync_rv == "42" and m.stats.lists == 0
    assert m.on_event(("MODIFIED", pod("a", rv="43"))) is None
    assert store.get_by_key("ns/a")[0]["metadata"]["resourceVersion"] == "43"
    req = m.step(WatchEnded(StatusError(gone_status("too old"))))  # then a 410: relist
    assert isinstance(req, ListPage) and req.options.resource_version == ""


def test_a_one_cycle_run_ends_when_a_relist_is_due_and_with_its_list_error() -> None:
    m, _, _ = machine()
    m.start(once=True)
    step = m.m.step(Failed(StatusError(code=500, message="down")))
    assert isinstance(step.request, Done) and isinstance(step.request.error, StatusError)
    m.start(once=True)
    m.step(Listed(page([pod("a")], rv="5")))
    m.on_event(("MODIFIED", pod("a", rv="6")))
    req = m.step(WatchEnded(StatusError(gone_status("too old"))))
    assert req == Done()  # a relist is due: the cycle is over


class Etcdish:
    """A codec for a source that is not Kubernetes: lists are (revision, {key: value}),
    events are (op, key, value, revision), 'compacted' means list again."""

    def list_parts(self, result: Any) -> tuple[list[Any], str, str]:
        revision, kvs = result
        return [{"key": k, "value": v} for k, v in kvs.items()], str(revision), ""

    def split(self, event: Any) -> tuple[str, Any, str]:
        op, key, value, revision = event
        etype = {"put": "MODIFIED", "del": "DELETED", "progress": "BOOKMARK",
                 "fail": "ERROR"}[op]
        return etype, {"key": key, "value": value}, str(revision)

    def status_error(self, obj: Any) -> BaseException:
        return RuntimeError(obj["value"])

    def is_gone(self, err: BaseException) -> bool:
        return "compacted" in str(err)

    def needs_relist(self, err: BaseException) -> bool:
        return self.is_gone(err)

    def is_initial_events_end(self, obj: Any) -> bool:
        return False

    def key(self, obj: Any) -> str:
        return str(obj["key"])

    def kind(self, obj: Any) -> str:
        return ""


def test_a_source_speaks_its_own_shapes_through_its_codec() -> None:
    store = new_store(lambda o: o["key"])
    m = Harness(store, codec=Etcdish())
    m.start()
    req = m.step(Listed((7, {"a": 1, "b": 2})))
    assert isinstance(req, OpenWatch) and req.options.resource_version == "7"
    assert sorted(store.list_keys()) == ["a", "b"]
    assert m.on_events([("put", "a", 3, 8), ("del", "b", None, 9), ("progress", "", None, 12)]) \
        is None
    assert store.list() == [{"key": "a", "value": 3}] and m.last_sync_rv == "12"
    err = m.on_event(("fail", "", "compacted at 10", 13))
    assert isinstance(err, RuntimeError)
    req = m.step(WatchEnded(err))  # the codec says: list again
    assert isinstance(req, ListPage) and req.options.resource_version == ""


def test_codec_of_refuses_a_codec_without_the_methods() -> None:
    from kubecache.reflector._codec import KUBERNETES, codec_of

    class Source:
        codec = object()

    assert codec_of(object()) is KUBERNETES
    with pytest.raises(TypeError, match="lacks the methods"):
        codec_of(Source())


def test_resync_is_scheduled_by_the_machine_on_its_clock() -> None:
    vetoes = [True, False, True]
    m, _, _ = machine(resync_period=30.0, should_resync=lambda: vetoes.pop(0))
    synced(m, [pod("a")])
    assert ScheduleResync(130.0) in m.effects and m.m.deadline() == 130.0
    assert m.tick() == ()  # not due yet
    m.clock.step(30.0)
    assert m.tick() == (Resync(), ScheduleResync(160.0))
    m.clock.step(30.0)
    assert m.tick() == (ScheduleResync(190.0),)  # vetoed by should_resync
    m.step(WatchEnded(StatusError(code=500, message="x")))  # backing off: still synced
    m.clock.step(30.0)
    assert m.tick() == (Resync(), ScheduleResync(220.0))
    assert m.stats.resyncs == 2


def test_no_resync_before_the_store_is_synced() -> None:
    m, _, _ = machine(resync_period=1.0)
    m.start()
    m.clock.step(5.0)
    assert m.m.deadline() is None and m.tick() == ()


def test_a_streamed_list_without_its_end_bookmark_warns_then_falls_back(
        caplog: pytest.LogCaptureFixture) -> None:
    m, store, rec = machine(watch_list=True, stream_timeout=25.0)
    m.start()
    m.on_event(("ADDED", pod("a", rv="5")))
    assert m.m.deadline() == 110.0
    with caplog.at_level(logging.WARNING, logger="kubecache.reflector"):
        m.clock.step(10.0)
        assert m.tick() == ()
        m.clock.step(10.0)
        assert m.tick() == ()
        assert m.m.deadline() == 125.0
        m.clock.step(5.0)
        assert m.tick() == (EndWatch(),) and m.ended == [True]
    warned = [r.getMessage() for r in caplog.records if "initial-events-end" in r.getMessage()]
    assert len(warned) == 3 and "listing instead" in warned[-1]
    req = m.step(WatchEnded())  # the stopped watch ends: a list replaces the stream
    assert isinstance(req, ListPage) and len(store) == 0 and m.stats.stream_fallbacks == 1
    assert "stalled" in str(rec.errors[-1])


def test_each_page_but_the_last_is_frozen_and_the_list_thawed_once_the_store_took_it(
) -> None:
    m, _, _ = machine(page_size=1)
    m.start()
    assert m.step(Listed(page([pod("a")], token="t1"))) and m.effects == [FreezePage()]
    m.step(Listed(page([pod("b")], token="t2")))
    m.step(Listed(page([pod("c")], rv="9")))
    kinds = [type(e).__name__ for e in m.effects]
    assert kinds == ["FreezePage", "FreezePage", "PauseGC", "Thaw", "Replace", "SetRV",
                     "ResumeGC", "ScheduleResync"]
    m2, _, _ = machine(page_size=1)
    m2.start()
    m2.step(Listed(page([pod("a")], token="t1")))
    m2.step(Failed(StatusError(code=500, message="down")))  # a failed list thaws too
    assert [type(e).__name__ for e in m2.effects] == ["FreezePage", "Report", "Thaw"]


def test_each_streamed_batch_is_frozen_and_the_stream_thawed_when_it_ends() -> None:
    # As a paginated list's pages: what a streamed list collected stays out of the GC's
    # scans until the end bookmark (a collection per batch rescanned all of it: 3.5x CPU).
    m, _, _ = machine(watch_list=True)
    m.start()
    m.on_events([("ADDED", pod("a", rv="5")), ("ADDED", pod("b", rv="6"))])
    m.on_event(("BOOKMARK", {"metadata": {"resourceVersion": "6"}}))  # nothing collected
    assert [type(e).__name__ for e in m.effects] == ["FreezePage"]
    end = {"metadata": {"resourceVersion": "9", "annotations": {INITIAL_EVENTS_END: "true"}}}
    m.on_event(("BOOKMARK", end))
    kinds = [type(e).__name__ for e in m.effects[1:]]
    assert kinds[:5] == ["PauseGC", "Thaw", "Replace", "SetRV", "ResumeGC"]
    m2, _, _ = machine(watch_list=True)
    m2.start()
    m2.on_event(("ADDED", pod("a", rv="5")))
    m2.step(WatchEnded(StatusError(code=500, message="broken stream")))  # a fallback thaws
    assert [type(e).__name__ for e in m2.effects][-2:] == ["Report", "Thaw"]


def test_a_list_unusually_long_in_the_making_logs_its_progress(
        caplog: pytest.LogCaptureFixture) -> None:
    # max_list_pages bounds pages, not memory: a server handing out a fresh continue token
    # per page grows the client page after page, so the list says how much it holds.
    m, store, _ = machine(page_size=1)
    m.start()
    with caplog.at_level(logging.INFO, logger="kubecache.reflector"):
        for i in range(1, 1001):
            m.step(Listed(page([pod(f"p{i}")], token=f"t{i}")))
    progress = [r for r in caplog.records if "still in progress" in r.getMessage()]
    assert len(progress) == 2 and len(store) == 0  # nothing applied before the last page
    assert [r.levelno for r in progress] == [logging.INFO, logging.WARNING]
    assert "100 pages, 100 items" in progress[0].getMessage()
    assert "1000 pages, 1000 items" in progress[1].getMessage()
