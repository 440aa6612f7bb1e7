"""``kubecache serve``: the embedded API server on its own, with a kubeconfig for it.

Useful to try ``kubectl``, the official client or ``kubecache watch`` against
a server that needs no cluster. Optionally seeds pods (created in-process).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .churn import Churn, namespace_names
from .common import CliError, import_apiserver, sigterm_as_interrupt


@dataclass
class ServeOptions:
    """The ``serve`` command's arguments."""

    host: str = "127.0.0.1"
    port: int = 0
    seed_pods: int = 0
    namespaces: int = 5
    kubeconfig_out: str = "kubecache.kubeconfig"
    duration: float | None = None
    churn_rate: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise CliError(f"--port must be between 0 and 65535, got {self.port}", 2)
        if self.seed_pods < 0:
            raise CliError(f"--seed-pods must be >= 0, got {self.seed_pods}", 2)
        if self.namespaces < 1:
            raise CliError(f"--namespaces must be >= 1, got {self.namespaces}", 2)
        if self.duration is not None and self.duration <= 0:
            raise CliError(f"--duration must be > 0 seconds, got {self.duration}", 2)
        if self.churn_rate < 0:
            raise CliError(f"--churn-rate must be >= 0, got {self.churn_rate}", 2)


def run_serve(opts: ServeOptions) -> int:
    """Run the server until Ctrl-C (or ``--duration``); returns the exit code."""
    opts.validate()
    api_server_cls = import_apiserver()
    path = Path(opts.kubeconfig_out).expanduser().resolve()
    if not path.parent.is_dir():
        raise CliError(f"--kubeconfig-out: directory {path.parent} does not exist", 2)
    server = api_server_cls(host=opts.host, port=opts.port)
    try:
        server.start()
    except OSError as err:
        raise CliError(f"cannot listen on {opts.host}:{opts.port}: {err.strerror or err}") from err
    stop = threading.Event()
    churn_thread: threading.Thread | None = None
    try:
        namespaces = namespace_names(opts.namespaces)
        churn = Churn(server, namespaces=namespaces, pods=opts.seed_pods, rate=opts.churn_rate)
        for ns in namespaces if opts.seed_pods else []:
            # Namespaces are cosmetic (kubectl get ns); pods work without them.
            with contextlib.suppress(Exception):
                server.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": ns}})
        churn.seed()
        try:
            server.write_kubeconfig(str(path))
        except OSError as err:
            raise CliError(f"cannot write kubeconfig {path}: {err.strerror or err}") from err
        out = sys.stdout
        out.write(
            f"kubecache API server listening on {server.url}\n"
            f"kubeconfig written to {path}"
            + (f" ({churn.stats.seeded} pods seeded in {opts.namespaces} namespaces)"
               if opts.seed_pods else "") + "\n"
            f"try:\n"
            f"  kubectl --kubeconfig {path} get pods -A\n"
            f"  kubecache watch pods -A --kubeconfig {path}\n"
            f"Press Ctrl-C to stop.\n")
        out.flush()
        if opts.churn_rate > 0:
            churn_thread = threading.Thread(target=churn.run, args=(stop,),
                                            name="kubecache-churn", daemon=True)
            churn_thread.start()
        start = time.monotonic()
        with sigterm_as_interrupt():
            try:
                while opts.duration is None or time.monotonic() - start < opts.duration:
                    left = None if opts.duration is None else opts.duration - (
                        time.monotonic() - start)
                    time.sleep(0.5 if left is None else max(0.0, min(0.5, left)))
            except KeyboardInterrupt:
                pass
    finally:
        stop.set()
        if churn_thread is not None:
            churn_thread.join(5.0)
        server.stop()
    sys.stdout.write("server stopped\n")
    return 0
