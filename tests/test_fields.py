"""Field selectors: parsing, escaping, evaluation on dicts and models, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes.client import V1Node, V1NodeSpec, V1ObjectMeta, V1Pod, V1PodSpec, V1PodStatus

from kubecache import CacheError
from kubecache.fields import (
    FieldSelector,
    Term,
    escape_value,
    everything,
    nothing,
    parse,
    selector_from_set,
    unescape_value,
)
from kubecache.labels import SelectorError, SelectorParseError

POD = {
    "metadata": {"name": "web-1", "namespace": "prod",
                 "labels": {"app.kubernetes.io/name": "web", "tier": "front"}},
    "spec": {"nodeName": "node-a", "hostNetwork": True, "priority": 7},
    "status": {"phase": "Running"},
}


def model_pod() -> V1Pod:
    """A model with spec and status set (not the shared metadata-only ``model_pod``):
    field selectors read ``spec.nodeName``, ``spec.hostNetwork`` and ``status.phase``."""
    return V1Pod(metadata=V1ObjectMeta(name="web-1", namespace="prod",
                                       labels={"app.kubernetes.io/name": "web"}),
                 spec=V1PodSpec(containers=[], node_name="node-a", host_network=True),
                 status=V1PodStatus(phase="Running"))


@pytest.mark.parametrize(("text", "expected"), [
    ("metadata.name=web-1", True),
    ("metadata.name==web-1", True),
    ("metadata.name!=web-1", False),
    ("metadata.name=web-2", False),
    ("metadata.name!=web-2", True),
    ("metadata.namespace=prod,status.phase=Running", True),
    ("metadata.namespace=prod,status.phase!=Running", False),
    ("spec.nodeName=node-a", True),
    ("spec.hostNetwork=true", True),
    ("spec.hostNetwork=false", False),
    ("spec.priority=7", True),
    ("spec.missing=", True),  # a missing field reads as ""
    ("spec.missing!=", False),
    ("spec.missing=x", False),
    ("spec.missing.deeper!=x", True),
    ("metadata.labels.tier=front", True),
    ("metadata.labels.app.kubernetes.io/name=web", True),  # a label key with dots
    ("", True),
])
def test_matches_on_dicts(text: str, expected: bool) -> None:
    assert parse(text).matches(POD) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("metadata.name=web-1,metadata.namespace=prod", True),
    ("spec.nodeName=node-a", True),  # camelCase path, snake_case attribute
    ("spec.hostNetwork=true", True),
    ("status.phase=Running", True),
    ("status.phase=Pending", False),
    ("metadata.labels.app.kubernetes.io/name=web", True),
    ("spec.missing=", True),
])
def test_matches_on_attribute_models(text: str, expected: bool) -> None:
    assert parse(text).matches(model_pod()) is expected


def test_matches_on_a_node_model_and_a_flat_field_set() -> None:
    node = V1Node(metadata=V1ObjectMeta(name="n1"), spec=V1NodeSpec(unschedulable=False))
    assert parse("spec.unschedulable=false,metadata.name=n1").matches(node)
    flat = {"metadata.name": "a", "status.phase": "Pending"}
    assert parse("metadata.name=a,status.phase!=Running").matches(flat)
    assert not parse("metadata.name=b").matches(flat)


def test_canonical_string() -> None:
    sel = parse("status.phase!=Running, metadata.name==a")
    assert str(sel) == "metadata.name=a,status.phase!=Running"
    assert parse(str(sel)) == sel
    assert str(parse("a=b,,c=d,")) == "a=b,c=d"  # empty terms are skipped, as apimachinery
    assert str(parse(" a = b ")) == "a=b"


def test_escaping() -> None:
    assert escape_value("a,b=c\\d") == "a\\,b\\=c\\\\d"
    assert unescape_value("a\\,b\\=c\\\\d") == "a,b=c\\d"
    sel = parse("metadata.name=a\\,b")
    assert sel.terms[0].value == "a,b"
    assert sel.matches({"metadata": {"name": "a,b"}})
    assert str(sel) == "metadata.name=a\\,b"
    assert parse("x=a\\=b").terms[0].value == "a=b"
    assert parse("x=a\\\\").terms[0].value == "a\\"


@pytest.mark.parametrize(("text", "position", "token", "reason"), [
    ("metadata.name", 0, "metadata.name", "expected FIELD=VALUE"),
    ("a=b,junk", 4, "junk", "expected FIELD=VALUE"),
    ("=x", 0, "=", "field name"),
    ("a=b, !=x", 5, "!=", "field name"),
    ("a=b=c", 3, "=", "unescaped"),
    ("a=b,c", 4, "c", "expected FIELD=VALUE"),
    ("a=x\\y", 3, "\\y", "invalid escape"),
    ("a=x\\", 3, "\\", "invalid escape"),
    ("k=ok,a=x\\n", 8, "\\n", "invalid escape"),
    ("x\\,y=1", 1, "\\", "field name"),
    ("a b=1", 1, " ", "field name"),
])
def test_parse_errors_point_at_the_token(text: str, position: int, token: str,
                                         reason: str) -> None:
    with pytest.raises(SelectorParseError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, CacheError)
    assert (err.position, err.token) == (position, token)
    assert reason in err.reason
    assert f"position {position}" in str(err) and "field selector" in str(err)


def test_unescape_value_errors() -> None:
    with pytest.raises(ValueError, match="unescaped"):
        unescape_value("a,b")
    with pytest.raises(ValueError, match="invalid escape"):
        unescape_value("a\\b")


def test_everything_nothing_and_set() -> None:
    assert everything().empty() and everything().matches(POD) and parse("") == everything()
    assert not nothing().empty() and not nothing().matches(POD)
    assert str(nothing()) == ""
    assert nothing() != everything()
    sel = selector_from_set({"status.phase": "Running", "metadata.name": "web-1"})
    assert str(sel) == "metadata.name=web-1,status.phase=Running"
    assert sel.matches(POD)
    assert sel.requires_exact_match("status.phase") == "Running"
    assert sel.requires_exact_match("spec.nodeName") is None
    assert parse("a!=b").requires_exact_match("a") is None
    assert selector_from_set(None) == everything() == selector_from_set({})
    assert FieldSelector([Term("a", "1"), Term("b", "2", equal=False)]) == parse("b!=2,a=1")
    with pytest.raises(SelectorError):
        Term("", "x")
    with pytest.raises(TypeError):
        parse(3)  # type: ignore[arg-type]


field_names = st.sampled_from(["metadata.name", "metadata.namespace", "status.phase",
                               "spec.nodeName", "a"])
values = st.text(alphabet="ab,=\\ -.x1", max_size=6).map(str.strip)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(field_names, values, st.booleans()), max_size=5),
       st.dictionaries(field_names, values, max_size=5))
def test_round_trip_and_matches_agree_with_a_naive_evaluator(
        terms: list[tuple[str, str, bool]], flat: dict[str, str]) -> None:
    text = ",".join(f"{f}{'=' if eq else '!='}{escape_value(v)}" for f, v, eq in terms)
    sel = parse(text)
    again = parse(str(sel))
    assert again == sel and str(again) == str(sel)
    expected = all((flat.get(f, "") == v) is eq for f, v, eq in terms)
    assert sel.matches(flat) is expected
    assert again.matches(flat) is expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab=!,\\ .", max_size=16))
def test_arbitrary_text_parses_or_raises_a_parse_error(text: str) -> None:
    try:
        sel = parse(text)
    except SelectorParseError as err:
        assert 0 <= err.position <= len(text)
        return
    assert parse(str(sel)) == sel


@pytest.mark.parametrize("text", ["! =", ".! =", "a! =b", "a!b=c"])
def test_bang_in_a_field_name_is_rejected(text: str) -> None:
    # "a! =b" would otherwise print as "a!=b", a different selector.
    with pytest.raises(SelectorParseError) as info:
        parse(text)
    assert info.value.token == "!"
