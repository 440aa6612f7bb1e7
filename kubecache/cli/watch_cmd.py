"""``kubecache watch RESOURCE``: mirror one resource of a cluster and show its changes.

The informer lists (with a progress indication, since a large cluster takes
a while), then follows the watch. In a terminal a live view shows the most
recent changes in ``kubectl get --watch`` style plus the counts by namespace;
otherwise (pipes, CI) every change is printed as a line, or as a JSON/YAML
document with ``-o json|yaml``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .. import labels
from ..transforms import drop_managed_fields
from .common import CliError, import_kube, make_console, sigterm_as_interrupt
from .formatting import (
    HEADERS,
    WIDE_HEADERS,
    is_cluster_scoped,
    resolve_resource,
    row_of,
)
from .mirror import Mirror

if TYPE_CHECKING:
    from ..kube import Client

OUTPUTS = ("table", "wide", "json", "yaml")


@dataclass
class WatchOptions:
    """The ``watch`` command's arguments."""

    resource: str
    namespace: str | None = None
    all_namespaces: bool = False
    label_selector: str | None = None
    field_selector: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    output: str = "table"
    duration: float | None = None
    metrics_port: int | None = None
    sync_timeout: float | None = None

    def validate(self) -> None:
        if self.output not in OUTPUTS:
            raise CliError(f"-o/--output must be one of {', '.join(OUTPUTS[1:])}; "
                           f"got {self.output!r}", 2)
        if self.namespace is not None and self.all_namespaces:
            raise CliError("-n/--namespace and -A/--all-namespaces are mutually exclusive", 2)
        if self.duration is not None and self.duration <= 0:
            raise CliError(f"--duration must be > 0 seconds, got {self.duration}", 2)
        if self.label_selector:
            _check_label_selector(self.label_selector)


def _check_label_selector(text: str) -> None:
    try:
        labels.parse(text)
    except ValueError as err:
        raise CliError(f"invalid label selector {text!r}: {err}", 2) from err


def _json_default(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return str(value)


class ChangePrinter:
    """Prints each change as it arrives (non-terminal output, or -o json/yaml)."""

    def __init__(self, out: TextIO, output: str, show_namespace: bool) -> None:
        self._out = out
        self._output = output
        self._wide = output == "wide"
        self._show_ns = show_namespace
        self._lock = threading.Lock()
        self._widths = [9, 20, 40, 11, 6, 10, 15] if show_namespace else [9, 40, 11, 6, 10, 15]
        self._header_done = False

    def _cols(self, cells: list[str]) -> str:
        if not self._show_ns:
            cells = cells[:1] + cells[2:]
        parts = [c.ljust(w) for c, w in zip(cells[:-1], self._widths, strict=False)]
        return "  ".join([*parts, cells[-1]]).rstrip()

    def header(self) -> None:
        if self._output in ("json", "yaml") or self._header_done:
            return
        self._header_done = True
        heads = WIDE_HEADERS if self._wide else HEADERS
        self._write(self._cols(["EVENT", *heads]) + "\n")

    def __call__(self, kind: str, old: Any, new: Any) -> None:
        obj = new if new is not None else old
        if self._output == "json":
            text = json.dumps({"type": kind, "object": obj}, default=_json_default,
                              separators=(",", ":")) + "\n"
        elif self._output == "yaml":
            import yaml

            doc = json.loads(json.dumps({"type": kind, "object": obj}, default=_json_default))
            text = "---\n" + yaml.safe_dump(doc, sort_keys=False)
        else:
            text = self._cols([kind, *row_of(obj, wide=self._wide)]) + "\n"
        self._write(text)

    def _write(self, text: str) -> None:
        with self._lock:
            self._out.write(text)
            self._out.flush()


class ChangeLog:
    """Keeps the most recent changes for the live view (appended from the handler thread)."""

    def __init__(self, keep: int = 200) -> None:
        self.changes: deque[tuple[float, str, Any]] = deque(maxlen=keep)

    def __call__(self, kind: str, old: Any, new: Any) -> None:
        self.changes.append((time.time(), kind, new if new is not None else old))


_EVENT_STYLES = {"ADDED": "green", "MODIFIED": "yellow", "DELETED": "red"}


@dataclass
class WatchView:
    """What the live view and the progress lines need to know about one watch."""

    opts: WatchOptions
    resource: str
    server: str
    mirror: Mirror
    log: ChangeLog
    expected_total: int | None = None
    """Objects the first list will bring, when the server said (``remainingItemCount``)."""

    @property
    def scope(self) -> str:
        o = self.opts
        everywhere = o.all_namespaces or (o.namespace is None and is_cluster_scoped(self.resource))
        return "all namespaces" if everywhere else f"namespace {o.namespace}"

    def listing_status(self) -> RenderableType:
        """A progress bar when the total is known, else a spinner with the count so far."""
        received = self.mirror.handler.adds
        label = f"listing {self.resource}..."
        if self.expected_total:
            table = Table.grid(padding=(0, 1))
            table.add_row(Text(label, style="yellow"),
                          ProgressBar(total=self.expected_total,
                                      completed=min(received, self.expected_total), width=30),
                          f"{received:,}/{self.expected_total:,}")
            return table
        return Spinner("dots", text=Text(f" {label} {received:,} received", style="yellow"))


def render_watch(view: WatchView, elapsed: float, rows: int) -> RenderableType:
    """The live view: status line, recent changes, counts by namespace."""
    mirror, handler = view.mirror, view.mirror.handler
    title = Text.assemble(("kubecache watch ", "bold magenta"), (view.resource, "bold"),
                          f"  {view.scope}  ", (view.server, "dim"))
    parts: list[RenderableType] = [title]
    if not mirror.has_synced():
        parts.append(view.listing_status())
    else:
        c = mirror.counters()
        parts.append(Text(
            f"synced  objects {len(mirror.indexer):,}  events {handler.events:,}  "
            f"relists {c.relists}  watch restarts {c.watch_restarts}  {elapsed:,.0f}s",
            style="green"))
    wide = view.opts.output == "wide"
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False, show_edge=False)
    for head in ["EVENT", *(WIDE_HEADERS if wide else HEADERS)]:
        table.add_column(head, no_wrap=True, overflow="ellipsis",
                         max_width=32 if head in ("NAME", "LABELS") else None)
    now = time.time()
    recent = list(view.log.changes)[-rows:] if rows > 0 else []
    for _, kind, obj in recent:
        table.add_row(Text(kind, style=_EVENT_STYLES.get(kind, "")),
                      *row_of(obj, wide=wide, now=now))
    parts.append(table)
    counts = mirror.namespace_counts()
    if counts and any(ns for ns, _ in counts):
        shown = counts[:8]
        line = "  ".join(f"{ns}={n:,}" for ns, n in shown)
        more = f"  (+{len(counts) - len(shown)} more)" if len(counts) > len(shown) else ""
        parts.append(Text(f"by namespace: {line}{more}", style="cyan", overflow="fold"))
    parts.append(Text("Ctrl-C to stop", style="dim"))
    return Group(*parts)


def _server_of(client: Client) -> str:
    from ..kube.config import redacted_url  # the kube extra is loaded by now

    return redacted_url(client.config.server)


def _preflight(lw: Any, resource: str, server: str) -> int | None:
    """List one object before starting, so a bad server/resource fails fast with one line.

    Returns the number of objects the full list will bring when the server
    says (``metadata.remainingItemCount``), for the progress bar.
    """
    from ..listwatch import ListOptions

    try:
        page = lw.list(ListOptions(limit=1))
    except Exception as err:
        raise CliError(_describe_failure(err, resource, server)) from err
    if not isinstance(page, dict):
        return None
    items = page.get("items") or []
    remaining = (page.get("metadata") or {}).get("remainingItemCount")
    if isinstance(remaining, int) and remaining >= 0:
        return len(items) + remaining
    if not (page.get("metadata") or {}).get("continue"):
        return len(items)  # everything fit in this one page
    return None


def _describe_failure(err: BaseException, resource: str, server: str) -> str:
    from ..errors import StatusError

    if isinstance(err, StatusError):
        return f"cannot list {resource} on {server}: {err}"
    if isinstance(err, ConnectionError):  # kubecache.kube.TransportError is one
        cause = str(err) or type(err).__name__
        return f"cannot reach {server} to list {resource}: {cause}"
    return f"cannot list {resource} on {server}: {type(err).__name__}: {err}"


def run_watch(opts: WatchOptions) -> int:
    """Entry point used by the ``watch`` command; returns the exit code."""
    opts.validate()
    try:
        resource = resolve_resource(opts.resource)
    except ValueError as err:
        raise CliError(str(err), 2) from err
    kube = import_kube()
    client = kube.Client.from_kubeconfig(opts.kubeconfig, opts.context)
    try:
        return _watch(kube, client, resource, opts)
    finally:
        client.close()


def _watch(kube: Any, client: Client, resource: str, opts: WatchOptions) -> int:
    if opts.all_namespaces or is_cluster_scoped(resource):
        namespace = ""
    else:
        namespace = opts.namespace or client.namespace
        opts.namespace = namespace
    server = _server_of(client)
    lw = kube.new_list_watch_from_client(client, resource, namespace=namespace,
                                         field_selector=opts.field_selector,
                                         label_selector=opts.label_selector)
    expected = _preflight(lw, resource, server)

    out = make_console()
    live_view = out.is_terminal and opts.output in ("table", "wide")
    printer = ChangePrinter(sys.stdout, opts.output, show_namespace=namespace == "")
    log = ChangeLog()
    mirror = Mirror(lw, on_event=log if live_view else printer, name=resource,
                    time_handler=opts.metrics_port is not None, transform=drop_managed_fields)
    view = WatchView(opts, resource, server, mirror, log, expected)
    metrics = None
    if opts.metrics_port is not None:
        from .metrics import start_metrics_server

        metrics = start_metrics_server(opts.metrics_port, mirror, resource)
    if not live_view:
        printer.header()
    mirror.start()
    start = time.monotonic()
    try:
        with sigterm_as_interrupt():
            if live_view:
                _live(view, out, start)
            else:
                _follow(view, start)
    finally:
        mirror.stop()
        if metrics is not None:
            metrics.close()
    _print_counts(mirror, resource, sys.stderr if opts.output in ("json", "yaml") else sys.stdout)
    return 0


def _follow(view: WatchView, start: float) -> None:
    """Non-terminal mode: the printer writes changes; report listing progress on stderr."""
    duration = view.opts.duration
    total = f" ({view.expected_total:,} expected)" if view.expected_total is not None else ""
    sys.stderr.write(f"listing {view.resource} in {view.scope} from {view.server}{total}\n")
    synced = False
    try:
        while duration is None or time.monotonic() - start < duration:
            if not synced and view.mirror.has_synced():
                synced = True
                sys.stderr.write(f"synced {len(view.mirror.indexer):,} {view.resource} in "
                                 f"{time.monotonic() - start:.1f}s; following changes\n")
                sys.stderr.flush()
            left = None if duration is None else duration - (time.monotonic() - start)
            time.sleep(0.1 if left is None else max(0.0, min(0.1, left)))
    except KeyboardInterrupt:
        pass


def _live(view: WatchView, out: Any, start: float) -> None:
    from rich.live import Live

    duration = view.opts.duration

    def frame() -> RenderableType:
        return render_watch(view, time.monotonic() - start, max(3, out.size.height - 9))

    with Live(frame(), console=out, refresh_per_second=4, transient=False,
              redirect_stderr=True) as live:
        try:
            while duration is None or time.monotonic() - start < duration:
                time.sleep(0.25)
                live.update(frame())
        except KeyboardInterrupt:
            pass


def _print_counts(mirror: Mirror, resource: str, out: TextIO) -> None:
    counts = mirror.namespace_counts()
    total = sum(n for _, n in counts)
    c = mirror.counters()
    out.write(f"{total} {resource} cached, {mirror.handler.events} events, "
              f"{c.relists} relists, {c.watch_restarts} watch restarts\n")
    for ns, n in counts:
        out.write(f"  {ns or '<cluster-scoped>'}: {n}\n")
    out.flush()
