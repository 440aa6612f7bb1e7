"""Human-readable durations, shared by kubectl-style tables (the embedded server, the CLI)."""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """kubectl's short age format: ``12s``, ``5m3s``, ``7h``, ``3d4h``, ``2y``."""
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"
