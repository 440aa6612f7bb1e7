"""Raw storage: cached objects kept as their JSON bytes, only what a cache needs decoded.

A cache needs an object's kind, name, namespace, resourceVersion and labels
to key, index and select it; everything else waits until someone reads it.
:class:`RawObject` holds the object's JSON bytes exactly as the server sent
them plus those few fields, parsed straight from the bytes without building
the rest (msgspec's typed decoding skips what its schema does not name:
~3 µs for a 4.6 KB pod watch line against ~13 µs for ``orjson.loads``;
``python -m bench decode``). A pod then weighs about its JSON size.

On an informer (either front end) ``storage="raw"`` caches RawObjects; a
:func:`kubecache.kube.new_list_watch_from_client` source then decodes its
lists and watch events this way (:func:`decode_event`, :func:`decode_list`)
instead of into dicts. Any other source's dicts go through
:func:`raw_object` (which encodes them first: no faster than compact).

A :class:`RawObject` reads like the dict it stands for, read-only:

- ``obj["metadata"]`` is a :class:`RawMetadata` mapping (made per access):
  ``name``, ``namespace``, ``resourceVersion`` and ``labels`` (a shared
  :class:`~kubecache.compact.FrozenDict`) cost nothing, any other metadata
  key decodes the metadata;
- ``kind`` and ``apiVersion`` are kept decoded;
- every other key (``spec``, ``status``...) is decoded from the bytes on
  each access into a fresh plain value: bind it to a name rather than
  reading ``obj["spec"]`` in a loop; changing it never changes the cache.

Iteration (in the original key order), ``len``, ``in`` and ``==`` against
the plain dict work; writing raises
:class:`~kubecache.compact.ReadOnlyObjectError`; :func:`kubecache.compact.thaw`
(or ``obj.to_dict()``, ``copy.deepcopy``) gives a plain mutable dict; it
pickles; :func:`kubecache.compact.to_json` (or ``obj.to_json()``) returns
the stored bytes as they are.

Without msgspec (the ``fast`` extra) the same objects are built from a full
``orjson``/``json`` decode: same behaviour, none of the speed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, NoReturn

from ._json import dumps as _dumps
from ._json import loads as _loads
from .compact import FrozenDict, ReadOnlyMapping, _frozen_labels, _read_only
from .errors import MalformedDataError
from .keys import FAST_KEYS
from .meta import FAST_FIELDS, GENERAL_PATH
from .watch import Event, EventType

try:
    import msgspec as _msgspec
except ImportError:  # pragma: no cover - exercised only without msgspec
    _msgspec = None  # type: ignore[assignment]

__all__ = ["HAVE_MSGSPEC", "RawMetadata", "RawObject", "decode_event",
           "decode_list", "from_json", "is_raw", "raw_object", "raw_source"]

HAVE_MSGSPEC = _msgspec is not None

_intern = sys.intern


class _Null:
    """JSON ``null`` in a fast slot (``None`` there means "absent")."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_NULL"


_NULL: Any = _Null()
_FAST_META = ("name", "namespace", "resourceVersion", "labels")


def _plain(value: Any) -> Any:
    return None if value is _NULL else value


class RawObject(ReadOnlyMapping):
    """A read-only cached object in raw storage (see the module docstring)."""

    __slots__ = ("_name", "_raw", "_rv", "_scope", "_type")

    _raw: bytes
    _type: tuple[Any, Any]  # (kind, apiVersion), shared by every object of that type
    _name: Any
    _rv: Any
    _scope: tuple[Any, Any]  # (namespace, labels: a FrozenDict or _NULL), shared like _type

    # --- reading ----------------------------------------------------------------

    def _top(self) -> dict[str, Any]:
        """The top-level keys, in order, with their raw (undecoded) values."""
        return _split_top(self._raw)

    def __getitem__(self, key: str) -> Any:
        if key == "metadata":
            meta = RawMetadata._of(self)
            if meta is not None:
                return meta
        elif key == "kind" and self._type[0] is not None:
            return _plain(self._type[0])
        elif key == "apiVersion" and self._type[1] is not None:
            return _plain(self._type[1])
        return _part(self._top()[key])

    def get(self, key: str, default: Any = None) -> Any:
        # The hot path (key functions, indexers, selectors): no exception, no decoding.
        if key == "metadata":
            if (self._name is not None or self._rv is not None
                    or self._scope is not _NO_SCOPE):
                view = _new_raw(RawMetadata)
                _set_view(view, self)
                return view
        elif key == "kind":
            if (value := self._type[0]) is not None:
                return None if value is _NULL else value
        elif key == "apiVersion" and (value := self._type[1]) is not None:
            return None if value is _NULL else value
        found = self._top().get(key, _MISSING_FAST)
        return default if found is _MISSING_FAST else _part(found)

    def __contains__(self, key: object) -> bool:
        if key == "metadata" and self._has_meta():
            return True
        if key == "kind" and self._type[0] is not None:
            return True
        if key == "apiVersion" and self._type[1] is not None:
            return True
        return key in self._top()

    def _has_meta(self) -> bool:
        return self._name is not None or self._rv is not None or self._scope is not _NO_SCOPE

    def __iter__(self) -> Iterator[str]:
        return iter(self._top())

    def __len__(self) -> int:
        return len(self._top())

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable, fully decoded ``dict`` (nothing shared with the cache)."""
        out: dict[str, Any] = _loads(self._raw)
        return out

    def to_json(self) -> bytes:
        """The object's JSON bytes, as stored (no encoding)."""
        return self._raw

    def thaw(self) -> dict[str, Any]:
        """Same as :meth:`to_dict`."""
        return self.to_dict()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawObject) and self._raw == other._raw:
            return True
        return super().__eq__(other)

    __hash__ = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (from_json, (self._raw,))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        _read_only(self)

    def __delattr__(self, name: str) -> NoReturn:
        _read_only(self)

    def _short(self) -> str:
        kind = self._type[0] if isinstance(self._type[0], str) else "object"
        ns, name = self._scope[0], self._name
        where = f"{ns}/{name}" if isinstance(ns, str) and ns else repr(_plain(name))
        return f"{kind} {where}"


class RawMetadata(ReadOnlyMapping):
    """``obj["metadata"]`` of a :class:`RawObject`: a view; fast fields cost nothing."""

    __slots__ = ("_obj",)

    _obj: RawObject

    @classmethod
    def _of(cls, obj: RawObject) -> RawMetadata | None:
        if not obj._has_meta():
            return None  # metadata absent, or not what RawObject decodes: read it from bytes
        view = _new_raw(cls)
        _set_view(view, obj)
        return view

    def _fast(self, key: str) -> Any:
        """The value of a fast field (``None`` when absent or not a fast field)."""
        obj = self._obj
        if key == "name":
            return obj._name
        if key == "namespace":
            return obj._scope[0]
        if key == "resourceVersion":
            return obj._rv
        if key == "labels":
            labels = obj._scope[1]
            return labels if labels is None or type(labels) is FrozenDict else _MISSING_FAST
        return _MISSING_FAST

    def _all(self) -> dict[str, Any]:
        """The metadata's keys, in order, with their raw (undecoded) values."""
        return _split_meta(self._obj._raw)

    def __getitem__(self, key: str) -> Any:
        value = self._fast(key)
        if value is not None and value is not _MISSING_FAST:
            return _plain(value)
        if value is None and key in _FAST_META:
            raise KeyError(key)
        return _part(self._all()[key])

    def get(self, key: str, default: Any = None) -> Any:
        obj = self._obj
        if key == "name":
            value = obj._name
        elif key == "namespace":
            value = obj._scope[0]
        elif key == "resourceVersion":
            value = obj._rv
        else:
            try:
                return self[key]
            except KeyError:
                return default
        if value is None:
            return default
        return None if value is _NULL else value

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and key in _FAST_META:
            return self._fast(key) is not None
        return key in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable, fully decoded ``dict``."""
        out: dict[str, Any] = _loads(self._obj._raw)["metadata"]
        return out

    def to_json(self) -> bytes:
        """The metadata's JSON bytes."""
        return _meta_json(self._obj._raw)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_metadata_of, (self._obj._raw,))

    __hash__ = None

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        _read_only(self)

    def __delattr__(self, name: str) -> NoReturn:
        _read_only(self)

    def _short(self) -> str:
        return self._obj._short()


_MISSING_FAST: Any = object()
_NO_SCOPE: tuple[Any, Any] = (None, None)

# RawObject refuses setattr: it is built through its slots' own descriptors (C calls)
_new_raw = object.__new__
_set_raw = RawObject._raw.__set__  # type: ignore[attr-defined]
_set_type = RawObject._type.__set__  # type: ignore[attr-defined]
_set_name = RawObject._name.__set__
_set_rv = RawObject._rv.__set__
_set_scope = RawObject._scope.__set__  # type: ignore[attr-defined]
_set_view = RawMetadata._obj.__set__  # type: ignore[attr-defined]


def _metadata_of(raw: bytes) -> Any:
    return from_json(raw)["metadata"]


def _as_bytes(raw: Any) -> bytes:
    return raw if type(raw) is bytes else bytes(raw)


# --- the parsers ----------------------------------------------------------------------------

if _msgspec is not None:
    from msgspec import UNSET, Raw, Struct, UnsetType

    class _Meta(Struct):
        name: str | UnsetType | None = UNSET
        namespace: str | UnsetType | None = UNSET
        resourceVersion: str | UnsetType | None = UNSET
        labels: dict[str, str] | UnsetType | None = UNSET

    class _Head(Struct):
        kind: str | UnsetType | None = UNSET
        apiVersion: str | UnsetType | None = UNSET
        metadata: _Meta | UnsetType = UNSET

    class _EventHead(Struct, forbid_unknown_fields=True):
        type: str
        object: _Head

    class _EventRaw(Struct, forbid_unknown_fields=True):
        type: str
        object: Raw

    class _ListRaw(Struct):
        metadata: dict[str, Any] | None = None
        items: list[Raw] | None = None
        kind: str | UnsetType | None = UNSET
        apiVersion: str | UnsetType | None = UNSET

    _head_decoder = _msgspec.json.Decoder(_Head)
    _event_head_decoder = _msgspec.json.Decoder(_EventHead)
    _event_raw_decoder = _msgspec.json.Decoder(_EventRaw)
    _list_decoder = _msgspec.json.Decoder(_ListRaw)
    _top_decoder = _msgspec.json.Decoder(dict[str, Raw])
    _UNSET: Any = UNSET
    _Invalid: tuple[type[BaseException], ...] = (_msgspec.ValidationError,)
    _Malformed: tuple[type[BaseException], ...] = (_msgspec.DecodeError,)

    def _split_top(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _top_decoder.decode(raw)
        return found

    def _split_meta(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _top_decoder.decode(_top_decoder.decode(raw)["metadata"])
        return found

    def _meta_json(raw: bytes) -> bytes:
        return bytes(_top_decoder.decode(raw)["metadata"])

    def _part(raw: Any) -> Any:
        return _loads(memoryview(raw))

else:  # pragma: no cover - exercised only without msgspec
    _UNSET = object()
    _Invalid = ()
    _Malformed = ()

    def _split_top(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _loads(raw)
        return found

    def _split_meta(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _loads(raw)["metadata"]
        return found

    def _meta_json(raw: bytes) -> bytes:
        return _dumps(_loads(raw)["metadata"])

    def _part(raw: Any) -> Any:
        return raw  # the general path decoded it already (a fresh value per read)


def _slot(value: Any) -> Any:
    """What a fast slot keeps for a parsed field: ``None`` if absent, ``_NULL`` for null."""
    if value is _UNSET:
        return None
    return _NULL if value is None else value


_LABELS: dict[tuple[tuple[str, str], ...], FrozenDict] = {}
_MAX_LABEL_SETS = 1 << 16  # beyond that the table starts over (sharing, not correctness)


def _shared_labels(labels: dict[str, str]) -> FrozenDict:
    """The shared :class:`FrozenDict` for a string-to-string map (types checked by the parser)."""
    items = tuple(labels.items())
    found = _LABELS.get(items)
    if found is None:
        found = _frozen_labels(labels)
        assert found is not None
        if len(_LABELS) >= _MAX_LABEL_SETS:
            _LABELS.clear()
        _LABELS[items] = found
    return found


_TYPE_PAIRS: dict[tuple[Any, Any], tuple[Any, Any]] = {}
_SCOPES: dict[tuple[Any, int], tuple[Any, Any]] = {}
"""(namespace, labels) pairs shared by objects: pods of one workload hold one pair."""


def _build(raw: bytes, kind: Any, api: Any, name: Any, ns: Any, rv: Any,
           labels: Any) -> RawObject:
    obj = _new_raw(RawObject)
    _set_raw(obj, raw)
    pair = _TYPE_PAIRS.get((kind, api))
    if pair is None:
        pair = (kind if kind is None or kind is _NULL else _intern(kind),
                api if api is None or api is _NULL else _intern(api))
        if len(_TYPE_PAIRS) >= _MAX_LABEL_SETS:
            _TYPE_PAIRS.clear()
        _TYPE_PAIRS[pair] = pair
    _set_type(obj, pair)
    _set_name(obj, name)

    _set_rv(obj, rv)
    if type(labels) is dict:
        labels = _shared_labels(labels)
    scope = _NO_SCOPE if ns is None and labels is None else _SCOPES.get((ns, id(labels)))
    if scope is None:  # (the pair holds labels: their id stays theirs while it is kept)
        scope = (ns if ns is None or ns is _NULL else _intern(ns), labels)
        if len(_SCOPES) >= _MAX_LABEL_SETS:
            _SCOPES.clear()
        _SCOPES[(ns, id(labels))] = scope
    _set_scope(obj, scope)
    return obj


def _from_head(raw: bytes, head: Any) -> RawObject:
    meta = head.metadata
    if meta is _UNSET:
        return _build(raw, _slot(head.kind), _slot(head.apiVersion), None, None, None, None)
    return _build(raw, _slot(head.kind), _slot(head.apiVersion), _slot(meta.name),
                  _slot(meta.namespace), _slot(meta.resourceVersion), _slot(meta.labels))


def _from_dict(raw: bytes, obj: dict[str, Any]) -> Any:
    """A RawObject from the object's bytes and its full decode (the slow, general path)."""
    meta = obj.get("metadata", _UNSET)
    fields: dict[str, Any] = {}
    if meta is not _UNSET:
        if type(meta) is not dict:
            return _build(raw, *_top_slots(obj), None, None, None, None)
        for key in _FAST_META:
            value = meta.get(key, _UNSET)
            ok = value is _UNSET or value is None or (
                _frozen_labels(value) is not None if key == "labels" and type(value) is dict
                else key != "labels" and type(value) is str)
            if not ok:  # a shape RawObject does not keep decoded: every read decodes
                return _build(raw, *_top_slots(obj), None, None, None, None)
            fields[key] = _slot(value)
    return _build(raw, *_top_slots(obj), fields.get("name"), fields.get("namespace"),
                  fields.get("resourceVersion"), fields.get("labels"))


def _top_slots(obj: dict[str, Any]) -> tuple[Any, Any]:
    out = []
    for key in ("kind", "apiVersion"):
        value = obj.get(key, _UNSET)
        out.append(_slot(value) if value is _UNSET or value is None or type(value) is str
                   else None)
    return out[0], out[1]


def from_json(data: bytes) -> Any:
    """The object encoded by ``data`` (JSON bytes): a :class:`RawObject` if it is an object.

    A JSON value that is not an object is returned decoded. ``data`` is kept
    as the object's bytes (copied if it is not ``bytes``).
    """
    raw = _as_bytes(data)
    if _msgspec is not None:
        try:
            head = _head_decoder.decode(raw)
        except _Malformed:
            pass  # not an object, a field of another shape, or not JSON: the general path
        else:
            return _from_head(raw, head)
    value = _loads(raw)
    if type(value) is not dict:
        return value
    return _from_dict(raw, value)


def raw_object(obj: Any) -> Any:
    """``obj`` in raw storage: a dict becomes a :class:`RawObject` (a transform for informers).

    A :class:`RawObject` is returned as is; anything else that is not a plain
    ``dict`` (a model, a tombstone, a compact object) and any dict JSON can't
    hold exactly is returned unchanged. ``obj`` itself is never modified.
    """
    if type(obj) is not dict:
        return obj
    try:
        raw = _dumps(obj)
    except (TypeError, ValueError, OverflowError):
        return obj
    return _from_dict(memoryview(raw).tobytes(), obj)


def is_raw(obj: Any) -> bool:
    """Whether ``obj`` is a :class:`RawObject`."""
    return type(obj) is RawObject


# --- the wire ------------------------------------------------------------------------------

_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
_RAW_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED"})  # BOOKMARK, ERROR: decoded in full
_PREFIX = b'{"type":"'
_OBJECT = b'","object":'
_SPACE = frozenset(b" \t\r\n")
_HEADS = {t: _PREFIX + t.encode() + _OBJECT for t in _RAW_TYPES}
"""What precedes the object on a line as the API server writes it, by event type."""
_new_event = tuple.__new__  # an Event without NamedTuple's Python-level __new__


def decode_event(line: bytes) -> Event | None:
    """A watch event line as an :class:`~kubecache.watch.Event` whose object is raw.

    ``ADDED``/``MODIFIED``/``DELETED`` objects become :class:`RawObject` s;
    ``BOOKMARK`` and ``ERROR`` objects (and any other type) are decoded in
    full, as the reflector reads them. ``None`` means the line is not a
    ``{type, object}`` event the fast path understands: decode it as usual.
    """
    if _msgspec is None:  # pragma: no cover - exercised only without msgspec
        return None
    try:
        ev = _event_head_decoder.decode(line)
    except _Invalid:  # metadata of another shape (null, a name that is no string...)
        return _general_event(line)
    except _Malformed:
        return None
    etype = ev.type
    head = _HEADS.get(etype)
    if head is None:
        return None
    end = len(line) - 1
    start = len(head)
    while end > start and line[end] in _SPACE:  # a watch line's own newline
        end -= 1
    # The API server's layout: the object runs from ``start`` to the closing "}".
    if line.startswith(head) and line[end] == 0x7D:
        return _new_event(Event, (_TYPES[etype], _from_head(line[start:end], ev.object)))
    try:  # another layout (spaces, key order): find the object's bytes
        raw = bytes(_event_raw_decoder.decode(line).object)
    except _Malformed:
        return None
    return _new_event(Event, (_TYPES[etype], _from_head(raw, ev.object)))


def _general_event(line: bytes) -> Event | None:
    try:
        ev = _event_raw_decoder.decode(line)
    except _Malformed:
        return None
    if ev.type not in _RAW_TYPES:
        return None
    obj = from_json(bytes(ev.object))
    return Event(_TYPES[ev.type], obj) if type(obj) is RawObject else None


def decode_list(body: bytes, what: str = "") -> Any:
    """A list answer (``{"metadata", "items"}``) whose items are :class:`RawObject` s.

    Each item's bytes are copied out of the body (an item kept in the cache
    never holds the whole page). A body the fast path cannot read is decoded
    in full and its dict items made raw (:func:`raw_object`); a body that is
    not JSON raises :class:`~kubecache.errors.MalformedDataError`.
    """
    if _msgspec is not None:
        try:
            page = _list_decoder.decode(body)
        except _Invalid:
            page = None
        except _Malformed as exc:
            raise MalformedDataError(f"{what}: the list answer is not valid JSON "
                                     f"({str(exc)[:80]})") from None
        if page is not None and page.items is not None:
            out: dict[str, Any] = {}
            if page.kind is not _UNSET:
                out["kind"] = page.kind
            if page.apiVersion is not _UNSET:
                out["apiVersion"] = page.apiVersion
            out["metadata"] = page.metadata if page.metadata is not None else {}
            out["items"] = [from_json(bytes(item)) for item in page.items]
            return out
    try:
        result = _loads(body)
    except ValueError:
        raise MalformedDataError(f"{what}: the list answer is not valid JSON") from None
    if isinstance(result, dict) and isinstance(result.get("items"), list):
        result["items"] = [raw_object(item) for item in result["items"]]
    return result


# --- sources -----------------------------------------------------------------------------------


def raw_source(source: Any) -> Any:
    """``source``'s raw-decoding twin when it has one (``raw_objects()``), else ``source``.

    :func:`kubecache.kube.new_list_watch_from_client` list-watches of a
    threaded :class:`kubecache.kube.Client` have one; other sources' dicts
    go through :func:`raw_object`.
    """
    twin = getattr(source, "raw_objects", None)
    return twin() if callable(twin) else source


# --- fast paths for key functions and metadata getters ----------------------------------


def _fast_key(obj: RawObject) -> str | None:
    """``meta_namespace_key_func(obj)`` from the slots (``None``: metadata not kept decoded)."""
    scope = obj._scope
    name = obj._name
    if name is None and obj._rv is None and scope is _NO_SCOPE:
        return None
    ns = scope[0]
    if name is None or name is _NULL:
        name = ""
    return f"{ns}/{name}" if ns and ns is not _NULL else name


def _fast_field(obj: RawObject, json_name: str) -> Any:
    """A metadata field from the slots, or :data:`kubecache.meta.GENERAL_PATH`."""
    scope = obj._scope
    if obj._name is None and obj._rv is None and scope is _NO_SCOPE:
        return GENERAL_PATH
    if json_name == "resourceVersion":
        value = obj._rv
    elif json_name == "name":
        value = obj._name
    elif json_name == "namespace":
        value = scope[0]
    elif json_name == "labels":
        value = scope[1]
        if value is not None and value is not _NULL and type(value) is not FrozenDict:
            return GENERAL_PATH
    else:
        return GENERAL_PATH
    return None if value is _NULL else value


FAST_KEYS[RawObject] = _fast_key
FAST_FIELDS[RawObject] = _fast_field
