"""The ``kubecache`` command (placeholder until the CLI lands)."""

from __future__ import annotations

import sys

from ..__about__ import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("--version", "-V"):
        print(f"kubecache {__version__}")
        return 0
    print(f"kubecache {__version__}: no subcommands yet", file=sys.stderr)
    return 2
