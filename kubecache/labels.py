"""Label selectors: the Kubernetes selector language, parsed once and matched fast.

Grammar (as ``k8s.io/apimachinery/pkg/labels``)::

    selector    := "" | requirement ("," requirement)*
    requirement := ["!"] KEY
                 | KEY ("=" | "==" | "!=") [VALUE]
                 | KEY ("in" | "notin") "(" VALUE ("," VALUE)* ")"
                 | KEY (">" | "<") INTEGER

Keys are qualified names (an optional DNS-subdomain prefix and ``/``, then a
name of at most 63 characters); values are at most 63 characters, alphanumeric
at both ends with ``-_.`` inside, and may be empty after ``=``/``!=``.

Hard cases, as in apimachinery:

- ``!=`` and ``notin`` match objects that lack the key; ``=``/``in`` need it.
- ``>``/``<`` compare 64-bit integers; a non-integer label value never matches.
- ``everything()`` (also ``parse("")``) matches all; ``nothing()`` matches none.
- ``str(selector)`` is canonical: requirements sorted by key (stably), set
  values sorted, so ``parse(str(s))`` gives back an equal selector.

One deliberate difference: apimachinery reads ``x in ()`` and empty elements
such as ``(a,)`` as the empty-string value; here they are errors, so a set is
always a list of real values and a trailing comma is always a mistake.

A :class:`Selector` compiles its requirements at construction into one
generated function (plain ``==`` tests for the common equality selector, frozen
sets for ``in``), so :meth:`Selector.matches` never re-parses, makes no
per-requirement calls and allocates nothing; :meth:`Selector.select_dicts`
inlines that test into one comprehension over a list of JSON dicts.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from .errors import CacheError

__all__ = [
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "SelectorParseError",
    "everything",
    "nothing",
    "parse",
    "selector_from_set",
    "validate_label_key",
    "validate_label_value",
]

LabelMatcher = Callable[[Mapping[str, str]], bool]
"""A compiled selector: labels mapping -> does it match."""

_EMPTY: Mapping[str, str] = {}


class SelectorError(CacheError, ValueError):
    """A selector (or a requirement built in code) is invalid."""


class SelectorParseError(SelectorError):
    """Selector text could not be parsed.

    ``text`` is the whole input, ``position`` the 0-based offset of the
    offending token, ``token`` its text (``""`` at the end of the string) and
    ``reason`` what was expected instead.
    """

    def __init__(self, text: str, position: int, token: str, reason: str,
                 kind: str = "label selector") -> None:
        self.text = text
        self.position = position
        self.token = token
        self.reason = reason
        shown = repr(token) if token else "end of string"
        super().__init__(f"unable to parse {kind} {text!r}: found {shown} at position "
                         f"{position}: {reason}")


class Operator(str, enum.Enum):
    """A requirement's operator; values are apimachinery's ``selection.Operator`` strings."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"

    def __str__(self) -> str:
        return self.value


_SET_OPS = frozenset({Operator.IN, Operator.NOT_IN})
_EXACT_OPS = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS})
_UNARY_OPS = frozenset({Operator.EXISTS, Operator.DOES_NOT_EXIST})
_INT_OPS = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})

# --- validation (apimachinery's IsQualifiedName / IsValidLabelValue) -------

_NAME_MAX = 63
_PREFIX_MAX = 253
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS1123_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*")
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_INT64 = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def validate_label_key(key: str) -> list[str]:
    """Why ``key`` is not a valid label key (empty list when it is)."""
    parts = key.split("/")
    if len(parts) == 1:
        prefix, name = "", parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
    else:
        return ["a qualified name may contain at most one '/' (an optional DNS-subdomain "
                "prefix, then the name)"]
    errors: list[str] = []
    if prefix:
        if len(prefix) > _PREFIX_MAX:
            errors.append(f"prefix part must be no more than {_PREFIX_MAX} characters")
        if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            errors.append("prefix part must be a lowercase RFC 1123 subdomain: lowercase "
                          "alphanumerics, '-' and '.', starting and ending alphanumeric")
    if not name:
        errors.append("name part must be non-empty")
        return errors
    if len(name) > _NAME_MAX:
        errors.append(f"name part must be no more than {_NAME_MAX} characters")
    if not _QUALIFIED_NAME.fullmatch(name):
        errors.append("name part must consist of alphanumerics, '-', '_' or '.', starting "
                      "and ending with an alphanumeric character")
    return errors


def validate_label_value(value: str) -> list[str]:
    """Why ``value`` is not a valid label value (empty list when it is; ``""`` is valid)."""
    errors: list[str] = []
    if len(value) > _NAME_MAX:
        errors.append(f"must be no more than {_NAME_MAX} characters")
    if not _LABEL_VALUE.fullmatch(value):
        errors.append("must be empty or consist of alphanumerics, '-', '_' or '.', "
                      "starting and ending with an alphanumeric character")
    return errors


def _parse_int64(text: object) -> int | None:
    """``text`` as Go's ``strconv.ParseInt(text, 10, 64)`` reads it, or ``None``."""
    if not isinstance(text, str):
        return None
    if text.isdigit() and text.isascii():  # the common case, without the regex
        if len(text) < 19:
            return int(text)
    elif not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


# --- requirements ----------------------------------------------------------


class Requirement:
    """One ``key <op> values`` condition. Immutable; validated on construction.

    ``values`` is a sorted tuple: empty for ``exists``/``!``, one value for the
    exact and integer operators, one or more for ``in``/``notin``.
    """

    __slots__ = ("_fn", "_str", "key", "operator", "values")

    key: str
    operator: Operator
    values: tuple[str, ...]
    _str: str
    _fn: LabelMatcher

    def __init__(self, key: str, operator: Operator | str, values: Iterable[str] = ()) -> None:
        try:
            op = Operator(operator)
        except ValueError:
            raise SelectorError(f"label selector requirement on {key!r}: operator "
                                f"{operator!r} is not one of "
                                f"{', '.join(o.value for o in Operator)}") from None
        vals = tuple(sorted(set(values)))
        problems = [f"key {key!r}: {e}" for e in validate_label_key(key)]
        if op in _SET_OPS and not vals:
            problems.append(f"'{op.value}' needs at least one value")
        elif (op in _EXACT_OPS or op in _INT_OPS) and len(vals) != 1:
            problems.append(f"'{op.value}' needs exactly one value, got {len(vals)}")
        elif op in _UNARY_OPS and vals:
            problems.append(f"'{op.value}' takes no values, got {list(vals)}")
        if op in _INT_OPS:
            problems += [f"value {v!r}: '{op.value}' needs an integer" for v in vals
                         if _parse_int64(v) is None]
        for v in vals:
            problems += [f"value {v!r}: {e}" for e in validate_label_value(v)]
        if problems:
            raise SelectorError("invalid label selector requirement: " + "; ".join(problems))
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "operator", op)
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "_str", _render(key, op, vals))
        object.__setattr__(self, "_fn", _compile((self,)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether ``labels`` satisfy this requirement (apimachinery's ``Requirement.Matches``)."""
        return self._fn(_EMPTY if labels is None else labels)

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"Requirement({self._str!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Requirement):
            return NotImplemented
        return (self.key, self.operator, self.values) == (other.key, other.operator,
                                                          other.values)

    def __hash__(self) -> int:
        return hash((self.key, self.operator, self.values))


def _render(key: str, op: Operator, values: tuple[str, ...]) -> str:
    if op is Operator.EXISTS:
        return key
    if op is Operator.DOES_NOT_EXIST:
        return "!" + key
    if op in _SET_OPS:
        return f"{key} {op.value} ({','.join(values)})"
    symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
    return f"{key}{symbol}{values[0]}"


def _int_above(value: object, bound: int) -> bool:
    if type(value) is str and len(value) < 19 and value.isdigit() and value.isascii():
        return int(value) > bound  # the common case: a small unsigned decimal
    have = _parse_int64(value)
    return have is not None and have > bound


def _int_below(value: object, bound: int) -> bool:
    if type(value) is str and len(value) < 19 and value.isdigit() and value.isascii():
        return int(value) < bound
    have = _parse_int64(value)
    return have is not None and have < bound


def _expression(reqs: tuple[Requirement, ...]) -> tuple[str, dict[str, Any]]:
    """Python source testing every requirement against a mapping named ``L``.

    Returns the expression and the namespace of constants it refers to. The
    source is built only from fixed fragments and generated names (``k0``,
    ``v0``...); keys and values travel in the namespace, never in the text.
    """
    env: dict[str, Any] = {"_above": _int_above, "_below": _int_below, "E": _EMPTY}
    terms: list[str] = []
    for i, req in enumerate(reqs):
        op, vals = req.operator, req.values
        key, val = f"k{i}", f"v{i}"
        env[key] = req.key
        if op is Operator.EXISTS:
            terms.append(f"{key} in L")
        elif op is Operator.DOES_NOT_EXIST:
            terms.append(f"{key} not in L")
        elif op in _INT_OPS:
            env[val] = _parse_int64(vals[0])
            test = "_above" if op is Operator.GREATER_THAN else "_below"
            terms.append(f"{test}(L.get({key}), {val})")
        elif len(vals) == 1:  # =, ==, !=, and one-value in/notin: a plain comparison
            env[val] = vals[0]
            negated = op in (Operator.NOT_EQUALS, Operator.NOT_IN)
            terms.append(f"L.get({key}) {'!=' if negated else '=='} {val}")
        else:
            env[val] = frozenset(vals)
            terms.append(f"L.get({key}) {'not in' if op is Operator.NOT_IN else 'in'} {val}")
    return " and ".join(terms) or "True", env


@functools.lru_cache(maxsize=1024)
def _code(source: str) -> Any:
    """Compiled code for generated source; the text depends only on the operators used."""
    return compile(source, "<label selector>", "eval")


def _compile(reqs: tuple[Requirement, ...]) -> LabelMatcher:
    """One generated function testing every requirement: no per-requirement calls."""
    expr, env = _expression(reqs)
    return cast(LabelMatcher, eval(_code(f"lambda L: {expr}"), env))


def _compile_dict_filter(reqs: tuple[Requirement, ...]) -> Callable[[Iterable[Any]], list[Any]]:
    """One generated comprehension filtering Kubernetes-JSON dicts on ``metadata.labels``."""
    expr, env = _expression(reqs)
    source = (f"lambda items: [o for o in items "
              f"for L in (o['metadata'].get('labels') or E,) if {expr}]")
    return cast(Callable[[Iterable[Any]], list[Any]], eval(_code(source), env))


# --- selectors -------------------------------------------------------------


class Selector:
    """An immutable conjunction of :class:`Requirement` s, sorted by key.

    Build one with :func:`parse`, :func:`selector_from_set`, :func:`everything`
    or :func:`nothing`; equal selectors compare and hash equal.
    """

    __slots__ = ("_filter", "_match", "_requirements", "_str")

    _filter: Callable[[Iterable[Any]], list[Any]] | None

    def __init__(self, requirements: Iterable[Requirement] = ()) -> None:
        reqs = tuple(sorted(requirements, key=_by_key))  # stable: same-key order is kept
        self._requirements = reqs
        self._str = ",".join(r._str for r in reqs)
        self._match = _compile(reqs)
        self._filter = None  # compiled on first use of select_dicts

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        """The requirements, sorted by key."""
        return self._requirements

    @property
    def matcher(self) -> LabelMatcher:
        """The compiled test as a plain function of a labels mapping (not ``None``).

        Saves a method call per object in tight loops such as listers.
        """
        return self._match

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether ``labels`` (``None`` means no labels) satisfy every requirement."""
        return self._match(_EMPTY if labels is None else labels)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (``everything()``)."""
        return not self._requirements

    def select_dicts(self, items: Iterable[Any]) -> list[Any]:
        """The items whose ``["metadata"]["labels"]`` match, in one generated comprehension.

        The fast path for caches of Kubernetes-JSON dicts. An item of another
        shape (a model, no ``metadata``) raises ``TypeError``, ``KeyError`` or
        ``AttributeError``; callers that may hold such objects catch those and
        use :attr:`matcher` instead, as the listers do.
        """
        if self._filter is None:
            self._filter = _compile_dict_filter(self._requirements)
        return self._filter(items)

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with ``requirements`` added."""
        return Selector(self._requirements + requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have (``=``, ``==`` or a one-value ``in``), else None."""
        for r in self._requirements:
            if r.key == key:
                if r.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN) \
                        and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"labels.parse({self._str!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return type(self) is type(other) and self._requirements == other._requirements

    def __hash__(self) -> int:
        return hash((type(self), self._requirements))


class _Nothing(Selector):
    """Matches no labels at all; not empty; renders as ``""`` (as apimachinery)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self._match = _never

    def empty(self) -> bool:
        return False

    def select_dicts(self, items: Iterable[Any]) -> list[Any]:
        return []

    def add(self, *requirements: Requirement) -> Selector:
        return self

    def requires_exact_match(self, key: str) -> str | None:
        return None

    def __repr__(self) -> str:
        return "labels.nothing()"


def _never(labels: Mapping[str, str]) -> bool:
    return False


def _by_key(req: Requirement) -> str:
    return req.key


_EVERYTHING = Selector()
_NOTHING = _Nothing()


def everything() -> Selector:
    """The selector that matches every object."""
    return _EVERYTHING


def nothing() -> Selector:
    """The selector that matches no object."""
    return _NOTHING


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """A selector requiring exactly these ``key=value`` pairs; ``None``/empty -> everything.

    Keys and values are validated; a bad one raises :class:`SelectorError`.
    """
    if not labels:
        return _EVERYTHING
    return Selector(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items())


# --- parsing ---------------------------------------------------------------

_IDENT, _END = "identifier", "end"
_SPECIAL = frozenset("=!(),<>")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_TOKENS = {"=": Operator.EQUALS, "==": Operator.DOUBLE_EQUALS,
                    "!=": Operator.NOT_EQUALS, "in": Operator.IN, "notin": Operator.NOT_IN,
                    ">": Operator.GREATER_THAN, "<": Operator.LESS_THAN}
_EXPECTED_OPERATOR = "expected an operator: !=, <, =, ==, >, in, notin"

_Token = tuple[str, str, int]  # (kind, text, position)


def _lex(text: str) -> list[_Token]:
    """Split selector text into tokens; special symbols are their own kind."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append((_END, "", n))
            return tokens
        ch = text[i]
        if ch in _SPECIAL:
            pair = text[i:i + 2]
            sym = pair if pair in ("!=", "==") else ch
            tokens.append((sym, sym, i))
            i += len(sym)
            continue
        start = i
        while i < n and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
            i += 1
        word = text[start:i]
        tokens.append((word if word in ("in", "notin") else _IDENT, word, start))


class _Parser:
    """Recursive descent over the token list, following apimachinery's grammar."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.pos = 0

    def fail(self, token: _Token, reason: str) -> SelectorParseError:
        return SelectorParseError(self.text, token[2], token[1], reason)

    def peek(self, values: bool = True) -> _Token:
        kind, word, at = self.tokens[self.pos]
        if values and kind in ("in", "notin"):  # keywords are plain words where values go
            kind = _IDENT
        return kind, word, at

    def take(self, values: bool = True) -> _Token:
        token = self.peek(values)
        self.pos += 1
        return token

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        token = self.peek()
        if token[0] == _END:
            return reqs
        while True:
            if token[0] not in (_IDENT, "!"):
                raise self.fail(token, "expected '!' or a label key")
            reqs.append(self.requirement())
            token = self.take()
            if token[0] == _END:
                return reqs
            if token[0] != ",":
                raise self.fail(token, "expected ',' or the end of the selector")
            token = self.peek()
            if token[0] not in (_IDENT, "!"):
                raise self.fail(token, "expected '!' or a label key after ','")

    def requirement(self) -> Requirement:
        negated = self.peek()[0] == "!"
        if negated:
            self.take()
        key_token = self.take()
        if key_token[0] != _IDENT:
            raise self.fail(key_token, "expected a label key")
        key = key_token[1]
        problems = validate_label_key(key)
        if problems:
            raise self.fail(key_token, "invalid label key: " + "; ".join(problems))
        if self.peek()[0] in (_END, ","):
            op = Operator.DOES_NOT_EXIST if negated else Operator.EXISTS
            return Requirement(key, op)
        if negated:
            raise self.fail(self.peek(), "'!key' takes no operator or value; "
                                         "expected ',' or the end of the selector")
        op_token = self.take(values=False)
        found = _OPERATOR_TOKENS.get(op_token[0])
        if found is None:
            raise self.fail(op_token, _EXPECTED_OPERATOR)
        op = found
        value_tokens = self.value_set() if op in _SET_OPS else [self.exact_value()]
        for token in value_tokens:
            problems = validate_label_value(token[1])
            if problems:
                raise self.fail(token, f"invalid value for label {key!r}: " + "; ".join(problems))
            if op in _INT_OPS and _parse_int64(token[1]) is None:
                raise self.fail(token, f"'{op_token[1]}' needs an integer value")
        return Requirement(key, op, (t[1] for t in value_tokens))

    def exact_value(self) -> _Token:
        token = self.peek()
        if token[0] in (_END, ","):  # "key=" means the empty value
            return (_IDENT, "", token[2])
        self.take()
        if token[0] != _IDENT:
            raise self.fail(token, "expected a value")
        return token

    def value_set(self) -> list[_Token]:
        token = self.take()
        if token[0] != "(":
            raise self.fail(token, "expected '(' to open the value set")
        values: list[_Token] = []
        while True:
            token = self.take()
            if token[0] != _IDENT:
                what = "the value set can't be empty" if token[0] == ")" and not values \
                    else "expected a value"
                raise self.fail(token, what)
            values.append(token)
            token = self.take()
            if token[0] == ")":
                return values
            if token[0] != ",":
                raise self.fail(token, "expected ',' or ')' in the value set")


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> Selector:
    reqs = _Parser(text).parse()
    return Selector(reqs) if reqs else _EVERYTHING


def parse(text: str) -> Selector:
    """Parse Kubernetes label selector syntax into a compiled :class:`Selector`.

    ``""`` gives :func:`everything`. Bad text raises :class:`SelectorParseError`
    (a ``ValueError``) naming the position and the offending token. Results
    are cached: selectors are immutable and servers see the same text often.
    """
    if not isinstance(text, str):
        raise TypeError(f"label selector must be a str, not {type(text).__name__}")
    return _parse_cached(text)
