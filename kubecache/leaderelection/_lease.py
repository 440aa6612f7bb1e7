"""The Lease lock: one ``coordination.k8s.io/v1`` Lease, written with optimistic concurrency.

:class:`LeaseRequests` is the sans-I/O half shared by both front ends: it
builds each request (method, path, body) and reads each answer, keeping the
last Lease it saw. An update sends that Lease back with the new spec, so its
``metadata.resourceVersion`` is a precondition: if anybody wrote the Lease
since, the server answers ``409 Conflict`` and the caller must read again.
:class:`LeaseLock` (here, for :class:`kubecache.kube.Client`) and its asyncio
twin (:mod:`kubecache.aio.leaderelection`, for ``AsyncClient``) only perform
the requests. A failure answer is the client's
:class:`~kubecache.errors.StatusError` (``404`` when the Lease does not exist,
``409`` on a conflict).

A lock is used by one elector at a time (its own thread or task); it holds no
lock of its own.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import CacheError, MalformedDataError
from ._record import LeaderElectionRecord

__all__ = ["LeaseLock", "LeaseRequest", "LeaseRequests", "SyncLock"]

GROUP_VERSION = "coordination.k8s.io/v1"


@dataclass(frozen=True)
class LeaseRequest:
    """One HTTP request to make: ``method`` on ``path`` with a JSON ``body`` (or none)."""

    method: str
    path: str
    body: dict[str, Any] | None = None


def _require(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"LeaseLock: {what} must be a non-empty string, got {value!r}")
    return value


class LeaseRequests:
    """Builds the Lease's requests and reads their answers (no I/O).

    ``lease`` is the last Lease read or written (``None`` before the first):
    updates are built from it.
    """

    def __init__(self, namespace: str, name: str) -> None:
        self.namespace = _require(namespace, "namespace")
        self.name = _require(name, "name")
        self.collection_path = f"/apis/{GROUP_VERSION}/namespaces/{namespace}/leases"
        self.path = f"{self.collection_path}/{name}"
        self.lease: dict[str, Any] | None = None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    def get(self) -> LeaseRequest:
        return LeaseRequest("GET", self.path)

    def create(self, record: LeaderElectionRecord) -> LeaseRequest:
        body = {"apiVersion": GROUP_VERSION, "kind": "Lease",
                "metadata": {"namespace": self.namespace, "name": self.name},
                "spec": record.to_spec()}
        return LeaseRequest("POST", self.collection_path, body)

    def update(self, record: LeaderElectionRecord) -> LeaseRequest:
        """A PUT of the last Lease seen with ``record`` as its spec (its rv the precondition).

        Spec fields leader election does not own (``strategy``,
        ``preferredHolder``) are kept as they were.
        """
        if self.lease is None:
            raise CacheError(f"lease {self.describe()}: update before the lease was read "
                             f"or created (read it first)")
        body = copy.deepcopy(self.lease)
        old_spec = body.get("spec")
        spec = dict(old_spec) if isinstance(old_spec, Mapping) else {}
        for key in ("acquireTime", "renewTime"):
            spec.pop(key, None)
        spec.update(record.to_spec())
        body["spec"] = spec
        body.setdefault("apiVersion", GROUP_VERSION)
        body.setdefault("kind", "Lease")
        return LeaseRequest("PUT", self.path, body)

    def answer(self, obj: Any) -> LeaderElectionRecord:
        """Remember the Lease a server answered with and return its record."""
        if not isinstance(obj, Mapping) or not isinstance(obj.get("metadata"), Mapping):
            raise MalformedDataError(f"lease {self.describe()}: the answer is not a Lease "
                                     f"(got {type(obj).__name__})")
        self.lease = copy.deepcopy(dict(obj))
        spec = obj.get("spec")
        return LeaderElectionRecord.from_spec(spec if isinstance(spec, Mapping) else None)

    def resource_version(self) -> str:
        """The resourceVersion of the last Lease seen (``""`` before the first)."""
        if self.lease is None:
            return ""
        return str(self.lease["metadata"].get("resourceVersion") or "")


class SyncLock(Protocol):
    """What the threaded elector needs of a lock (a :class:`LeaseLock` or a test double).

    ``get`` raises an exception with ``code == 404`` when there is no record
    yet; ``create``/``update`` one with ``code == 409`` on a conflict.
    """

    identity: str

    def describe(self) -> str: ...

    def get(self) -> LeaderElectionRecord: ...

    def create(self, record: LeaderElectionRecord) -> LeaderElectionRecord: ...

    def update(self, record: LeaderElectionRecord) -> LeaderElectionRecord: ...


class _Requester(Protocol):
    def request(self, method: str, path: str, *, body: Any = None) -> Any: ...


class LeaseLock:
    """A Lease lock through a :class:`kubecache.kube.Client` (threads).

    ``identity`` names this candidate (unique among the candidates, e.g. the
    pod name plus a random suffix). ``get``/``create``/``update`` return the
    record the server stored and raise the client's ``StatusError`` on a
    failure answer (404: no Lease yet; 409: somebody else wrote it first).
    """

    def __init__(self, client: _Requester, namespace: str, name: str, identity: str) -> None:
        self.identity = _require(identity, "identity")
        self.requests = LeaseRequests(namespace, name)
        self._client = client

    def describe(self) -> str:
        return self.requests.describe()

    def _do(self, request: LeaseRequest) -> LeaderElectionRecord:
        answer = self._client.request(request.method, request.path, body=request.body)
        return self.requests.answer(answer)

    def get(self) -> LeaderElectionRecord:
        return self._do(self.requests.get())

    def create(self, record: LeaderElectionRecord) -> LeaderElectionRecord:
        return self._do(self.requests.create(record))

    def update(self, record: LeaderElectionRecord) -> LeaderElectionRecord:
        return self._do(self.requests.update(record))

    def __repr__(self) -> str:
        return f"LeaseLock({self.describe()}, identity={self.identity!r})"
