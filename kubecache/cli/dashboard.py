"""Rendering of the demo's state: a rich dashboard, plain progress lines, a summary.

Everything here is a pure function of a :class:`DemoSnapshot`, so it is easy
to test and the demo loop only has to take snapshots. The layout is designed
for an 80-column terminal: two 38-column panes over two more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .churn import FAULT_COMPACT, FAULT_DROP, FAULT_FAIL


@dataclass
class DemoSnapshot:
    """One moment of the demo: the cache, the server and the churn generator."""

    phase: str = "starting"
    elapsed: float = 0.0
    duration: float | None = None
    url: str = ""
    # cache side
    objects: int = 0
    events: int = 0
    events_per_s: float = 0.0
    adds: int = 0
    updates: int = 0
    deletes: int = 0
    lists: int = 0
    relists: int = 0
    watch_restarts: int = 0
    errors: int = 0
    cache_rv: int | None = None
    queue_depth: int | None = None
    fifo_depth: int | None = None
    synced: bool = False
    # server side
    server_objects: int = 0
    server_rv: int | None = None
    # churn
    rate: float = 0.0
    target_objects: int = 0
    changes: int = 0
    creates: int = 0
    label_updates: int = 0
    status_updates: int = 0
    deletes_applied: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    # indexer
    namespaces: list[tuple[str, int]] = field(default_factory=list)
    namespace_count: int = 0
    index_p50_us: float | None = None
    index_p99_us: float | None = None
    index_queries: int = 0
    get_p50_us: float | None = None
    list_p50_ms: float | None = None

    @property
    def lag(self) -> int | None:
        """How many resourceVersions the cache is behind the server (None if unknown)."""
        if self.server_rv is None or self.cache_rv is None:
            return None
        return max(0, self.server_rv - self.cache_rv)

    @property
    def faults_total(self) -> int:
        return sum(self.faults.values())


def _num(value: float | int | None, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"


def _kv_table() -> Table:
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(style="cyan", no_wrap=True, ratio=3)
    table.add_column(justify="right", no_wrap=True, ratio=2)
    return table


def _cache_pane(s: DemoSnapshot) -> Panel:
    t = _kv_table()
    t.add_row("objects cached", Text(_num(s.objects), style="bold"))
    t.add_row("events/s", Text(_num(s.events_per_s), style="bold green"))
    t.add_row("events total", _num(s.events))
    t.add_row("  add/upd/del", f"{_short(s.adds)}/{_short(s.updates)}/{_short(s.deletes)}")
    t.add_row("watch restarts", _num(s.watch_restarts))
    t.add_row("relists", Text(_num(s.relists), style="yellow" if s.relists else ""))
    t.add_row("errors retried", Text(_num(s.errors), style="yellow" if s.errors else ""))
    lag = s.lag
    lag_style = "green" if lag is not None and lag < 50 else "yellow"
    t.add_row("rv server/cache", f"{_num(s.server_rv, 'd')}/{_num(s.cache_rv, 'd')}")
    t.add_row("rv lag", Text(_num(lag), style=lag_style))
    t.add_row("fifo/handler queue", f"{_num(s.fifo_depth)}/{_num(s.queue_depth)}")
    synced = Text("synced", style="green") if s.synced else Text("listing...", style="yellow")
    return Panel(t, title="informer cache", title_align="left", box=box.ROUNDED,
                 subtitle=synced, subtitle_align="right")


def _churn_pane(s: DemoSnapshot) -> Panel:
    t = _kv_table()
    t.add_row("server objects", Text(_num(s.server_objects), style="bold"))
    t.add_row("target objects", _num(s.target_objects))
    t.add_row("target rate", f"{_num(s.rate)}/s")
    t.add_row("changes", _num(s.changes))
    t.add_row("  creates", _num(s.creates))
    t.add_row("  label updates", _num(s.label_updates))
    t.add_row("  status updates", _num(s.status_updates))
    t.add_row("  deletes", _num(s.deletes_applied))
    f = s.faults
    t.add_row("faults", Text(_num(s.faults_total), style="red" if s.faults_total else ""))
    t.add_row("  drop/410/5xx", f"{f.get(FAULT_DROP, 0)}/{f.get(FAULT_COMPACT, 0)}"
              f"/{f.get(FAULT_FAIL, 0)}")
    return Panel(t, title="server + churn", title_align="left", box=box.ROUNDED)


def _namespace_pane(s: DemoSnapshot, top: int) -> Panel:
    t = Table.grid(padding=(0, 1), expand=True)
    t.add_column(style="cyan", no_wrap=True)
    t.add_column(no_wrap=True, ratio=1)
    t.add_column(justify="right", no_wrap=True)
    rows = s.namespaces[:top]
    peak = max((n for _, n in rows), default=0)
    for ns, n in rows:
        width = 0 if peak == 0 else max(1, round(12 * n / peak))
        t.add_row(ns, Text("█" * width, style="blue"), f"{n:,}")
    title = f"objects per namespace (top {len(rows)} of {s.namespace_count})"
    return Panel(t, title=title, title_align="left", box=box.ROUNDED)


def _index_pane(s: DemoSnapshot) -> Panel:
    t = _kv_table()
    t.add_row("by_index ns p50", f"{_num(s.index_p50_us, ',.1f')} µs")
    t.add_row("by_index ns p99", f"{_num(s.index_p99_us, ',.1f')} µs")
    t.add_row("get_by_key p50", f"{_num(s.get_p50_us, ',.1f')} µs")
    t.add_row("list() all p50", f"{_num(s.list_p50_ms, ',.2f')} ms")
    mean = s.objects / s.namespace_count if s.namespace_count else None
    t.add_row("objects/ns mean", _num(mean))
    t.add_row("queries timed", _num(s.index_queries))
    return Panel(t, title="index queries", title_align="left", box=box.ROUNDED)


def _short(n: int) -> str:
    """A compact count: 950, 12.3k, 4.1M."""
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def render_dashboard(s: DemoSnapshot, *, top: int = 6) -> RenderableType:
    """The live dashboard for one snapshot (fits an 80x30 terminal)."""
    limit = f" / {_clock(s.duration)}" if s.duration else ""
    header = Text.assemble(
        ("kubecache demo", "bold magenta"), "  ",
        (s.phase, "bold yellow" if s.phase != "churning" else "bold green"), "  ",
        (f"{_clock(s.elapsed)}{limit}", "bold"), "  ",
        (s.url, "dim"),
    )
    top_row = Table.grid(expand=True)
    top_row.add_column(ratio=1)
    top_row.add_column(ratio=1)
    top_row.add_row(_cache_pane(s), _churn_pane(s))
    bottom_row = Table.grid(expand=True)
    bottom_row.add_column(ratio=1)
    bottom_row.add_column(ratio=1)
    bottom_row.add_row(_namespace_pane(s, top), _index_pane(s))
    footer = Text("Ctrl-C stops the churn, checks cache == server and prints a summary",
                  style="dim")
    return Group(header, top_row, bottom_row, footer)


def progress_line(s: DemoSnapshot) -> str:
    """One plain line for non-terminal output (logs, CI)."""
    lag = s.lag
    return (
        f"[{s.elapsed:6.1f}s] {s.phase:<9} objects={s.objects} server={s.server_objects}"
        f" events={s.events} ({s.events_per_s:.0f}/s) restarts={s.watch_restarts}"
        f" relists={s.relists} lag={'-' if lag is None else lag} faults={s.faults_total}"
    )


def summary_json(summary: Mapping[str, Any]) -> str:
    """The summary as one compact JSON line (for ``--json``)."""
    return json.dumps(summary, sort_keys=True, separators=(",", ":"))


def render_summary(summary: Mapping[str, Any]) -> RenderableType:
    """A human-readable table of the end-of-run summary."""
    ok = summary.get("diff") == 0
    t = Table(box=box.SIMPLE_HEAVY, show_header=False, pad_edge=False)
    t.add_column(style="cyan", no_wrap=True)
    t.add_column(justify="right")
    for label, key in _SUMMARY_ROWS:
        if key in summary:
            value = summary[key]
            t.add_row(label, _fmt_summary_value(value))
    verdict = (Text("cache == server: OK (diff 0)", style="bold green") if ok else
               Text(f"cache != server: diff {summary.get('diff')}", style="bold red"))
    return Group(t, verdict)


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The summary as plain ``label: value`` lines."""
    lines = [f"{label}: {_fmt_summary_value(summary[key])}"
             for label, key in _SUMMARY_ROWS if key in summary]
    diff = summary.get("diff")
    lines.append("cache == server: OK (diff 0)" if diff == 0 else
                 f"cache != server: diff {diff}")
    return lines


def _fmt_summary_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


_SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("duration (s)", "duration_s"),
    ("objects in cache", "objects"),
    ("objects on server", "server_objects"),
    ("changes applied", "changes"),
    ("events delivered", "events"),
    ("events/s (mean)", "events_per_s"),
    ("lists", "lists"),
    ("relists", "relists"),
    ("watch restarts", "watch_restarts"),
    ("faults injected", "faults"),
    ("faults by kind", "faults_by_kind"),
    ("catch-up time (s)", "settle_s"),
    ("by_index p50 (µs)", "index_p50_us"),
    ("by_index p99 (µs)", "index_p99_us"),
    ("missing in cache", "missing"),
    ("extra in cache", "extra"),
    ("stale in cache", "stale"),
    ("diff", "diff"),
)
