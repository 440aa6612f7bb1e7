"""Ready-made transforms for ``SharedIndexInformer(transform=...)``: smaller cached objects.

A decoded 4.6 KB pod costs about 23 KB as Python dicts (5x its JSON). Two
things make most of that: ``metadata.managedFields`` (server-side apply
bookkeeping few clients read) and one ``str`` object per value, even when
thousands of pods repeat the same image, phase or condition. Measured with
``python -m bench e2e``:

- :func:`drop_managed_fields`: ~40% less memory, almost free.
- :func:`compact`: also interns every string value and rebuilds containers
  at their exact size: ~2.7x less memory than the decoded object, for roughly
  one more decode's worth of CPU per event.

Transforms never modify the object they are given (a source may share it),
and leave anything that is not a plain dict unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["chain", "compact", "drop_managed_fields", "intern_strings"]

Transform = Callable[[Any], Any]


def drop_managed_fields(obj: Any) -> Any:
    """``obj`` without ``metadata.managedFields`` (only the two dicts on the way are copied)."""
    if type(obj) is not dict:
        return obj
    meta = obj.get("metadata")
    if type(meta) is not dict or "managedFields" not in meta:
        return obj
    meta = dict(meta)
    del meta["managedFields"]
    out = dict(obj)
    out["metadata"] = meta
    return out


def intern_strings(obj: Any) -> Any:
    """A copy of ``obj`` with every string value interned and every container rebuilt.

    Equal strings across cached objects then share one ``str``; interned
    strings are freed as usual when no object uses them any more.
    """
    return _rebuild(obj, False) if type(obj) in (dict, list) else obj


def compact(obj: Any) -> Any:
    """:func:`intern_strings` and :func:`drop_managed_fields` in one pass."""
    return _rebuild(obj, True) if type(obj) in (dict, list) else obj


def chain(*transforms: Transform) -> Transform:
    """One transform applying ``transforms`` in order."""

    def chained(obj: Any) -> Any:
        for transform in transforms:
            obj = transform(obj)
        return obj

    return chained


def _rebuild(obj: Any, drop_managed: bool, _intern: Callable[[str], str] = sys.intern) -> Any:
    if type(obj) is dict:
        out: dict[str, Any] = {}
        for key, value in obj.items():
            kind = type(value)
            if kind is str:
                out[key] = _intern(value)
            elif kind is dict:
                if drop_managed and key == "metadata":
                    value = {k: v for k, v in value.items() if k != "managedFields"}
                out[key] = _rebuild(value, False)
            elif kind is list:
                out[key] = _rebuild(value, False)
            else:
                out[key] = value
        return out
    items: list[Any] = []
    for value in obj:
        kind = type(value)
        if kind is str:
            items.append(_intern(value))
        elif kind is dict or kind is list:
            items.append(_rebuild(value, False))
        else:
            items.append(value)
    return items
