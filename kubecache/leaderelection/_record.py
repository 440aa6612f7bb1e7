"""The leader election record: what a Lease's spec says about who leads.

A :class:`LeaderElectionRecord` is a value (frozen, comparable) mirroring the
``coordination.k8s.io/v1`` ``LeaseSpec`` fields leader election uses:
``holderIdentity``, ``leaseDurationSeconds``, ``acquireTime``, ``renewTime``
(``MicroTime``: RFC 3339 with microseconds, ``2026-12-07T01:02:03.123456Z``)
and ``leaseTransitions``. The timestamps are informational: candidates never
compare them with their own clocks (see :mod:`._core`), so a record written by
a machine whose wall clock is off is judged exactly like any other.
No I/O here.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LeaderElectionRecord", "format_micro_time", "parse_micro_time"]

_UTC = _dt.timezone.utc
_FRACTION = re.compile(r"\.(\d+)")


def format_micro_time(when: _dt.datetime) -> str:
    """``when`` as a Kubernetes ``MicroTime``: UTC, six fractional digits, ``Z``."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_UTC)
    return when.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: Any) -> _dt.datetime | None:
    """An RFC 3339 timestamp (with or without fractional seconds) as an aware datetime.

    ``None`` for a missing or unreadable value: the times are informational,
    so a foreign writer's odd timestamp must never break an election.
    """
    if not isinstance(text, str) or not text:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python 3.10's parser takes exactly 3 or 6 fractional digits: pad or cut to 6.
    value = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], value, count=1)
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class LeaderElectionRecord:
    """Who holds a lease, for how long, since when, and how often it changed hands.

    ``holder_identity`` ``""`` means nobody holds it (never acquired, or
    released). ``lease_duration_seconds`` is how long, after a candidate last
    saw the record change, the candidate must wait before taking over.
    """

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: _dt.datetime | None = None
    renew_time: _dt.datetime | None = None
    lease_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> LeaderElectionRecord:
        """The record a Lease's ``spec`` holds (missing fields: their zero values)."""
        spec = spec if isinstance(spec, Mapping) else {}
        holder = spec.get("holderIdentity")
        return cls(
            holder_identity=holder if isinstance(holder, str) else "",
            lease_duration_seconds=_int(spec.get("leaseDurationSeconds")),
            acquire_time=parse_micro_time(spec.get("acquireTime")),
            renew_time=parse_micro_time(spec.get("renewTime")),
            lease_transitions=_int(spec.get("leaseTransitions")),
        )

    def to_spec(self) -> dict[str, Any]:
        """The Lease ``spec`` fields for this record (an empty holder is written as ``""``)."""
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.lease_transitions,
        }
        if self.acquire_time is not None:
            spec["acquireTime"] = format_micro_time(self.acquire_time)
        if self.renew_time is not None:
            spec["renewTime"] = format_micro_time(self.renew_time)
        return spec
