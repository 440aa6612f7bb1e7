"""Compact storage: cached objects kept as JSON bytes plus the metadata stores read.

A decoded 4.6 KB pod costs about 23 KB as Python dicts; :func:`compact_object`
turns it into a read-only :class:`CompactObject` of about 1.2x its JSON size
(``python -m bench memory``). Use it as an informer's transform::

    SharedIndexInformer(lw, None, transform=kubecache.compact.compact_object)
    # or after other transforms:
    transform=chain(drop_managed_fields, compact_object)

What is kept how:

- Top-level scalars (``kind``, ``apiVersion``) and metadata scalars (``name``,
  ``namespace``, ``uid``, ``resourceVersion``...) stay decoded, so key
  functions, indexers and listers read them without decoding anything.
- ``metadata.labels`` stays decoded as a read-only :class:`FrozenDict`, shared
  by every cached object with the same labels (label selection decodes nothing).
- Top-level dicts (``spec``, ``status``) become read-only
  :class:`CompactPart` mappings whose scalars stay decoded too:
  ``obj["status"]["phase"]`` and ``obj["spec"]["nodeName"]`` decode nothing.
- Every other dict or list (``spec.containers``, ``status.conditions``,
  ``metadata.annotations``, ``metadata.managedFields``...) is kept as its own
  JSON bytes and decoded on each access into a fresh plain value. Bind it to
  a name rather than reading ``obj["spec"]["containers"]`` in a loop; changing
  it never changes the cache.

A :class:`CompactObject` is a ``collections.abc.Mapping``: ``obj["metadata"]
["name"]``, ``.get``, ``in``, iteration (in the original key order), ``len``
and ``==`` against the plain dict it stands for all work. It is not hashable
(like a dict). Writing raises :class:`ReadOnlyObjectError` (a ``TypeError``);
:func:`thaw` (or ``obj.to_dict()``, ``copy.copy``, ``copy.deepcopy``) gives
a plain mutable dict. It pickles. To serialize it, use :func:`to_json`
(splices the stored bytes, no decoding), ``orjson.dumps(obj,
default=kubecache.compact.json_default)`` or ``json.dumps(obj,
default=kubecache.compact.json_default)``.

:func:`compressed` builds a transform that also deflates the stored bytes
against a preset dictionary (the first object it sees): far smaller (a pod
with managedFields in about 0.15x its JSON size when objects are alike), at
the cost of a decompression on each access of a compressed part.

Objects that are not plain dicts, or that JSON can't hold exactly (bytes,
non-string keys, integers beyond 64 bits), are returned unchanged.
"""

from __future__ import annotations

import sys
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from ._json import dumps as _dumps
from ._json import loads as _loads
from .errors import CacheError

__all__ = [
    "CompactMetadata",
    "CompactObject",
    "CompactPart",
    "FrozenDict",
    "ReadOnlyMapping",
    "ReadOnlyObjectError",
    "compact_object",
    "compressed",
    "is_compact",
    "json_default",
    "thaw",
    "to_json",
]

_intern = sys.intern

# Metadata strings unique to one object: interning them would only cost memory.
_UNIQUE_META = frozenset({"name", "uid", "resourceVersion", "selfLink"})
# Decompressed bytes of one compressed part can't exceed this (guards a bad blob).
_MAX_INFLATED = 1 << 30


class ReadOnlyObjectError(CacheError, TypeError):
    """An attempt to change a read-only cached object (compact storage)."""


def _read_only(obj: object) -> NoReturn:
    raise ReadOnlyObjectError(
        f"{type(obj).__name__} is a read-only cached object; use "
        "kubecache.compact.thaw(obj) (or obj.to_dict()) for a mutable copy")


# --- shared pieces -----------------------------------------------------------

_SHAPES: dict[tuple[str, ...], dict[str, int]] = {}
_MAX_SHAPES = 4096


def _shape(keys: tuple[str, ...]) -> dict[str, int]:
    """The shared ``{key: position}`` map for objects with exactly these keys, in this order."""
    shape = _SHAPES.get(keys)
    if shape is None:
        shape = {_intern(k): i for i, k in enumerate(keys)}
        if len(_SHAPES) < _MAX_SHAPES:  # beyond that, odd shapes are simply not shared
            shape = _SHAPES.setdefault(keys, shape)
    return shape


class FrozenDict(dict[str, Any]):
    """A read-only ``dict`` (for ``metadata.labels``); equal ones may be shared by objects.

    A real ``dict`` subclass, so ``json``/``orjson`` serialize it and
    ``isinstance(x, dict)`` holds; every mutating method raises
    :class:`ReadOnlyObjectError`. ``dict(x)`` or ``x.copy()`` give a mutable dict.
    """

    __slots__ = ("__weakref__",)

    def __setitem__(self, key: str, value: Any) -> NoReturn:
        _read_only(self)

    def __delitem__(self, key: str) -> NoReturn:
        _read_only(self)

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        _read_only(self)

    def clear(self) -> NoReturn:
        _read_only(self)

    def pop(self, *args: Any) -> NoReturn:
        _read_only(self)

    def popitem(self) -> NoReturn:
        _read_only(self)

    def setdefault(self, *args: Any) -> NoReturn:
        _read_only(self)

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        _read_only(self)

    def copy(self) -> dict[str, Any]:
        """A plain mutable ``dict`` with the same items."""
        return dict(self)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


_FROZEN: weakref.WeakValueDictionary[tuple[tuple[str, str], ...], FrozenDict] = \
    weakref.WeakValueDictionary()
_FROZEN_LOCK = threading.Lock()


def _frozen_labels(labels: dict[str, Any]) -> FrozenDict | None:
    """The shared :class:`FrozenDict` for a string-to-string map, or ``None`` for other maps."""
    items = tuple(labels.items())
    for k, v in items:
        if type(k) is not str or type(v) is not str:
            return None
    found = _FROZEN.get(items)
    if found is None:
        found = FrozenDict((_intern(k), _intern(v)) for k, v in items)
        with _FROZEN_LOCK:  # WeakValueDictionary.setdefault is not atomic
            found = _FROZEN.setdefault(items, found)
    return found


# --- the read-only mappings ------------------------------------------------


class ReadOnlyMapping(Mapping[str, Any]):
    """What every read-only cached object shares (compact and raw storage alike).

    Subclasses give :meth:`to_dict` (a plain, mutable, fully decoded dict)
    and :meth:`to_json` (its JSON bytes, spliced or stored, never re-encoded
    from a decode); copies, equality and the refusal to write come from here.
    """

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> bytes:
        raise NotImplementedError

    def copy(self) -> dict[str, Any]:
        """Same as :meth:`to_dict`: a plain mutable dict."""
        return self.to_dict()

    def __copy__(self) -> dict[str, Any]:
        return self.to_dict()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return self.to_dict()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReadOnlyMapping):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == (other if type(other) is dict else dict(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __setitem__(self, key: str, value: Any) -> NoReturn:
        _read_only(self)

    def __delitem__(self, key: str) -> NoReturn:
        _read_only(self)

    def _short(self) -> str:
        return f"{len(self)} keys"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._short()}>"


class _Frozen(ReadOnlyMapping):
    """A read-only mapping: shared ``{key: position}`` shape plus a tuple of values.

    A ``bytes`` value is a dict or list kept as JSON (a zlib stream when it
    does not start with ``{`` or ``[``, which a zlib header never does); it
    is decoded on each access. Anything else is the value itself.
    """

    __slots__ = ("_shape", "_vals")

    _shape: dict[str, int]
    _vals: tuple[Any, ...]

    def __getitem__(self, key: str) -> Any:
        value = self._vals[self._shape[key]]
        if type(value) is bytes:
            return _decode(value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        index = self._shape.get(key)
        if index is None:
            return default
        value = self._vals[index]
        if type(value) is bytes:
            return _decode(value)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._shape

    def __iter__(self) -> Iterator[str]:
        return iter(self._shape)

    def __reversed__(self) -> Iterator[str]:
        return reversed(self._shape)

    def __len__(self) -> int:
        return len(self._shape)

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable, fully decoded ``dict`` (nothing shared with the cache)."""
        out: dict[str, Any] = {}
        for key, value in zip(self._shape, self._vals, strict=True):
            kind = type(value)
            if kind is bytes:
                out[key] = _decode(value)
            elif kind is FrozenDict:
                out[key] = dict(value)
            elif isinstance(value, _Frozen):
                out[key] = value.to_dict()
            else:
                out[key] = value
        return out

    def to_json(self) -> bytes:
        """Compact JSON bytes (stored parts are spliced in, not decoded)."""
        return to_json(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Frozen):
            if self._shape is other._shape and self._vals == other._vals:
                return True  # same parts: no need to decode (compressed parts differ in bytes)
            return self.to_dict() == other.to_dict()
        return super().__eq__(other)

    __hash__ = None

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        _read_only(self)

    def __delattr__(self, name: str) -> NoReturn:
        _read_only(self)


def _new(cls: type[_Frozen], shape: dict[str, int], vals: tuple[Any, ...]) -> Any:
    obj = object.__new__(cls)
    object.__setattr__(obj, "_shape", shape)
    object.__setattr__(obj, "_vals", vals)
    return obj


class CompactMetadata(_Frozen):
    """``obj["metadata"]`` of a :class:`CompactObject`: scalars and labels decoded."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_metadata, (self.to_dict(),))

    def _short(self) -> str:
        ns, name = self.get("namespace"), self.get("name")
        return f"{ns}/{name}" if ns else repr(name)


class CompactPart(_Frozen):
    """A top-level dict of a :class:`CompactObject` (``spec``, ``status``): scalars decoded."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_part, (self.to_dict(),))


class CompactObject(_Frozen):
    """A read-only cached object in compact storage (see the module docstring)."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.to_dict(),))

    def thaw(self) -> dict[str, Any]:
        """Same as :meth:`to_dict`: a plain mutable dict."""
        return self.to_dict()

    def _short(self) -> str:
        meta = self.get("metadata")
        where = meta._short() if isinstance(meta, CompactMetadata) else "no metadata"
        return f"{self.get('kind') or 'object'} {where}"


def _restore(data: dict[str, Any]) -> Any:
    return compact_object(data)


def _restore_part(data: dict[str, Any]) -> Any:
    return _freeze_part(data, _encode)


def _restore_metadata(data: dict[str, Any]) -> Any:
    return _freeze_metadata(data, None)


# --- decoding ----------------------------------------------------------------

_ZDICTS: dict[int, bytes] = {}  # adler32 of a preset dictionary -> the dictionary
_JSON_STARTS = frozenset(b"{[")  # a stored part starting otherwise is a zlib stream
_WBITS = 13  # an 8 KB window: small compressor state, cheap to copy per part
_WINDOW = 1 << _WBITS
_MEM_LEVEL = 4


def _decode(data: bytes) -> Any:
    if data[0] in _JSON_STARTS:
        return _loads(data)
    return _loads(_inflate(data))


def _inflate(data: bytes) -> bytes:
    """The JSON bytes of a compressed part."""
    zdict = _ZDICTS[int.from_bytes(data[2:6], "big")]  # zlib's DICTID field
    inflater = zlib.decompressobj(_WBITS, zdict=zdict)
    data = inflater.decompress(data, _MAX_INFLATED)
    if not inflater.eof:
        raise ValueError("a compressed part of a compact object is truncated or too large")
    return data


# --- building ------------------------------------------------------------------

_Encoder = Callable[[Any], bytes]
_SCALARS = frozenset({int, float, bool, type(None)})  # kept as they are (str is interned)


def _encode(value: Any) -> bytes:
    """JSON bytes of exactly their size (orjson's own result keeps a buffer of 4 KB or more)."""
    return memoryview(_dumps(value)).tobytes()


def _freeze_metadata(meta: dict[str, Any], encode: _Encoder | None) -> CompactMetadata:
    enc = _encode if encode is None else encode
    vals: list[Any] = []
    for key, value in meta.items():
        kind = type(value)
        if kind is str:
            vals.append(value if key in _UNIQUE_META else _intern(value))
        elif kind is dict:
            labels = _frozen_labels(value) if key == "labels" else None
            vals.append(enc(value) if labels is None else labels)
        elif kind is list:
            vals.append(enc(value))
        elif kind in _SCALARS:
            vals.append(value)
        else:
            raise TypeError(f"{kind.__name__} is not a JSON value")
    return _new(CompactMetadata, _shape(tuple(meta)), tuple(vals))  # type: ignore[no-any-return]


def _freeze_part(part: dict[str, Any], enc: _Encoder) -> CompactPart:
    vals: list[Any] = []
    for value in part.values():
        kind = type(value)
        if kind is str:
            vals.append(_intern(value))
        elif kind is dict or kind is list:
            vals.append(enc(value))
        elif kind in _SCALARS:
            vals.append(value)
        else:
            raise TypeError(f"{kind.__name__} is not a JSON value")
    return _new(CompactPart, _shape(tuple(part)), tuple(vals))  # type: ignore[no-any-return]


def _freeze(obj: dict[str, Any], encode: _Encoder | None) -> CompactObject:
    enc = _encode if encode is None else encode
    vals: list[Any] = []
    for key, value in obj.items():
        kind = type(value)
        if kind is str:
            vals.append(_intern(value))
        elif kind is dict:
            vals.append(_freeze_metadata(value, encode) if key == "metadata"
                        else _freeze_part(value, enc))
        elif kind is list:
            vals.append(enc(value))
        elif kind in _SCALARS:
            vals.append(value)
        else:
            raise TypeError(f"{kind.__name__} is not a JSON value")
    return _new(CompactObject, _shape(tuple(obj)), tuple(vals))  # type: ignore[no-any-return]


_CANT_ENCODE = (TypeError, ValueError, OverflowError)


def compact_object(obj: Any) -> Any:
    """``obj`` as a read-only :class:`CompactObject`; a transform for informers.

    Anything that is not a plain ``dict`` (a model, a tombstone, an object
    already compact) and any dict JSON can't hold exactly is returned
    unchanged. ``obj`` itself is never modified.
    """
    if type(obj) is not dict:
        return obj
    try:
        return _freeze(obj, None)
    except _CANT_ENCODE:
        return obj


def compressed(level: int = 1, zdict: bytes | None = None,
               min_size: int = 64) -> Callable[[Any], Any]:
    """A transform like :func:`compact_object` that also deflates stored parts.

    Each dict or list part of at least ``min_size`` JSON bytes is
    zlib-compressed at ``level`` against the preset dictionary ``zdict``
    (default: the JSON of the first object the transform sees, which makes
    later objects of the same kind tiny; only its last 8 KB count). Reading
    a compressed part costs one decompression on top of the decode.
    """
    primed: list[Any] = []  # the compressor loaded with the dictionary, copied per part
    lock = threading.Lock()

    def prime(data: bytes) -> None:
        with lock:
            if not primed:
                known = _register(data[-_WINDOW:])
                primed.append(zlib.compressobj(level, zlib.DEFLATED, _WBITS, _MEM_LEVEL,
                                               zdict=known))

    if zdict is not None:
        prime(zdict)

    def encode(value: Any) -> bytes:
        data = _encode(value)
        if len(data) < min_size:
            return data
        deflater = primed[0].copy()
        return b"".join((deflater.compress(data), deflater.flush()))

    def transform(obj: Any) -> Any:
        if type(obj) is not dict:
            return obj
        try:
            if not primed:
                prime(_encode(obj))
            return _freeze(obj, encode)
        except _CANT_ENCODE:
            return obj

    return transform


def _register(zdict: bytes) -> bytes:
    """Record a preset dictionary under its Adler-32 (the id a zlib stream names it by)."""
    while True:
        known = _ZDICTS.setdefault(zlib.adler32(zdict), zdict)
        if known == zdict:
            return known
        zdict += b" "  # another dictionary has this id: make this one distinct


# --- leaving compact storage -----------------------------------------------------


def is_compact(obj: Any) -> bool:
    """Whether ``obj`` is a :class:`CompactObject`."""
    return isinstance(obj, CompactObject)


def thaw(obj: Any) -> Any:
    """A plain mutable dict for a compact or raw object (or its metadata); else unchanged."""
    if isinstance(obj, ReadOnlyMapping):
        return obj.to_dict()
    if type(obj) is FrozenDict:
        return dict(obj)
    return obj


def json_default(obj: Any) -> Any:
    """``default=`` for ``json.dumps``/``orjson.dumps``: compact and raw objects as dicts."""
    if isinstance(obj, ReadOnlyMapping):
        return obj.to_dict()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def to_json(obj: Any) -> bytes:
    """Compact JSON bytes for ``obj``; stored parts of a compact object are spliced in as is,
    a raw object's bytes returned as they are."""
    if not isinstance(obj, _Frozen):
        if isinstance(obj, ReadOnlyMapping):
            return obj.to_json()
        return _dumps(obj)
    parts: list[bytes] = []
    for key, value in zip(obj._shape, obj._vals, strict=True):
        kind = type(value)
        if kind is bytes:
            data = value if value[0] in _JSON_STARTS else _inflate(value)
        elif isinstance(value, _Frozen):
            data = to_json(value)
        else:
            data = _dumps(value)
        parts.append(_dumps(key) + b":" + data)
    return b"{" + b",".join(parts) + b"}"
