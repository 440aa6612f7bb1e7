"""The controller runtime's sans-I/O core, without threads or tasks.

Outcome rules (controller-runtime's reconcileHandler), the worker flow
stepped by hand, event plans (keys and priorities), predicates and their
algebra, owner references and the owner index.
"""

from __future__ import annotations

from collections.abc import Hashable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache.controller import (
    AnnotationsChanged,
    ControllerError,
    EnqueueRequestForObject,
    EnqueueRequestForOwner,
    EnqueueRequestsFromMapFunc,
    GenerationChanged,
    LabelsChanged,
    Predicate,
    PredicateFuncs,
    ResourceVersionChanged,
    Result,
    TerminalError,
    and_,
    not_,
    or_,
    owner_index_func,
    owner_references,
)
from kubecache.controller._base import ControllerBase, worker_flow
from kubecache.controller._handlers import Enqueuer
from kubecache.controller._outcome import Decision, Verdict, apply, decide
from kubecache.keys import DeletedFinalStateUnknown
from kubecache.runtime import Call, FlowStep
from kubecache.workqueue import LOW_PRIORITY, ItemExponentialFailureRateLimiter


class FakeQueue:
    """Records the queue calls a worker makes."""

    def __init__(self) -> None:
        self.ops: list[tuple[Any, ...]] = []
        self.requeues: dict[Hashable, int] = {}

    def add(self, item: Hashable, priority: int = 0) -> None:
        self.ops.append(("add", item, priority))

    def forget(self, item: Hashable) -> None:
        self.ops.append(("forget", item))

    def add_rate_limited(self, item: Hashable, priority: int = 0) -> None:
        self.ops.append(("add_rate_limited", item) if priority == 0
                        else ("add_rate_limited", item, priority))

    def add_after(self, item: Hashable, seconds: float, priority: int = 0) -> None:
        self.ops.append(("add_after", item, seconds) if priority == 0
                        else ("add_after", item, seconds, priority))

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def get_with_priority(self) -> tuple[Any, int, bool]:
        raise AssertionError("a flow never calls get itself: it yields a Call")

    def done(self, item: Hashable) -> None:
        self.ops.append(("done", item))


# --- outcomes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("returned", "error", "verdict", "ops"), [
    (None, None, Verdict.FORGET, [("forget", "k")]),
    (Result(), None, Verdict.FORGET, [("forget", "k")]),
    (Result(requeue=True), None, Verdict.RATE_LIMITED, [("add_rate_limited", "k")]),
    (Result(requeue_after=2.5), None, Verdict.AFTER, [("forget", "k"), ("add_after", "k", 2.5)]),
    (Result(requeue=True, requeue_after=1.0), None, Verdict.AFTER,
     [("forget", "k"), ("add_after", "k", 1.0)]),  # requeue_after wins
    (None, RuntimeError("x"), Verdict.RATE_LIMITED, [("add_rate_limited", "k")]),
    (Result(requeue_after=9), RuntimeError("x"), Verdict.RATE_LIMITED,
     [("add_rate_limited", "k")]),  # an error wins over what was returned
    (None, TerminalError("x"), Verdict.TERMINAL, [("forget", "k")]),
])
def test_outcome_rules(returned: Any, error: BaseException | None, verdict: Verdict,
                       ops: list[tuple[Any, ...]]) -> None:
    decision = decide(returned, error)
    assert decision.verdict is verdict
    q = FakeQueue()
    apply(q, "k", decision)
    assert q.ops == ops


def test_a_reconcile_returning_nonsense_is_an_error_and_retried() -> None:
    decision = decide("ok", None)
    assert decision.verdict is Verdict.RATE_LIMITED
    assert isinstance(decision.error, ControllerError)
    assert "got a str" in str(decision.error)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", True])
def test_result_refuses_a_bad_delay(bad: Any) -> None:
    with pytest.raises(ControllerError, match="requeue_after"):
        Result(requeue_after=bad)


# --- the worker flow ---------------------------------------------------------------------

class Bare(ControllerBase):
    """A ControllerBase with a fake queue and no runner (the flow is stepped by hand)."""

    def _init_service(self, name: str, *, kind: str = "component", once: bool = True) -> None:
        from kubecache.runtime import Lifecycle

        self.lifecycle = Lifecycle(name, kind=kind, once=once)

    def _new_queue(self, rate_limiter: Any, name: str, clock: Any) -> FakeQueue:
        return FakeQueue()


def test_worker_flow_reconciles_settles_and_marks_done() -> None:
    def reconcile(key: str) -> None:
        raise AssertionError("stepped by hand")

    ctrl = Bare(reconcile)
    q: FakeQueue = ctrl.queue
    step: FlowStep[None] = FlowStep(worker_flow(ctrl))
    assert isinstance(step.request, Call) and step.request.fn == q.get_with_priority
    step.send(("ns/a", 0, False))
    assert isinstance(step.request, Call) and step.request.args == (reconcile, "ns/a")
    step.throw(RuntimeError("boom"))           # reconcile raised: requeued, done, next get
    assert q.ops == [("add_rate_limited", "ns/a"), ("done", "ns/a")]
    step.send(("ns/b", 0, False))
    step.send(Result(requeue_after=3.0))
    assert q.ops[2:] == [("forget", "ns/b"), ("add_after", "ns/b", 3.0), ("done", "ns/b")]
    ctrl._stopping.set()                       # stopping: keys are given back unreconciled
    step.send(("ns/c", 0, False))
    assert q.ops[5:] == [("done", "ns/c")]
    assert ctrl.stats.skipped == 1 and ctrl.stats.reconciles == 2 and ctrl.stats.errors == 1
    step.send((None, 0, True))                 # the queue shut down: the worker ends
    assert step.request is None


def test_a_requeue_keeps_the_priority_the_key_was_handed_out_with() -> None:
    ctrl = Bare(lambda key: None)
    q: FakeQueue = ctrl.queue
    step: FlowStep[None] = FlowStep(worker_flow(ctrl))
    step.send(("ns/low", LOW_PRIORITY, False))  # an initial-list key
    step.throw(RuntimeError("boom"))
    step.send(("ns/live", 0, False))
    step.send(Result(requeue_after=2.0))
    step.send(("ns/low", LOW_PRIORITY, False))  # its retry, handed out at LOW again
    step.send(Result(requeue=True))
    assert q.ops == [
        ("add_rate_limited", "ns/low", LOW_PRIORITY), ("done", "ns/low"),
        ("forget", "ns/live"), ("add_after", "ns/live", 2.0), ("done", "ns/live"),
        ("add_rate_limited", "ns/low", LOW_PRIORITY), ("done", "ns/low")]


def test_a_key_failing_again_and_again_stays_at_its_priority() -> None:
    """Every retry of a failing initial-list key is queued again at LOW_PRIORITY.

    The real queue on a FakeClock and the real worker flow, each request
    performed by hand. On the old code (the priority remembered from the
    watches' adds only) the second retry went in at priority 0, ahead of live
    changes; controller-runtime requeues at the priority ``GetWithPriority`` gave.
    """
    from kubecache.clock import FakeClock
    from kubecache.controller import Controller
    from kubecache.testing import FakeControllerSource
    from tests.support.front import new_informer

    clock = FakeClock()
    ctrl = Controller(lambda key: Result(requeue=True), clock=clock,
                      rate_limiter=ItemExponentialFailureRateLimiter(1.0, 1.0))
    ctrl.watch(new_informer(FakeControllerSource()))
    ctrl.watches[0].enqueuer.on_add(obj("cold"), True)  # what the informer's initial list does
    step: FlowStep[None] = FlowStep(worker_flow(ctrl))
    for attempt in range(3):
        for _ in range(2):  # get, then reconcile (whose outcome is settled, then done)
            request = step.request
            assert isinstance(request, Call)
            step.send(request.fn(*request.args))
        assert ctrl.stats.reconciles == attempt + 1
        assert ctrl.queue.snapshot()["waiting"] == {
            "ns/cold": (clock.now() + 1.0, LOW_PRIORITY)}, f"retry {attempt + 1}"
        clock.step(1.0)


def test_worker_flow_marks_done_when_abandoned_mid_reconcile() -> None:
    ctrl = Bare(lambda key: None)
    step: FlowStep[None] = FlowStep(worker_flow(ctrl))
    step.send(("ns/a", 0, False))
    step.close()                               # the task was cancelled during reconcile
    assert ctrl.queue.ops == [("done", "ns/a")]


def test_controller_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="reconcile must be callable"):
        Bare("nope")  # type: ignore[arg-type]
    with pytest.raises(ControllerError, match="workers must be an int"):
        Bare(lambda key: None, workers=0)


def test_threaded_controller_refuses_a_coroutine_reconcile() -> None:
    from kubecache.controller import Controller

    async def reconcile(key: str) -> None: ...

    with pytest.raises(TypeError, match=r"kubecache\.aio\.controller"):
        Controller(reconcile)


# --- event plans ---------------------------------------------------------------------------

def obj(name: str, rv: str = "1", ns: str = "ns", **meta: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name, "resourceVersion": rv, **meta}}


def test_plans_priorities_initial_list_resync_live() -> None:
    e = Enqueuer(FakeQueue(), EnqueueRequestForObject())
    assert e.plan_add(obj("a"), True) == [("ns/a", LOW_PRIORITY)]
    assert e.plan_add(obj("a"), False) == [("ns/a", 0)]
    assert e.plan_update(obj("a", "5"), obj("a", "5")) == [("ns/a", LOW_PRIORITY)]  # resync
    assert e.plan_update(obj("a", "5"), obj("a", "6")) == [("ns/a", 0)]
    assert e.plan_delete(obj("a")) == [("ns/a", 0)]
    assert e.plan_delete(DeletedFinalStateUnknown("ns/a", None)) == [("ns/a", 0)]


def test_enqueuer_is_an_informer_handler_taking_the_initial_flag() -> None:
    from kubecache.informer._handlers import initial_flag_style

    q = FakeQueue()
    e = Enqueuer(q, EnqueueRequestForObject())
    assert initial_flag_style(e.on_add) == "keyword"
    e.on_add(obj("a"), is_in_initial_list=True)
    e.on_update(obj("a", "1"), obj("a", "2"))
    e.on_delete(obj("b"))
    assert q.ops == [("add", "ns/a", LOW_PRIORITY), ("add", "ns/a", 0), ("add", "ns/b", 0)]


def owned(name: str, *refs: dict[str, Any]) -> dict[str, Any]:
    return obj(name, ownerReferences=list(refs))


def ref(kind: str, name: str, controller: bool = True, api_version: str = "apps/v1",
        uid: str = "") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "controller": controller,
            "uid": uid or f"u-{name}"}


def test_owner_mapping_follows_enqueue_request_for_owner() -> None:
    h = EnqueueRequestForOwner("ReplicaSet")
    child = owned("p", ref("ReplicaSet", "rs1"), ref("ReplicaSet", "rs2", controller=False),
                  ref("Deployment", "d"))
    assert list(h.keys(child)) == ["ns/rs1"]
    assert list(EnqueueRequestForOwner("ReplicaSet", controller_only=False).keys(child)) == \
        ["ns/rs1", "ns/rs2"]
    assert list(EnqueueRequestForOwner("ReplicaSet", api_group="").keys(child)) == []
    assert list(EnqueueRequestForOwner("Node", namespaced=False).keys(
        owned("p", ref("Node", "n1", api_version="v1")))) == ["n1"]
    # A deleted child whose final state is unknown maps through its last known state.
    assert list(h.keys(DeletedFinalStateUnknown("ns/p", child))) == ["ns/rs1"]
    # An update that moves a child maps to both owners, once each.
    e = Enqueuer(FakeQueue(), h)
    moved = owned("p", ref("ReplicaSet", "rs9"))
    moved["metadata"]["resourceVersion"] = "2"
    assert e.plan_update(child, moved) == [("ns/rs1", 0), ("ns/rs9", 0)]
    assert e.plan_update(child, child) == [("ns/rs1", LOW_PRIORITY)]


def test_owner_references_of_attribute_style_objects() -> None:
    model = SimpleNamespace(metadata=SimpleNamespace(
        namespace="ns", name="p", owner_references=[SimpleNamespace(
            api_version="apps/v1", kind="ReplicaSet", name="rs1", uid="u1", controller=True)]))
    assert [(r.kind, r.name, r.uid, r.controller, r.group) for r in owner_references(model)] \
        == [("ReplicaSet", "rs1", "u1", True, "apps")]
    assert list(EnqueueRequestForOwner("ReplicaSet").keys(model)) == ["ns/rs1"]
    assert owner_index_func(model) == ["u1", "ReplicaSet/ns/rs1"]
    assert owner_references(obj("x", ownerReferences=[{"kind": "A"}, "junk"])) == []


def test_map_func_handler_and_bad_handlers() -> None:
    h = EnqueueRequestsFromMapFunc(lambda o: [f"all/{o['metadata']['name']}", "all/x"])
    e = Enqueuer(FakeQueue(), h)
    assert e.plan_add(obj("a")) == [("all/a", 0), ("all/x", 0)]
    with pytest.raises(TypeError, match="keys"):
        Enqueuer(FakeQueue(), object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Predicate"):
        Enqueuer(FakeQueue(), h, [lambda o: True])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="owner_kind"):
        EnqueueRequestForOwner("")


# --- predicates ------------------------------------------------------------------------------

def gen(g: int | None, rv: str = "1", labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "a", "namespace": "ns", "resourceVersion": rv}
    if g is not None:
        md["generation"] = g
    if labels is not None:
        md["labels"] = labels
    if annotations is not None:
        md["annotations"] = annotations
    return {"metadata": md}


def test_builtin_predicates_filter_updates_only() -> None:
    assert GenerationChanged().update(gen(1), gen(2))
    assert not GenerationChanged().update(gen(1, "1"), gen(1, "2"))
    assert GenerationChanged().update(gen(None), gen(None))  # no generation: passes
    assert LabelsChanged().update(gen(1, labels={"a": "1"}), gen(1, labels={"a": "2"}))
    assert not LabelsChanged().update(gen(1), gen(1, labels={}))
    assert AnnotationsChanged().update(gen(1), gen(1, annotations={"x": "y"}))
    assert not AnnotationsChanged().update(gen(1, annotations={"x": "y"}),
                                           gen(1, annotations={"x": "y"}))
    assert ResourceVersionChanged().update(gen(1, "1"), gen(1, "2"))
    assert not ResourceVersionChanged().update(gen(1, "3"), gen(1, "3"))
    for p in (GenerationChanged(), LabelsChanged(), AnnotationsChanged(),
              ResourceVersionChanged()):
        assert p.create(gen(1)) and p.delete(gen(1))


PREDS = {
    "gen": GenerationChanged(), "labels": LabelsChanged(), "ann": AnnotationsChanged(),
    "rv": ResourceVersionChanged(), "no": PredicateFuncs(update=lambda o, n: False),
    "yes": Predicate(),
}


@st.composite
def expressions(draw: Any, depth: int = 3) -> tuple[Predicate, Any]:
    """A predicate built with &, |, ~, and_, or_, not_ and its meaning as a Python function."""
    if depth == 0 or draw(st.booleans()):
        name = draw(st.sampled_from(sorted(PREDS)))
        p = PREDS[name]
        return p, p.update
    op = draw(st.sampled_from(["&", "|", "~", "and_", "or_", "not_"]))
    a, fa = draw(expressions(depth=depth - 1))
    if op in ("~", "not_"):
        return (~a if op == "~" else not_(a)), (lambda o, n: not fa(o, n))
    b, fb = draw(expressions(depth=depth - 1))
    if op in ("&", "and_"):
        return (a & b if op == "&" else and_(a, b)), (lambda o, n: fa(o, n) and fb(o, n))
    return (a | b if op == "|" else or_(a, b)), (lambda o, n: fa(o, n) or fb(o, n))


meta_values = st.builds(gen, st.sampled_from([1, 2]), st.sampled_from(["1", "2"]),
                        st.sampled_from([None, {"a": "1"}]), st.sampled_from([None, {"x": "y"}]))


@given(expressions(), meta_values, meta_values)
def test_predicate_algebra_means_boolean_algebra(expr: tuple[Predicate, Any], old: Any,
                                                 new: Any) -> None:
    p, meaning = expr
    assert p.update(old, new) == meaning(old, new)
    assert p.create(old) == p.create(new)  # creates do not depend on the update predicates


def test_composed_predicates_on_creates_and_deletes() -> None:
    never = PredicateFuncs(create=lambda o: False, delete=lambda o: False)
    assert not (never & Predicate()).create(gen(1))
    assert (never | Predicate()).create(gen(1))
    assert (~never).delete(gen(1))
    assert and_().create(gen(1)) and not or_().create(gen(1))
    with pytest.raises(TypeError):
        and_(lambda o: True)  # type: ignore[arg-type]
    assert "GenerationChanged" in repr(GenerationChanged() & ~LabelsChanged())


def test_decision_is_a_value() -> None:
    assert decide(None, None) == Decision(Verdict.FORGET)


# --- workers against the real queue, interleaved by hypothesis -------------------------------

from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from kubecache.clock import FakeClock  # noqa: E402
from kubecache.workqueue import PriorityQueue  # noqa: E402

KEYS = ("ns/a", "ns/b", "ns/c")
WORKERS = 3


class QueueBacked(Bare):
    """A controller core on the real threaded PriorityQueue with a fake clock (never blocks:
    a worker's ``get`` is only performed when an item is ready)."""

    clock: FakeClock

    def _new_queue(self, rate_limiter: Any, name: str, clock: Any) -> PriorityQueue:
        return PriorityQueue(ItemExponentialFailureRateLimiter(0.5, 2.0), clock=clock)


class Workers(RuleBasedStateMachine):
    """N worker flows on one queue, stepped in any order: one key is never held twice, and
    every add is followed by a reconcile of its key (once everything settles)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.ctrl = QueueBacked(lambda key: None, clock=self.clock)
        self.queue = self.ctrl.queue
        self.workers = [FlowStep(worker_flow(self.ctrl)) for _ in range(WORKERS)]
        self.held: list[str | None] = [None] * WORKERS
        self.owed: set[str] = set()  # added, and not handed out since

    def _at_get(self, i: int) -> bool:
        return self.held[i] is None

    @rule(key=st.sampled_from(KEYS), low=st.booleans())
    def add(self, key: str, low: bool) -> None:
        self.queue.add(key, LOW_PRIORITY if low else 0)
        self.owed.add(key)

    @rule(i=st.integers(0, WORKERS - 1))
    def take(self, i: int) -> None:
        if not self._at_get(i) or self.queue.len() == 0:
            return
        key, priority, shutdown = self.queue.get_with_priority()
        assert not shutdown
        assert key not in self.held, f"{key} handed to worker {i} while another holds it"
        self.workers[i].send((key, priority, False))
        req = self.workers[i].request
        assert isinstance(req, Call) and req.args[-1] == key
        self.held[i] = key
        self.owed.discard(key)

    @rule(i=st.integers(0, WORKERS - 1), outcome=st.sampled_from(["ok", "error", "after"]))
    def finish(self, i: int, outcome: str) -> None:
        key = self.held[i]
        if key is None:
            return
        if outcome == "ok":
            self.workers[i].send(None)
        elif outcome == "error":
            self.workers[i].throw(RuntimeError("reconcile failed"))
            self.owed.add(key)  # it comes back through the rate limiter
        else:
            self.workers[i].send(Result(requeue_after=1.0))
            self.owed.add(key)
        self.held[i] = None

    @rule(seconds=st.sampled_from([0.25, 1.0, 3.0]))
    def tick(self, seconds: float) -> None:
        self.clock.step(seconds)

    @invariant()
    def processing_is_what_workers_hold(self) -> None:
        held = [k for k in self.held if k is not None]
        assert len(held) == len(set(held))
        assert self.queue.snapshot()["processing"] == set(held)

    def teardown(self) -> None:
        # Settle: every worker finishes with success, time passes, until nothing is owed.
        for _ in range(50):
            for i in range(WORKERS):
                if self.held[i] is not None:
                    self.finish(i, "ok")
            self.clock.step(5.0)
            for i in range(WORKERS):
                self.take(i)
            if not self.owed and all(k is None for k in self.held) and not self.queue.len():
                break
        assert not self.owed, f"added but never reconciled again: {self.owed}"
        snap = self.queue.snapshot()
        assert not snap["waiting"] and not snap["dirty"] and not snap["processing"]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_workers_on_the_real_queue_never_share_a_key_and_miss_no_add() -> None:
    from hypothesis import settings

    run_state_machine_as_test(Workers, settings=settings(max_examples=150,
                                                         stateful_step_count=40))


# --- resource paths -------------------------------------------------------------------------

def test_object_paths_and_a_resource_without_its_version_is_a_clear_error() -> None:
    """``deployments.apps`` (kubectl's form) is refused, not turned into ``/api/apps/...``.

    The old code built ``/api/apps/namespaces/ns/deployments/web``: the finalizer's
    patch then met a 404 and ended quietly, as if the object were gone.
    """
    from kubecache.controller._paths import collection_path, object_path

    assert object_path("configmaps", "ns", "a") == "/api/v1/namespaces/ns/configmaps/a"
    assert object_path("deployments.v1.apps", "ns", "web") == \
        "/apis/apps/v1/namespaces/ns/deployments/web"
    assert collection_path("leases.v1.coordination.k8s.io") == \
        "/apis/coordination.k8s.io/v1/leases"
    assert collection_path("pods.v1", "ns") == "/api/v1/namespaces/ns/pods"
    with pytest.raises(ValueError, match=r"deployments\.<version>\.apps"):
        object_path("deployments.apps", "ns", "web")
