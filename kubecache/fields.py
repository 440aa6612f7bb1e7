"""Field selectors: ``metadata.name=x,status.phase!=Running`` evaluated on objects.

Syntax (as ``k8s.io/apimachinery/pkg/fields``): comma-separated terms
``FIELD=VALUE``, ``FIELD==VALUE`` or ``FIELD!=VALUE``; every term must hold.
In a value, ``\\``, ``,`` and ``=`` are written ``\\\\``, ``\\,`` and ``\\=``
(:func:`escape_value`); any other escape, or a bare ``,``/``=`` in a value, is
an error. Empty terms (``a=b,,c=d``) are skipped, as apimachinery does;
whitespace around fields and values is ignored. Field names may not contain
whitespace, ``!`` or backslashes (real field paths never do; a ``!`` would
make ``a! =b`` print as ``a!=b``, which means something else).

A field is any dotted path into the object (``metadata.name``,
``status.phase``, ``spec.nodeName``...), read from dicts or from
attribute-style objects (the official client's models, by snake_case name).
Where a mapping lacks the next segment, longer dotted keys are tried, so
``metadata.labels.app.kubernetes.io/name`` reaches that label and a flat
``{"metadata.name": "x"}`` mapping (apimachinery's ``fields.Set``) works too.
A missing field reads as ``""``; booleans read as ``"true"``/``"false"``.

``str()`` is canonical: terms sorted, ``==`` written ``=``, values escaped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .labels import SelectorError, SelectorParseError

__all__ = [
    "FieldSelector",
    "Term",
    "escape_value",
    "everything",
    "nothing",
    "parse",
    "selector_from_set",
    "unescape_value",
]

_MISSING = object()


def escape_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so ``value`` can stand in a field selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(value: str) -> str:
    """Undo :func:`escape_value`; a bad escape or a bare ``,``/``=`` raises ``SelectorError``."""
    return _unescape(value, value, 0)


def _unescape(value: str, text: str, offset: int) -> str:
    if "\\" not in value and "," not in value and "=" not in value:
        return value
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(value):
        if escaped:
            if ch not in "\\,=":
                raise SelectorParseError(text, offset + i - 1, "\\" + ch,
                                         "invalid escape sequence (only \\\\, \\, and \\= "
                                         "are allowed)", kind="field selector")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorParseError(text, offset + i, ch, "unescaped character in value "
                                     "(write it as \\" + ch + ")", kind="field selector")
        else:
            out.append(ch)
    if escaped:
        raise SelectorParseError(text, offset + len(value) - 1, "\\",
                                 "invalid escape sequence at the end of the value",
                                 kind="field selector")
    return "".join(out)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _field_text(value: Any) -> str:
    """A field's value as the string a selector compares against."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compile_path(path: str) -> Callable[[Any], Any]:
    """A getter for a dotted path over dicts and attribute objects (``None`` when missing)."""
    parts = tuple(path.split("."))
    attrs = tuple(_snake(p) for p in parts)
    n = len(parts)

    def get(obj: Any) -> Any:
        cur = obj
        i = 0
        while i < n:
            if cur is None:
                return None
            if isinstance(cur, Mapping):
                nxt = cur.get(parts[i], _MISSING)
                j = i + 1
                while nxt is _MISSING and j < n:  # a key that contains dots
                    j += 1
                    nxt = cur.get(".".join(parts[i:j]), _MISSING)
                if nxt is _MISSING:
                    return None
                cur, i = nxt, j
            else:
                nxt = getattr(cur, attrs[i], _MISSING)
                if nxt is _MISSING:
                    nxt = getattr(cur, parts[i], None)
                cur, i = nxt, i + 1
        return cur

    return get


class Term:
    """One ``field=value`` (``equal=True``) or ``field!=value`` condition."""

    __slots__ = ("_get", "equal", "field", "value")

    field: str
    value: str
    equal: bool
    _get: Callable[[Any], Any]

    def __init__(self, field: str, value: str, equal: bool = True) -> None:
        if not field:
            raise SelectorError("field selector term has an empty field name")
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "equal", equal)
        object.__setattr__(self, "_get", _compile_path(field))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def operator(self) -> str:
        return "=" if self.equal else "!="

    def matches(self, obj: Any) -> bool:
        """Whether the object's field (``""`` when missing) satisfies the term."""
        return (_field_text(self._get(obj)) == self.value) is self.equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"

    def __repr__(self) -> str:
        return f"Term({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Term):
            return NotImplemented
        return (self.field, self.value, self.equal) == (other.field, other.value, other.equal)

    def __hash__(self) -> int:
        return hash((self.field, self.value, self.equal))


class FieldSelector:
    """An immutable conjunction of :class:`Term` s, evaluated on whole objects."""

    __slots__ = ("_str", "_terms")

    def __init__(self, terms: Iterable[Term] = ()) -> None:
        self._terms = tuple(sorted(terms, key=str))
        self._str = ",".join(str(t) for t in self._terms)

    @property
    def terms(self) -> tuple[Term, ...]:
        return self._terms

    def matches(self, obj: Any) -> bool:
        """Whether every term holds for ``obj`` (a dict, a model, or a flat field mapping)."""
        for term in self._terms:  # noqa: SIM110 - a plain loop beats all() with a generator
            if not term.matches(obj):
                return False
        return True

    def empty(self) -> bool:
        """True when the selector does not restrict anything."""
        return not self._terms

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal, when a ``field=value`` term requires one."""
        for term in self._terms:
            if term.field == field and term.equal:
                return term.value
        return None

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"fields.parse({self._str!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return type(self) is type(other) and self._terms == other._terms

    def __hash__(self) -> int:
        return hash((type(self), self._terms))


class _Nothing(FieldSelector):
    """Matches no object; not empty; renders as ``""``."""

    __slots__ = ()

    def matches(self, obj: Any) -> bool:
        return False

    def empty(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "fields.nothing()"


_EVERYTHING = FieldSelector()
_NOTHING = _Nothing()


def everything() -> FieldSelector:
    """The field selector that matches every object."""
    return _EVERYTHING


def nothing() -> FieldSelector:
    """The field selector that matches no object."""
    return _NOTHING


def selector_from_set(fields: Mapping[str, str] | None) -> FieldSelector:
    """A selector requiring ``field=value`` for each pair; ``None``/empty -> everything."""
    if not fields:
        return _EVERYTHING
    return FieldSelector(Term(f, v) for f, v in fields.items())


def _split_terms(text: str) -> list[tuple[str, int]]:
    """Split on unescaped commas; each part with its offset in ``text``."""
    parts: list[tuple[str, int]] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == ",":
            parts.append((text[start:i], start))
            start = i + 1
        i += 1
    parts.append((text[start:], start))
    return parts


def _split_term(term: str) -> tuple[str, str, int] | None:
    """``(field, operator, index of the operator)`` at the first unescaped operator."""
    i, n = 0, len(term)
    while i < n:
        ch = term[i]
        if ch == "\\":
            i += 2
            continue
        if term.startswith("!=", i):
            return term[:i], "!=", i
        if term.startswith("==", i):
            return term[:i], "==", i
        if ch == "=":
            return term[:i], "=", i
        i += 1
    return None


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> FieldSelector:
    terms: list[Term] = []
    for part, offset in _split_terms(text):
        stripped = part.strip()
        if not stripped:
            continue
        offset += len(part) - len(part.lstrip())
        split = _split_term(stripped)
        if split is None:
            raise SelectorParseError(text, offset, stripped, "expected FIELD=VALUE, "
                                     "FIELD==VALUE or FIELD!=VALUE", kind="field selector")
        field, op, at = split
        field = field.rstrip()
        if not field:
            raise SelectorParseError(text, offset + at, op, "expected a field name before "
                                     "the operator", kind="field selector")
        bad = next((i for i, ch in enumerate(field) if ch in "\\!" or ch.isspace()), None)
        if bad is not None:
            raise SelectorParseError(text, offset + bad, field[bad], "a field name can't "
                                     "contain whitespace, '!' or escapes", kind="field selector")
        value_at = at + len(op)
        raw = stripped[value_at:]
        value_at += len(raw) - len(raw.lstrip())
        value = _unescape(raw.lstrip(), text, offset + value_at)
        terms.append(Term(field, value, equal=(op != "!=")))
    return FieldSelector(terms) if terms else _EVERYTHING


def parse(text: str) -> FieldSelector:
    """Parse a field selector; ``""`` gives :func:`everything`.

    Bad text raises :class:`~kubecache.labels.SelectorParseError` (a
    ``ValueError``) naming the position and the offending token.
    """
    if not isinstance(text, str):
        raise TypeError(f"field selector must be a str, not {type(text).__name__}")
    return _parse_cached(text)
