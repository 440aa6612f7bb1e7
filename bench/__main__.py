"""Run the benchmarks: ``python -m bench [--quick] [--json PATH] [names...]``.

Discovers ``bench/bench_<name>.py`` modules, runs each module's
``run(quick)``, prints one aligned table (bench, name, n, value, unit) and
writes ``bench/results/<name>.json`` per module, or every result into
``PATH`` with ``--json PATH``. Names select modules (``store`` or
``bench_store``); none means all.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def discover() -> list[str]:
    """Names of the benchmark modules (``bench_store.py`` -> ``store``), sorted."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def format_value(row: dict[str, Any]) -> tuple[str, str]:
    """The row's number as text and its unit (``ops/s`` when given as ``ops_per_s``)."""
    if "ops_per_s" in row:
        value, unit = row["ops_per_s"], row.get("unit") or "ops/s"
    else:
        value, unit = row.get("value"), row.get("unit", "")
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return text, str(unit)


def render(results: dict[str, list[dict[str, Any]]]) -> str:
    """An aligned text table of every row: bench, name, n, value, unit."""
    header = ("bench", "name", "n", "value", "unit")
    lines = [header]
    for bench, rows in results.items():
        for row in rows:
            value, unit = format_value(row)
            n = row.get("n", "")
            lines.append((bench, str(row.get("name", "")),
                          f"{n:,}" if isinstance(n, int) else str(n), value, unit))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3}  # numbers align right
    out = []
    for i, line in enumerate(lines):
        cells = [c.rjust(w) if j in right else c.ljust(w)
                 for j, (c, w) in enumerate(zip(line, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast check")
    parser.add_argument("--json", metavar="PATH", type=Path,
                        help="write all results to PATH instead of bench/results/<name>.json")
    args = parser.parse_args(argv)

    available = discover()
    wanted = [n.removeprefix("bench_").removesuffix(".py") for n in args.names] or available
    unknown = [n for n in wanted if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; available: "
                     f"{', '.join(available)}")

    meta = {"python": platform.python_version(), "platform": platform.platform(),
            "quick": args.quick, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    results: dict[str, list[dict[str, Any]]] = {}
    tables: dict[str, str] = {}  # modules with a render(rows) print their own table
    for name in wanted:
        module = importlib.import_module(f"bench.bench_{name}")
        started = time.perf_counter()
        print(f"running {name}...", file=sys.stderr, flush=True)
        results[name] = list(module.run(args.quick))
        if callable(getattr(module, "render", None)):
            tables[name] = module.render(results[name])
        print(f"  {name} took {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
        if args.json is None:
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"{name}.json").write_text(
                json.dumps({"meta": meta, "rows": results[name]}, indent=2) + "\n")

    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    plain = {name: rows for name, rows in results.items() if name not in tables}
    parts = [render(plain)] if plain else []
    print("\n\n".join([*parts, *tables.values()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
