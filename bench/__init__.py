"""kubecache micro-benchmarks: ``python -m bench [--quick] [names...]``.

Each ``bench/bench_<name>.py`` module defines ``run(quick: bool) -> list[dict]``
returning rows ``{"name", "n", "ops_per_s" or "value", "unit"}``.
"""
