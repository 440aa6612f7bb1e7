"""Every examples/*.py runs in a fresh interpreter, within a deadline, and says what it did.

Each example is a program a user may copy: it runs as ``python examples/X.py``
from a checkout, exits 0, and prints the lines listed here (an example that
exits before its informer syncs prints none of them). A new example without
an entry in EXPECTED fails, so none goes untested.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DEADLINE = 60.0

# For each example: lines (or line prefixes) its output must contain, in any order.
EXPECTED: dict[str, list[str]] = {
    "informer_with_index.py": [
        "add web-1", "add web-2", "add db-1",
        "synced; app=web: ['web-1', 'web-2']",
        "update db-1 {'app': 'db'} -> {'app': 'db', 'tier': 'data'}",
    ],
    "asyncio_informer.py": [
        "add default api-0", "add default api-1",
        "synced: ['default/api-0', 'default/api-1']", "delete api-0",
    ],
    "mirror_apiserver.py": ["synced 20 pods", "server 20 pods; cache 20 pods; diff 0"],
}


def test_every_example_has_expectations() -> None:
    assert EXAMPLES, "examples/ is empty"
    assert sorted(p.name for p in EXAMPLES) == sorted(EXPECTED)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=DEADLINE, check=False)
    assert done.returncode == 0, f"{path.name} exited {done.returncode}:\n{done.stderr[-3000:]}"
    lines = done.stdout.splitlines()
    missing = [want for want in EXPECTED[path.name]
               if not any(line.startswith(want) for line in lines)]
    assert not missing, f"{path.name} did not print {missing}; it printed:\n{done.stdout}"
