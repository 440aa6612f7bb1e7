"""The informer's delta -> notification fold, tested directly (no threads, no reflector)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubecache.delta_fifo import Delta, Deltas, DeltaType
from kubecache.informer import Notification, NotificationKind
from kubecache.informer._fold import fold_batch
from kubecache.keys import DeletedFinalStateUnknown
from kubecache.thread_safe_store import ThreadSafeStore

ADD, UPDATE, DELETE = NotificationKind.ADD, NotificationKind.UPDATE, NotificationKind.DELETE


def obj(name: str, rv: int, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": str(rv)}, **extra}


def store_with(*objs: dict[str, Any], indexers: Any = None) -> ThreadSafeStore:
    s = ThreadSafeStore(indexers)
    for o in objs:
        s.add(o["metadata"]["name"], o)
    return s


def deltas(*pairs: tuple[DeltaType, Any]) -> Deltas:
    return Deltas(Delta(t, o) for t, o in pairs)


def test_one_delta_per_key_maps_to_add_update_delete() -> None:
    a1, a2, b1, c1 = obj("a", 1), obj("a", 2), obj("b", 1), obj("c", 1)
    store = store_with(a1, c1)
    out = fold_batch([("a", deltas((DeltaType.UPDATED, a2))),
                      ("b", deltas((DeltaType.ADDED, b1))),
                      ("c", deltas((DeltaType.DELETED, c1)))], store)
    assert out.notes == [Notification(UPDATE, a1, a2), Notification(ADD, None, b1),
                         Notification(DELETE, c1, None)]
    assert (out.adds, out.updates, out.deletes, out.resyncs, out.applied) == (1, 1, 1, 0, 3)
    assert out.resync_at == []
    assert store.get("a") == (a2, True) and store.get("b") == (b1, True)
    assert store.get("c") == (None, False)


def test_sync_or_replaced_with_the_same_version_is_a_resync() -> None:
    a1, b1, b2 = obj("a", 1), obj("b", 1), obj("b", 2)
    store = store_with(a1, b1)
    out = fold_batch([("a", deltas((DeltaType.SYNC, dict(a1)))),
                      ("b", deltas((DeltaType.REPLACED, b2)))], store)
    assert [n.kind for n in out.notes] == [UPDATE, UPDATE]
    assert out.resync_at == [0] and out.resyncs == 1 and out.updates == 1


def test_several_deltas_of_a_key_are_judged_in_turn_and_stored_once() -> None:
    a1, a2, a3 = obj("a", 1), obj("a", 2), obj("a", 3)
    store = store_with()
    out = fold_batch([("a", deltas((DeltaType.ADDED, a1), (DeltaType.UPDATED, a2),
                                   (DeltaType.DELETED, a2), (DeltaType.ADDED, a3)))], store)
    assert out.notes == [Notification(ADD, None, a1), Notification(UPDATE, a1, a2),
                         Notification(DELETE, a2, None), Notification(ADD, None, a3)]
    assert store.get("a") == (a3, True) and out.applied == 4


def test_a_tombstone_is_delivered_as_is() -> None:
    a1 = obj("a", 1)
    store = store_with(a1)
    tomb = DeletedFinalStateUnknown("a", a1)
    out = fold_batch([("a", deltas((DeltaType.DELETED, tomb)))], store)
    assert out.notes == [Notification(DELETE, tomb, None)] and out.notes[0].obj is tomb
    assert len(store) == 0


def test_a_failing_index_function_drops_only_that_key() -> None:
    def by_color(o: Any) -> list[str]:
        if o.get("bad"):
            raise SystemExit("index function gave up")  # not even an Exception
        return [o.get("color", "none")]

    a1, b1 = obj("a", 1), obj("b", 1)
    store = store_with(a1, b1, indexers={"color": by_color})
    out = fold_batch([("a", deltas((DeltaType.UPDATED, obj("a", 2, color="red")))),
                      ("b", deltas((DeltaType.REPLACED, dict(b1)),
                                   (DeltaType.UPDATED, obj("b", 2, bad=True)))),
                      ("c", deltas((DeltaType.ADDED, obj("c", 1))))], store)
    assert [(n.kind, n.obj["metadata"]["name"]) for n in out.notes] == [
        (UPDATE, "a"), (ADD, "c")]
    assert out.failed == 1 and out.applied == 2 and out.resync_at == [] and out.resyncs == 0
    assert (out.adds, out.updates, out.deletes) == (1, 1, 0)
    assert store.get("b") == (b1, True)  # keeps its previous state
    assert store.by_index("color", "red") == [store.get("a")[0]]


# --- property: the notifications replay to the store's final state ----------------------

NAMES = ("a", "b", "c", "d")
TYPES = list(DeltaType)


@st.composite
def batches(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, Deltas]]]:
    initial = {n: obj(n, 1) for n in NAMES if draw(st.booleans())}
    keys = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    batch = []
    for key in keys:
        ds = Deltas()
        for _ in range(draw(st.integers(1, 4))):
            dtype = draw(st.sampled_from(TYPES))
            rv = draw(st.integers(1, 3))
            o: Any = obj(key, rv)
            if dtype is DeltaType.DELETED and draw(st.booleans()):
                o = DeletedFinalStateUnknown(key, o)
            ds.append(Delta(dtype, o))
        batch.append((key, ds))
    return initial, batch


@given(batches())
def test_notifications_replay_to_the_final_store(case: tuple[dict[str, Any],
                                                             list[tuple[str, Deltas]]]) -> None:
    initial, batch = case
    store = store_with(*initial.values())
    out = fold_batch(batch, store)
    model = dict(initial)
    resyncs = set(out.resync_at)
    for i, note in enumerate(out.notes):
        name = (note.obj.key if isinstance(note.obj, DeletedFinalStateUnknown)
                else note.obj["metadata"]["name"])
        if note.kind is ADD:
            assert name not in model and note.old is None
            model[name] = note.new
        elif note.kind is UPDATE:
            assert model[name] is note.old
            if i in resyncs:
                assert note.old["metadata"]["resourceVersion"] == \
                    note.new["metadata"]["resourceVersion"]
            model[name] = note.new
        else:
            assert note.new is None
            model.pop(name, None)
    assert model == {k: store.get(k)[0] for k in store.list_keys()}
    assert len(out.notes) == sum(len(ds) for _, ds in batch) == out.applied
    kinds = [n.kind for n in out.notes]
    assert (out.adds, out.deletes) == (kinds.count(ADD), kinds.count(DELETE))
    assert out.updates + out.resyncs == kinds.count(UPDATE) and out.resyncs == len(resyncs)
