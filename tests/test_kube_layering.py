"""The import-linter contracts (pyproject ``[tool.importlinter]``) cover every module.

The ``core`` contract names its modules one by one (import-linter has no
"everything but" form): a new top-level module that is in neither its
``source_modules`` nor its ``forbidden_modules`` would be checked by nothing.
This test fails until it is placed on one side.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import kubecache

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(kubecache.__file__).parent


def _contracts() -> dict[str, dict[str, object]]:
    pyproject = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    return {c["id"]: c for c in pyproject["tool"]["importlinter"]["contracts"]}


def test_every_top_level_module_is_core_or_forbidden_to_the_core() -> None:
    core = _contracts()["core"]
    placed = set(core["source_modules"]) | set(core["forbidden_modules"])  # type: ignore[call-overload]
    modules = {f"kubecache.{p.stem}" for p in ROOT.glob("*.py") if p.name != "__init__.py"}
    modules |= {f"kubecache.{p.parent.name}" for p in ROOT.glob("*/__init__.py")}
    assert sorted(modules - placed) == []
    assert sorted(placed - modules) == []  # import-linter refuses names that do not exist


def test_the_source_and_the_front_end_stay_independent_and_acyclic() -> None:
    contracts = _contracts()
    assert set(contracts["sources-and-front-ends"]["modules"]) >= {  # type: ignore[call-overload]
        "kubecache.kube", "kubecache.aio"}
    assert contracts["acyclic"]["type"] == "acyclic_siblings"
