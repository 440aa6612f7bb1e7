"""The ```python blocks of README.md and of every docs/ page run as written.

They are the first code users copy, so each one is executed here: it must
show an outcome, by printing something or by an ``assert`` (an example that
starts an informer and exits before it syncs shows nothing and fails), and
leave no thread running. A block that cannot run
here (it needs a real cluster) is preceded by the line ``<!-- no-run -->``;
blocks in other languages (```sh, ```text) are never run.

The API reference pages must name every public name, so a new export cannot
go undocumented.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, whether it is opted out."""

    path: Path
    line: int
    lang: str
    code: str
    no_run: bool

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def code_blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, with the line its fence opens on."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        blocks.append(Block(path, text.count("\n", 0, m.start()) + 1, m.group(1),
                            m.group(2), before == NO_RUN))
    return blocks


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


ALL_BLOCKS = [b for p in markdown_files() for b in code_blocks(p)]
RUNNABLE = [b for b in ALL_BLOCKS if b.lang == "python" and not b.no_run]


def test_readme_and_docs_have_examples() -> None:
    readme = [b for b in RUNNABLE if b.path.name == "README.md"]
    assert len(readme) >= 1
    assert len(RUNNABLE) >= 8


def test_fence_parser_sees_languages_and_opt_outs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nprint(1)\n```\n\n<!-- no-run -->\n```python\n"
                    "connect()\n```\n\n```sh\nmake demo\n```\n", encoding="utf-8")
    blocks = code_blocks(page)
    assert [(b.lang, b.no_run, b.line) for b in blocks] == [
        ("python", False, 3), ("python", True, 8), ("sh", False, 12)]
    assert blocks[0].code == "print(1)\n"


def test_no_python_block_hides_behind_another_fence_language() -> None:
    """```py blocks would silently escape execution: runnable code is ```python."""
    hidden = [b.name for b in ALL_BLOCKS if b.lang in ("py", "python3", "pycon")]
    assert not hidden, f"use ```python (with {NO_RUN} if it cannot run here): {hidden}"


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_example_runs(block: Block) -> None:
    before = set(threading.enumerate())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.code, block.name, "exec"), {"__name__": "__main__"})
    shows = out.getvalue().strip() or re.search(r"^\s*assert ", block.code, flags=re.M)
    assert shows, f"the example at {block.name} neither printed nor asserted anything"
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for t in leaked:
        t.join(timeout=5)
    assert not [t for t in leaked if t.is_alive()], f"threads left running: {leaked}"


def _exported(module: str) -> list[str]:
    mod = __import__(module, fromlist=["__all__"])
    return [n for n in mod.__all__ if not n.startswith("_")]


@pytest.mark.parametrize(("module", "page"), [
    ("kubecache", "kubecache.md"),
    ("kubecache.kube", "kube.md"),
    ("kubecache.aio", "aio.md"),
    ("kubecache.testing", "testing.md"),
    ("kubecache.reflector", "reflector.md"),
    ("kubecache.labels", "labels.md"),
    ("kubecache.fields", "fields.md"),
    ("kubecache.listers", "listers.md"),
    ("kubecache.transforms", "transforms.md"),
    ("kubecache.compact", "compact.md"),
    ("kubecache.watch", "watch.md"),
    ("kubecache.listwatch", "listwatch.md"),
    ("kubecache.workqueue", "workqueue.md"),
    ("kubecache.aio.workqueue", "aio-workqueue.md"),
    ("kubecache.runtime", "runtime.md"),
    ("kubecache.leaderelection", "leaderelection.md"),
    ("kubecache.aio.leaderelection", "aio-leaderelection.md"),
    ("kubecache.controller", "controller.md"),
    ("kubecache.aio.controller", "aio-controller.md"),
    ("kubecache.raw", "raw.md"),
    ("kubecache.mutation", "mutation.md"),
])
def test_api_reference_names_every_export(module: str, page: str) -> None:
    text = (DOCS / "api" / page).read_text(encoding="utf-8")
    if "members: false" not in text:
        return  # the whole module is rendered from its static __all__
    missing = [n for n in _exported(module) if f"::: {module}.{n}\n" not in text + "\n"]
    assert not missing, f"docs/api/{page} does not document {missing}"


def test_readme_links_resolve() -> None:
    """README's relative links (to docs/ pages, examples/, LICENSE) point at files that exist."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert targets
    broken = [t for t in targets if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not broken, f"README links to missing files: {broken}"
