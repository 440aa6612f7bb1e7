"""Label selectors: every operator, every error, canonical strings, property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache import CacheError
from kubecache.labels import (
    Operator,
    Requirement,
    Selector,
    SelectorError,
    SelectorParseError,
    everything,
    nothing,
    parse,
    selector_from_set,
    validate_label_key,
    validate_label_value,
)

# --- operators ----------------------------------------------------------------

LABELS = {"app": "web", "tier": "front", "n": "5", "empty": "", "example.com/team": "a"}


@pytest.mark.parametrize(("text", "expected"), [
    ("app=web", True), ("app=db", False), ("missing=web", False),
    ("app==web", True), ("app==db", False),
    ("app!=db", True), ("app!=web", False), ("missing!=x", True),
    ("app in (db,web)", True), ("app in (db)", False), ("missing in (web)", False),
    ("app notin (db)", True), ("app notin (web,db)", False), ("missing notin (x)", True),
    ("app", True), ("missing", False),
    ("!missing", True), ("!app", False),
    ("n>4", True), ("n>5", False), ("n<6", True), ("n<5", False),
    ("app>1", False), ("missing>1", False), ("missing<1", False),
    ("empty=", True), ("empty!=", False), ("missing=", False), ("app=", False),
    ("example.com/team=a", True), ("example.com/team notin (a)", False),
    ("app=web,tier=front", True), ("app=web,tier=back", False),
    ("app in (web),!missing,n>1,n<10,tier", True),
    ("", True),
])
def test_each_operator_matches_like_apimachinery(text: str, expected: bool) -> None:
    assert parse(text).matches(LABELS) is expected


def test_integer_comparison_follows_go_parseint() -> None:
    with pytest.raises(SelectorParseError, match="invalid value"):
        parse("n>-1")  # "-1" is not a valid label value, so it can't be a bound
    gt = parse("n>10")
    assert gt.matches({"n": "11"})
    assert gt.matches({"n": "+11"})  # ParseInt accepts a sign on the label side
    assert not gt.matches({"n": "-11"})
    assert not gt.matches({"n": "1_1"})  # Python's int() would accept this; Go does not
    assert not gt.matches({"n": " 11"})
    assert not gt.matches({"n": str(2**63)})  # out of int64 range
    assert parse("n<10").matches({"n": str(-(2**63))})
    with pytest.raises(SelectorParseError):
        parse(f"n>{2**63}")


def test_none_labels_mean_no_labels() -> None:
    assert parse("!a").matches(None)
    assert parse("a notin (x)").matches(None)
    assert not parse("a").matches(None)
    assert everything().matches(None)


def test_keywords_are_values_where_values_go() -> None:
    sel = parse("in in (in,notin)")
    assert sel.matches({"in": "notin"})
    assert str(sel) == "in in (in,notin)"
    assert parse("notin=in").matches({"notin": "in"})


def test_whitespace_is_insignificant() -> None:
    assert parse("  a = b ,\tc\nin( x , y ) , ! d ") == parse("a=b,c in (x,y),!d")


# --- canonical strings -----------------------------------------------------------


@pytest.mark.parametrize(("text", "canonical"), [
    ("", ""),
    ("b=1,a=2", "a=2,b=1"),
    ("x in (c,a,b)", "x in (a,b,c)"),
    ("x in (a,a)", "x in (a)"),
    ("x notin (b,a)", "x notin (a,b)"),
    ("a==b", "a==b"),
    ("z,!y,x!=1,w>3,v<2", "v<2,w>3,x!=1,!y,z"),
    ("a=", "a="),
    ("b,a=1,b=2", "a=1,b,b=2"),  # stable: same-key requirements keep their order
])
def test_str_is_canonical(text: str, canonical: str) -> None:
    sel = parse(text)
    assert str(sel) == canonical
    assert parse(canonical) == sel


def test_everything_nothing_and_empty() -> None:
    assert everything().empty()
    assert parse("").empty()
    assert parse("") == everything()
    assert not nothing().empty()
    assert not nothing().matches({})
    assert not nothing().matches(LABELS)
    assert str(nothing()) == "" and str(everything()) == ""
    assert nothing() != everything()
    assert not parse("a").empty()
    assert nothing().add(Requirement("a", "exists")) is nothing()


def test_selector_from_set() -> None:
    sel = selector_from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})
    assert selector_from_set({}) == everything()
    assert selector_from_set(None) == everything()
    assert selector_from_set({"a": ""}).matches({"a": ""})
    with pytest.raises(SelectorError, match="key 'Bad/x'"):
        selector_from_set({"Bad/x": "1"})
    with pytest.raises(ValueError, match="value '-x'"):
        selector_from_set({"a": "-x"})


def test_requirement_construction_and_helpers() -> None:
    req = Requirement("a", Operator.IN, ["y", "x"])
    assert req.values == ("x", "y")
    assert str(req) == "a in (x,y)"
    assert req.matches({"a": "x"}) and not req.matches({"a": "z"}) and not req.matches(None)
    assert Requirement("a", "in", ["x", "y"]) == req
    assert hash(Requirement("a", "in", ["x", "y"])) == hash(req)
    with pytest.raises(AttributeError):
        req.key = "b"  # type: ignore[misc]
    sel = parse("b=1").add(req)
    assert str(sel) == "a in (x,y),b=1"
    assert sel.requires_exact_match("b") == "1"
    assert sel.requires_exact_match("a") is None
    assert parse("a in (x)").requires_exact_match("a") == "x"
    assert sel.requires_exact_match("zzz") is None
    assert [r.key for r in sel.requirements] == ["a", "b"]
    assert sel.matcher({"a": "x", "b": "1"})
    assert str(Requirement("n", "gt", ["3"])) == "n>3"
    assert str(Requirement("n", "lt", ["3"])) == "n<3"


@pytest.mark.parametrize(("key", "op", "values", "message"), [
    ("a", "~", ["x"], "operator '~'"),
    ("a", "in", [], "at least one value"),
    ("a", "notin", [], "at least one value"),
    ("a", "=", [], "exactly one value"),
    ("a", "!=", ["x", "y"], "exactly one value"),
    ("a", "exists", ["x"], "takes no values"),
    ("a", "!", ["x"], "takes no values"),
    ("a", "gt", ["x"], "needs an integer"),
    ("a", "lt", ["1", "2"], "exactly one value"),
    ("", "exists", [], "name part must be non-empty"),
    ("a", "=", ["x" * 64], "no more than 63"),
])
def test_requirement_rejects_bad_input(key: str, op: str, values: list[str],
                                       message: str) -> None:
    with pytest.raises(SelectorError, match=message) as info:
        Requirement(key, op, values)
    assert isinstance(info.value, ValueError) and isinstance(info.value, CacheError)


# --- key and value validation ------------------------------------------------------


@pytest.mark.parametrize("key", [
    "a", "A", "a.b", "a-b_c.d", "1", "x" * 63, "example.com/a", "a/b", "a.b-c/X_y",
    "x" * 253 + "/a", "in",
])
def test_valid_keys(key: str) -> None:
    assert validate_label_key(key) == []
    assert parse(key).matches({key: "v"})


@pytest.mark.parametrize(("key", "why"), [
    ("x" * 64, "no more than 63"),
    ("-a", "alphanumeric"), ("a-", "alphanumeric"), ("a b", ""), ("a:b", "alphanumeric"),
    ("_a", "alphanumeric"), ("é", "alphanumeric"),
    ("/a", "prefix part must be non-empty"),
    ("a/", "name part must be non-empty"),
    ("a/b/c", "at most one '/'"),
    ("Example.com/a", "RFC 1123"), ("ex_ample.com/a", "RFC 1123"), ("-a.com/a", "RFC 1123"),
    ("x" * 254 + "/a", "no more than 253"),
])
def test_invalid_keys(key: str, why: str) -> None:
    if " " not in key:
        assert any(why in e for e in validate_label_key(key))
    with pytest.raises(SelectorParseError):
        parse(f"{key}=v")
    with pytest.raises(SelectorError):
        selector_from_set({key: "v"})


@pytest.mark.parametrize("value", ["", "a", "A-b_c.d", "1", "x" * 63])
def test_valid_values(value: str) -> None:
    assert validate_label_value(value) == []
    assert parse(f"k={value}").matches({"k": value})


@pytest.mark.parametrize("value", ["x" * 64, "-a", "a-", ".a", "a_", "a/b", "a:b", "ü"])
def test_invalid_values(value: str) -> None:
    assert validate_label_value(value)
    with pytest.raises(SelectorParseError, match="invalid value for label 'k'"):
        parse(f"k={value}")
    with pytest.raises(SelectorParseError, match="invalid value"):
        parse(f"k in (ok,{value})")


# --- parse errors: what and where ------------------------------------------------------


@pytest.mark.parametrize(("text", "position", "token", "reason"), [
    ("a=b,", 4, "", "after ','"),  # trailing comma
    (",a=b", 0, ",", "label key"),
    ("a=b,,c=d", 4, ",", "after ','"),
    ("x in ()", 6, ")", "can't be empty"),
    ("x in (a,)", 8, ")", "expected a value"),
    ("x in (,a)", 6, ",", "expected a value"),
    ("x in (a,,b)", 8, ",", "expected a value"),
    ("x in (a", 7, "", "',' or ')'"),  # unbalanced parentheses
    ("x in (a b)", 8, "b", "',' or ')'"),
    ("x in a)", 5, "a", "'('"),
    ("x in ((a))", 6, "(", "expected a value"),
    ("x notin", 7, "", "'('"),
    ("a=b)", 3, ")", "',' or the end"),
    ("(a=b)", 0, "(", "label key"),
    ("a b", 2, "b", "expected an operator"),
    ("a (b)", 2, "(", "expected an operator"),
    ("a=>b", 2, ">", "expected a value"),
    ("a = = b", 4, "=", "expected a value"),
    ("a=b c", 4, "c", "',' or the end"),
    ("!a=b", 2, "=", "'!key' takes no operator"),
    ("!!a", 1, "!", "expected a label key"),
    ("!", 1, "", "expected a label key"),
    ("a>b", 2, "b", "integer"),
    ("a<", 2, "", "integer"),
    ("a>1.5", 2, "1.5", "integer"),
    ("Bad/k=v", 0, "Bad/k", "invalid label key"),
    ("ok=v,k=-v", 7, "-v", "invalid value"),
    ("a=b,c d", 6, "d", "expected an operator"),
])
def test_parse_errors_point_at_the_token(text: str, position: int, token: str,
                                         reason: str) -> None:
    with pytest.raises(SelectorParseError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, CacheError)
    assert (err.position, err.token) == (position, token)
    assert reason in err.reason
    assert f"position {position}" in str(err)
    assert repr(text) in str(err)
    assert (repr(token) if token else "end of string") in str(err)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]


def test_parse_is_cached_and_selectors_are_immutable() -> None:
    assert parse("a=b,c") is parse("a=b,c")
    sel = parse("a=b")
    with pytest.raises(AttributeError):
        sel.foo = 1  # type: ignore[attr-defined]


# --- property tests ----------------------------------------------------------------

KEYS = ["a", "b", "app", "n", "example.com/tier", "x.y_z-1"]
VALUES = ["", "x", "y", "web", "0", "1", "10", "42", "007"]
INT_VALUES = ["0", "1", "10", "42", "007"]

label_maps = st.dictionaries(st.sampled_from(KEYS),
                             st.sampled_from([*VALUES, "+5", "-3", "9999999999999999999"]),
                             max_size=len(KEYS))


@st.composite
def requirement_specs(draw: st.DrawFn) -> tuple[str, str, tuple[str, ...]]:
    key = draw(st.sampled_from(KEYS))
    op = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]))
    if op in ("in", "notin"):
        values = tuple(draw(st.lists(st.sampled_from(VALUES[1:]), min_size=1, max_size=4)))
    elif op in ("gt", "lt"):
        values = (draw(st.sampled_from(INT_VALUES)),)
    elif op in ("exists", "!"):
        values = ()
    else:
        values = (draw(st.sampled_from(VALUES)),)
    return key, op, values


def render(spec: tuple[str, str, tuple[str, ...]], draw: st.DrawFn) -> str:
    """Selector text for one requirement, with random (insignificant) spacing."""
    key, op, values = spec
    sp = lambda: draw(st.sampled_from(["", " ", "  ", "\t"]))  # noqa: E731
    if op == "exists":
        return f"{sp()}{key}{sp()}"
    if op == "!":
        return f"{sp()}!{sp()}{key}{sp()}"
    if op in ("in", "notin"):
        inner = ",".join(f"{sp()}{v}{sp()}" for v in values)
        return f"{sp()}{key} {op}{sp()}({inner}){sp()}"
    symbol = {"gt": ">", "lt": "<"}.get(op, op)
    return f"{sp()}{key}{sp()}{symbol}{sp()}{values[0]}{sp()}"


@st.composite
def selector_texts(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, tuple[str, ...]]]]:
    specs = draw(st.lists(requirement_specs(), max_size=5))
    return ",".join(render(s, draw) for s in specs), specs


def reference_matches(specs: list[tuple[str, str, tuple[str, ...]]],
                      labels: dict[str, str]) -> bool:
    """A deliberately naive evaluator written straight from the Kubernetes docs."""
    for key, op, values in specs:
        present = key in labels
        value = labels.get(key)
        if op in ("=", "==", "in"):
            ok = present and value in values
        elif op in ("!=", "notin"):
            ok = (not present) or value not in values
        elif op == "exists":
            ok = present
        elif op == "!":
            ok = not present
        else:
            try:
                have = int(value) if present and value is not None and "_" not in value \
                    else None
            except ValueError:
                have = None
            if have is not None and not -(2**63) <= have < 2**63:
                have = None
            bound = int(values[0])
            ok = have is not None and (have > bound if op == "gt" else have < bound)
        if not ok:
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(selector_texts(), st.lists(label_maps, min_size=1, max_size=8))
def test_matches_agrees_with_a_naive_evaluator(case: tuple[str, list], maps: list) -> None:
    text, specs = case
    sel = parse(text)
    for labels in maps:
        assert sel.matches(labels) is reference_matches(specs, labels), (text, labels)
    objs = [{"metadata": {"labels": labels}} for labels in maps] + [{"metadata": {}}]
    assert sel.select_dicts(objs) == [o for o in objs
                                      if reference_matches(specs, o["metadata"].get("labels", {}))]


@settings(max_examples=300, deadline=None)
@given(selector_texts(), st.lists(label_maps, min_size=1, max_size=8))
def test_parse_str_round_trips(case: tuple[str, list], maps: list) -> None:
    sel = parse(case[0])
    again = parse(str(sel))
    assert str(again) == str(sel)
    assert again == sel and hash(again) == hash(sel)
    for labels in maps:
        assert again.matches(labels) is sel.matches(labels)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4), label_maps)
def test_selector_from_set_round_trips(labelset: dict[str, str], labels: dict[str, str]) -> None:
    sel = selector_from_set(labelset)
    assert parse(str(sel)) == sel
    assert sel.matches(labels) is all(labels.get(k) == v for k, v in labelset.items())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab1=!(),<> \tinotx/.-", max_size=20))
def test_arbitrary_text_parses_or_raises_a_parse_error(text: str) -> None:
    try:
        sel = parse(text)
    except SelectorParseError as err:
        assert 0 <= err.position <= len(text)
        return
    assert isinstance(sel, Selector)
    assert parse(str(sel)) == sel
