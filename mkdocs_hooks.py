"""MkDocs hooks for kubecache's site (mkdocs.yml: ``hooks``).

The docstrings use Sphinx cross-reference roles (``:class:`~kubecache.X```),
which mkdocstrings renders literally as ``:class:`` followed by code. This
hook drops the role and, as Sphinx does for a ``~`` target, keeps only the
last dotted part, so the API pages read as plain code names.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|const):<code>(~?)([^<]*)</code>")


def _plain(m: re.Match[str]) -> str:
    tilde, target = m.group(1), m.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite rendered Sphinx roles into plain code spans."""
    return _ROLE.sub(_plain, html)
