"""The demo's churn generator: a steady stream of pod changes plus injected faults.

A :class:`Churn` drives any object with the embedded server's in-process write
API (``create``/``patch``/``delete``) at a target rate: creations, label
updates, status updates and deletions, keeping the population near its target
size. With faults enabled it also, every few seconds, drops every open watch,
compacts the history (so a watch re-opened from an old resourceVersion gets a
410 and the informer must relist) or makes the next requests fail.

The generator keeps its own model of which pods exist, so choosing a victim is
O(1) and it never touches the server's read path.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

log = logging.getLogger(__name__)

POD_RESOURCE = "pods"
PHASES = ("Pending", "Running", "Running", "Running", "Succeeded", "Failed")
APPS = ("web", "api", "worker", "cache", "batch", "proxy", "db", "cron")
TIERS = ("frontend", "backend", "data")
TRACKS = ("stable", "canary")
REVISION_ANNOTATION = "demo.kubecache.io/revision"

# Fault kinds, in the order of how often they are picked.
FAULT_DROP = "drop_watches"
FAULT_COMPACT = "compact"
FAULT_FAIL = "fail_requests"
FAULT_KINDS = (FAULT_DROP, FAULT_COMPACT, FAULT_FAIL)
_FAULT_WEIGHTS = (5, 3, 2)


class ChurnTarget(Protocol):
    """The in-process write API of :class:`kubecache.testing.ApiServer`."""

    def create(self, resource: str, obj: dict[str, Any]) -> Any: ...

    def patch(self, resource: str, name: str, patch: dict[str, Any],
              namespace: str = "") -> Any: ...

    def delete(self, resource: str, name: str, namespace: str = "") -> Any: ...


class FaultTarget(Protocol):
    """The embedded server's fault controls."""

    def drop_watches(self) -> Any: ...

    def compact(self) -> Any: ...

    def fail_next(self, n: int, code: int = 500, reason: str = "") -> Any: ...


@dataclass
class ChurnStats:
    """What the generator has done so far (plain counters, read without locking)."""

    seeded: int = 0
    creates: int = 0
    label_updates: int = 0
    status_updates: int = 0
    deletes: int = 0
    errors: int = 0
    faults: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 0))

    @property
    def changes(self) -> int:
        """Changes applied after seeding."""
        return self.creates + self.label_updates + self.status_updates + self.deletes

    @property
    def faults_total(self) -> int:
        return sum(self.faults.values())


def namespace_names(count: int) -> list[str]:
    """The demo's namespace names: ``demo-00`` ... (zero-padded to sort well)."""
    if count < 1:
        raise ValueError(f"need at least one namespace, got {count}")
    width = max(2, len(str(count - 1)))
    return [f"demo-{i:0{width}d}" for i in range(count)]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Churn:
    """Generates pod churn against ``target``; see the module docstring.

    ``rate`` is in changes per second. ``faults`` (usually the same server)
    enables fault injection, one every ``fault_interval`` seconds on average.
    ``seed`` makes
    the sequence of operations reproducible.
    """

    def __init__(
        self,
        target: ChurnTarget,
        *,
        namespaces: list[str],
        pods: int,
        rate: float,
        faults: FaultTarget | None = None,
        fault_interval: float = 4.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not namespaces:
            raise ValueError("churn needs at least one namespace")
        if pods < 0:
            raise ValueError(f"pods must be >= 0, got {pods}")
        if rate < 0:
            raise ValueError(f"rate must be >= 0, got {rate}")
        self._target = target
        self._faults = faults
        self._fault_interval = fault_interval
        self.namespaces = list(namespaces)
        self.target_pods = pods
        self.rate = rate
        self.stats = ChurnStats()
        self._rng = random.Random(seed)
        self._clock = clock
        self._seq = 0
        # Live pods: a list for O(1) random choice plus a position index for O(1) removal.
        self._live: list[tuple[str, str]] = []
        self._pos: dict[tuple[str, str], int] = {}

    # -- model -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    def live_keys(self) -> set[str]:
        """``namespace/name`` of every pod the generator believes exists."""
        return {f"{ns}/{name}" for ns, name in self._live}

    def _remember(self, key: tuple[str, str]) -> None:
        self._pos[key] = len(self._live)
        self._live.append(key)

    def _forget(self, key: tuple[str, str]) -> None:
        i = self._pos.pop(key)
        last = self._live.pop()
        if i < len(self._live):
            self._live[i] = last
            self._pos[last] = i

    def new_pod(self, namespace: str | None = None) -> dict[str, Any]:
        """A fresh, realistic-looking pod manifest with a unique name."""
        rng = self._rng
        ns = namespace if namespace is not None else rng.choice(self.namespaces)
        app = rng.choice(APPS)
        self._seq += 1
        name = f"{app}-{self._seq:06d}"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "creationTimestamp": _now(),
                "labels": {"app": app, "tier": rng.choice(TIERS), "track": "stable"},
            },
            "spec": {
                "nodeName": f"node-{rng.randrange(50):02d}",
                "containers": [{"name": app, "image": f"registry.local/{app}:1.{self._seq % 9}"}],
            },
            "status": {"phase": "Pending", "podIP": f"10.{rng.randrange(256)}."
                       f"{rng.randrange(256)}.{rng.randrange(1, 255)}"},
        }

    # -- operations ----------------------------------------------------------

    def seed(self, progress: Callable[[int], None] | None = None) -> None:
        """Create the initial population, spread round-robin over the namespaces."""
        for i in range(self.target_pods - len(self._live)):
            ns = self.namespaces[i % len(self.namespaces)]
            if self._create(ns):
                self.stats.seeded += 1
            if progress is not None and i % 500 == 0:
                progress(self.stats.seeded)
        if progress is not None:
            progress(self.stats.seeded)

    def step(self) -> str:
        """Apply one random change and return its kind (``create``, ``label``, ...)."""
        kind = self._pick()
        if kind == "create":
            if self._create(None):
                self.stats.creates += 1
        elif kind == "delete":
            key = self._live[self._rng.randrange(len(self._live))]
            if self._call(self._target.delete, POD_RESOURCE, key[1], key[0]):
                self.stats.deletes += 1
            self._forget(key)
        else:
            key = self._live[self._rng.randrange(len(self._live))]
            patch = self._label_patch() if kind == "label" else self._status_patch()
            if self._call(self._target.patch, POD_RESOURCE, key[1], patch, key[0]):
                if kind == "label":
                    self.stats.label_updates += 1
                else:
                    self.stats.status_updates += 1
        return kind

    def _pick(self) -> str:
        """Choose an operation; creations and deletions steer the size towards the target."""
        n, target = len(self._live), self.target_pods
        if n == 0:
            return "create"
        r = self._rng.random()
        # Base mix: 15% create, 15% delete, 30% label, 40% status; nudge the
        # create/delete split by how far the population is from its target.
        skew = -0.15 if target == 0 else max(-0.1, min(0.1, (target - n) / target))
        if r < 0.15 + skew:
            return "create"
        if r < 0.30:
            return "delete"
        if r < 0.60:
            return "label"
        return "status"

    def _revision(self) -> dict[str, str]:
        # A patch that changes nothing is a no-op for the server (no new resourceVersion,
        # no event); a fresh annotation makes every change real, so changes == events.
        self._seq += 1
        return {REVISION_ANNOTATION: str(self._seq)}

    def _label_patch(self) -> dict[str, Any]:
        rng = self._rng
        return {"metadata": {"labels": {"tier": rng.choice(TIERS), "track": rng.choice(TRACKS)},
                             "annotations": self._revision()}}

    def _status_patch(self) -> dict[str, Any]:
        return {"metadata": {"annotations": self._revision()},
                "status": {"phase": self._rng.choice(PHASES)}}

    def _create(self, namespace: str | None) -> bool:
        pod = self.new_pod(namespace)
        meta = pod["metadata"]
        if not self._call(self._target.create, POD_RESOURCE, pod):
            return False
        self._remember((meta["namespace"], meta["name"]))
        return True

    def _call(self, fn: Callable[..., Any], *args: Any) -> bool:
        try:
            fn(*args)
        except Exception as err:  # the server is the only judge; count and go on
            self.stats.errors += 1
            log.debug("churn: %s%r failed: %s", getattr(fn, "__name__", fn), args[:2], err)
            return False
        return True

    def inject_fault(self, kind: str | None = None) -> str | None:
        """Inject one fault (a random kind unless given); returns its kind, or None."""
        if self._faults is None:
            return None
        kind = kind or self._rng.choices(FAULT_KINDS, _FAULT_WEIGHTS)[0]
        try:
            if kind == FAULT_DROP:
                self._faults.drop_watches()
            elif kind == FAULT_COMPACT:
                # Compaction alone leaves open watches alone; dropping them makes the
                # informer re-watch from a now-compacted resourceVersion -> 410 -> relist.
                self._faults.compact()
                self._faults.drop_watches()
            elif kind == FAULT_FAIL:
                self._faults.fail_next(2, code=503, reason="ServiceUnavailable")
            else:
                raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        except ValueError:
            raise
        except Exception as err:
            log.warning("churn: injecting fault %s failed: %s", kind, err)
            return None
        self.stats.faults[kind] += 1
        return kind

    def _next_fault_delay(self) -> float:
        return self._fault_interval * self._rng.uniform(0.5, 1.5)

    def run(self, stop: threading.Event, tick: float = 0.02) -> None:
        """Apply changes at ``rate`` per second (and faults) until ``stop`` is set.

        Falls behind gracefully: when a tick cannot keep up, the backlog is
        dropped rather than replayed in a burst.
        """
        start = self._clock()
        done = 0
        max_burst = max(1, int(self.rate * 0.25))
        next_fault = start + self._next_fault_delay()
        while not stop.is_set():
            now = self._clock()
            due = int((now - start) * self.rate) - done
            if due > max_burst:  # we fell behind: forget the backlog
                done += due - max_burst
                due = max_burst
            for _ in range(due):
                try:
                    self.step()
                except Exception:  # never let the generator thread die silently
                    self.stats.errors += 1
                    log.exception("churn: step failed")
                done += 1
            if self._faults is not None and self._fault_interval > 0 and now >= next_fault:
                self.inject_fault()
                next_fault = now + self._next_fault_delay()
            stop.wait(tick)
