"""ThreadSafeStore: explicit keys, indices kept exactly in step with items."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from kubecache import CacheError, IndexNotFoundError, ThreadSafeStore, new_thread_safe_store
from kubecache._gc import gc_paused
from kubecache.thread_safe_store import IndexFuncError
from tests.support.objects import pod


def obj(ns: str, name: str, *tags: str) -> dict[str, Any]:
    """A pod in ``ns`` carrying the multi-valued ``tags`` field the tag index reads."""
    return pod(name, ns=ns, rv=None, tags=list(tags))


def by_ns(o: dict[str, Any]) -> list[str]:
    return [o["metadata"]["namespace"]]


def by_tag(o: dict[str, Any]) -> list[str]:
    return list(o["tags"])


def new() -> ThreadSafeStore:
    return new_thread_safe_store({"ns": by_ns, "tag": by_tag}, {})


def raw_indices(store: ThreadSafeStore) -> dict[str, dict[str, set[str]]]:
    """Every index as {value: set of keys}, read through the public API."""
    return {
        name: {v: set(store.index_keys(name, v)) for v in store.list_index_func_values(name)}
        for name in store.get_indexers()
    }


def test_add_get_list_len_contains() -> None:
    s = new()
    assert s.get("a") == (None, False)
    s.add("a", obj("n1", "a", "x"))
    s.add("b", obj("n2", "b"))
    assert s.get("a") == (obj("n1", "a", "x"), True)
    assert sorted(s.list_keys()) == ["a", "b"]
    assert len(s.list()) == 2
    assert len(s) == 2
    assert "a" in s and "zz" not in s and 3 not in s


def test_falsy_items_are_found() -> None:
    s = new_thread_safe_store({}, {})
    s.add("k", None)
    s.add("z", 0)
    assert s.get("k") == (None, True)
    assert s.get("z") == (0, True)


def test_update_moves_only_changed_values() -> None:
    s = new()
    s.add("a", obj("n1", "a", "x", "y"))
    s.add("b", obj("n1", "b", "y"))
    s.update("a", obj("n2", "a", "y", "z"))
    assert raw_indices(s) == {
        "ns": {"n1": {"b"}, "n2": {"a"}},
        "tag": {"y": {"a", "b"}, "z": {"a"}},
    }
    # by_index returns the *new* object even where the value did not change
    assert obj("n2", "a", "y", "z") in s.by_index("tag", "y")


def test_update_of_missing_key_adds() -> None:
    s = new()
    s.update("a", obj("n1", "a"))
    assert s.get("a")[1]
    assert s.index_keys("ns", "n1") == ["a"]


def test_delete_cleans_empty_values_and_missing_is_noop() -> None:
    s = new()
    s.add("a", obj("n1", "a", "x"))
    s.add("b", obj("n1", "b", "x", "y"))
    s.delete("b")
    assert raw_indices(s) == {"ns": {"n1": {"a"}}, "tag": {"x": {"a"}}}
    s.delete("a")
    s.delete("never-there")
    assert raw_indices(s) == {"ns": {}, "tag": {}}
    assert s.list_index_func_values("tag") == []
    assert len(s) == 0


def test_empty_and_duplicate_index_values() -> None:
    s = new()
    s.add("a", obj("n1", "a"))  # no tags: not in the tag index at all
    s.add("b", obj("n1", "b", "x", "x"))  # duplicates collapse
    assert s.list_index_func_values("tag") == ["x"]
    assert s.index_keys("tag", "x") == ["b"]
    assert s.by_index("tag", "x") == [obj("n1", "b", "x", "x")]
    s.update("b", obj("n1", "b"))
    assert s.list_index_func_values("tag") == []


def test_bare_string_is_one_value() -> None:
    s = new_thread_safe_store({"name": lambda o: o["metadata"]["name"]}, {})
    s.add("k", obj("n", "abc"))
    assert s.list_index_func_values("name") == ["abc"]  # not ["a", "b", "c"]


def test_by_index_index_keys_and_index() -> None:
    s = new()
    s.add("a", obj("n1", "a", "x"))
    s.add("b", obj("n1", "b", "y"))
    s.add("c", obj("n2", "c", "x", "y"))
    assert sorted(o["metadata"]["name"] for o in s.by_index("ns", "n1")) == ["a", "b"]
    assert s.by_index("ns", "missing") == []
    assert sorted(s.index_keys("tag", "x")) == ["a", "c"]
    assert s.index_keys("tag", "missing") == []
    # index(): every item sharing any value with the probe object, each once
    probe = obj("zz", "probe", "x", "y")
    assert sorted(o["metadata"]["name"] for o in s.index("tag", probe)) == ["a", "b", "c"]
    assert s.index("tag", obj("zz", "p")) == []
    assert s.index("ns", obj("n2", "p")) == [obj("n2", "c", "x", "y")]
    assert s.index("ns", obj("nowhere", "p")) == []
    assert sorted(s.list_index_func_values("ns")) == ["n1", "n2"]


def test_unknown_index_name_raises() -> None:
    s = new()
    s.add("a", obj("n1", "a"))
    for call in (
        lambda: s.by_index("nope", "x"),
        lambda: s.index_keys("nope", "x"),
        lambda: s.list_index_func_values("nope"),
        lambda: s.index("nope", obj("n", "a")),
    ):
        with pytest.raises(IndexNotFoundError, match="nope"):
            call()


def test_replace_swaps_items_and_indices() -> None:
    s = new()
    s.add("a", obj("n1", "a", "x"))
    s.add("b", obj("n1", "b"))
    source = {"b": obj("n2", "b", "y"), "c": obj("n2", "c")}
    s.replace(source, "42")
    source.clear()  # the store keeps its own copy of the mapping
    assert sorted(s.list_keys()) == ["b", "c"]
    assert raw_indices(s) == {"ns": {"n2": {"b", "c"}}, "tag": {"y": {"b"}}}
    s.replace({})
    assert len(s) == 0 and raw_indices(s) == {"ns": {}, "tag": {}}


def test_replace_racing_add_indexers_keeps_the_new_index() -> None:
    armed = [True]

    def sneaky(o: dict[str, Any]) -> list[str]:
        # replace builds its indices outside the lock: register an index meanwhile
        if armed:
            armed.clear()
            s.add_indexers({"tag": by_tag})
        return by_ns(o)

    s = new_thread_safe_store({"ns": by_ns, "sneaky": sneaky}, {})
    s.replace({"a": obj("n1", "a", "x"), "b": obj("n2", "b", "y")})
    assert not armed
    assert set(s.get_indexers()) == {"ns", "sneaky", "tag"}
    assert raw_indices(s)["tag"] == {"x": {"a"}, "y": {"b"}}
    assert raw_indices(s)["sneaky"] == {"n1": {"a"}, "n2": {"b"}}


def test_add_indexers_on_non_empty_store() -> None:
    s = new_thread_safe_store({"ns": by_ns}, {})
    s.add("a", obj("n1", "a", "x"))
    s.add("b", obj("n2", "b", "x", "y"))
    s.add_indexers({"tag": by_tag})
    assert set(s.get_indexers()) == {"ns", "tag"}
    assert sorted(s.index_keys("tag", "x")) == ["a", "b"]
    s.delete("b")
    assert s.list_index_func_values("tag") == ["x"]
    s.add("c", obj("n1", "c", "z"))
    assert s.index_keys("tag", "z") == ["c"]


def test_add_indexers_name_clash_is_value_error_and_changes_nothing() -> None:
    s = new()
    s.add("a", obj("n1", "a", "x"))
    with pytest.raises(ValueError, match="ns"):
        s.add_indexers({"ns": by_tag, "other": by_tag})
    assert set(s.get_indexers()) == {"ns", "tag"}
    assert s.index_keys("ns", "n1") == ["a"]


def test_get_indexers_returns_a_copy() -> None:
    s = new()
    s.get_indexers().clear()
    assert set(s.get_indexers()) == {"ns", "tag"}


def fragile(o: dict[str, Any]) -> list[str]:
    if o.get("poison"):
        raise RuntimeError("poisoned")
    return list(o["tags"])


def test_failing_index_func_on_add_leaves_store_unchanged() -> None:
    s = new_thread_safe_store({"ns": by_ns, "tag": fragile}, {})
    s.add("a", obj("n1", "a", "x"))
    bad = {**obj("n2", "a", "y"), "poison": True}
    with pytest.raises(IndexFuncError) as info:
        s.update("a", bad)
    err = info.value
    assert isinstance(err, CacheError)
    assert "'tag'" in str(err) and "'a'" in str(err) and "poisoned" in str(err)
    assert (err.index_name, err.key) == ("tag", "a")
    assert isinstance(err.err, RuntimeError)
    # nothing moved: not even the namespace index, computed before the failing one
    assert s.get("a") == (obj("n1", "a", "x"), True)
    assert raw_indices(s) == {"ns": {"n1": {"a"}}, "tag": {"x": {"a"}}}
    with pytest.raises(IndexFuncError):
        s.add("new", bad)
    assert "new" not in s


def test_failing_index_func_on_replace_and_add_indexers_changes_nothing() -> None:
    s = new_thread_safe_store({"tag": fragile}, {})
    s.add("a", obj("n1", "a", "x"))
    with pytest.raises(IndexFuncError, match="'b'"):
        s.replace({"ok": obj("n", "ok"), "b": {**obj("n", "b"), "poison": True}})
    assert s.list_keys() == ["a"] and s.index_keys("tag", "x") == ["a"]

    s2 = new_thread_safe_store({}, {})
    s2.add("p", {**obj("n", "p", "q"), "poison": True})
    with pytest.raises(IndexFuncError, match="'p'"):
        s2.add_indexers({"tag": fragile})
    assert s2.get_indexers() == {}


def test_index_func_returning_non_strings_is_index_func_error() -> None:
    s = new_thread_safe_store({"bad": lambda o: [1, 2]}, {})  # type: ignore[list-item]
    with pytest.raises(IndexFuncError, match="strings"):
        s.add("a", obj("n", "a"))
    s2 = new_thread_safe_store({"bad": lambda o: 5}, {})  # type: ignore[dict-item,return-value]
    with pytest.raises(IndexFuncError):
        s2.add("a", obj("n", "a"))
    assert len(s) == 0 and len(s2) == 0


def test_index_with_failing_func_names_the_object() -> None:
    s = new_thread_safe_store({"tag": fragile}, {})
    with pytest.raises(IndexFuncError, match="object") as info:
        s.index("tag", {"poison": True})
    assert info.value.key is None


def test_stored_values_used_on_delete_even_if_object_mutated() -> None:
    s = new()
    o = obj("n1", "a", "x")
    s.add("a", o)
    o["tags"] = ["changed"]  # caller mutates the stored object in place (a bug, but common)
    o["metadata"]["namespace"] = "elsewhere"
    s.delete("a")
    assert raw_indices(s) == {"ns": {}, "tag": {}}


def test_new_thread_safe_store_arguments() -> None:
    assert len(new_thread_safe_store()) == 0
    s = new_thread_safe_store({"ns": by_ns}, {"ns": {}})
    s.add("a", obj("n", "a"))
    assert s.index_keys("ns", "n") == ["a"]
    with pytest.raises(ValueError, match="not empty"):
        new_thread_safe_store({"ns": by_ns}, {"ns": {"n": {"ghost"}}})
    assert "ThreadSafeStore" in repr(s)
    s.resync()  # a no-op
    assert s.list_keys() == ["a"]


def test_gc_paused_restores_previous_state_and_nests() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block is still running
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # was disabled before: stays disabled
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("inside")
    assert gc.isenabled()


class _Quit(BaseException):
    """A BaseException that is neither an Exception nor one absorbable() lets through."""


@pytest.mark.parametrize("exc", [SystemExit, GeneratorExit, _Quit])
def test_index_func_raising_a_base_exception_is_index_func_error(
        exc: type[BaseException]) -> None:
    def quits(o: dict[str, Any]) -> list[str]:
        if o.get("poison"):
            raise exc("gave up")
        return by_ns(o)

    s = new_thread_safe_store({"ns": by_ns, "quits": quits}, {})
    s.add("a", obj("n1", "a"))
    bad = {**obj("n2", "a"), "poison": True}
    for write in (lambda: s.update("a", bad), lambda: s.replace({"a": bad}),
                  lambda: s.index("quits", bad)):
        with pytest.raises(IndexFuncError) as info:
            write()
        assert info.value.index_name == "quits" and isinstance(info.value.err, exc)
        assert "'quits'" in str(info.value)
    assert s.get("a") == (obj("n1", "a"), True)  # nothing changed
    s2 = new_thread_safe_store({}, {})
    s2.add("p", bad)
    with pytest.raises(IndexFuncError, match="'p'"):
        s2.add_indexers({"quits": quits})


def test_index_func_stop_signals_are_not_wrapped() -> None:
    """A main-thread KeyboardInterrupt goes through (absorbable says no)."""
    for exc in (KeyboardInterrupt,):
        def raises(o: dict[str, Any], exc: type[BaseException] = exc) -> list[str]:
            raise exc()

        s = new_thread_safe_store({"x": raises}, {})
        with pytest.raises(exc):
            s.add("a", obj("n", "a"))
        assert len(s) == 0
