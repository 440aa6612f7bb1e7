"""Unit tests of the ``kubecache`` command: argument handling, errors, churn, rendering.

These need no API server; the end-to-end runs live in test_cli_demo.py.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import pytest
from rich.console import Console

from kubecache.cli import main
from kubecache.cli.churn import (
    FAULT_COMPACT,
    FAULT_DROP,
    FAULT_FAIL,
    Churn,
    namespace_names,
)
from kubecache.cli.dashboard import (
    DemoSnapshot,
    progress_line,
    render_dashboard,
    render_summary,
    summary_json,
    summary_lines,
)
from kubecache.cli.formatting import human_age, resolve_resource, row_of, status_of
from kubecache.cli.mirror import (
    CountingHandler,
    LatencyRecorder,
    QueryTimer,
    diff_states,
    percentile,
    read_counters,
    rv_int,
)
from kubecache.keys import DeletedFinalStateUnknown
from tests.support.sync import wait_for

# -- command line: parsing and one-line errors ---------------------------------


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("kubecache: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from kubecache import __version__

    code, out, _ = run_main(capsys, "--version")
    assert code == 0
    assert out.strip() == f"kubecache {__version__}"


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys)
    assert code == 0
    text = out + err
    for cmd in ("demo", "watch", "serve"):
        assert cmd in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["demo", "--pods", "many"], "--pods"),
        (["demo", "--pods", "-1"], "--pods must be >= 0"),
        (["demo", "--namespaces", "0"], "--namespaces"),
        (["demo", "--rate", "-5"], "--rate"),
        (["demo", "--duration", "0"], "--duration"),
        (["demo", "--no-such-option"], "--no-such-option"),
        (["frobnicate"], "frobnicate"),
        (["watch"], "resource"),
        (["watch", "pods", "-o", "xml"], "-o/--output"),
        (["watch", "pods", "-n", "a", "-A"], "mutually exclusive"),
        (["watch", "pods", "-l", "app in (a"], "invalid label selector"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--seed-pods", "-3"], "--seed-pods"),
    ],
)
def test_bad_arguments_give_one_error_line(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = run_main(capsys, *args)
    assert code == 2
    line = assert_one_error_line(err)
    assert needle in line


def test_broken_kubeconfig_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    bad = tmp_path / "config"
    bad.write_text("this: [is not: a kubeconfig\n")
    code, _, err = run_main(capsys, "watch", "pods", "--kubeconfig", str(bad), "--duration", "1")
    assert code != 0
    line = assert_one_error_line(err)
    assert str(bad) in line or "kubeconfig" in line.lower()


def test_missing_kubeconfig_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    missing = tmp_path / "nope"
    code, _, err = run_main(capsys, "watch", "pods", "--kubeconfig", str(missing))
    assert code != 0
    assert_one_error_line(err)


def test_unexpected_exception_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kubecache.cli as cli

    def boom(argv: list[str]) -> Any:
        raise RuntimeError("kaputt")

    monkeypatch.setattr(cli, "_run", boom)
    code, _, err = run_main(capsys, "demo")
    assert code == 1
    line = assert_one_error_line(err)
    assert "RuntimeError: kaputt" in line


# -- churn generator -----------------------------------------------------------


class FakeServer:
    """An in-memory stand-in for ApiServer's in-process write API and fault controls."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.rv = 0
        self.faults: list[str] = []
        self.lock = threading.Lock()

    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        assert resource == "pods"
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        with self.lock:
            assert key not in self.pods, f"duplicate create of {key}"
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            self.pods[key] = obj
        return obj

    def patch(self, resource: str, name: str, patch: dict[str, Any],
              namespace: str = "") -> dict[str, Any]:
        key = f"{namespace}/{name}"
        with self.lock:
            obj = self.pods[key]  # KeyError if the generator patches a pod it deleted
            for section, values in patch.items():
                target = obj.setdefault(section, {})
                for k, v in values.items():
                    if isinstance(v, dict):
                        target.setdefault(k, {}).update(v)
                    else:
                        target[k] = v
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
        return obj

    def delete(self, resource: str, name: str, namespace: str = "") -> None:
        with self.lock:
            del self.pods[f"{namespace}/{name}"]
            self.rv += 1

    def drop_watches(self) -> None:
        self.faults.append("drop")

    def compact(self) -> None:
        self.faults.append("compact")

    def fail_next(self, n: int, code: int = 500, reason: str = "") -> None:
        self.faults.append(f"fail:{n}:{code}")


def test_namespace_names() -> None:
    assert namespace_names(3) == ["demo-00", "demo-01", "demo-02"]
    assert namespace_names(150)[-1] == "demo-149"
    with pytest.raises(ValueError):
        namespace_names(0)


def test_seed_spreads_pods_over_namespaces() -> None:
    server = FakeServer()
    churn = Churn(server, namespaces=namespace_names(4), pods=100, rate=0, seed=1)
    churn.seed()
    assert churn.stats.seeded == 100
    assert len(server.pods) == 100 == len(churn)
    per_ns: dict[str, int] = {}
    for pod in server.pods.values():
        ns = pod["metadata"]["namespace"]
        per_ns[ns] = per_ns.get(ns, 0) + 1
    assert per_ns == {f"demo-0{i}": 25 for i in range(4)}
    pod = next(iter(server.pods.values()))
    assert pod["kind"] == "Pod" and pod["status"]["phase"] == "Pending"
    assert set(pod["metadata"]["labels"]) == {"app", "tier", "track"}


def test_steps_keep_model_equal_to_server_and_population_near_target() -> None:
    server = FakeServer()
    churn = Churn(server, namespaces=namespace_names(5), pods=200, rate=0, seed=7)
    churn.seed()
    kinds: dict[str, int] = {}
    for _ in range(3000):
        kind = churn.step()
        kinds[kind] = kinds.get(kind, 0) + 1
    st = churn.stats
    assert st.errors == 0
    assert churn.live_keys() == set(server.pods)
    assert set(kinds) == {"create", "delete", "label", "status"}
    assert st.creates + st.deletes + st.label_updates + st.status_updates == 3000 == st.changes
    assert 150 <= len(server.pods) <= 250
    assert any(p["metadata"]["labels"].get("track") == "canary" for p in server.pods.values())
    assert any(p["status"]["phase"] != "Pending" for p in server.pods.values())


def test_seeded_churn_is_reproducible() -> None:
    runs = []
    for _ in range(2):
        server = FakeServer()
        churn = Churn(server, namespaces=namespace_names(3), pods=30, rate=0, seed=42)
        churn.seed()
        runs.append([churn.step() for _ in range(200)])
    assert runs[0] == runs[1]


def test_churn_from_empty_creates_first() -> None:
    server = FakeServer()
    churn = Churn(server, namespaces=["a"], pods=10, rate=0, seed=3)
    assert churn.step() == "create"
    assert len(server.pods) == 1


def test_server_errors_are_counted_not_raised() -> None:
    server = FakeServer()
    churn = Churn(server, namespaces=["a"], pods=5, rate=0, seed=3)
    churn.seed()
    server.pods.clear()  # the server forgot everything: patches and deletes now fail
    for _ in range(50):
        churn.step()
    assert churn.stats.errors > 0


def test_inject_fault_kinds() -> None:
    server = FakeServer()
    churn = Churn(server, namespaces=["a"], pods=0, rate=0, faults=server, seed=1)
    assert churn.inject_fault(FAULT_DROP) == FAULT_DROP
    assert churn.inject_fault(FAULT_COMPACT) == FAULT_COMPACT
    assert churn.inject_fault(FAULT_FAIL) == FAULT_FAIL
    assert server.faults == ["drop", "compact", "drop", "fail:2:503"]
    assert churn.stats.faults_total == 3
    with pytest.raises(ValueError, match="unknown fault kind"):
        churn.inject_fault("meteor")
    no_faults = Churn(server, namespaces=["a"], pods=0, rate=0)
    assert no_faults.inject_fault() is None


def test_run_applies_rate_and_faults_until_stopped() -> None:
    server = FakeServer()
    churn = Churn(server, namespaces=namespace_names(2), pods=50, rate=500, faults=server,
                  fault_interval=0.05, seed=5)
    churn.seed()
    stop = threading.Event()
    t = threading.Thread(target=churn.run, args=(stop,))
    t.start()
    try:
        assert wait_for(lambda: churn.stats.changes >= 100 and churn.stats.faults_total >= 2)
    finally:
        stop.set()
        t.join(5)
    assert not t.is_alive()
    assert churn.live_keys() == set(server.pods)
    # run() returned (joined above) and the churn owns no other thread, so what it counted is
    # final: every change it counted reached the server, and nothing else wrote to it
    assert churn.stats.errors == 0
    assert server.rv == 50 + churn.stats.changes


def test_churn_validates_arguments() -> None:
    with pytest.raises(ValueError):
        Churn(FakeServer(), namespaces=[], pods=1, rate=1)
    with pytest.raises(ValueError):
        Churn(FakeServer(), namespaces=["a"], pods=-1, rate=1)
    with pytest.raises(ValueError):
        Churn(FakeServer(), namespaces=["a"], pods=1, rate=-1)


# -- dashboard -----------------------------------------------------------------


def sample_snapshot() -> DemoSnapshot:
    return DemoSnapshot(
        phase="churning", elapsed=12.3, duration=30, url="http://127.0.0.1:41235",
        objects=5012, events=12345, events_per_s=298, adds=5100, updates=7000, deletes=245,
        relists=1, watch_restarts=3, cache_rv=123450, server_rv=123455, queue_depth=2,
        synced=True, server_objects=5013, rate=300, target_objects=5000, changes=3600,
        creates=500, label_updates=1000, status_updates=1500, deletes_applied=600,
        faults={FAULT_DROP: 2, FAULT_COMPACT: 1, FAULT_FAIL: 0},
        namespaces=[(f"demo-{i:02d}", 300 - i) for i in range(20)], namespace_count=20,
        index_p50_us=12.3, index_p99_us=45.6, index_queries=1200, get_p50_us=0.8,
        list_p50_ms=1.5,
    )


def render_text(renderable: Any, width: int = 80) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()


def test_dashboard_fits_80_columns_and_shows_the_numbers() -> None:
    text = render_text(render_dashboard(sample_snapshot(), top=6))
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert len(lines) <= 28
    for needle in ("5,012", "12,345", "298", "watch restarts", "relists", "123455/123450",
                   "demo-00", "demo-05", "12.3 µs", "45.6 µs", "churning", "00:12 / 00:30"):
        assert needle in text, needle
    assert "demo-06" not in text  # top 6 only
    lag_line = next(ln for ln in lines if "rv lag" in ln)
    assert lag_line.split("│")[1].split()[-1] == "5"


def test_dashboard_before_sync_has_placeholders() -> None:
    text = render_text(render_dashboard(DemoSnapshot(phase="listing")))
    assert "listing" in text
    assert "rv lag" in text


def test_progress_line() -> None:
    line = progress_line(sample_snapshot())
    assert "\n" not in line
    for needle in ("churning", "objects=5012", "events=12345", "(298/s)", "restarts=3",
                   "relists=1", "lag=5", "faults=3"):
        assert needle in line
    assert "lag=-" in progress_line(DemoSnapshot())


def test_summary_renderings() -> None:
    summary = {"objects": 10, "events": 99, "relists": 1, "watch_restarts": 2, "faults": 3,
               "faults_by_kind": {"drop_watches": 3}, "diff": 0, "duration_s": 1.5}
    parsed = json.loads(summary_json(summary))
    assert parsed == summary
    lines = summary_lines(summary)
    assert "events delivered: 99" in lines
    assert lines[-1] == "cache == server: OK (diff 0)"
    assert "diff 4" in summary_lines({**summary, "diff": 4})[-1]
    text = render_text(render_summary(summary))
    assert "OK (diff 0)" in text and "drop_watches=3" in text


# -- formatting ----------------------------------------------------------------


def test_resolve_resource_aliases() -> None:
    assert resolve_resource("po") == "pods"
    assert resolve_resource("Deploy") == "deployments.v1.apps"
    assert resolve_resource("widgets.v1.example.com") == "widgets.v1.example.com"
    with pytest.raises(ValueError):
        resolve_resource(" ")


def test_status_and_rows() -> None:
    pod = {"metadata": {"namespace": "ns", "name": "p", "labels": {"b": "2", "a": "1"},
                        "creationTimestamp": "2024-01-01T00:00:00Z"},
           "spec": {"nodeName": "n1"}, "status": {"phase": "Running", "podIP": "10.0.0.1"}}
    created = 1704067200.0
    assert row_of(pod, now=created + 75) == ["ns", "p", "Running", "75s"]
    assert row_of(pod, wide=True, now=created + 4000) == [
        "ns", "p", "Running", "66m", "n1", "10.0.0.1", "a=1,b=2"]
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "x"}}
    assert status_of(deleting) == "Terminating"
    assert status_of({"spec": {"replicas": 3}, "status": {"readyReplicas": 2}}) == "2/3"
    node = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert status_of(node) == "Ready"
    assert row_of({"metadata": {"name": "x"}})[3] == "<unknown>"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600, "3h"),
     (3 * 86400, "3d"), (None, "<unknown>")],
)
def test_human_age(seconds: float | None, text: str) -> None:
    assert human_age(seconds) == text


# -- mirror helpers ------------------------------------------------------------


def test_counting_handler_counts_and_forwards() -> None:
    seen: list[tuple[str, Any, Any]] = []
    lat = LatencyRecorder()
    h = CountingHandler(lambda k, o, n: seen.append((k, o, n)), lat)
    h.on_add({"a": 1})
    h.on_update({"a": 1}, {"a": 2})
    h.on_delete(DeletedFinalStateUnknown("ns/x", {"a": 3}))
    h.on_delete(DeletedFinalStateUnknown("ns/y", None))
    assert (h.adds, h.updates, h.deletes, h.events) == (1, 1, 2, 4)
    assert [s[0] for s in seen] == ["ADDED", "MODIFIED", "DELETED", "DELETED"]
    assert seen[2][1] == {"a": 3}  # the last known state is unwrapped
    assert isinstance(seen[3][1], DeletedFinalStateUnknown)
    assert lat.count == 4 and sum(lat.counts) == 4 and lat.total >= 0


def test_latency_recorder_buckets() -> None:
    lat = LatencyRecorder((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 2.0):
        lat.observe(v)
    assert lat.counts == [2, 1, 1]
    assert lat.total == pytest.approx(2.65)


def test_diff_states() -> None:
    server = {"a/1": "5", "a/2": "6", "a/3": "7"}
    cache = {"a/1": "5", "a/2": "4", "a/9": "1"}
    d = diff_states(cache, server)
    assert (d.missing, d.extra, d.stale, d.total) == (1, 1, 1, 3)
    assert diff_states(server, dict(server)).total == 0


def test_percentile_and_rv_int() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile(range(101), 0.99) == 99
    assert rv_int("42") == 42
    assert rv_int("") is None and rv_int("abc") is None


def test_query_timer_against_an_indexer() -> None:
    from kubecache import NAMESPACE_INDEX, meta_namespace_index_func, meta_namespace_key_func
    from kubecache.store import new_indexer

    idx = new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX: meta_namespace_index_func})
    for i in range(50):
        idx.add({"metadata": {"namespace": f"ns{i % 5}", "name": f"p{i}"}})
    timer = QueryTimer(seed=1)
    timer.probe(idx, rounds=10, list_all=True)
    assert timer.queries == 10
    assert len(timer.by_index) == 10 and len(timer.get) == 10 and len(timer.list_all) == 1
    empty = QueryTimer()
    empty.probe(new_indexer(meta_namespace_key_func, {NAMESPACE_INDEX:
                                                      meta_namespace_index_func}))
    assert empty.queries == 0


def test_read_counters_from_a_running_informer() -> None:
    from kubecache import SharedIndexInformer, wait_for_cache_sync
    from kubecache.backoff import Backoff
    from kubecache.testing import FakeControllerSource

    src = FakeControllerSource()
    for i in range(5):
        src.add({"metadata": {"namespace": "a", "name": f"p{i}"}})
    inf = SharedIndexInformer(src, backoff=Backoff(initial=0.01, maximum=0.05))
    stop = threading.Event()
    t = threading.Thread(target=inf.run, args=(stop,))
    t.start()
    try:
        assert wait_for_cache_sync(stop, inf.has_synced, timeout=5)
        src.compact()
        src.drop_watches(expired=True)  # forces one relist
        assert wait_for(lambda: read_counters(inf).relists >= 1)
        c = read_counters(inf)
        assert (c.lists, c.relists, c.gone) == (2, 1, 1)
        assert c.watches >= 2 and c.fifo_depth == 0
        assert c.last_sync_rv == inf.last_sync_resource_version() != ""
    finally:
        stop.set()
        t.join(5)


# -- watch rendering -------------------------------------------------------------


class FakeMirror:
    """Just enough of a Mirror for the watch view."""

    def __init__(self, synced: bool, adds: int = 0) -> None:
        from kubecache.cli.mirror import ReflectorCounters

        self.handler = CountingHandler()
        self.handler.adds = adds
        self._synced = synced
        self._counters = ReflectorCounters(lists=1, relists=2, watch_restarts=3)
        self.indexer = [1] * adds

    def has_synced(self) -> bool:
        return self._synced

    def counters(self) -> Any:
        return self._counters

    def namespace_counts(self) -> list[tuple[str, int]]:
        return [("alpha", 2), ("beta", 1)]


def watch_view(mirror: FakeMirror, expected: int | None = None) -> Any:
    from kubecache.cli.watch_cmd import ChangeLog, WatchOptions, WatchView

    log = ChangeLog(keep=5)
    for i in range(8):
        pod = {"metadata": {"namespace": "alpha", "name": f"pod-{i}"},
               "status": {"phase": "Running"}}
        log("MODIFIED" if i % 2 else "ADDED", None, pod)
    opts = WatchOptions(resource="pods", all_namespaces=True)
    return WatchView(opts, "pods", "https://k8s.example:6443", mirror, log,  # type: ignore[arg-type]
                     expected)


def test_watch_view_while_listing_shows_progress() -> None:
    from kubecache.cli.watch_cmd import render_watch

    text = render_text(render_watch(watch_view(FakeMirror(False, 1200), 4800), 3.0, 10))
    assert "listing pods..." in text and "1,200/4,800" in text
    text = render_text(render_watch(watch_view(FakeMirror(False, 1200)), 3.0, 10))
    assert "1,200 received" in text


def test_watch_view_after_sync_shows_recent_changes_and_counts() -> None:
    from kubecache.cli.watch_cmd import render_watch

    text = render_text(render_watch(watch_view(FakeMirror(True, 3)), 12.0, 3))
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert "all namespaces" in text and "synced  objects 3" in text
    assert "relists 2" in text and "watch restarts 3" in text
    shown = [ln.split()[2] for ln in lines if ln.startswith(("ADDED", "MODIFIED"))]
    assert shown == ["pod-5", "pod-6", "pod-7"]  # the newest rows, oldest first
    assert "by namespace: alpha=2  beta=1" in text


class PageLW:
    def __init__(self, page: Any = None, error: BaseException | None = None) -> None:
        self.page, self.error = page, error

    def list(self, options: Any) -> Any:
        assert options.limit == 1
        if self.error is not None:
            raise self.error
        return self.page


def test_preflight_estimates_the_list_size() -> None:
    from kubecache.cli.watch_cmd import _preflight

    one = {"metadata": {"name": "a"}}
    page = {"items": [one], "metadata": {"continue": "x", "remainingItemCount": 41}}
    assert _preflight(PageLW(page), "pods", "srv") == 42
    assert _preflight(PageLW({"items": [one], "metadata": {"continue": "x"}}), "pods", "srv") \
        is None
    assert _preflight(PageLW({"items": [], "metadata": {}}), "pods", "srv") == 0


def test_preflight_failures_become_one_clear_message() -> None:
    from kubecache.cli.common import CliError
    from kubecache.cli.watch_cmd import _preflight
    from kubecache.errors import StatusError

    err = StatusError(code=403, reason="Forbidden", message="pods is forbidden")
    with pytest.raises(CliError, match=r"cannot list pods on srv: .*403 Forbidden"):
        _preflight(PageLW(error=err), "pods", "srv")
    from kubecache.kube import TransportError

    with pytest.raises(CliError, match="cannot reach srv to list pods: refused"):
        _preflight(PageLW(error=TransportError("refused")), "pods", "srv")


def test_missing_cli_extra_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # as if the cli extra were not installed
    assert main(["--version"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'kubecache[cli]'" in err and "rich" in err and err.count("\n") == 1


def test_missing_kube_extra_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import kubecache.kube as kube

    kube.Client  # noqa: B018 - load it once, then pretend urllib3 was never installed
    monkeypatch.delattr(kube, "Client")
    monkeypatch.delitem(sys.modules, "kubecache.kube.client")
    monkeypatch.delitem(sys.modules, "kubecache.kube._transport")
    monkeypatch.setitem(sys.modules, "urllib3", None)
    with pytest.raises(ImportError, match=r"pip install 'kubecache\[kube\]'") as info:
        kube.Client  # noqa: B018
    assert info.value.name == "urllib3"


def test_cli_logging_follows_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread logging after a swapped-in stderr was closed must not hit the closed stream."""
    import io
    import logging

    from kubecache.cli.common import setup_logging

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging(0)
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("kubecache.test").warning("still heard")
    assert "still heard" in second.getvalue()
