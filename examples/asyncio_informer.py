"""An asyncio informer against the embedded API server.

kubecache.kube.AsyncClient (the 'aio' extra: aiohttp) feeds an
AsyncSharedIndexInformer; a coroutine handler prints each change; the program
waits for the sync, deletes a pod on the server and waits to see it go.

    python examples/asyncio_informer.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubecache import ResourceEventHandlerFuncs
from kubecache.aio import AsyncSharedIndexInformer, wait_for_cache_sync
from kubecache.kube import AsyncClient, Config, new_list_watch_from_client
from kubecache.testing import ApiServer


async def main(server: ApiServer) -> None:
    async with AsyncClient(Config(server=server.url)) as client:
        informer = AsyncSharedIndexInformer(new_list_watch_from_client(client, "pods"), "Pod")
        deleted = asyncio.Event()

        async def on_add(pod: Any) -> None:  # awaiting here holds up this handler only
            print("add", pod["metadata"]["namespace"], pod["metadata"]["name"])

        async def on_delete(pod: Any) -> None:
            print("delete", pod["metadata"]["name"])
            deleted.set()

        informer.add_event_handler(ResourceEventHandlerFuncs(on_add=on_add, on_delete=on_delete))
        stop = asyncio.Event()
        task = asyncio.create_task(informer.run(stop))
        try:
            if not await wait_for_cache_sync(informer.has_synced, timeout=10):
                raise SystemExit("the informer did not sync within 10 s")
            print("synced:", sorted(informer.get_store().list_keys()))
            # ApiServer's in-process calls block briefly: keep them off the loop.
            await asyncio.to_thread(server.delete, "pods", "api-0", "default")
            await asyncio.wait_for(deleted.wait(), timeout=10)
        finally:
            stop.set()  # or task.cancel(); either way every task it started has ended
            await task


if __name__ == "__main__":
    with ApiServer() as api:
        for i in range(2):
            api.create("pods", {"metadata": {"name": f"api-{i}", "namespace": "default"}})
        asyncio.run(main(api))
