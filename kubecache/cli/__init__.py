"""The ``kubecache`` command: ``demo``, ``watch``, ``serve`` and ``--version``.

:func:`main` is the console-script entry point. It runs the typer app
(:mod:`kubecache.cli.app`) and turns every failure the user can cause (bad
arguments, a broken kubeconfig, an unreachable server, a busy port) into one
``kubecache: error: ...`` line on stderr and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

from ..__about__ import __version__
from ..errors import CacheError

__all__ = ["__version__", "main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _click_exception_types() -> tuple[type[BaseException], type[BaseException]]:
    """(ClickException, NoArgsIsHelpError) from typer's bundled click, or from click.

    Looked up by module name: with both installed (mkdocs brings click) a static
    import of either would type-check against the wrong one.
    """
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:  # older typer depends on click instead of bundling it
            continue
        click_exc: type[BaseException] = mod.ClickException
        no_args: type[BaseException] = mod.NoArgsIsHelpError
        return click_exc, no_args
    raise ImportError("the kubecache command needs typer (pip install 'kubecache[cli]')")


def _error(message: str) -> None:
    text = " ".join(str(message).split())  # one line, whatever the cause's formatting
    print(f"kubecache: error: {text}", file=sys.stderr, flush=True)


def _describe_http_error(err: BaseException) -> str:
    # kubecache.kube.TransportError's message names the server (credentials removed).
    return f"cannot reach the server: {str(err) or type(err).__name__}"


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the user or the environment is wrong", not "kubecache is"."""
    types: list[type[BaseException]] = [CacheError, OSError]
    try:
        from ..kube import ConfigError

        types.append(ConfigError)
    except ImportError:
        pass
    return tuple(types)


def _run(argv: list[str]) -> Any:
    from typer.main import get_command

    from .app import app

    command = get_command(app)
    return command.main(args=argv, prog_name="kubecache", standalone_mode=False)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:  # the front end's own libraries come with the `cli` extra
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError as err:
        _error(f"the kubecache command needs the 'cli' extra ({err.name} is missing): "
               "pip install 'kubecache[cli]'")
        return EXIT_ERROR
    from .common import CliError

    verbose = sum(a.count("v") for a in args if a.startswith("-v") and set(a[1:]) == {"v"})
    verbose += args.count("--verbose")
    click_error, no_args_help = _click_exception_types()
    try:
        rv = _run(args)
    except no_args_help as err:
        print(err.format_message())  # type: ignore[attr-defined]
        return 0
    except click_error as err:
        message = err.format_message()  # type: ignore[attr-defined]
        ctx = getattr(err, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _error(f"{message}{hint}")
        return int(getattr(err, "exit_code", EXIT_USAGE)) or EXIT_USAGE
    except KeyboardInterrupt:
        print("kubecache: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CliError as err:
        _error(str(err))
        return err.exit_code
    except Exception as err:
        if _is_http_error(err):
            _error(_describe_http_error(err))
            return EXIT_ERROR
        if isinstance(err, _expected_errors()):
            _error(str(err) or type(err).__name__)
            return EXIT_ERROR
        if verbose >= 2:
            traceback.print_exc()
        _error(f"unexpected {type(err).__name__}: {err} (run with -vv for the traceback)")
        return EXIT_ERROR
    if isinstance(rv, int):
        return rv
    return 0


def _is_http_error(err: BaseException) -> bool:
    kube_errors = sys.modules.get("kubecache.kube._errors")
    transport_error = getattr(kube_errors, "TransportError", None)
    return transport_error is not None and isinstance(err, transport_error)
