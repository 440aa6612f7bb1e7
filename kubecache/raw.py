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

**Declared fields.** :func:`codec` (an informer's ``raw_fields=``) names
dotted paths (``"spec.nodeName"``) that are decoded in the same pass and
kept: ``obj["spec"]`` is then a read-only :class:`RawPart` view whose
declared keys (``["nodeName"]``) cost no decode while its other keys
decode on demand, with the same values as the dict.

Iteration (in the original key order), ``len``, ``in`` and ``==`` against
the plain dict work; writing raises
:class:`~kubecache.compact.ReadOnlyObjectError`; :func:`kubecache.compact.thaw`
(or ``obj.to_dict()``, ``copy.deepcopy``) gives a plain mutable dict; it
pickles; :func:`kubecache.compact.to_json` (or ``obj.to_json()``) returns
the stored bytes as they are.

Without msgspec (the ``fast`` extra) the same objects are built from a full
``orjson``/``json`` decode: same behaviour, none of the speed.

How the slots read (one representation for both parsers): a field's value
is a ``str`` (or a ``FrozenDict`` for labels), ``None`` for JSON ``null``,
or :data:`_ABSENT` when the key is missing. Metadata of another shape (or no
metadata) is ``_scope is _NO_META``: every metadata read then goes through
the bytes. With msgspec, the objects are ``msgspec.Struct`` s without GC
tracking (built by one C call; a cache of them is invisible to the cyclic
GC); without, slotted classes with the same reads.
"""

from __future__ import annotations

import copy as _copy
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NoReturn, Union

from ._json import dumps as _dumps
from ._json import loads as _loads
from .compact import ReadOnlyMapping, _frozen_labels, _read_only
from .errors import MalformedDataError
from .keys import FAST_KEYS
from .meta import FAST_FIELDS, GENERAL_PATH
from .watch import Event, EventType

try:
    import msgspec as _msgspec
except ImportError:  # pragma: no cover - exercised only without msgspec
    _msgspec = None  # type: ignore[assignment]

__all__ = ["HAVE_MSGSPEC", "RawCodec", "RawMetadata", "RawObject", "RawPart", "codec",
           "decode_event", "decode_list", "from_json", "is_raw", "raw_object", "raw_source"]

HAVE_MSGSPEC = _msgspec is not None

_intern = sys.intern


class _Absent:
    """A key missing from the JSON (without msgspec; with it, ``msgspec.UNSET``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Any = _msgspec.UNSET if _msgspec is not None else _Absent()
_OTHER: Any = type("_Other", (), {"__slots__": (), "__repr__": lambda self: "OTHER"})()
"""A declared prefix whose value is not an object: its reads go through the bytes."""
_FAST_META = ("name", "namespace", "resourceVersion", "labels")
_NO_META: tuple[Any, Any] = (_ABSENT, _ABSENT)
"""``_scope`` of an object whose metadata is absent or of a shape the slots do not keep."""
_CONTAINERS = (dict, list)


# --- the reads: one set of methods, two storage forms (msgspec Struct or slotted class) --------


if TYPE_CHECKING:
    _Reads = ReadOnlyMapping
else:
    _Reads = object


class _RawObjectReads(_Reads):
    """How a :class:`RawObject` reads (see the module docstring)."""

    __slots__ = ()

    _raw: bytes
    _type: tuple[Any, Any]  # (kind, apiVersion), shared by every object of that type
    _name: Any
    _rv: Any
    _scope: tuple[Any, Any]  # (namespace, labels), shared like _type; _NO_META: not kept
    _fields: Any  # the declared fields (a node of the codec's layout) or None

    def _top(self) -> dict[str, Any]:
        """The top-level keys, in order, with their raw (undecoded) values."""
        return _split_top(self._raw)

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        # The hot path (key functions, indexers, selectors): no exception, no decoding.
        if key == "metadata":
            if self._scope is not _NO_META:
                return RawMetadata(self)
        elif key == "kind":
            if (value := self._type[0]) is None or type(value) is str:
                return value
        elif key == "apiVersion":
            if (value := self._type[1]) is None or type(value) is str:
                return value
        elif (fields := self._fields) is not None and (
                slot := _LAYOUTS[type(fields)].get(key)) is not None:
            value = getattr(fields, slot[0])
            return default if value is _ABSENT else _declared(self, (key,), value, slot[1])
        found = self._top().get(key, _ABSENT)
        return default if found is _ABSENT else _part(found)

    def __contains__(self, key: object) -> bool:
        if key == "metadata" and self._scope is not _NO_META:
            return True
        if key == "kind" and ((value := self._type[0]) is None or type(value) is str):
            return True
        if key == "apiVersion" and ((value := self._type[1]) is None or type(value) is str):
            return True
        if (fields := self._fields) is not None and isinstance(key, str) and (
                slot := _LAYOUTS[type(fields)].get(key)) is not None:
            return getattr(fields, slot[0]) is not _ABSENT
        return key in self._top()

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
        if type(other) is type(self) and self._raw == other._raw:
            return True
        return _mapping_eq(self, other)

    def __reduce__(self) -> tuple[Any, ...]:
        fields = self._fields
        return (_from_json_declaring, (self._raw, () if fields is None else _PATHS[type(fields)]))

    def _short(self) -> str:
        kind = self._type[0] if isinstance(self._type[0], str) else "object"
        ns, name = self._scope[0], self._name
        where = f"{ns}/{name}" if isinstance(ns, str) and ns else repr(
            name if name is None or type(name) is str else None)
        return f"{kind} {where}"


class _RawMetadataReads(_Reads):
    """How ``obj["metadata"]`` of a :class:`RawObject` reads: fast fields cost nothing."""

    __slots__ = ()

    _obj: RawObject

    def _fast(self, key: str) -> Any:
        """The value of a fast field (``_ABSENT`` when absent; ``_OTHER``: not a fast field)."""
        obj = self._obj
        if key == "name":
            return obj._name
        if key == "namespace":
            return obj._scope[0]
        if key == "resourceVersion":
            return obj._rv
        if key == "labels":
            return obj._scope[1]
        return _OTHER

    def _all(self) -> dict[str, Any]:
        """The metadata's keys, in order, with their raw (undecoded) values."""
        return _split_meta(self._obj._raw)

    def __getitem__(self, key: str) -> Any:
        value = self._fast(key)
        if value is _OTHER:
            return _part(self._all()[key])
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        obj = self._obj
        if key == "name":
            value = obj._name
        elif key == "namespace":
            value = obj._scope[0]
        elif key == "resourceVersion":
            value = obj._rv
        elif key == "labels":
            value = obj._scope[1]
        else:
            found = self._all().get(key, _ABSENT)
            return default if found is _ABSENT else _part(found)
        return default if value is _ABSENT else value

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and key in _FAST_META:
            return self._fast(key) is not _ABSENT
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

    def __eq__(self, other: object) -> bool:
        return _mapping_eq(self, other)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_item_of, (self._obj, ("metadata",)))

    def _short(self) -> str:
        return self._obj._short()


class _RawPartReads(_Reads):
    """How a part of a :class:`RawObject` with declared fields under it reads."""

    __slots__ = ()

    _obj: RawObject
    _path: tuple[str, ...]  # the keys from the object down to this part
    _node: Any  # the declared fields under it (a node of the codec's layout)

    def _all(self) -> dict[str, Any]:
        """This part's keys, in order, with their raw (undecoded) values."""
        return _split_at(self._obj._raw, self._path)

    def __getitem__(self, key: str) -> Any:
        node = self._node
        slot = _LAYOUTS[type(node)].get(key)
        if slot is None:
            return _part(self._all()[key])
        value = getattr(node, slot[0])
        if slot[1] is None and type(value) not in _CONTAINERS and value is not _ABSENT:
            return value  # a declared scalar: the usual read
        if value is _ABSENT:
            raise KeyError(key)
        return _declared(self._obj, (*self._path, key), value, slot[1])

    def get(self, key: str, default: Any = None) -> Any:
        node = self._node
        slot = _LAYOUTS[type(node)].get(key)
        if slot is None:
            found = self._all().get(key, _ABSENT)
            return default if found is _ABSENT else _part(found)
        value = getattr(node, slot[0])
        if value is _ABSENT:
            return default
        return _declared(self._obj, (*self._path, key), value, slot[1])

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and (slot := _LAYOUTS[type(self._node)].get(key)) is not None:
            return getattr(self._node, slot[0]) is not _ABSENT
        return key in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable, fully decoded ``dict``."""
        out: Any = _loads(self._obj._raw)
        for key in self._path:
            out = out[key]
        assert type(out) is dict
        return out

    def to_json(self) -> bytes:
        """This part's JSON bytes."""
        return _json_at(self._obj._raw, self._path)

    def __eq__(self, other: object) -> bool:
        return _mapping_eq(self, other)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_item_of, (self._obj, self._path))

    def _short(self) -> str:
        return f"{'.'.join(self._path)} of {self._obj._short()}"


def _mapping_eq(self: Any, other: object) -> bool:
    if isinstance(other, ReadOnlyMapping):
        return bool(self.to_dict() == other.to_dict())
    if isinstance(other, Mapping):
        return bool(self.to_dict() == (other if type(other) is dict else dict(other)))
    unknown: bool = NotImplemented
    return unknown


def _ne(self: Any, other: object) -> bool:
    equal = self.__eq__(other)
    return equal if equal is NotImplemented else not equal


def _repr(self: Any) -> str:
    return f"<{type(self).__name__} {self._short()}>"


def _refuse(self: Any, *args: Any) -> NoReturn:
    _read_only(self)


_MAPPING_METHODS = {"keys": Mapping.keys, "items": Mapping.items, "values": Mapping.values,
                    "copy": ReadOnlyMapping.copy, "__copy__": ReadOnlyMapping.__copy__,
                    "__deepcopy__": ReadOnlyMapping.__deepcopy__, "__ne__": _ne,
                    "__repr__": _repr, "__setitem__": _refuse, "__delitem__": _refuse,
                    "__setattr__": _refuse, "__delattr__": _refuse, "__hash__": None,
                    "__reversed__": None}
"""What ``Mapping``/``ReadOnlyMapping`` give a class that cannot inherit them (a Struct),
and what a Struct's own methods would otherwise answer (``==``, ``repr``, writes...)."""


if _msgspec is not None and not TYPE_CHECKING:
    _FIELD_NAMES = frozenset({"_raw", "_type", "_name", "_rv", "_scope", "_fields", "_obj",
                              "_path", "_node"})
    _READS = frozenset({"__getitem__", "__contains__", "__iter__", "__len__", "__eq__",
                        "__reduce__"})

    class _ReadsStruct(_msgspec.Struct, gc=False):
        """A Struct base (defstruct's ``bases`` must be Structs: the reads are copied in)."""

    def _struct(reads: type, fields: tuple[str, ...]) -> type:
        ns = dict(_MAPPING_METHODS)
        for name, value in vars(reads).items():
            if (not name.startswith("__") or name in _READS) and name not in _FIELD_NAMES:
                ns[name] = value
        ns["__doc__"] = reads.__doc__
        cls = _msgspec.defstruct(reads.__name__.replace("Reads", "").lstrip("_"),
                                 [(f, Any) for f in fields], bases=(_ReadsStruct,),
                                 module=__name__, namespace=ns, gc=False)
        ReadOnlyMapping.register(cls)
        return cls

    RawObject = _struct(_RawObjectReads, ("_raw", "_type", "_name", "_rv", "_scope",
                                          "_fields"))
    RawMetadata = _struct(_RawMetadataReads, ("_obj",))
    RawPart = _struct(_RawPartReads, ("_obj", "_path", "_node"))
else:
    class RawObject(_RawObjectReads, ReadOnlyMapping):
        """A read-only cached object in raw storage (see the module docstring)."""

        __slots__ = ("_fields", "_name", "_raw", "_rv", "_scope", "_type")

        def __init__(self, raw: bytes, type_: tuple[Any, Any], name: Any, rv: Any,
                     scope: tuple[Any, Any], fields: Any) -> None:
            for slot, value in (("_raw", raw), ("_type", type_), ("_name", name),
                                ("_rv", rv), ("_scope", scope), ("_fields", fields)):
                object.__setattr__(self, slot, value)

        __hash__ = None
        __setattr__ = _refuse
        __delattr__ = _refuse

    class RawMetadata(_RawMetadataReads, ReadOnlyMapping):
        """``obj["metadata"]`` of a :class:`RawObject`: a view; fast fields cost nothing."""

        __slots__ = ("_obj",)

        def __init__(self, obj: Any) -> None:
            object.__setattr__(self, "_obj", obj)

        __hash__ = None
        __setattr__ = _refuse
        __delattr__ = _refuse

    class RawPart(_RawPartReads, ReadOnlyMapping):
        """A part of a :class:`RawObject` (``obj["spec"]``) with declared fields under it:
        a view; declared keys cost nothing, others decode on each access."""

        __slots__ = ("_node", "_obj", "_path")

        def __init__(self, obj: Any, path: tuple[str, ...], node: Any) -> None:
            object.__setattr__(self, "_obj", obj)
            object.__setattr__(self, "_path", path)
            object.__setattr__(self, "_node", node)

        __hash__ = None
        __setattr__ = _refuse
        __delattr__ = _refuse


def _item_of(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _declared(obj: Any, path: tuple[str, ...], value: Any, child: Any) -> Any:
    """What reading a declared key gives: its value (containers copied), or a view below it."""
    if child is None:
        return _copy.deepcopy(value) if type(value) in _CONTAINERS else value
    if value is None:
        return None
    if value is _OTHER:  # not an object: the declared fields under it do not apply
        return _part(_raw_at(obj._raw, path))
    return RawPart(obj, path, value)


def _as_bytes(raw: Any) -> bytes:
    return raw if type(raw) is bytes else bytes(raw)


# --- the parsers ----------------------------------------------------------------------------

if _msgspec is not None:
    from msgspec import UNSET, Raw, Struct, UnsetType

    _NO_LABELS = Raw(b"")  # labels absent (an empty Raw: no JSON value is empty)

    class _Meta(Struct, gc=False):
        name: str | UnsetType | None = UNSET
        namespace: str | UnsetType | None = UNSET
        resourceVersion: str | UnsetType | None = UNSET
        labels: Raw = _NO_LABELS  # its bytes key the shared (namespace, labels) pair

    class _EventRaw(Struct, forbid_unknown_fields=True, gc=False):
        type: str
        object: Raw

    class _ListRaw(Struct, gc=False):
        metadata: dict[str, Any] | None = None
        items: list[Raw] | None = None
        kind: str | UnsetType | None = UNSET
        apiVersion: str | UnsetType | None = UNSET

    _event_raw_decoder = _msgspec.json.Decoder(_EventRaw)
    _list_decoder = _msgspec.json.Decoder(_ListRaw)
    _top_decoder = _msgspec.json.Decoder(dict[str, Raw])
    _labels_decoder = _msgspec.json.Decoder(Union[dict[str, str], None])  # noqa: UP007
    _Invalid: tuple[type[BaseException], ...] = (_msgspec.ValidationError,)
    _Malformed: tuple[type[BaseException], ...] = (_msgspec.DecodeError,)

    def _split_top(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _top_decoder.decode(raw)
        return found

    def _split_meta(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _top_decoder.decode(_top_decoder.decode(raw)["metadata"])
        return found

    def _split_at(raw: bytes, path: tuple[str, ...]) -> dict[str, Any]:
        found: dict[str, Any] = _top_decoder.decode(raw)
        for key in path:
            found = _top_decoder.decode(found[key])
        return found

    def _raw_at(raw: bytes, path: tuple[str, ...]) -> Any:
        found: Any = raw
        for key in path:
            found = _top_decoder.decode(found)[key]
        return found

    def _json_at(raw: bytes, path: tuple[str, ...]) -> bytes:
        return bytes(_raw_at(raw, path))

    def _meta_json(raw: bytes) -> bytes:
        return bytes(_top_decoder.decode(raw)["metadata"])

    def _part(raw: Any) -> Any:
        return _loads(memoryview(raw))

else:  # pragma: no cover - exercised only without msgspec
    _Invalid = ()
    _Malformed = ()

    def _split_top(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _loads(raw)
        return found

    def _split_meta(raw: bytes) -> dict[str, Any]:
        found: dict[str, Any] = _loads(raw)["metadata"]
        return found

    def _split_at(raw: bytes, path: tuple[str, ...]) -> dict[str, Any]:
        found: dict[str, Any] = _item_of(_loads(raw), path)
        return found

    def _raw_at(raw: bytes, path: tuple[str, ...]) -> Any:
        return _item_of(_loads(raw), path)

    def _json_at(raw: bytes, path: tuple[str, ...]) -> bytes:
        return _dumps(_item_of(_loads(raw), path))

    def _meta_json(raw: bytes) -> bytes:
        return _dumps(_loads(raw)["metadata"])

    def _part(raw: Any) -> Any:
        return raw  # the general path decoded it already (a fresh value per read)


# --- sharing ---------------------------------------------------------------------------------

_MAX_SHARED = 1 << 16  # beyond that a table starts over (sharing, not correctness)
_TYPE_PAIRS: dict[tuple[Any, Any], tuple[Any, Any]] = {}
_SCOPES: dict[tuple[Any, Any], tuple[Any, Any]] = {}
"""(namespace, labels) pairs shared by objects: pods of one workload hold one pair."""
_SHARED: dict[tuple[Any, Any, Any, bytes], tuple[tuple[Any, Any], tuple[Any, Any]]] = {}
"""(kind, apiVersion, namespace, labels' bytes) -> the shared (type pair, scope pair)."""


def _str_or(value: Any) -> Any:
    return _intern(value) if type(value) is str else value


def _type_pair(kind: Any, api: Any) -> tuple[Any, Any]:
    pair = _TYPE_PAIRS.get((kind, api))
    if pair is None:
        pair = (_str_or(kind), _str_or(api))
        if len(_TYPE_PAIRS) >= _MAX_SHARED:
            _TYPE_PAIRS.clear()
        _TYPE_PAIRS[pair] = pair
    return pair


def _scope_pair(ns: Any, labels: Any) -> tuple[Any, Any]:
    """The shared pair for a namespace and labels (a dict of strings, ``None`` or absent)."""
    if type(labels) is dict:
        labels = _frozen_labels(labels)  # shared: one FrozenDict per distinct label set
    key = (ns, id(labels))  # (the pair holds labels: their id stays theirs while it is kept)
    pair = _SCOPES.get(key)
    if pair is None:
        pair = (_str_or(ns), labels)
        if len(_SCOPES) >= _MAX_SHARED:
            _SCOPES.clear()
        _SCOPES[key] = pair
    return pair


def _share(key: tuple[Any, Any, Any, bytes]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The pairs for a head's (kind, apiVersion, namespace, labels' bytes) (first sight).

    Labels that are not a map of strings raise msgspec's ``ValidationError``.
    """
    kind, api, ns, labels = key
    found = (_type_pair(kind, api),
             _scope_pair(ns, _ABSENT if not labels else _labels_decoder.decode(labels)))
    if len(_SHARED) >= _MAX_SHARED:
        _SHARED.clear()
    _SHARED[key] = found
    return found


# --- codecs: what is decoded, and the functions that decode it ------------------------------

_LAYOUTS: dict[type, dict[str, tuple[str, Any]]] = {}
"""A declared-fields node class -> {JSON key: (attribute, child node class or None: a leaf)}."""
_PATHS: dict[type, tuple[str, ...]] = {}
"""A codec's top node class -> its paths (what pickling a RawObject carries)."""
_TOP_KEPT = ("kind", "apiVersion")


def _parse_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """The declared paths, validated, deduplicated and without ones under another, sorted."""
    if isinstance(paths, (str, bytes)):
        raise ValueError(f"raw_fields: {paths!r} is one path; give a sequence of dotted paths "
                         "(e.g. ('spec.nodeName',))")
    kept: set[str] = set()
    for path in paths:
        if not isinstance(path, str) or not path:
            raise ValueError(f"raw_fields: {path!r} is not a dotted JSON path "
                             "(e.g. 'spec.nodeName')")
        parts = path.split(".")
        if any(not part for part in parts):
            raise ValueError(f"raw_fields: {path!r} has an empty segment "
                             "(a dotted JSON path: 'spec.nodeName')")
        if parts[0] in _TOP_KEPT:
            continue  # kept decoded anyway
        if parts[0] == "metadata":
            if len(parts) > 1 and parts[1] in _FAST_META:
                continue  # kept decoded anyway
            raise ValueError(f"raw_fields: {path!r}: under metadata only name, namespace, "
                             "resourceVersion and labels are kept, and always are (any other "
                             "metadata key decodes the metadata when read)")
        kept.add(path)
    ordered = sorted(kept)
    return tuple(p for p in ordered
                 if not any(p.startswith(q + ".") for q in ordered if q != p))


def _tree(paths: tuple[str, ...]) -> dict[str, Any]:
    """Paths as nested dicts; a leaf is ``None``."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = None
    return root


def _node_class(name: str, tree: dict[str, Any]) -> tuple[type, list[tuple[str, Any, Any]]]:
    """A class for one level of declared fields (registered in :data:`_LAYOUTS`) and its
    fields' specs (for msgspec: a nested level is a Struct, a leaf any JSON value)."""
    layout: dict[str, tuple[str, Any]] = {}
    specs: list[tuple[str, Any, Any]] = []
    for i, (key, below) in enumerate(tree.items()):
        attr = f"x{i}"
        child: Any = None
        spec: Any = Any
        if below is not None:
            child = _node_class(f"{name}_{i}", below)[0]
            if _msgspec is not None:
                spec = Union[child, None, _msgspec.UnsetType]  # noqa: UP007
        layout[key] = (attr, child)
        specs.append((attr, spec, _ABSENT))
    attrs = tuple(attr for attr, _ in layout.values())
    if _msgspec is not None:
        cls: type = _msgspec.defstruct(name, specs, rename=_renames(tree), gc=False)
    else:  # pragma: no cover - exercised only without msgspec
        def init(self: Any, *values: Any) -> None:
            for attr, value in zip(attrs, values, strict=True):
                object.__setattr__(self, attr, value)
        cls = type(name, (), {"__slots__": attrs, "__init__": init})
    _LAYOUTS[cls] = layout
    return cls, specs


def _renames(tree: dict[str, Any]) -> dict[str, str]:
    return {f"x{i}": key for i, key in enumerate(tree)}


class RawCodec:
    """How raw storage decodes: the cache's own fields plus the declared ``paths``.

    Made by :func:`codec` (one per path set). Its functions are the module's
    :func:`decode_event`, :func:`decode_list`, :func:`from_json` and
    :func:`raw_object`, keeping the declared fields too.
    """

    paths: tuple[str, ...]
    """The declared dotted paths (normalized: sorted, none under another)."""
    decode_event: Callable[[bytes], Event | None]
    decode_list: Callable[..., Any]
    from_json: Callable[[bytes], Any]
    raw_object: Callable[[Any], Any]
    _event_head_decoder: Any  # the typed first pass over a watch line (for the bench)

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths
        top: Any = None  # the top node class of the declared fields (None: none declared)
        specs: list[tuple[str, Any, Any]] = []
        tree = _tree(paths)
        if paths:
            top, specs = _node_class("RawFields", tree)
            _PATHS[top] = paths
        head: Any = None
        if _msgspec is not None:  # the cache's own fields, and the declared ones
            text = Union[str, None, _msgspec.UnsetType]  # noqa: UP007
            head = _msgspec.defstruct(
                "RawHead", [("kind", text, _ABSENT), ("apiVersion", text, _ABSENT),
                            ("metadata", Union[_Meta, _msgspec.UnsetType], _ABSENT),  # noqa: UP007
                            *specs], rename=_renames(tree), gc=False)
        (self.decode_event, self.from_json, self.decode_list, self.raw_object,
         self._event_head_decoder) = _functions(top, head)

    def __repr__(self) -> str:
        return f"RawCodec({self.paths!r})"


_CODECS: dict[tuple[str, ...], RawCodec] = {}


def codec(paths: Iterable[str] = ()) -> RawCodec:
    """The :class:`RawCodec` declaring ``paths`` (dotted JSON paths, e.g. ``"spec.nodeName"``).

    ``kind``, ``apiVersion`` and ``metadata.{name, namespace, resourceVersion,
    labels}`` are always kept and need no declaring; any other metadata path
    is a ``ValueError`` (metadata's other keys decode it when read), as is a
    path with an empty segment. One codec per distinct path set (cached).
    """
    normal = _parse_paths(paths)
    found = _CODECS.get(normal)
    if found is None:
        found = _CODECS.setdefault(normal, RawCodec(normal))
    return found


def _node_from(cls: Any, d: dict[str, Any]) -> Any:
    values = []
    for key, (_, child) in _LAYOUTS[cls].items():
        value = d.get(key, _ABSENT)
        if child is not None and value is not _ABSENT and value is not None:
            value = _node_from(child, value) if type(value) is dict else _OTHER
        values.append(value)
    return cls(*values)


def _from_json_declaring(data: bytes, paths: tuple[str, ...]) -> Any:
    return codec(paths).from_json(data)


# --- the wire ------------------------------------------------------------------------------

_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
_RAW_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED"})  # BOOKMARK, ERROR: decoded in full
_PREFIX = b'{"type":"'
_OBJECT = b'","object":'
_SPACE = frozenset(b" \t\r\n")
_HEADS: dict[str, tuple[bytes, int, EventType]] = {
    t: (_PREFIX + t.encode() + _OBJECT, len(_PREFIX + t.encode() + _OBJECT), _TYPES[t])
    for t in _RAW_TYPES}
"""What precedes the object on a line as the API server writes it, by event type."""
_new_event = tuple.__new__  # an Event without NamedTuple's Python-level __new__


def _functions(top: Any, head_type: Any) -> tuple[Any, Any, Any, Any, Any]:
    """``(decode_event, from_json, decode_list, raw_object, event head decoder)`` for a codec.

    ``top``: the declared fields' top node class (``None``: none declared);
    ``head_type``: the Struct naming the cache's fields and the declared ones.
    """
    fields_of = _fields_maker(top)

    def from_dict(raw: bytes, obj: dict[str, Any]) -> Any:
        """A RawObject from the object's bytes and its full decode (the slow, general path)."""
        fields = None if top is None else _node_from(top, obj)
        kind, api = obj.get("kind", _ABSENT), obj.get("apiVersion", _ABSENT)
        pair = _type_pair(kind if kind is None or type(kind) is str else _OTHER,
                          api if api is None or type(api) is str else _OTHER)
        meta = obj.get("metadata", _ABSENT)
        if type(meta) is not dict:
            return RawObject(raw, pair, _ABSENT, _ABSENT, _NO_META, fields)
        values = []
        for key in _FAST_META:
            value = meta.get(key, _ABSENT)
            ok = value is _ABSENT or value is None or (
                _frozen_labels(value) is not None if key == "labels" and type(value) is dict
                else key != "labels" and type(value) is str)
            if not ok:  # a shape RawObject does not keep decoded: every read decodes
                return RawObject(raw, pair, _ABSENT, _ABSENT, _NO_META, fields)
            values.append(value)
        name, ns, rv, labels = values
        return RawObject(raw, pair, name, rv, _scope_pair(ns, labels), fields)

    def general(raw: bytes) -> Any:
        value = _loads(raw)
        if type(value) is not dict:
            return value
        return from_dict(raw, value)

    def raw_object(obj: Any) -> Any:
        if type(obj) is not dict:
            return obj
        try:
            raw = _dumps(obj)
        except (TypeError, ValueError, OverflowError):
            return obj
        return from_dict(memoryview(raw).tobytes(), obj)

    if _msgspec is None:  # pragma: no cover - exercised only without msgspec
        def no_event(line: bytes) -> Event | None:
            return None

        def from_json_general(data: bytes) -> Any:
            return general(_as_bytes(data))

        def decode_list_general(body: bytes, what: str = "") -> Any:
            return _list_general(body, what, raw_object)

        return no_event, from_json_general, decode_list_general, raw_object, None

    head_decode = _msgspec.json.Decoder(head_type).decode
    event_decoder: Any = _msgspec.json.Decoder(_msgspec.defstruct(
        "RawEventHead", [("type", str), ("object", head_type)],
        forbid_unknown_fields=True, gc=False))
    event_decode = event_decoder.decode
    heads, shared, share, no_meta, absent = _HEADS, _SHARED, _share, _NO_META, _ABSENT
    invalid, malformed = _Invalid, _Malformed

    def build(raw: bytes, h: Any) -> Any:
        """A RawObject from its bytes and their head (``ValidationError``: odd labels)."""
        m = h.metadata
        fields = None if fields_of is None else fields_of(h)
        if m is absent:
            return RawObject(raw, _type_pair(h.kind, h.apiVersion), absent, absent, no_meta,
                             fields)
        key = (h.kind, h.apiVersion, m.namespace, bytes(m.labels))
        pairs = shared.get(key)
        if pairs is None:
            pairs = share(key)
        return RawObject(raw, pairs[0], m.name, m.resourceVersion, pairs[1], fields)

    def decode_event(line: bytes) -> Event | None:
        """A watch event line as an :class:`~kubecache.watch.Event` whose object is raw.

        ``ADDED``/``MODIFIED``/``DELETED`` objects become :class:`RawObject` s;
        ``BOOKMARK`` and ``ERROR`` objects (and any other type) are decoded in
        full, as the reflector reads them. ``None`` means the line is not a
        ``{type, object}`` event the fast path understands: decode it as usual.
        """
        try:
            ev = event_decode(line)
            found = heads.get(ev.type)
            if found is None:
                return None
            prefix, start, etype = found
            h = ev.object
            m = h.metadata
            # The API server's layout, newline included: the object runs up to the last "}".
            if line.endswith(b"}\n") and line.startswith(prefix):
                raw = line[start:-2]
            elif line.endswith(b"}") and line.startswith(prefix):  # newline cut off
                raw = line[start:-1]
            else:
                other = _object_bytes(line, found)
                if other is None:
                    return None
                raw = other
            if m is absent:
                return _new_event(Event, (etype, build(raw, h)))
            key = (h.kind, h.apiVersion, m.namespace, bytes(m.labels))
            pairs = shared.get(key)
            if pairs is None:
                pairs = share(key)
            if fields_of is None:
                return _new_event(Event, (etype, RawObject(
                    raw, pairs[0], m.name, m.resourceVersion, pairs[1], None)))
            return _new_event(Event, (etype, RawObject(
                raw, pairs[0], m.name, m.resourceVersion, pairs[1], fields_of(h))))
        except invalid:  # metadata of another shape (null, a name that is no string...)
            return general_event(line)
        except malformed:
            return None

    def general_event(line: bytes) -> Event | None:
        try:
            ev = _event_raw_decoder.decode(line)
        except malformed:
            return None
        if ev.type not in _RAW_TYPES:
            return None
        obj = from_json(bytes(ev.object))
        return Event(_TYPES[ev.type], obj) if type(obj) is RawObject else None

    def from_json(data: bytes) -> Any:
        raw = _as_bytes(data)
        try:
            return build(raw, head_decode(raw))
        except (*invalid, *malformed):
            pass  # not an object, a field of another shape, or not JSON: the general path
        return general(raw)

    def decode_list(body: bytes, what: str = "") -> Any:
        try:
            page = _list_decoder.decode(body)
        except invalid:
            page = None
        except malformed as exc:
            raise MalformedDataError(f"{what}: the list answer is not valid JSON "
                                     f"({str(exc)[:80]})") from None
        if page is None or page.items is None:
            return _list_general(body, what, raw_object)
        out: dict[str, Any] = {}
        if page.kind is not absent:
            out["kind"] = page.kind
        if page.apiVersion is not absent:
            out["apiVersion"] = page.apiVersion
        out["metadata"] = page.metadata if page.metadata is not None else {}
        items: list[Any] = []
        append = items.append
        for item in page.items:
            raw = bytes(item)  # a copy: a cached item never holds the whole page
            try:
                append(build(raw, head_decode(raw)))
            except invalid:
                append(general(raw))
        out["items"] = items
        return out

    return decode_event, from_json, decode_list, raw_object, event_decoder


def _fields_maker(top: Any) -> Callable[[Any], Any] | None:
    """What builds the stored declared fields from a decoded head (``None``: none declared)."""
    if top is None:
        return None
    get = attrgetter(*(attr for attr, _ in _LAYOUTS[top].values()))
    if len(_LAYOUTS[top]) == 1:
        return lambda head: top(get(head))
    return lambda head: top(*get(head))


def _object_bytes(line: bytes, found: tuple[bytes, int, EventType]) -> bytes | None:
    """The object's bytes on a line of another layout than ``{"type":…,"object":…}\\n``."""
    end = len(line) - 1
    start = found[1]
    while end > start and line[end] in _SPACE:  # a watch line's own newline
        end -= 1
    if line.startswith(found[0]) and line[end] == 0x7D:
        return line[start:end]
    try:  # another layout (spaces, key order): find the object's bytes
        return bytes(_event_raw_decoder.decode(line).object)
    except _Malformed:
        return None


def _list_general(body: bytes, what: str, make: Callable[[Any], Any]) -> Any:
    try:
        result = _loads(body)
    except ValueError:
        raise MalformedDataError(f"{what}: the list answer is not valid JSON") from None
    if isinstance(result, dict) and isinstance(result.get("items"), list):
        result["items"] = [make(item) for item in result["items"]]
    return result


_DEFAULT = codec()

decode_event: Callable[[bytes], Event | None] = _DEFAULT.decode_event
"""A watch event line as an :class:`~kubecache.watch.Event` whose object is raw.

``ADDED``/``MODIFIED``/``DELETED`` objects become :class:`RawObject` s;
``BOOKMARK`` and ``ERROR`` objects (and any other type) are decoded in full,
as the reflector reads them. ``None`` means the line is not a ``{type,
object}`` event the fast path understands: decode it as usual.
"""

decode_list: Callable[..., Any] = _DEFAULT.decode_list
"""``decode_list(body, what="")``: a list answer (``{"metadata", "items"}``) whose items
are :class:`RawObject` s.

Each item's bytes are copied out of the body (an item kept in the cache
never holds the whole page). A body the fast path cannot read is decoded in
full and its dict items made raw (:func:`raw_object`); a body that is not
JSON raises :class:`~kubecache.errors.MalformedDataError`.
"""

from_json: Callable[[bytes], Any] = _DEFAULT.from_json
"""The object encoded by ``data`` (JSON bytes): a :class:`RawObject` if it is an object.

A JSON value that is not an object is returned decoded. ``data`` is kept as
the object's bytes (copied if it is not ``bytes``).
"""

_event_head_decoder = _DEFAULT._event_head_decoder
raw_object: Callable[[Any], Any] = _DEFAULT.raw_object
"""``obj`` in raw storage: a dict becomes a :class:`RawObject` (a transform for informers).

A :class:`RawObject` is returned as is; anything else that is not a plain
``dict`` (a model, a tombstone, a compact object) and any dict JSON can't
hold exactly is returned unchanged. ``obj`` itself is never modified.
"""


def is_raw(obj: Any) -> bool:
    """Whether ``obj`` is a :class:`RawObject`."""
    return type(obj) is RawObject


# --- sources -----------------------------------------------------------------------------------


def raw_source(source: Any, fields: Iterable[str] = ()) -> Any:
    """``source``'s raw-decoding twin when it has one (``raw_objects()``), else ``source``.

    ``fields``: dotted paths to decode and keep (:func:`codec`), passed on as
    ``raw_objects(fields)``. :func:`kubecache.kube.new_list_watch_from_client`
    list-watches of both kube clients have a twin; other sources' dicts go
    through :func:`raw_object` (or :attr:`RawCodec.raw_object`).
    """
    twin = getattr(source, "raw_objects", None)
    if not callable(twin):
        return source
    paths = codec(fields).paths
    return twin(paths) if paths else twin()


# --- fast paths for key functions and metadata getters ----------------------------------


def _fast_key(obj: RawObject) -> str | None:
    """``meta_namespace_key_func(obj)`` from the slots (``None``: metadata not kept decoded)."""
    scope = obj._scope
    if scope is _NO_META:
        return None
    ns = scope[0]
    name = obj._name
    if type(name) is not str:
        name = ""
    return f"{ns}/{name}" if type(ns) is str and ns else name


def _fast_field(obj: RawObject, json_name: str) -> Any:
    """A metadata field from the slots, or :data:`kubecache.meta.GENERAL_PATH`."""
    scope = obj._scope
    if scope is _NO_META:
        return GENERAL_PATH
    if json_name == "resourceVersion":
        value = obj._rv
    elif json_name == "name":
        value = obj._name
    elif json_name == "namespace":
        value = scope[0]
    elif json_name == "labels":
        value = scope[1]
    else:
        return GENERAL_PATH
    return None if value is _ABSENT else value


FAST_KEYS[RawObject] = _fast_key
FAST_FIELDS[RawObject] = _fast_field
