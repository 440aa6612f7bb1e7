"""Object validation as kube-apiserver does it, so no stored object can break a request.

Two stages, in the real server's order:

1. Decoding (:func:`check_types`): a field of the wrong JSON type (a name
   that is a number, ``labels`` that is a list, a label value that is not a
   string) cannot be decoded into the Go types, so kube answers
   ``400 BadRequest`` "... cannot be handled as a Pod: ..." naming the first
   such field.
2. Validation (:func:`validate`): apimachinery's ``ValidateObjectMeta``.
   Names are DNS-1123 subdomains (<= 253), DNS-1123 labels for namespaces,
   DNS-1035 labels for services (<= 63); ``generateName`` is checked the same
   way with room left for the random suffix; the namespace is a DNS-1123
   label; label keys and annotation keys are qualified names, label values
   label values, annotations at most 256 KiB together. Every problem is one
   ``FieldError``; together they become ``422 Invalid`` with one cause each.

Values are quoted in messages as Go's ``%q`` would, clipped so that a
10,000-character name is not echoed back in full.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ._apiserver_resources import ResourceType

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
ANNOTATIONS_MAX_BYTES = 256 * 1024
GENERATED_SUFFIX = 5
GENERATED_BASE_MAX = DNS1123_LABEL_MAX - GENERATED_SUFFIX  # as names.SimpleNameGenerator
_SHOWN = 64  # characters of a bad value quoted back in a message

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_RE = re.compile(_LABEL_FMT)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_DNS1035_RE = re.compile(_DNS1035_FMT)
_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)

_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
              "with an alphanumeric character")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    shown = "".join(f"'{e}', " if i == 0 else f"or '{e}', " for i, e in enumerate(examples))
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def _size(text: str) -> int:
    """Length in bytes, as Go's ``len`` counts a string."""
    return len(text.encode("utf-8", "surrogatepass"))


def _matches(regex: re.Pattern[str], text: str) -> bool:
    return regex.fullmatch(text) is not None


# --- apimachinery util/validation ---------------------------------------------------


def dns1123_label(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1123 label (``IsDNS1123Label``); empty: valid."""
    errs = []
    if _size(value) > DNS1123_LABEL_MAX:
        errs.append(_max_len(DNS1123_LABEL_MAX))
    if not _matches(_LABEL_RE, value):
        errs.append(_regex_error("a lowercase RFC 1123 label must consist of lower case "
                                 "alphanumeric characters or '-', and must start and end with "
                                 "an alphanumeric character", _LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1123 subdomain (``IsDNS1123Subdomain``)."""
    errs = []
    if _size(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _matches(_SUBDOMAIN_RE, value):
        errs.append(_regex_error("a lowercase RFC 1123 subdomain must consist of lower case "
                                 "alphanumeric characters, '-' or '.', and must start and end "
                                 "with an alphanumeric character", _SUBDOMAIN_FMT,
                                 "example.com"))
    return errs


def dns1035_label(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1035 label (``IsDNS1035Label``: starts with a letter)."""
    errs = []
    if _size(value) > DNS1123_LABEL_MAX:
        errs.append(_max_len(DNS1123_LABEL_MAX))
    if not _matches(_DNS1035_RE, value):
        errs.append(_regex_error("a DNS-1035 label must consist of lower case alphanumeric "
                                 "characters or '-', start with an alphabetic character, and "
                                 "end with an alphanumeric character", _DNS1035_FMT,
                                 "my-name", "abc-123"))
    return errs


def qualified_name(value: str) -> list[str]:
    """Problems with ``value`` as a label or annotation key (``IsQualifiedName``)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [_regex_error("a qualified name " + _QNAME_MSG, _QNAME_FMT, "MyName", "my.name",
                             "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    if not name:
        errs.append("name part must be non-empty")
    elif _size(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + _max_len(QUALIFIED_NAME_MAX))
    if not _matches(_QNAME_RE, name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name",
                                                "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    """Problems with ``value`` as a label value (``IsValidLabelValue``; empty is valid)."""
    errs = []
    if _size(value) > LABEL_VALUE_MAX:
        errs.append(_max_len(LABEL_VALUE_MAX))
    if not _matches(_LABEL_VALUE_RE, value):
        errs.append(_regex_error("a valid label must be an empty string or consist of "
                                 "alphanumeric characters, '-', '_' or '.', and must start and "
                                 "end with an alphanumeric character", _LABEL_VALUE_FMT,
                                 "MyValue", "my_value", "12345"))
    return errs


def path_segment(value: str) -> list[str]:
    """Problems with ``value`` as a name in a URL path (``IsValidPathSegmentName``)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


NameRule = Callable[[str], list[str]]

# Kinds whose names are not DNS-1123 subdomains (pkg/apis/core/validation).
_NAME_RULES: dict[tuple[str, str], NameRule] = {
    ("", "namespaces"): dns1123_label,
    ("", "services"): dns1035_label,
}


def name_rule(rt: ResourceType) -> NameRule:
    """How names of ``rt`` are validated (a subdomain unless kube says otherwise)."""
    return _NAME_RULES.get((rt.group, rt.plural), dns1123_subdomain)


# --- errors -------------------------------------------------------------------


def clip(text: str, n: int = _SHOWN) -> str:
    """``text`` cut to ``n`` characters, saying how long it was."""
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"


def quote(value: Any) -> str:
    """``value`` as Go's ``%q``/``%v`` would show it in a field error, clipped."""
    if isinstance(value, str):
        if len(value) > _SHOWN:
            return json.dumps(value[:_SHOWN], ensure_ascii=False) + f"... ({len(value)} characters)"
        return json.dumps(value, ensure_ascii=False)
    return clip(json.dumps(value, ensure_ascii=False, default=str))


class FieldError(NamedTuple):
    """One validation problem: a ``StatusCause`` (reason, field) and its message body."""

    reason: str
    field: str
    body: str

    @classmethod
    def invalid(cls, field: str, value: Any, detail: str) -> FieldError:
        return cls("FieldValueInvalid", field, f"Invalid value: {quote(value)}: {detail}")

    @classmethod
    def required(cls, field: str, detail: str = "") -> FieldError:
        return cls("FieldValueRequired", field,
                   "Required value" + (f": {detail}" if detail else ""))

    @classmethod
    def too_long(cls, field: str, limit: int) -> FieldError:
        return cls("FieldValueTooLong", field, f"Too long: may not be more than {limit} bytes")


class DecodeError(ValueError):
    """A field of the wrong JSON type: what kube's decoder rejects with 400 BadRequest."""


_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number", list: "array",
               dict: "object", type(None): "null"}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _want(value: Any, field: str, types: type | tuple[type, ...], go_type: str) -> None:
    if value is None:
        return  # JSON null decodes to the zero value
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        raise DecodeError(f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                          f"{field} of type {go_type}")


_META_STRINGS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                 "creationTimestamp", "deletionTimestamp")


def check_types(obj: dict[str, Any]) -> None:
    """Raise :class:`DecodeError` for the first field the Go decoder could not read."""
    _want(obj.get("kind"), ".kind", str, "string")
    _want(obj.get("apiVersion"), ".apiVersion", str, "string")
    meta = obj.get("metadata")
    _want(meta, ".metadata", dict, "v1.ObjectMeta")
    if not meta:
        return
    for key in _META_STRINGS:
        _want(meta.get(key), f"ObjectMeta.metadata.{key}", str, "string")
    _want(meta.get("generation"), "ObjectMeta.metadata.generation", int, "int64")
    _want(meta.get("deletionGracePeriodSeconds"),
          "ObjectMeta.metadata.deletionGracePeriodSeconds", int, "int64")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        _want(value, f"ObjectMeta.metadata.{key}", dict, "map[string]string")
        for v in (value or {}).values():
            _want(v, f"ObjectMeta.metadata.{key}", str, "map[string]string")
    finalizers = meta.get("finalizers")
    _want(finalizers, "ObjectMeta.metadata.finalizers", list, "[]string")
    for v in finalizers or ():
        _want(v, "ObjectMeta.metadata.finalizers", str, "[]string")
    for key, go_type in (("ownerReferences", "[]v1.OwnerReference"),
                         ("managedFields", "[]v1.ManagedFieldsEntry")):
        items = meta.get(key)
        _want(items, f"ObjectMeta.metadata.{key}", list, go_type)
        for v in items or ():
            _want(v, f"ObjectMeta.metadata.{key}", dict, go_type)


# --- ValidateObjectMeta ------------------------------------------------------------


def _prefix_name(value: str) -> str:
    """A ``generateName`` as its rule should see it: a trailing '-' is fine before a suffix."""
    return value[:-1] + "a" if len(value) > 1 and value.endswith("-") else value


def validate(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    """Every problem with ``obj``'s metadata (types already checked), in field order."""
    meta: dict[str, Any] = obj["metadata"]
    errs: list[FieldError] = []
    rule = name_rule(rt)
    generate = meta.get("generateName") or ""
    if generate:
        errs.extend(FieldError.invalid("metadata.generateName", generate, m)
                    for m in rule(_prefix_name(generate)))
    name = meta.get("name") or ""
    if not name:
        errs.append(FieldError.required("metadata.name", "name or generateName is required"))
    else:
        errs.extend(FieldError.invalid("metadata.name", name, m) for m in rule(name))
    if rt.namespaced:
        namespace = meta.get("namespace") or ""
        if not namespace:
            errs.append(FieldError.required("metadata.namespace"))
        errs.extend(FieldError.invalid("metadata.namespace", namespace, m)
                    for m in (dns1123_label(namespace) if namespace else ()))
    labels: dict[str, str] = meta.get("labels") or {}
    for key in sorted(labels):
        errs.extend(FieldError.invalid("metadata.labels", key, m) for m in qualified_name(key))
        errs.extend(FieldError.invalid("metadata.labels", labels[key], m)
                    for m in label_value(labels[key]))
    annotations: dict[str, str] = meta.get("annotations") or {}
    for key in sorted(annotations):
        errs.extend(FieldError.invalid("metadata.annotations", key, m)
                    for m in qualified_name(key.lower()))
    if sum(_size(k) + _size(v) for k, v in annotations.items()) > ANNOTATIONS_MAX_BYTES:
        errs.append(FieldError.too_long("metadata.annotations", ANNOTATIONS_MAX_BYTES))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        errs.append(FieldError.invalid("metadata.generation", generation,
                                       "must be greater than or equal to 0"))
    return errs
