"""Property tests: a raw object is the dict it was made from, read any way, from any path."""

from __future__ import annotations

import copy
import pickle
import re
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache.compact import ReadOnlyObjectError, json_default, thaw, to_json
from kubecache.raw import HAVE_MSGSPEC, RawObject, decode_event, decode_list, from_json, raw_object
from kubecache.watch import EventType

_text = st.text(max_size=12)
_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | \
    st.floats(allow_nan=False, allow_infinity=False) | _text
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) |
                     st.dictionaries(_text, inner, max_size=4), max_leaves=20)
_labels = st.dictionaries(_text, _text, max_size=4)
_metadata = st.fixed_dictionaries(
    {}, optional={"name": _text | _json, "namespace": _text, "resourceVersion": _text,
                  "uid": _text, "labels": _labels | _json, "annotations": _labels,
                  "ownerReferences": st.lists(st.dictionaries(_text, _json, max_size=3)),
                  "generation": st.integers(0, 10)}) | _json
_top = st.fixed_dictionaries({}, optional={"kind": _text | _json, "apiVersion": _text})
_objects = st.tuples(st.dictionaries(_text, _json, max_size=5), _top).flatmap(
    lambda parts: st.fixed_dictionaries({"metadata": _metadata}).map(
        lambda meta: {**parts[0], **parts[1], **meta}) | st.just({**parts[0], **parts[1]}))


def _assert_reads_equal(r: Any, d: dict[str, Any]) -> None:
    assert type(r) is RawObject
    assert r == d and d == r and (r != d) is False
    assert r.to_dict() == d and type(thaw(r)) is dict and thaw(r) == d
    assert list(r) == list(d) and len(r) == len(d)
    for key, value in d.items():
        assert r[key] == value and r.get(key) == value and key in r
    assert "no such key \x00" not in r and r.get("no such key \x00", 7) == 7
    with pytest.raises(KeyError):
        r["no such key \x00"]
    assert dict(r.items()) == d
    meta, plain = r.get("metadata"), d.get("metadata")
    assert meta == plain
    if isinstance(plain, dict):
        assert list(meta) == list(plain) and len(meta) == len(plain)
        for key, value in plain.items():
            assert meta[key] == value and meta.get(key) == value and key in meta
        for key in ("name", "namespace", "resourceVersion", "labels", "uid"):
            assert (key in meta) == (key in plain)
            assert meta.get(key, 7) == plain.get(key, 7)
        assert thaw(meta) == plain
    assert orjson.loads(to_json(r)) == d
    assert orjson.loads(orjson.dumps(r, default=json_default)) == d
    assert pickle.loads(pickle.dumps(r)) == d
    assert copy.deepcopy(r) == d and type(copy.copy(r)) is dict


@settings(max_examples=300)
@given(_objects)
def test_raw_object_is_equal_to_its_dict(d: dict[str, Any]) -> None:
    data = orjson.dumps(d)
    for r in (from_json(data), raw_object(d)):
        _assert_reads_equal(r, d)
        assert to_json(r) == data  # the stored bytes, as they came


@settings(max_examples=200)
@given(_objects, st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), st.integers(0, 3))
def test_decode_event_reads_the_object_of_any_layout(d: dict[str, Any], etype: str,
                                                     layout: int) -> None:
    obj = orjson.dumps(d)
    line = [b'{"type":"%s","object":%s}' % (etype.encode(), obj),  # the API server's
            b'{"object":%s,"type":"%s"}' % (obj, etype.encode()),
            b'{ "type" : "%s" , "object" : %s }' % (etype.encode(), obj),
            b'{"type":"%s","object":%s}  ' % (etype.encode(), obj)][layout]
    ev = decode_event(line)
    assert ev is not None and ev.type == EventType(etype)
    _assert_reads_equal(ev.object, d)


@pytest.mark.parametrize("line", [
    b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"5"}}}',
    b'{"type":"ERROR","object":{"kind":"Status","code":410}}',
    b'{"type":"ADDED","object":{},"extra":1}',  # an event shape it does not know
    b'{"type":"ADDED","object":[1]}',
    b'{"type":"ADDED"',
    b'[1]',
])
def test_decode_event_leaves_other_lines_to_the_full_decoder(line: bytes) -> None:
    assert decode_event(line) is None


@settings(max_examples=100)
@given(st.lists(_objects, max_size=4), st.booleans())
def test_decode_list_makes_each_item_raw(items: list[dict[str, Any]], with_kind: bool) -> None:
    page: dict[str, Any] = {"metadata": {"resourceVersion": "12", "continue": "abc"},
                            "items": items}
    if with_kind:
        page = {"kind": "PodList", "apiVersion": "v1", **page}
    body = orjson.dumps(page)
    got = decode_list(body, "/api/v1/pods")
    assert got == page
    for item, expected in zip(got["items"], items, strict=True):
        _assert_reads_equal(item, expected)
        assert type(item.to_json()) is bytes and len(item.to_json()) < len(body) + 1


def test_a_raw_object_refuses_writes() -> None:
    r = from_json(b'{"metadata":{"name":"a","labels":{"app":"web"}},"spec":{"x":[1]}}')
    with pytest.raises(ReadOnlyObjectError, match="thaw"):
        r["spec"] = {}
    with pytest.raises(ReadOnlyObjectError):
        del r["spec"]
    with pytest.raises(ReadOnlyObjectError):
        r["metadata"]["name"] = "b"
    with pytest.raises(ReadOnlyObjectError):
        r["metadata"]["labels"]["app"] = "db"
    with pytest.raises(ReadOnlyObjectError):
        r._raw = b"{}"  # type: ignore[misc]
    spec = r["spec"]
    spec["x"].append(2)  # a fresh value: the cache is unchanged
    assert r["spec"] == {"x": [1]}
    with pytest.raises(TypeError):
        hash(r)


def test_labels_are_shared_between_objects() -> None:
    a = from_json(b'{"metadata":{"name":"a","labels":{"app":"web"}}}')
    b = from_json(b'{"metadata":{"name":"b","labels":{"app":"web"}}}')
    assert a["metadata"]["labels"] is b["metadata"]["labels"]


def test_a_list_answer_that_is_not_json_names_the_path() -> None:
    from kubecache.errors import MalformedDataError
    with pytest.raises(MalformedDataError, match="/api/v1/pods"):
        decode_list(b"{not json", "/api/v1/pods")


def test_the_api_servers_layout_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line as the API server sends it (newline included) is read in one pass."""
    from kubecache import raw

    class Refuse:
        def decode(self, line: bytes) -> Any:
            raise AssertionError("the second pass ran")

    monkeypatch.setattr(raw, "_event_raw_decoder", Refuse())
    obj = {"kind": "Pod", "metadata": {"name": "a", "namespace": "n", "resourceVersion": "7"},
           "spec": {"x": 1}}
    for end in (b"\n", b"\r\n", b""):
        ev = decode_event(b'{"type":"MODIFIED","object":' + orjson.dumps(obj) + b"}" + end)
        assert ev is not None and ev.object == obj and to_json(ev.object) == orjson.dumps(obj)


@settings(max_examples=300)
@given(_objects)
def test_key_functions_and_getters_read_a_raw_object_as_its_dict(d: dict[str, Any]) -> None:
    """The slots' fast paths (keys.FAST_KEYS, meta.FAST_FIELDS) answer as the dict does."""
    from kubecache.errors import KeyFuncError
    from kubecache.keys import meta_namespace_key_func
    from kubecache.meta import get_labels, get_name, get_namespace, get_resource_version

    r = from_json(orjson.dumps(d))

    def key_of(obj: Any) -> Any:
        try:
            return meta_namespace_key_func(obj)
        except (KeyFuncError, AttributeError, TypeError) as err:
            return type(err)

    assert key_of(r) == key_of(d)
    for getter in (get_name, get_namespace, get_resource_version, get_labels):
        try:
            expected = getter(d)
        except (AttributeError, TypeError) as err:
            with pytest.raises(type(err)):
                getter(r)
        else:
            assert getter(r) == expected


@pytest.mark.skipif(not HAVE_MSGSPEC, reason="raw objects are msgspec Structs only with msgspec")
def test_raw_objects_are_invisible_to_the_cyclic_gc() -> None:
    """A cache of raw objects adds nothing for the cyclic GC to track (or scan)."""
    import gc

    line = b'{"type":"ADDED","object":{"metadata":{"name":"a","labels":{"x":"y"}}}}\n'
    ev = decode_event(line)
    assert ev is not None
    obj = ev.object
    assert not gc.is_tracked(obj) and not gc.is_tracked(obj["metadata"])
    assert not gc.is_tracked(from_json(b'{"metadata":{"name":"b"}}'))


# --- declared fields (raw.codec, an informer's raw_fields) ---------------------------------

_PATHS = ["spec.nodeName", "status.phase", "spec.a.b", "status", "x.y", "spec.a.c"]
_part_values = st.fixed_dictionaries({}, optional={
    "nodeName": _json, "phase": _json, "other": _json,
    "a": st.fixed_dictionaries({}, optional={"b": _json, "c": _json, "d": _json}) | _json})
_declared_objects = st.tuples(_objects, st.fixed_dictionaries({}, optional={
    "spec": _part_values | _json, "status": _part_values | _json,
    "x": st.fixed_dictionaries({}, optional={"y": _json}) | _json})).map(
        lambda parts: {**parts[0], **parts[1]})

_NO_VALUE = object()


def _walk(obj: Any, path: str) -> Any:
    """The value at ``path`` read with ``[]`` (an exception's type when a read fails)."""
    for key in path.split("."):
        try:
            obj = obj[key]
        except (KeyError, TypeError, IndexError) as err:
            return type(err)
    return obj


def _walk_get(obj: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(obj, Mapping):
            return _NO_VALUE
        obj = obj.get(key, _NO_VALUE)
        if obj is _NO_VALUE:
            return obj
    return obj


class _NoDecoding:
    """While entered, reading a raw object's undecoded parts raises (declared ones must not)."""

    NAMES = ("_split_top", "_split_at", "_split_meta", "_raw_at", "_part")

    def __enter__(self) -> None:
        from kubecache import raw

        def refuse(*args: Any) -> Any:
            raise AssertionError("a declared field was decoded from the bytes")

        self.saved = {name: getattr(raw, name) for name in self.NAMES}
        for name in self.NAMES:
            setattr(raw, name, refuse)

    def __exit__(self, *exc: object) -> None:
        from kubecache import raw
        for name, value in self.saved.items():
            setattr(raw, name, value)


def _dicts_down(d: Any, path: str) -> bool:
    """Whether every prefix of ``path`` in ``d`` is an object, absent or null (then the
    declared value is kept and reading it decodes nothing)."""
    cur = d
    for key in path.split(".")[:-1]:
        if not isinstance(cur, dict):
            return cur is None
        cur = cur.get(key)
        if cur is None:
            return True
    return isinstance(cur, dict) or cur is None


@settings(max_examples=300)
@given(_declared_objects, st.lists(st.sampled_from(_PATHS), min_size=1, max_size=4),
       st.integers(0, 3))
def test_declared_fields_read_as_the_dict_does(d: dict[str, Any], paths: list[str],
                                               layout: int) -> None:
    from kubecache.meta import get_path
    from kubecache.raw import RawPart, codec

    c = codec(paths)
    data = orjson.dumps(d)
    line = [b'{"type":"ADDED","object":%s}\n' % data, b'{"object":%s,"type":"ADDED"}' % data,
            b'{"type":"ADDED","object":%s}' % data, b'{"type":"ADDED","object":%s}\r\n' % data
            ][layout]
    ev = c.decode_event(line)
    assert ev is not None
    page = c.decode_list(orjson.dumps({"metadata": {}, "items": [d]}))
    made = [c.from_json(data), c.raw_object(d), ev.object, page["items"][0]]
    made.append(pickle.loads(pickle.dumps(made[0])))  # the declared fields travel along
    for r in made:
        _assert_reads_equal(r, d)
        for path in _PATHS:  # declared or not, nested reads answer as the dict's
            assert _walk(r, path) == _walk(d, path)
            assert _walk_get(r, path) == _walk_get(d, path)
            assert get_path(r, path) == get_path(d, path)
        for path in c.paths:
            top = path.split(".")[0]
            if isinstance(d.get(top), dict) and "." in path:
                view = r[top]
                assert type(view) is RawPart and view == d[top] and d[top] == view
                assert list(view) == list(d[top]) and len(view) == len(d[top])
                assert thaw(view) == d[top] and orjson.loads(view.to_json()) == d[top]
                assert pickle.loads(pickle.dumps(view)) == d[top]
                assert copy.deepcopy(view) == d[top]
                with pytest.raises(ReadOnlyObjectError):
                    view["new"] = 1
            if _dicts_down(d, path):
                with _NoDecoding():
                    assert _walk(r, path) == _walk(d, path)
                    assert get_path(r, path) == get_path(d, path)
                    if isinstance(d.get(top), dict) and path.count(".") == 1:
                        leaf = path.split(".")[1]
                        assert (leaf in r[top]) == (leaf in d[top])
            value = _walk(r, path)
            if isinstance(value, (dict, list)):  # a declared container: a copy per read
                value.clear()
                assert _walk(r, path) == _walk(d, path)


def test_declared_paths_are_validated_and_normalized() -> None:
    from kubecache.raw import codec

    assert codec(["status.phase", "spec.nodeName", "spec.nodeName"]).paths == (
        "spec.nodeName", "status.phase")
    assert codec(["spec", "spec.nodeName"]).paths == ("spec",)  # under a declared path
    assert codec(["kind", "metadata.name", "metadata.labels.app"]).paths == ()  # kept anyway
    assert codec(["spec.nodeName"]) is codec(("spec.nodeName",))
    for bad in ("", "spec..nodeName", ".spec", "spec.", 7):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            codec([bad])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"'metadata\.uid'"):
        codec(["metadata.uid"])
    with pytest.raises(ValueError, match="one path"):
        codec("spec.nodeName")


def test_a_declared_field_costs_no_decode_through_the_watch_decoder() -> None:
    from kubecache._wire.ndjson import WatchDecoder
    from kubecache.raw import codec

    obj = {"metadata": {"name": "a", "namespace": "n"}, "spec": {"nodeName": "node-1", "x": 1}}
    line = b'{"type":"ADDED","object":' + orjson.dumps(obj) + b"}\n"
    ev = WatchDecoder("w", raw=codec(["spec.nodeName"])).decoder(line)
    assert ev is not None
    with _NoDecoding():
        assert ev.object["spec"]["nodeName"] == "node-1"
    assert ev.object["spec"]["x"] == 1 and ev.object == obj
