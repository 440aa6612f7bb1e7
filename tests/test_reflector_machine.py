"""The reflector's state machine on its own: outcomes in, requests out; no threads, no I/O."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubecache.backoff import Backoff
from kubecache.clock import FakeClock
from kubecache.errors import StatusError
from kubecache.keys import meta_namespace_key_func
from kubecache.reflector import INITIAL_EVENTS_END, ListPagingError, ReflectorMachine
from kubecache.reflector._machine import (
    BackingOff,
    Failed,
    Listed,
    Listing,
    ListPage,
    OpenWatch,
    Sleep,
    Slept,
    Streaming,
    WatchEnded,
    Watching,
)
from kubecache.store import new_store
from kubecache.testing.fake_source import gone_status


def pod(name: str, rv: str = "1") -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"namespace": "ns", "name": name, "resourceVersion": rv}}


def page(items: list[Any], rv: str = "10", token: str = "") -> dict[str, Any]:
    return {"metadata": {"resourceVersion": rv, "continue": token}, "items": items}


class Recorder:
    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def __call__(self, _owner: Any, err: BaseException) -> None:
        self.errors.append(err)


def machine(**kw: Any) -> tuple[ReflectorMachine, Any, Recorder]:
    store = new_store(meta_namespace_key_func)
    rec = Recorder()
    kw.setdefault("backoff", Backoff(initial=1.0, maximum=30.0, jitter=0.0))
    m = ReflectorMachine(None, store, None, clock=FakeClock(), error_handler=rec,
                         rng=random.Random(0), **kw)
    return m, store, rec


def synced(m: ReflectorMachine, items: list[Any], rv: str = "10") -> OpenWatch:
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
    m.step(WatchEnded(0, 0.0, StatusError(code=500, message="boom")))  # back off, rewatch
    m.step(Slept())
    m.state = Listing("10", None)  # a relist at the last version, as after a restart
    req = m.step(Failed(StatusError(gone_status("too old"))))
    assert isinstance(req, ListPage) and req.options.resource_version == ""
    assert not isinstance(m.state, BackingOff)


def test_watch_after_events_rewatches_from_the_last_rv_without_backoff() -> None:
    m, store, _ = machine()
    synced(m, [pod("a")])
    assert m.on_event({"type": "MODIFIED", "object": pod("a", "11")}) is None
    assert m.on_event(("ADDED", pod("b", "12"))) is None
    assert m.on_event(("BOOKMARK", {"metadata": {"resourceVersion": "15"}})) is None
    req = m.step(WatchEnded(3, 30.0))
    assert isinstance(req, OpenWatch) and req.options.resource_version == "15"
    assert m.stats.watch_restarts == 1 and len(store) == 2


def test_watch_closing_at_once_without_events_backs_off() -> None:
    m, _, rec = machine()
    synced(m, [])
    req = m.step(WatchEnded(0, 0.1))
    assert isinstance(req, Sleep) and "closed at once" in str(rec.errors[-1])
    assert isinstance(m.step(Slept()), OpenWatch)


def test_410_error_event_after_events_relists_at_once_but_backs_off_when_immediate() -> None:
    m, _, _ = machine()
    synced(m, [pod("a")])
    err = m.on_event({"type": "ERROR", "object": gone_status("too old")})
    assert isinstance(err, StatusError) and err.code == 410
    req = m.step(WatchEnded(2, 5.0, err))
    assert isinstance(req, ListPage) and req.options.resource_version == ""
    m.step(Listed(page([pod("a")], rv="30")))
    req = m.step(WatchEnded(0, 0.0, err))  # 410 right away: must not spin
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
    assert m.on_event(("ADDED", pod("b", "12"))) is None
    assert m.stats.skipped == 1 and store.list_keys() == ["ns/b"]


def test_a_system_exit_from_the_store_is_absorbed_in_background_code() -> None:
    def exploding(obj: Any) -> None:
        raise SystemExit(3)

    m, _, _ = machine()
    synced(m, [])
    m._ops["ADDED"] = exploding
    import threading

    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(m.on_event(("ADDED", pod("x", "2")))))
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
    m.on_event(("ADDED", pod("a", "5")))
    m.on_event(("ADDED", pod("b", "6")))
    assert store.list_keys() == ["ns/stale"]  # untouched until the end bookmark
    end = {"metadata": {"resourceVersion": "9", "annotations": {INITIAL_EVENTS_END: "true"}}}
    m.on_event(("BOOKMARK", end))
    assert sorted(store.list_keys()) == ["ns/a", "ns/b"] and m.last_sync_rv == "9"
    assert isinstance(m.state, Watching)
    m.on_event(("MODIFIED", pod("a", "10")))  # the same watch goes on
    assert m.last_sync_rv == "10"


def test_a_streamed_list_failing_before_its_end_falls_back_to_a_list() -> None:
    m, store, rec = machine(watch_list=True)
    store.add(pod("kept"))
    m.start()
    m.on_event(("ADDED", pod("a", "5")))
    req = m.step(WatchEnded(1, 0.5, StatusError(code=500, message="broken stream")))
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
    m.step(WatchEnded(1, 1.0, StatusError(gone_status("too old"))))
    assert isinstance(m.state, Listing) and m.state.rv == "" and not isinstance(
        m.state, Streaming)


class HoldingStore:
    """A store recording hold/flush around the writes (as the informer's pipeline has)."""

    def __init__(self) -> None:
        self.inner = new_store(meta_namespace_key_func)
        self.log: list[str] = []

    def hold(self) -> None:
        self.log.append("hold")

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
    m = ReflectorMachine(None, store, None, clock=FakeClock(),  # type: ignore[arg-type]
                         backoff=Backoff(jitter=0.0))
    m.start()
    m.step(Listed(page([])))
    applied, err = m.on_events([("ADDED", pod("a", "2")), ("ADDED", pod("b", "3"))])
    assert (applied, err) == (2, None)
    assert store.log == ["hold", "add", "add", "flush"]
    store.log.clear()
    assert m.on_events([("MODIFIED", pod("a", "4"))]) == (1, None)
    assert store.log == ["update"]  # a lone event needs no hold
    store.log.clear()
    applied, err = m.on_events([("DELETED", pod("a", "5")),
                                ("ERROR", gone_status("too old")), ("ADDED", pod("c", "6"))])
    assert applied == 1 and isinstance(err, StatusError) and err.code == 410
    assert store.log == ["hold", "delete", "flush"]  # flushed even when the batch ends early
    assert m.last_sync_rv == "5"


class PreparingStore(HoldingStore):
    """A store that transforms each list page as it arrives (as the informer's pipeline does)."""

    def prepare(self, items: list[Any]) -> list[Any]:
        self.log.append(f"prepare {len(items)}")
        return [{**o, "prepared": True} for o in items]

    def replace_prepared(self, items: list[Any], rv: str) -> None:
        self.log.append(f"replace_prepared {len(items)}")
        self.inner.replace(items, rv)

    def replace(self, items: list[Any], rv: str = "") -> None:
        self.log.append("replace")
        self.inner.replace(items, rv)


def test_each_list_page_is_prepared_as_it_arrives_and_replaced_once() -> None:
    store = PreparingStore()
    m = ReflectorMachine(None, store, None, clock=FakeClock(),  # type: ignore[arg-type]
                         backoff=Backoff(jitter=0.0), page_size=2)
    m.start()
    m.step(Listed(page([pod("a"), pod("b")], token="t1")))
    assert store.log == ["prepare 2"] and len(store.inner) == 0
    m.step(Listed(page([pod("c")], rv="9")))
    assert store.log == ["prepare 2", "prepare 1", "replace_prepared 3"]
    assert all(o["prepared"] for o in store.inner.list())


def test_changes_during_a_streamed_list_are_applied_to_the_collected_state() -> None:
    m, store, _ = machine(watch_list=True)
    m.start()
    for event in [("ADDED", pod("a", "5")), ("ADDED", pod("b", "6")),
                  ("DELETED", pod("a", "7")), ("MODIFIED", pod("b", "8"))]:
        assert m.on_event(event) is None
    end = {"metadata": {"resourceVersion": "8", "annotations": {INITIAL_EVENTS_END: "true"}}}
    m.on_event(("BOOKMARK", end))
    assert store.list_keys() == ["ns/b"]  # the deleted one does not come back
    assert store.get_by_key("ns/b")[0]["metadata"]["resourceVersion"] == "8"


def test_a_streamed_list_ending_inside_a_held_batch_reaches_the_store_unheld() -> None:
    store = PreparingStore()
    m = ReflectorMachine(None, store, None, clock=FakeClock(),  # type: ignore[arg-type]
                         backoff=Backoff(jitter=0.0), watch_list=True)
    m.start()
    end = {"metadata": {"resourceVersion": "9", "annotations": {INITIAL_EVENTS_END: "true"}}}
    applied, err = m.on_events([("ADDED", pod("a", "5")), ("BOOKMARK", end),
                                ("MODIFIED", pod("a", "10"))])
    assert (applied, err) == (3, None)
    # the replace happens between a flush and a new hold; the later event is held as usual
    assert store.log == ["hold", "flush", "replace", "hold", "update", "flush"]
