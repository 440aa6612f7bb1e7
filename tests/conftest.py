"""Shared test configuration: hypothesis settings suited to a busy, shared CI machine."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Timing-based health checks and per-example deadlines flake when other jobs share the CPU.
settings.register_profile(
    "kubecache",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("kubecache")
