"""Mirror the embedded API server over HTTP, the way you would mirror a cluster.

The server writes a kubeconfig (as a cluster's would be); the program loads it
with Client.from_kubeconfig, keeps an informer in sync while the server
changes (adds, label changes, deletes, a dropped watch), then checks that the
cache equals the server.

    python examples/mirror_apiserver.py
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from kubecache import SharedIndexInformer, wait_for_cache_sync
from kubecache.kube import Client, new_list_watch_from_client
from kubecache.testing import ApiServer


def server_state(server: ApiServer) -> dict[str, str]:
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}":
            o["metadata"]["resourceVersion"] for o in server.list_objects("pods")}


def cache_state(informer: SharedIndexInformer) -> dict[str, str]:
    return {key: obj["metadata"]["resourceVersion"]
            for key, obj in ((k, informer.get_store().get_by_key(k)[0])
                             for k in informer.get_store().list_keys())}


def main() -> None:
    with ApiServer() as server, tempfile.TemporaryDirectory() as tmp:
        for i in range(20):
            server.create("pods", {"metadata": {"name": f"pod-{i}", "namespace": f"ns-{i % 3}"}})
        kubeconfig = server.write_kubeconfig(Path(tmp, "kubeconfig"))
        # kubectl --kubeconfig <that file> get pods -A would show the same pods
        with Client.from_kubeconfig(kubeconfig) as client:
            informer = SharedIndexInformer(new_list_watch_from_client(client, "pods"), "Pod")
            stop = threading.Event()
            thread = threading.Thread(target=informer.run, args=(stop,))
            thread.start()
            try:
                if not wait_for_cache_sync(stop, informer.has_synced, timeout=10):
                    raise SystemExit("the informer did not sync within 10 s")
                print("synced", len(informer.get_store()), "pods")
                for i in range(0, 20, 4):
                    server.delete("pods", f"pod-{i}", f"ns-{i % 3}")
                server.drop_watches()  # the informer resumes from its resourceVersion
                for i in range(20, 25):
                    server.create("pods", {"metadata": {"name": f"pod-{i}", "namespace": "ns-0"}})
                # Wait until the cache has caught up with the server's latest change.
                want = server_state(server)
                for _ in range(200):
                    if cache_state(informer) == want:
                        break
                    stop.wait(0.05)
                diff = set(want.items()) ^ set(cache_state(informer).items())
                print("server", len(want), "pods; cache", len(informer.get_store()),
                      "pods; diff", len(diff))
                if diff:
                    raise SystemExit(f"cache differs from the server: {sorted(diff)[:5]}")
            finally:
                stop.set()
                thread.join()


if __name__ == "__main__":
    main()
