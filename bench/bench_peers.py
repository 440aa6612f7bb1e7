"""Side by side with the peers: kubecache against the official clients, Node.js and the floor.

``python -m bench peers`` (``--quick``: smaller sizes, and only the floors,
kubecache and the official informer). One server process
(``bench/peers/server.py``) serves pre-serialized pod lists and watch streams;
every client runs each workload in a fresh process of its own
(``bench/peers/client.py``, ``bench/peers/node/client.mjs``, npm-installed
into ``bench/.cache/node``) and reports its own CPU time (user + sys, every
thread), wall time, events seen and peak RSS (VmHWM). Workloads (full sizes):

- ``trickle``: 1,000 pods listed, then 4,000 MODIFIED events, one per write at
  2,000/s: CPU per event;
- ``fan-out x10``: the same stream with 10 handlers (the first counts): CPU per event;
- ``bulk``: 10k pods listed, then 100k MODIFIED events as fast as the client reads
  (64 one-event chunks per write); a client still reading after 20 s stops
  there: CPU per event and events/s over what it took;
- ``sync 10k``: list 10k pods, then a silent watch: time until the handler saw every pod;
- ``sync 100k`` / ``relist 100k``: list 100k pods; the watch answers 410 Expired; the
  client relists 100k changed pods: time until the handler saw each update;
  ``RSS 100k``: peak RSS when the first 100k were in. To fit the run in ~10
  minutes this runs for one floor (the faster at 10k), once per storage mode,
  and not for clients whose own 10k sync predicts more than 100 s
  (``BENCH_PEERS_ALL=1`` runs everything);
- ``idle``: 1,000 pods cached, no events for 20 s: CPU as % of a core (all clients at once).

The floor is the faster of two raw transports (urllib3 ``read_chunked``,
``http.client`` ``readline``) decoding with ``orjson`` into dicts kept by key
(the cyclic GC paused while a list is decoded, as kubecache does); a raw
socket reader (bytes only) on the bulk stream shows the server is not the
bottleneck. Every figure is also given as a ratio to the floor and to
kubecache's threaded informer from the same run. A client that is missing
or crashes shows ``n/a`` with its reason; each run has a deadline and its
process group is killed after it.

Environment: ``BENCH_PEERS_CLIENTS`` / ``BENCH_PEERS_WORKLOADS`` (comma-separated
names) select; ``BENCH_PEERS_DEBUG=1`` logs the server's requests and the
clients' stderr; ``BENCH_PEERS_PROFILE=<dir>`` records a py-spy speedscope
profile of every Python client run there (``BENCH_PEERS_PROFILE_RATE``: samples
per second, default 100; ``BENCH_PEERS_PROFILE_NATIVE=1``: with native frames);
``BENCH_PEERS_WRAP="strace -c -f -o /tmp/{slug}"`` runs each Python client under that
command instead (``{slug}`` names the client and workload).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NODE_SRC = HERE / "peers" / "node"
NODE_CACHE = HERE / ".cache" / "node"

FLOORS = ("floor urllib3", "floor http.client")
REFERENCE = "kubecache threaded"
DECODE = "orjson.loads loop"
"""The decode floor: ``orjson.loads`` over the bulk stream's lines (bulk only)."""
NODE = "client-node makeInformer"
CLIENTS = (
    *FLOORS,
    REFERENCE,
    "kubecache threaded compact",
    "kubecache asyncio",
    "kubecache asyncio compact",
    "kubecache threaded raw",
    "kubecache threaded inline",
    "kubecache threaded raw inline",
    "kubecache asyncio uvloop",
    "kubecache Reflector->Store",
    "orjson.loads loop",
    "official SharedInformer",
    "official Watch().stream",
    "kubernetes_asyncio watch",
    NODE,
)
QUICK_CLIENTS = tuple(c for c in CLIENTS if c.startswith(("floor", "kubecache"))
                      or c in ("official SharedInformer", "orjson.loads loop"))
"""``--quick`` runs the floors, kubecache and the official informer (no npm, no slow peers)."""


@dataclass(frozen=True)
class Workload:
    name: str
    scenario: str
    phase: str  # events | relist | idle | none
    handlers: int = 1
    deadline_s: float = 60.0


def sizes(quick: bool) -> dict[str, Any]:
    """Workload sizes: trickle events and rate, bulk list and events, the lists, idle seconds."""
    if quick:
        return {"trickle": 1_000, "rate": 2_000.0, "bulk_list": 2_000, "bulk": 20_000,
                "sync": 2_000, "big": 5_000, "idle_s": 3.0}
    return {"trickle": 4_000, "rate": 2_000.0, "bulk_list": 10_000, "bulk": 100_000,
            "sync": 10_000, "big": 100_000, "idle_s": 20.0}


def server_config(quick: bool) -> dict[str, Any]:
    s = sizes(quick)
    return {"scenarios": {
        "trickle": {"list": 1_000, "events": s["trickle"], "keys": 1_000, "rate": s["rate"]},
        "bulk": {"list": s["bulk_list"], "events": s["bulk"], "keys": s["bulk_list"],
                 "batch": 64},
        "sync": {"list": s["sync"]},
        "idle": {"list": 1_000},
        "relist": {"list": s["big"], "relist": True},
        "relist_same": {"list": s["big"], "relist": True, "unchanged": True},
    }}


def workloads(quick: bool) -> list[Workload]:
    s = sizes(quick)
    trickle_s = s["trickle"] / s["rate"]
    big = 90.0 if quick else 240.0
    return [
        Workload("trickle", "trickle", "events", deadline_s=trickle_s + 60),
        Workload("fan-out", "trickle", "events", handlers=10, deadline_s=trickle_s + 60),
        # slow clients stop early: CPU per event and the rate come from what they took
        Workload("bulk", "bulk", "events", deadline_s=8.0 if quick else 20.0),
        Workload("sync", "sync", "none", deadline_s=60.0),
        Workload("relist", "relist", "relist", deadline_s=big),
        Workload("relist same", "relist_same", "relist", deadline_s=big),
        Workload("idle", "idle", "idle", deadline_s=s["idle_s"] + 60),
    ]


# --- processes -------------------------------------------------------------------------


class Server:
    """The scripted server in its own process; ``reset()`` before each client run."""

    def __init__(self, config: dict[str, Any], timeout: float = 180.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.peers.server", json.dumps(config)], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        line = _readline(self.proc, timeout)
        if not line:
            self.close()
            raise RuntimeError("the peer benchmark server did not start")
        ready = json.loads(line)
        self.ports: dict[str, int] = ready["ports"]
        self.info: dict[str, dict[str, Any]] = ready["info"]
        self.build_s = float(ready["build_s"])
        self.lock = threading.Lock()

    def url(self, scenario: str) -> str:
        return f"http://127.0.0.1:{self.ports[scenario]}"

    def reset(self) -> None:
        assert self.proc.stdin is not None
        with self.lock:
            self.proc.stdin.write("reset\n")
            self.proc.stdin.flush()
            if _readline(self.proc, 30.0) != "ok\n":
                raise RuntimeError("the peer benchmark server stopped answering")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10.0)
        except subprocess.TimeoutExpired:
            _kill(self.proc)


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line of ``proc``'s stdout, or "" after ``timeout`` seconds (or its exit)."""
    out: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    reader.join(timeout)
    return out[0] if out else ""


def _kill(proc: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def write_kubeconfig(directory: Path, name: str, url: str, node: bool = False) -> Path:
    """A kubeconfig for ``url`` (plain HTTP: client-node wants insecure-skip-tls-verify)."""
    path = directory / f"{name}{'-node' if node else ''}.kubeconfig"
    cluster: dict[str, Any] = {"server": url}
    if node:
        cluster["insecure-skip-tls-verify"] = True
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": cluster}],
        "users": [{"name": "bench", "user": {}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
    }))
    os.chmod(path, 0o600)
    return path


def node_command() -> list[str] | str:
    """The command that runs the Node.js client (npm-installing it once), or why it cannot."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node/npm not found"
    NODE_CACHE.mkdir(parents=True, exist_ok=True)
    manifest = (NODE_SRC / "package.json").read_bytes()
    stamp = NODE_CACHE / ".installed"
    digest = hashlib.sha256(manifest).hexdigest()
    shutil.copyfile(NODE_SRC / "client.mjs", NODE_CACHE / "client.mjs")
    if not stamp.exists() or stamp.read_text() != digest:
        (NODE_CACHE / "package.json").write_bytes(manifest)
        try:
            done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"],
                                  cwd=NODE_CACHE, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return "npm install timed out"
        if done.returncode != 0:
            return f"npm install failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        stamp.write_text(digest)
    return [node, "--max-old-space-size=8192", str(NODE_CACHE / "client.mjs")]


def versions(node_cmd: list[str] | str) -> dict[str, str]:
    """Versions of the peers, for the JSON and the table's header."""
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for dist in ("kubecache", "kubernetes", "kubernetes_asyncio", "urllib3", "orjson", "httpx"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    if isinstance(node_cmd, list):
        out["node"] = subprocess.run([node_cmd[0], "--version"], capture_output=True,
                                     text=True).stdout.strip()
        try:
            pkg = json.loads((NODE_CACHE / "node_modules" / "@kubernetes" / "client-node"
                              / "package.json").read_text())
            out["@kubernetes/client-node"] = pkg["version"]
        except (OSError, ValueError, KeyError):
            pass
    return out


def run_client(client: str, wl: Workload, server: Server, kubeconfig: Path,
               node_cmd: list[str] | str, sz: dict[str, Any]) -> dict[str, Any]:
    """One client, one workload, one process: its JSON result, or ``{"error": reason}``."""
    info = server.info[wl.scenario]
    spec = {"client": client, "url": server.url(wl.scenario), "kubeconfig": str(kubeconfig),
            "list": info["n"], "events": info["events"], "phase": wl.phase,
            "handlers": wl.handlers, "idle_s": sz["idle_s"], "deadline_s": wl.deadline_s,
            "list_rv": info["list_rv"], "stream_bytes": info["stream_bytes"]}
    if client == NODE:
        if isinstance(node_cmd, str):
            return {"error": node_cmd}
        spec["kubeconfig"] = str(kubeconfig.with_name(kubeconfig.stem + "-node.kubeconfig"))
        cmd = [*node_cmd, json.dumps(spec)]
    else:
        cmd = [sys.executable, "-m", "bench.peers.client", json.dumps(spec)]
        if profile := os.environ.get("BENCH_PEERS_PROFILE"):  # a directory for py-spy profiles
            slug = "-".join(f"{client} {wl.name}".replace(">", "").replace("(", "").replace(
                ")", "").replace(".", "").split())
            native = bool(os.environ.get("BENCH_PEERS_PROFILE_NATIVE"))  # pauses the client
            cmd = [str(Path(sys.executable).with_name("py-spy")), "record",
                   "--native" if native else "--nonblocking",
                   "--rate", os.environ.get("BENCH_PEERS_PROFILE_RATE", "100"),
                   "--format", "speedscope", "-o", str(Path(profile) / f"{slug}.json"), "--",
                   *cmd]
        elif wrap := os.environ.get("BENCH_PEERS_WRAP"):  # e.g. "strace -c -f -o /tmp/{slug}"
            slug = "-".join(f"{client} {wl.name}".replace(".", "").split())
            cmd = [*wrap.replace("{slug}", slug).split(), *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=wl.deadline_s + 30)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return {"error": f"no answer within {wl.deadline_s + 30:.0f} s (killed)"}
    finally:
        if proc.poll() is None:
            _kill(proc)
    lines = out.strip().splitlines()
    errors = err.strip().splitlines()
    try:  # the last JSON line (a profiler wrapping the client may print after it)
        result: dict[str, Any] = json.loads(next(
            line for line in reversed(lines) if line.startswith("{")))
    except (StopIteration, ValueError):
        return {"error": f"exit code {proc.returncode}: {(errors or [''])[-1][:160]}",
                "stderr": errors[-20:]}
    if os.environ.get("BENCH_PEERS_DEBUG") and errors:
        print(err, file=sys.stderr)
    if errors and ("error" in result or result.get("partial")):
        result["stderr"] = errors[-20:]  # what the client logged, for the JSON
    return result


# --- figures ---------------------------------------------------------------------------

METRICS: tuple[tuple[str, str, str], ...] = (
    # (column, workload, unit)
    ("trickle", "trickle", "us CPU/event"),
    ("fan-out x10", "fan-out", "us CPU/event"),
    ("bulk", "bulk", "us CPU/event"),
    ("bulk rate", "bulk", "events/s"),
    ("sync", "sync", "s"),
    ("RSS sync", "sync", "MB"),
    ("held sync", "sync", "MB"),
    ("sync big", "relist", "s"),
    ("relist big", "relist", "s"),
    ("relist same", "relist same", "s"),
    ("relist same cpu", "relist same", "s CPU"),
    ("RSS big", "relist", "MB"),
    ("idle", "idle", "% core"),
)


def figure(column: str, r: dict[str, Any]) -> float | None:
    """The column's number from one client result (None when it did not get one)."""
    if "error" in r:
        return None
    if column in ("trickle", "fan-out x10", "bulk"):
        return r["phase_cpu_s"] / r["events"] * 1e6 if r["events"] else None
    if column == "bulk rate":
        return r["events"] / r["phase_s"] if r["events"] and r["phase_s"] > 0 else None
    if column in ("sync", "sync big"):
        return float(r["sync_s"])
    if column in ("relist big", "relist same"):
        return None if r.get("partial") else float(r["phase_s"])
    if column == "relist same cpu":
        return None if r.get("partial") else float(r["phase_cpu_s"])
    if column in ("RSS sync", "RSS big"):
        return r["synced_rss_kb"] / 1024
    if column == "held sync":
        return r["held_rss_kb"] / 1024 if r.get("held_rss_kb") else None
    if column == "idle":
        return r["phase_cpu_s"] / r["phase_s"] * 100 if r["phase_s"] > 0 else None
    raise KeyError(column)


def table_values(results: dict[str, dict[str, dict[str, Any]]]
                 ) -> dict[str, dict[str, float | str]]:
    """client -> column -> number, or the n/a reason."""
    out: dict[str, dict[str, float | str]] = {}
    for client, per_wl in results.items():
        row: dict[str, float | str] = {}
        for column, wl, _ in METRICS:
            r = per_wl.get(wl)
            if r is None:
                continue
            value = figure(column, r)
            if value is None:
                row[column] = r.get("error", "incomplete")
            else:
                row[column] = value
        out[client] = row
    return out


def floor_of(values: dict[str, dict[str, float | str]], column: str) -> float | None:
    """The floor's figure: the better of the two raw transports (higher for a rate)."""
    got = [v for c in FLOORS if isinstance(v := values.get(c, {}).get(column), float)]
    if not got:
        return None
    return max(got) if column == "bulk rate" else min(got)


def ratio(value: float | str | None, base: float | None, column: str) -> float | None:
    """``value`` over ``base``: how many times the base's cost (a rate: base over value)."""
    if not isinstance(value, float) or not base:
        return None
    if column == "idle" and base < 0.01:
        return None  # a blocked read costs next to nothing: a ratio to it is noise
    return base / value if column == "bulk rate" else value / base


def _fmt(value: float | str | None, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "n/a"
    if column == "bulk rate":
        return f"{value:,.0f}"
    if column == "idle":
        return f"{value:.2f}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _grid(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                              for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    return "\n".join(lines)


def render(rows: list[dict[str, Any]]) -> str:
    """The peer tables (absolute, x floor, x kubecache threaded) and the n/a reasons."""
    meta = next((r for r in rows if r.get("name") == "run"), {})
    values: dict[str, dict[str, float | str]] = {}
    for r in rows:
        if "client" in r:
            values.setdefault(r["client"], {})[r["column"]] = (
                r["value"] if r.get("value") is not None else r.get("error", "n/a"))
    sz = meta.get("sizes") or sizes(False)
    small, big = f"{sz['sync'] // 1000}k", f"{sz['big'] // 1000}k"
    label = {"sync": f"sync {small}", "RSS sync": f"RSS {small}",
             "held sync": f"held {small}", "sync big": f"sync {big}",
             "relist big": f"relist {big}", "RSS big": f"RSS {big}",
             "relist same": f"unchanged {big}", "relist same cpu": f"unchanged {big} CPU"}
    columns = [c for c, _, _ in METRICS]
    header = ["client", *(label.get(c, c) for c in columns)]
    units = ["", *("us/ev" if u == "us CPU/event" else "ev/s" if u == "events/s" else u
                   for _, _, u in METRICS)]
    clients = [c for c in (*CLIENTS, "raw socket") if c in values]
    out = []
    absolute = [units] + [[c, *(_fmt(values[c].get(col), col) for col in columns)]
                          for c in clients]
    out.append(_grid("peers: figures (CPU per event is user+sys of the client process)",
                     header, absolute))
    for title, base_of in (("x floor (the faster raw transport + orjson into a dict)",
                            lambda col: floor_of(values, col)),
                           (f"x {REFERENCE}", lambda col: (
                               v if isinstance(v := values.get(REFERENCE, {}).get(col), float)
                               else None))):
        grid = []
        for c in clients:
            if c == "raw socket":
                continue
            cells = []
            for col in columns:
                rv = ratio(values[c].get(col), base_of(col), col)
                cells.append(f"{rv:.2f}" if rv is not None else
                             ("n/a" if isinstance(values[c].get(col), str) else ""))
            grid.append([c, *cells])
        out.append(_grid(title + "; higher is worse", header, grid))
    decode_rate = values.get(DECODE, {}).get("bulk rate")
    http_rate = floor_of(values, "bulk rate")
    bulk = []
    for c in clients:
        rate = values[c].get("bulk rate")
        if c == "raw socket" or not isinstance(rate, float):
            continue
        bulk.append([c, f"{rate:,.0f}",
                     f"{rate / decode_rate:.2f}" if isinstance(decode_rate, float) else "",
                     f"{rate / http_rate:.2f}" if http_rate else ""])
    if bulk:
        out.append(_grid("bulk events/s against both floors; higher is better",
                         ["client", "ev/s", f"x {DECODE}", "x HTTP floor"], bulk))
    reasons = sorted({(c, str(v)) for c in clients for v in values[c].values()
                      if isinstance(v, str) and not v.startswith("the decode loop")})
    if reasons:
        out.append("n/a:\n" + "\n".join(f"  {c}: {why}" for c, why in reasons))
    raw = values.get("raw socket", {}).get("bulk rate")
    fastest = max((v for c, row in values.items() if c != "raw socket"
                   for col, v in row.items() if col == "bulk rate" and isinstance(v, float)),
                  default=None)
    if isinstance(raw, float) and fastest:
        out.append(f"server check: a raw socket reader takes the bulk stream at {raw:,.0f} "
                   f"events/s, {raw / fastest:.1f}x the fastest client")
    if meta.get("versions"):
        out.append("versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    return "\n\n".join(out)


def run_together(clients: list[str], wl: Workload, server: Server, kubeconfig: Path,
                 node_cmd: list[str] | str, sz: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``wl`` for every client at the same time (for idle CPU, where they hardly compete)."""
    got: dict[str, dict[str, Any]] = {}

    def one(client: str) -> None:
        got[client] = run_client(client, wl, server, kubeconfig, node_cmd, sz)

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


RELIST_BUDGET_S = 100.0
"""A client whose 10k sync predicts more than this for the big sync + relist skips it."""

SAME_AS = {"kubecache asyncio compact": "kubecache threaded compact",
           "kubecache threaded inline": "kubecache threaded",
           "kubecache threaded raw inline": "kubecache threaded raw"}
"""Clients whose big relist measures what another row does (the same storage)."""


def skip_reason(client: str, results: dict[str, dict[str, dict[str, Any]]], wl: Workload,
                sz: dict[str, Any]) -> str | None:
    """Why ``wl`` is skipped for ``client``: the decode floor is bulk only; the big relist
    is skipped for some (to keep the full run in its budget)."""
    if client == DECODE and wl.name != "bulk":
        return "the decode loop measures the bulk stream only"
    if wl.phase != "relist" or os.environ.get("BENCH_PEERS_ALL"):
        return None
    how = "BENCH_PEERS_ALL=1 runs it"
    if client in SAME_AS:
        return f"skipped: {SAME_AS[client]} measures the same storage ({how})"
    r = results[client].get("sync", {})
    if "sync_s" not in r:
        return None
    if client in FLOORS:
        other = results.get(next(c for c in FLOORS if c != client), {}).get("sync", {})
        if other.get("sync_s", float("inf")) < r["sync_s"]:
            return f"skipped: the other floor synced {sz['sync']:,} faster ({how})"
    estimate = r["sync_s"] * sz["big"] / sz["sync"] * 2
    if estimate <= RELIST_BUDGET_S:
        return None
    return (f"skipped: its sync of {sz['sync']:,} took {r['sync_s']:.1f} s, so {sz['big']:,} "
            f"+ a relist would take ~{estimate:.0f} s ({how})")


def run(quick: bool) -> list[dict[str, Any]]:
    sz = sizes(quick)
    node_cmd = node_command() if not quick else "not run by --quick"
    started = time.perf_counter()
    server = Server(server_config(quick))
    print(f"  peers: server built its data in {server.build_s:.1f}s", file=sys.stderr,
          flush=True)
    only = os.environ.get("BENCH_PEERS_CLIENTS")
    chosen = [c for c in (QUICK_CLIENTS if quick else CLIENTS)
              if not only or c in only.split(",")]
    results: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in chosen}
    only_wl = os.environ.get("BENCH_PEERS_WORKLOADS")
    try:
        with tempfile.TemporaryDirectory(prefix="kubecache-peers-") as tmp:
            configs = {name: write_kubeconfig(Path(tmp), name, server.url(name))
                       for name in server.ports}
            for name in server.ports:
                write_kubeconfig(Path(tmp), name, server.url(name), node=True)
            bulk = next(w for w in workloads(quick) if w.name == "bulk")
            results["raw socket"] = {"bulk": run_client("raw socket", bulk, server,
                                                        configs["bulk"], node_cmd, sz)}
            for wl in workloads(quick):
                if only_wl and wl.name not in only_wl.split(","):
                    continue
                if wl.phase == "idle":  # barely any CPU each: all at once
                    server.reset()
                    for c, r in run_together([c for c in chosen if c != DECODE], wl, server,
                                             configs[wl.scenario], node_cmd, sz).items():
                        results[c][wl.name] = r
                    continue
                for c in chosen:
                    if skip := skip_reason(c, results, wl, sz):
                        results[c][wl.name] = {"error": skip}
                        print(f"  peers: {wl.name:9} {c:28} {skip}", file=sys.stderr)
                        continue
                    server.reset()
                    t0 = time.perf_counter()
                    results[c][wl.name] = r = run_client(c, wl, server, configs[wl.scenario],
                                                         node_cmd, sz)
                    note = r.get("error", "ok" if not r.get("partial") else "partial")
                    print(f"  peers: {wl.name:9} {c:28} {time.perf_counter() - t0:6.1f}s "
                          f"{note}", file=sys.stderr, flush=True)
    finally:
        server.close()
    values = table_values(results)
    rows: list[dict[str, Any]] = [{
        "name": "run", "n": len(CLIENTS), "value": time.perf_counter() - started, "unit": "s",
        "big": sz["big"], "sizes": sz, "versions": versions(node_cmd),
        "server_build_s": server.build_s}]
    for client, per_col in values.items():
        for column, wl_name, unit in METRICS:
            if column not in per_col:
                continue
            v = per_col[column]
            floor = floor_of(values, column)
            ref = values.get(REFERENCE, {}).get(column)
            row: dict[str, Any] = {"name": f"{column}: {client}", "client": client,
                                   "column": column, "workload": wl_name, "unit": unit,
                                   "n": server.info[next(w.scenario for w in workloads(quick)
                                                         if w.name == wl_name)]["n"]}
            if isinstance(v, float):
                row["value"] = v
                row["x_floor"] = ratio(v, floor, column)
                row["x_kubecache"] = ratio(v, ref if isinstance(ref, float) else None, column)
            else:
                row["value"] = None
                row["error"] = v
            rows.append(row)
    rows.append({"name": "raw", "raw": results})
    return rows


if __name__ == "__main__":
    print(render(run(quick="--quick" in sys.argv)))
