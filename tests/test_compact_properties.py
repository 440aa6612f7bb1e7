"""Property tests: a compact object is the dict it was made from, read any way."""

from __future__ import annotations

import pickle
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache.compact import compact_object, compressed, thaw, to_json

_text = st.text(max_size=12)
_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | \
    st.floats(allow_nan=False, allow_infinity=False) | _text
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) |
                     st.dictionaries(_text, inner, max_size=4), max_leaves=20)
_labels = st.dictionaries(_text, _text, max_size=4)
_metadata = st.fixed_dictionaries(
    {}, optional={"name": _text, "namespace": _text, "resourceVersion": _text, "uid": _text,
                  "labels": _labels | _json, "annotations": _labels,
                  "ownerReferences": st.lists(st.dictionaries(_text, _json, max_size=3)),
                  "generation": st.integers(0, 10)}) | _json
_objects = st.dictionaries(_text, _json, max_size=5).flatmap(
    lambda rest: st.fixed_dictionaries({"metadata": _metadata}).map(
        lambda meta: {**rest, **meta}) | st.just(rest))

_compress = compressed(min_size=8)


@settings(max_examples=300)
@given(_objects)
def test_compact_object_is_equal_to_its_dict(d: dict[str, Any]) -> None:
    for c in (compact_object(d), _compress(d)):
        assert c == d and d == c
        assert c.to_dict() == d and type(thaw(c)) is dict
        assert list(c) == list(d) and len(c) == len(d)
        for key, value in d.items():
            assert c[key] == value and c.get(key) == value and key in c
        assert dict(c.items()) == d
        meta = c.get("metadata")
        if isinstance(d.get("metadata"), dict):
            assert list(meta) == list(d["metadata"])
            for key, value in d["metadata"].items():
                assert meta[key] == value
                if isinstance(value, dict):
                    assert list(meta[key]) == list(value)
        assert orjson.loads(to_json(c)) == d
        assert to_json(c) == orjson.dumps(d)
        assert pickle.loads(pickle.dumps(c)) == d
