"""The typer application: subcommands, their options and help texts.

Each command only parses and validates; the work lives in ``demo``,
``watch_cmd`` and ``serve``. Errors are turned into one line by
:func:`kubecache.cli.main`.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from ..__about__ import __version__
from .common import setup_logging

app = typer.Typer(
    name="kubecache",
    help="kubecache: a client-side cache for Kubernetes list+watch APIs "
    "(a Python port of client-go's tools/cache).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"verbosity": 0}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubecache {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False,
    verbose: Annotated[int, typer.Option(
        "--verbose", "-v", count=True,
        help="More logging on stderr (-v info, -vv debug).")] = 0,
) -> None:
    _state["verbosity"] = verbose


@app.command()
def demo(
    pods: Annotated[int, typer.Option(help="Pods to create before the churn starts.")] = 5000,
    namespaces: Annotated[int, typer.Option(help="Namespaces to spread them over.")] = 20,
    rate: Annotated[float, typer.Option(help="Changes per second during the churn.")] = 300.0,
    faults: Annotated[bool, typer.Option(
        "--faults/--no-faults",
        help="Inject faults: dropped watches, compaction (410 -> relist), 503s.")] = True,
    fault_interval: Annotated[float, typer.Option(
        help="Mean seconds between injected faults.")] = 4.0,
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds of churn (default: until Ctrl-C).")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the summary as one JSON object on the last line.")] = False,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus metrics on this port (needs prometheus_client).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for a reproducible churn.")] = None,
    settle_timeout: Annotated[float, typer.Option(
        help="Seconds the cache may take to catch up after the churn stops.")] = 30.0,
) -> None:
    """Run the embedded API server under churn and mirror it live with an informer.

    At the end the cache is compared with the server; the exit code is 1 if they differ.
    """
    from .demo import DemoOptions, run_demo

    setup_logging(_state["verbosity"], quiet_default=logging.ERROR)
    code = run_demo(DemoOptions(
        pods=pods, namespaces=namespaces, rate=rate, faults=faults,
        fault_interval=fault_interval, duration=duration, json=json_out,
        metrics_port=metrics_port, seed=seed, settle_timeout=settle_timeout))
    raise typer.Exit(code)


@app.command()
def watch(
    resource: Annotated[str, typer.Argument(
        help="Resource to mirror: pods, nodes, services, deployments (or "
        "<plural>.<version>.<group>).")],
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", help="Namespace (default: the context's, else 'default').")] = None,
    all_namespaces: Annotated[bool, typer.Option(
        "--all-namespaces", "-A", help="Watch every namespace.")] = False,
    selector: Annotated[str | None, typer.Option(
        "--selector", "-l", help="Label selector, e.g. 'app=web,tier!=db'.")] = None,
    field_selector: Annotated[str | None, typer.Option(
        "--field-selector", help="Field selector, e.g. 'status.phase=Running'.")] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context to use.")] = None,
    kubeconfig: Annotated[str | None, typer.Option(
        help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")] = None,
    output: Annotated[str, typer.Option(
        "--output", "-o", help="wide, json or yaml (default: a table).")] = "table",
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: until Ctrl-C).")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus metrics on this port (needs prometheus_client).")] = None,
) -> None:
    """Mirror a resource of a cluster and show its changes, like kubectl get --watch."""
    from .watch_cmd import WatchOptions, run_watch

    setup_logging(_state["verbosity"])
    code = run_watch(WatchOptions(
        resource=resource, namespace=namespace, all_namespaces=all_namespaces,
        label_selector=selector, field_selector=field_selector, context=context,
        kubeconfig=kubeconfig, output=output, duration=duration, metrics_port=metrics_port))
    raise typer.Exit(code)


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", "-p", help="Port (0: pick a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    seed_pods: Annotated[int, typer.Option(help="Pods to create at start.")] = 0,
    namespaces: Annotated[int, typer.Option(help="Namespaces for the seeded pods.")] = 5,
    churn_rate: Annotated[float, typer.Option(
        help="Keep changing the seeded pods at this many changes per second.")] = 0.0,
    kubeconfig_out: Annotated[str, typer.Option(
        help="Where to write the kubeconfig for this server.")] = "kubecache.kubeconfig",
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: until Ctrl-C).")] = None,
) -> None:
    """Run the embedded API server alone and write a kubeconfig for it."""
    from .serve import ServeOptions, run_serve

    setup_logging(_state["verbosity"])
    code = run_serve(ServeOptions(
        host=host, port=port, seed_pods=seed_pods, namespaces=namespaces,
        kubeconfig_out=kubeconfig_out, duration=duration, churn_rate=churn_rate))
    raise typer.Exit(code)
