"""An informer with an index, against the embedded API server.

Starts kubecache.testing.ApiServer, mirrors its pods with a SharedIndexInformer
that files each pod under its "app" label, waits for the cache to sync, reads
it through the index, then changes a pod and prints what on_update receives.

    python examples/informer_with_index.py
"""

from __future__ import annotations

import threading
from typing import Any

from kubecache import ResourceEventHandlerFuncs, SharedIndexInformer, wait_for_cache_sync
from kubecache.kube import Client, Config, new_list_watch_from_client
from kubecache.testing import ApiServer


def by_app(pod: Any) -> list[str]:
    """Index function: the values a pod is filed under (here its app label, if any)."""
    app = pod["metadata"].get("labels", {}).get("app")
    return [app] if app else []


def main() -> None:
    with ApiServer() as server, Client(Config(server=server.url)) as client:
        for name, app in [("web-1", "web"), ("web-2", "web"), ("db-1", "db")]:
            server.create("pods", {"metadata": {"name": name, "namespace": "shop",
                                                "labels": {"app": app}}})
        lw = new_list_watch_from_client(client, "pods", namespace="shop")
        informer = SharedIndexInformer(lw, "Pod", indexers={"app": by_app})

        updated = threading.Event()

        def on_add(pod: Any) -> None:
            print("add", pod["metadata"]["name"])

        def on_update(old: Any, new: Any) -> None:
            # old: the object the cache held before; new: the one it holds now.
            # Both are the cached objects themselves: read them, never change them
            # (copy.deepcopy first if you need a version to modify).
            print("update", new["metadata"]["name"],
                  old["metadata"]["labels"], "->", new["metadata"]["labels"])
            updated.set()

        informer.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add, on_update=on_update))
        stop = threading.Event()
        thread = threading.Thread(target=informer.run, args=(stop,))
        thread.start()
        try:
            if not wait_for_cache_sync(stop, informer.has_synced, timeout=10):
                raise SystemExit("the informer did not sync within 10 s")
            web = informer.get_indexer().by_index("app", "web")
            print("synced; app=web:", sorted(p["metadata"]["name"] for p in web))
            server.patch("pods", "db-1", {"metadata": {"labels": {"app": "db", "tier": "data"}}},
                         namespace="shop")
            if not updated.wait(10):
                raise SystemExit("no update within 10 s")
        finally:
            stop.set()
            thread.join()


if __name__ == "__main__":
    main()
