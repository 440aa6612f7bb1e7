"""The finalizer helper and the event recorder over the embedded server, on both clients.

Both are one flow each (kubecache.controller._finalizer / _recorder) run by
the threaded helpers (kubecache.controller) and the asyncio ones
(kubecache.aio.controller); the ``helpers`` fixture gives each test both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import kubecache.aio.controller as aio_controller
import kubecache.controller as controller
from kubecache.clock import FakeClock
from kubecache.controller import ControllerError, Result
from kubecache.controller._finalizer import finalizer_flow
from kubecache.controller._recorder import EventAggregator
from kubecache.errors import StatusError
from kubecache.kube import Config
from kubecache.runtime import FlowStep
from kubecache.testing import ApiServer
from tests.support.front import Front

FIN = "example.com/cleanup"


class Helpers:
    """The finalizer and recorder of one front end, callable from this (sync) test."""

    def __init__(self, front: Front, server: ApiServer) -> None:
        self.kind = "sync" if front.name == "thread" else "async"
        self.driver = front.client(Config(server=server.url))

    def finalizer(self, obj: Any, apply: Any, cleanup: Any, **kw: Any) -> Any:
        client = self.driver.client
        if self.kind == "sync":
            return controller.finalizer(client, "configmaps", FIN, obj, apply=apply,
                                        cleanup=cleanup, **kw)
        return self.driver._run(aio_controller.finalizer(client, "configmaps", FIN, obj,
                                                         apply=apply, cleanup=cleanup, **kw))

    def recorder(self, **kw: Any) -> Any:
        client = self.driver.client
        if self.kind == "sync":
            return controller.EventRecorder(client, "test-controller", "node-1", **kw)
        rec = aio_controller.EventRecorder(client, "test-controller", "node-1", **kw)
        run = self.driver._run

        class Sync:
            aggregator = rec.aggregator

            def event(self, *args: Any) -> Any:
                return run(rec.event(*args))

        return Sync()


@pytest.fixture
def helpers(front: Front, server: ApiServer) -> Iterator[Helpers]:
    h = Helpers(front, server)
    try:
        yield h
    finally:
        h.driver.close()


def cm(name: str, ns: str = "default", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, **meta}, "data": {"k": "v"}}


# --- finalizer -----------------------------------------------------------------------------

def test_finalizer_added_applied_then_cleaned_up_and_removed(helpers: Helpers,
                                                             server: ApiServer) -> None:
    server.create("configmaps", cm("a"))
    applied: list[Any] = []
    cleaned: list[Any] = []

    def apply(obj: Any) -> Result:
        applied.append(obj)
        return Result(requeue_after=5.0)

    def cleanup(obj: Any) -> None:
        cleaned.append(obj)

    first = server.get("configmaps", "a", "default")
    assert helpers.finalizer(first, apply, cleanup) == Result(requeue_after=5.0)
    stored = server.get("configmaps", "a", "default")
    assert stored["metadata"]["finalizers"] == [FIN]
    assert applied[0]["metadata"]["finalizers"] == [FIN]  # applied to the patched object
    rv = stored["metadata"]["resourceVersion"]

    assert helpers.finalizer(stored, apply, cleanup) == Result(requeue_after=5.0)
    assert len(applied) == 2 and not cleaned
    assert server.get("configmaps", "a", "default")["metadata"]["resourceVersion"] == rv

    server.delete("configmaps", "a", "default")  # the finalizer holds it: only marked
    deleting = server.get("configmaps", "a", "default")
    assert deleting["metadata"]["deletionTimestamp"]
    assert helpers.finalizer(deleting, apply, cleanup) is None
    assert len(cleaned) == 1 and len(applied) == 2
    with pytest.raises(StatusError) as gone:
        server.get("configmaps", "a", "default")
    assert gone.value.code == 404


def test_finalizer_keeps_other_finalizers_and_ignores_a_deletion_it_does_not_hold(
        helpers: Helpers, server: ApiServer) -> None:
    server.create("configmaps", cm("b", finalizers=["other.io/keep"]))
    cleaned: list[Any] = []
    helpers.finalizer(server.get("configmaps", "b", "default"), lambda o: None, cleaned.append)
    assert server.get("configmaps", "b", "default")["metadata"]["finalizers"] == [
        "other.io/keep", FIN]
    server.delete("configmaps", "b", "default")
    helpers.finalizer(server.get("configmaps", "b", "default"), lambda o: None, cleaned.append)
    after = server.get("configmaps", "b", "default")  # other.io/keep still holds it
    assert after["metadata"]["finalizers"] == ["other.io/keep"] and len(cleaned) == 1
    helpers.finalizer(after, lambda o: None, cleaned.append)
    assert len(cleaned) == 1  # not ours any more: nothing to do


def test_finalizer_retries_a_conflict_from_a_fresh_read(helpers: Helpers,
                                                        server: ApiServer) -> None:
    server.create("configmaps", cm("c"))
    stale = server.get("configmaps", "c", "default")
    server.patch("configmaps", "c", {"data": {"k": "changed"}}, namespace="default")
    seen: list[Any] = []
    helpers.finalizer(stale, seen.append, lambda o: None)
    stored = server.get("configmaps", "c", "default")
    assert stored["metadata"]["finalizers"] == [FIN] and stored["data"] == {"k": "changed"}
    assert seen[0]["data"] == {"k": "changed"}


def test_a_failing_cleanup_keeps_the_finalizer(helpers: Helpers, server: ApiServer) -> None:
    server.create("configmaps", cm("d", finalizers=[FIN]))
    server.delete("configmaps", "d", "default")

    def cleanup(obj: Any) -> None:
        raise RuntimeError("the external thing is not gone yet")

    with pytest.raises(RuntimeError, match="not gone yet"):
        helpers.finalizer(server.get("configmaps", "d", "default"), lambda o: None, cleanup)
    assert server.get("configmaps", "d", "default")["metadata"]["finalizers"] == [FIN]


def test_finalizer_gives_up_after_max_conflicts_and_checks_its_name() -> None:
    conflict = StatusError(code=409, reason="Conflict", message="changed")
    obj = cm("e")
    obj["metadata"]["resourceVersion"] = "3"
    client = SimpleNamespace(patch=print, get=print)
    step: FlowStep[Any] = FlowStep(finalizer_flow(client, "configmaps", FIN, obj,
                                                  apply=lambda o: None, cleanup=lambda o: None,
                                                  max_conflicts=2))
    for _ in range(2):
        assert step.request is not None and step.request.args[0].endswith("/configmaps/e")
        step.throw(conflict)  # the patch
        step.send(obj)        # the fresh read
    with pytest.raises(StatusError):
        step.throw(conflict)
    with pytest.raises(ControllerError, match="qualified"):
        FlowStep(finalizer_flow(client, "configmaps", "cleanup", obj, apply=print,
                                cleanup=print))


# --- recorder ------------------------------------------------------------------------------

def events(server: ApiServer, ns: str = "default") -> list[dict[str, Any]]:
    return sorted(server.list_objects("events", ns), key=lambda e: e["metadata"]["name"])


def test_repeats_are_aggregated_into_one_event_with_a_count(helpers: Helpers,
                                                            server: ApiServer) -> None:
    target = server.create("configmaps", cm("target"))
    clock = FakeClock(100.0)
    rec = helpers.recorder(clock=clock)
    for _ in range(3):
        rec.event(target, "Normal", "Synced", "pods listed")
        clock.step(1.0)
    [ev] = events(server)
    assert ev["count"] == 3 and ev["reason"] == "Synced" and ev["type"] == "Normal"
    assert ev["metadata"]["name"].startswith("target.")
    int(ev["metadata"]["name"].split(".", 1)[1], 16)  # <name>.<hex timestamp>
    assert ev["involvedObject"]["kind"] == "ConfigMap"
    assert ev["involvedObject"]["uid"] == target["metadata"]["uid"]
    assert ev["source"] == {"component": "test-controller", "host": "node-1"}
    assert ev["lastTimestamp"] >= ev["firstTimestamp"]

    rec.event(target, "Warning", "Synced", "pods listed")      # another type: a new Event
    rec.event(target, "Normal", "Synced", "other message")     # another message: a new Event
    assert sorted((e["type"], e["message"], e["count"]) for e in events(server)) == [
        ("Normal", "other message", 1), ("Normal", "pods listed", 3),
        ("Warning", "pods listed", 1)]

    clock.step(601.0)  # past the window: a repeat starts a new Event
    rec.event(target, "Normal", "Synced", "pods listed")
    assert sorted(e["count"] for e in events(server) if e["message"] == "pods listed"
                  and e["type"] == "Normal") == [1, 3]


def test_a_repeat_of_a_deleted_event_creates_a_new_one(helpers: Helpers,
                                                       server: ApiServer) -> None:
    target = server.create("configmaps", cm("t2"))
    rec = helpers.recorder()
    rec.event(target, "Normal", "Synced", "m")
    [ev] = events(server)
    server.delete("events", ev["metadata"]["name"], "default")
    stored = rec.event(target, "Normal", "Synced", "m")
    [again] = events(server)
    assert again["count"] == 1 and stored["metadata"]["name"] == again["metadata"]["name"]
    rec.event(target, "Normal", "Synced", "m")
    assert events(server)[0]["count"] == 2


def test_a_refused_event_is_logged_not_raised(helpers: Helpers, server: ApiServer,
                                              caplog: pytest.LogCaptureFixture) -> None:
    target = server.create("configmaps", cm("t3"))
    rec = helpers.recorder()
    server.fail_next(1, code=403, reason="Forbidden")
    assert rec.event(target, "Normal", "Synced", "m") is None
    assert "not recorded" in caplog.text
    assert len(rec.aggregator) == 0
    assert rec.event(target, "Normal", "Synced", "m")["count"] == 1
    with pytest.raises(ControllerError, match="event type"):
        rec.event(target, "Info", "Synced", "m")


def test_aggregator_forgets_the_least_recently_used() -> None:
    clock = FakeClock()
    agg = EventAggregator("c", max_entries=2, clock=clock,
                          wall=lambda: dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
                          nanos=lambda: 255)
    objs = [cm(n) for n in ("x", "y", "z")]
    for o in objs:
        w = agg.plan(o, "Normal", "R", "m")
        assert w.create and w.name == f"{o['metadata']['name']}.ff"
        assert w.body["firstTimestamp"] == "2026-01-02T03:04:05Z"
        agg.written(w, w.body)
    assert len(agg) == 2
    assert agg.plan(objs[0], "Normal", "R", "m").create       # x was dropped
    again = agg.plan(objs[2], "Normal", "R", "m")
    assert not again.create and again.body["count"] == 2 and again.name == "z.ff"
    with pytest.raises(ControllerError, match="kind and a name"):
        agg.plan({"metadata": {"name": "n"}}, "Normal", "R", "m")
