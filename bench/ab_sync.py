"""The big list sync of two source trees side by side, in one run: ``python -m bench.ab_sync``.

``python -m bench.ab_sync OLD_TREE NEW_TREE [--n 100000] [--repeats 3]
[--clients "kubecache threaded,kubecache asyncio"]``: one peers server
(:mod:`bench.peers.server`, the ``relist`` scenario: ``n`` pods listed in
pages of the client's ``limit``) serves both; each client of each tree runs
in a fresh process of its own (:mod:`bench.peers.client` from that tree),
alternating trees, ``repeats`` times. The table gives, per tree and client,
the best sync wall time and process CPU (user + sys) until every pod
reached the handler, the peak RSS then, and NEW/OLD ratios. For A/B checks
of one change (e.g. the reflector's GC pause during lists, issue 14).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_peers import Server, write_kubeconfig


def run_one(tree: Path, client: str, server: Server, kubeconfig: Path) -> dict[str, Any]:
    info = server.info["relist"]
    spec = {"client": client, "url": server.url("relist"), "kubeconfig": str(kubeconfig),
            "list": info["n"], "events": info["events"], "phase": "none", "handlers": 1,
            "idle_s": 0.0, "deadline_s": 300.0, "list_rv": info["list_rv"],
            "stream_bytes": info["stream_bytes"]}
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-m", "bench.peers.client", json.dumps(spec)],
                         cwd=tree, env=env, capture_output=True, text=True, timeout=400)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab_sync")
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", default="kubecache threaded,kubecache asyncio")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    server = Server({"scenarios": {"relist": {"list": args.n, "relist": False}}})
    tmp = tempfile.TemporaryDirectory()
    kubeconfig = write_kubeconfig(Path(tmp.name), "ab", server.url("relist"))
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {t: {c: [] for c in clients}
                                                       for t in trees}
    try:
        for _ in range(args.repeats):
            for client in clients:
                for name, tree in trees.items():
                    server.reset()
                    runs[name][client].append(run_one(tree, client, server, kubeconfig))
    finally:
        server.close()
        tmp.cleanup()
    rows = []
    for client in clients:
        best: dict[str, dict[str, float]] = {}
        for name in trees:
            ok = [r for r in runs[name][client] if "sync_s" in r]
            if not ok:
                best[name] = {}
                continue
            best[name] = {"wall_s": min(r["sync_s"] for r in ok),
                          "cpu_s": min(r["sync_cpu_s"] for r in ok),
                          "rss_mb": min(r["synced_rss_kb"] for r in ok) / 1024}
        rows.append({"client": client, **{f"{t}_{k}": v for t in trees
                                          for k, v in best[t].items()}})
    print(f"sync of {args.n:,} pods, best of {args.repeats} "
          f"(old = {trees['old']}, new = {trees['new']})")
    print(f"{'client':<22} {'old wall':>9} {'new wall':>9} {'ratio':>6} "
          f"{'old CPU':>8} {'new CPU':>8} {'ratio':>6} {'old RSS':>8} {'new RSS':>8}")
    for row in rows:
        def fig(key: str, row: dict[str, Any] = row) -> float:
            return float(row.get(key, float("nan")))

        print(f"{row['client']:<22} {fig('old_wall_s'):9.2f} {fig('new_wall_s'):9.2f} "
              f"{fig('new_wall_s') / fig('old_wall_s'):6.2f} {fig('old_cpu_s'):8.2f} "
              f"{fig('new_cpu_s'):8.2f} {fig('new_cpu_s') / fig('old_cpu_s'):6.2f} "
              f"{fig('old_rss_mb'):8.0f} {fig('new_rss_mb'):8.0f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
