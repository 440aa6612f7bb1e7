"""Leader election on ``coordination.k8s.io/v1`` Leases, with client-go's rules (threads).

- :class:`LeaseLock` ``(client, namespace, name, identity)``: the Lease, read
  and written through a :class:`kubecache.kube.Client` with optimistic
  concurrency on its resourceVersion.
- :class:`LeaderElector` ``(lock, *, lease_duration=15.0, renew_deadline=10.0,
  retry_period=2.0, on_started_leading, on_stopped_leading=None,
  on_new_leader=None, release_on_cancel=False)``: ``run(stop)`` blocks while
  the candidate takes part; ``is_leader()``, ``get_leader()``.
- :class:`LeaderElectionRecord`: what the Lease says (holder, duration,
  acquire/renew times, transitions).

The asyncio twins live in :mod:`kubecache.aio.leaderelection`; both run the
same sans-I/O core (:mod:`._core`, where the rules are written down).
"""

from ._core import ElectionConfigError, LeaseCallTimeout
from ._lease import LeaseLock
from ._record import LeaderElectionRecord
from ._thread import LeaderElector

__all__ = ["ElectionConfigError", "LeaderElectionRecord", "LeaderElector", "LeaseCallTimeout",
           "LeaseLock"]
