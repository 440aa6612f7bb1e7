"""``kubecache demo``: the embedded API server under churn, mirrored by an informer.

Sequence: start the server, create the initial pods in-process (fast), start a
SharedIndexInformer that lists and watches the server over real HTTP through a
kubeconfig, wait for its first sync, then run the churn generator (with
injected faults) while a dashboard shows the cache. At the end the churn stops,
the cache gets a deadline to catch up, and the cache is compared with the
server's state; any difference makes the exit code non-zero.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from ..backoff import Backoff
from .churn import FAULT_KINDS, Churn, namespace_names
from .common import CliError, import_apiserver, import_kube, make_console, sigterm_as_interrupt
from .dashboard import (
    DemoSnapshot,
    progress_line,
    render_dashboard,
    render_summary,
    summary_json,
    summary_lines,
)
from .mirror import (
    Mirror,
    QueryTimer,
    StateDiff,
    diff_states,
    percentile,
    rv_int,
    versions_of,
)


@dataclass
class DemoOptions:
    """The demo's knobs (the command's options)."""

    pods: int = 5000
    namespaces: int = 20
    rate: float = 300.0
    faults: bool = True
    fault_interval: float = 4.0
    duration: float | None = None
    json: bool = False
    metrics_port: int | None = None
    seed: int | None = None
    sync_timeout: float = 60.0
    settle_timeout: float = 30.0
    top: int = 6

    def validate(self) -> None:
        if self.pods < 0:
            raise CliError(f"--pods must be >= 0, got {self.pods}", 2)
        if self.namespaces < 1:
            raise CliError(f"--namespaces must be >= 1, got {self.namespaces}", 2)
        if self.rate < 0:
            raise CliError(f"--rate must be >= 0, got {self.rate}", 2)
        if self.duration is not None and self.duration <= 0:
            raise CliError(f"--duration must be > 0 seconds, got {self.duration}", 2)
        if self.fault_interval <= 0:
            raise CliError(f"--fault-interval must be > 0 seconds, got {self.fault_interval}", 2)


class _Rate:
    """Events per second over a sliding window of recent samples."""

    def __init__(self, window: float = 2.0) -> None:
        self._samples: deque[tuple[float, int]] = deque()
        self._window = window

    def update(self, now: float, total: int) -> float:
        self._samples.append((now, total))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()
        t0, n0 = self._samples[0]
        return 0.0 if now <= t0 else (total - n0) / (now - t0)


class Demo:
    """One run of the demo; :meth:`run` returns the process exit code."""

    def __init__(self, opts: DemoOptions, console: Console | None = None) -> None:
        opts.validate()
        self.opts = opts
        self.out = console or make_console()
        # With --json stdout carries only the final JSON line; progress goes to stderr.
        self.progress = make_console(stderr=True) if opts.json else self.out
        self.live_view = self.progress.is_terminal and not opts.json
        self.phase = "starting"
        self.timer = QueryTimer(seed=opts.seed)
        self._rate = _Rate()
        self._t0 = time.monotonic()
        self._churn_started: float | None = None
        self._churn_stopped: float | None = None
        self._events_at_start = 0
        self.server: Any = None
        self.churn: Churn | None = None
        self.mirror: Mirror | None = None
        self._metrics: Any = None
        self._client: Any = None

    # -- lifecycle -------------------------------------------------------------

    def run(self) -> int:
        kube = import_kube()
        api_server_cls = import_apiserver()
        opts = self.opts
        with contextlib.ExitStack() as stack, sigterm_as_interrupt():
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="kubecache-demo-"))
            self.server = api_server_cls()
            self.server.start()
            stack.callback(self.server.stop)
            namespaces = namespace_names(opts.namespaces)
            self.churn = Churn(self.server, namespaces=namespaces, pods=opts.pods,
                               rate=opts.rate, faults=self.server if opts.faults else None,
                               fault_interval=opts.fault_interval, seed=opts.seed)
            self._create_namespaces(namespaces)
            self._say(f"seeding {opts.pods:,} pods in {opts.namespaces} namespaces "
                      f"on {self.server.url} ...")
            t = time.monotonic()
            self.churn.seed()
            self._say(f"seeded {self.churn.stats.seeded:,} pods in {time.monotonic() - t:.2f}s")

            kubeconfig = Path(tmp) / "kubeconfig"
            self.server.write_kubeconfig(str(kubeconfig))
            self._client = kube.Client.from_kubeconfig(str(kubeconfig))
            stack.callback(self._client.close)
            lw = kube.new_list_watch_from_client(self._client, "pods")
            # The server is local and the faults are frequent: retry quickly (client-go's
            # 0.8 s..30 s backoff would spend most of a short demo waiting).
            self.mirror = Mirror(lw, time_handler=opts.metrics_port is not None, name="pods",
                                 backoff=Backoff(initial=0.1, maximum=2.0, reset_after=10.0))
            if opts.metrics_port is not None:
                from .metrics import start_metrics_server

                self._metrics = start_metrics_server(opts.metrics_port, self.mirror, "pods")
                stack.callback(self._metrics.close)
                self._say(f"Prometheus metrics on http://127.0.0.1:{opts.metrics_port}/metrics")
            self.mirror.start()
            stack.callback(self.mirror.stop)

            stop_churn = threading.Event()
            churn_thread = threading.Thread(target=self.churn.run, args=(stop_churn,),
                                            name="kubecache-churn", daemon=True)
            try:
                self._watch_loop(churn_thread)
            finally:
                stop_churn.set()
                if churn_thread.is_alive():
                    churn_thread.join(5.0)
                self._churn_stopped = time.monotonic()
            summary = self._settle_and_compare()
        self._report(summary)
        return 0 if summary["diff"] == 0 else 1

    def _create_namespaces(self, names: list[str]) -> None:
        """Create Namespace objects so ``kubectl get ns`` shows them (best effort)."""
        for ns in names:
            with contextlib.suppress(Exception):
                self.server.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": ns}})

    def _watch_loop(self, churn_thread: threading.Thread) -> None:
        """Wait for the first sync, then run the churn for --duration (or until Ctrl-C)."""
        assert self.mirror is not None
        tick = 0.25 if self.live_view else 0.5
        print_every = 2.0
        last_print = -print_every
        deadline: float | None = None
        live: Live | None = None
        interrupted = False
        if self.live_view:
            live = Live(render_dashboard(self.snapshot()), console=self.progress,
                        refresh_per_second=4, transient=False, redirect_stderr=True)
            live.start()
        try:
            self.phase = "listing"
            while True:
                now = time.monotonic()
                if self._churn_started is None:
                    if self.mirror.has_synced():
                        self._churn_started = now
                        self._events_at_start = self.mirror.handler.events
                        churn_thread.start()
                        self.phase = "churning"
                        if self.opts.duration is not None:
                            deadline = now + self.opts.duration
                    elif now - self._t0 > self.opts.sync_timeout:
                        raise CliError(f"the informer did not sync with {self.server.url} "
                                       f"within {self.opts.sync_timeout:.0f}s")
                elif deadline is not None and now >= deadline:
                    return
                self.timer.probe(self.mirror.indexer, list_all=True)
                snap = self.snapshot()
                if live is not None:
                    live.update(render_dashboard(snap, top=self.opts.top))
                elif now - last_print >= print_every:
                    last_print = now
                    print(progress_line(snap), file=self.progress.file, flush=True)
                time.sleep(tick if deadline is None else max(0.0, min(tick, deadline - now)))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if live is not None:
                self.phase = "settling"
                live.update(render_dashboard(self.snapshot(), top=self.opts.top))
                live.stop()
        if interrupted:
            self._say("interrupted: stopping the churn")

    def _settle_and_compare(self) -> dict[str, Any]:
        """Give the cache a deadline to catch up, then compare it with the server."""
        assert self.mirror is not None and self.churn is not None
        self.phase = "settling"
        start = time.monotonic()
        deadline = start + self.opts.settle_timeout
        server_versions = versions_of(self.server.list_objects("pods"))
        server_rv = rv_int(str(self.server.resource_version))

        def caught_up() -> tuple[bool, StateDiff]:
            assert self.mirror is not None
            d = diff_states(self.mirror.key_versions(), server_versions)
            c = self.mirror.counters()
            cache_rv = rv_int(c.last_sync_rv)
            done = (d.total == 0 and not c.queue_depth and not c.fifo_depth
                    and (server_rv is None or cache_rv is None or cache_rv >= server_rv))
            return done, d

        done, diff = caught_up()
        try:
            while not done and time.monotonic() < deadline:
                time.sleep(0.05)
                done, diff = caught_up()
        except KeyboardInterrupt:
            self._say("interrupted while waiting for the cache to catch up")
        settle = time.monotonic() - start
        snap = self.snapshot()
        churned = (self._churn_stopped or time.monotonic()) - (self._churn_started
                                                                or time.monotonic())
        stats = self.churn.stats
        return {
            "objects": len(self.mirror.indexer.list()),
            "server_objects": len(server_versions),
            "events": snap.events,
            "events_per_s": (round((snap.events - self._events_at_start) / churned, 1)
                             if churned > 0 else 0.0),
            "changes": stats.changes,
            "lists": snap.lists,
            "relists": snap.relists,
            "watch_restarts": snap.watch_restarts,
            "faults": stats.faults_total,
            "faults_by_kind": dict(stats.faults),
            "duration_s": round(churned, 2),
            "settle_s": round(settle, 2),
            "index_p50_us": _round(snap.index_p50_us),
            "index_p99_us": _round(snap.index_p99_us),
            "missing": diff.missing,
            "extra": diff.extra,
            "stale": diff.stale,
            "diff": diff.total,
        }

    def _report(self, summary: dict[str, Any]) -> None:
        if self.opts.json:
            for line in summary_lines(summary):
                print(line, file=self.progress.file)
            print(summary_json(summary), file=self.out.file, flush=True)
        elif self.out.is_terminal:
            self.out.print(render_summary(summary))
        else:
            for line in summary_lines(summary):
                print(line, file=self.out.file)
            sys.stdout.flush()

    def _say(self, text: str) -> None:
        print(text, file=self.progress.file, flush=True)

    # -- snapshots -------------------------------------------------------------

    def snapshot(self) -> DemoSnapshot:
        """The current state of server, churn and cache, for rendering."""
        now = time.monotonic()
        s = DemoSnapshot(phase=self.phase, duration=self.opts.duration,
                         rate=self.opts.rate, target_objects=self.opts.pods)
        s.elapsed = now - (self._churn_started or self._t0)
        if self.server is not None:
            s.url = str(self.server.url)
            s.server_rv = rv_int(str(self.server.resource_version))
        churn = self.churn
        if churn is not None:
            st = churn.stats
            s.server_objects = len(churn)
            s.changes, s.creates, s.deletes_applied = st.changes, st.creates, st.deletes
            s.label_updates, s.status_updates = st.label_updates, st.status_updates
            s.faults = {k: st.faults.get(k, 0) for k in FAULT_KINDS}
        m = self.mirror
        if m is not None:
            h = m.handler
            s.adds, s.updates, s.deletes = h.adds, h.updates, h.deletes
            s.events = h.events
            s.events_per_s = self._rate.update(now, s.events)
            c = m.counters()
            s.lists, s.relists, s.watch_restarts, s.errors = (c.lists, c.relists,
                                                              c.watch_restarts, c.errors)
            s.cache_rv = rv_int(c.last_sync_rv)
            s.queue_depth = c.queue_depth
            s.fifo_depth = c.fifo_depth
            s.synced = m.has_synced()
            idx = m.indexer
            s.objects = len(idx)
            counts = m.namespace_counts()
            s.namespaces = counts[: self.opts.top]
            s.namespace_count = len(counts)
        t = self.timer
        s.index_p50_us = _us(percentile(t.by_index, 0.5))
        s.index_p99_us = _us(percentile(t.by_index, 0.99))
        s.get_p50_us = _us(percentile(t.get, 0.5))
        lp = percentile(t.list_all, 0.5)
        s.list_p50_ms = None if lp is None else lp * 1e3
        s.index_queries = t.queries
        return s


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e6


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run_demo(opts: DemoOptions) -> int:
    """Entry point used by the ``demo`` command."""
    return Demo(opts).run()
