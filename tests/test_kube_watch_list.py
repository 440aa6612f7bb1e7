"""Streamed initial lists through the Kubernetes source (issue 16), on both front ends.

The kube list-watches declare ``supports_watch_list``: a reflector with the
default ``use_watch_list=None`` syncs from one ``sendInitialEvents`` watch
(no list call) against the embedded server, and falls back to a paginated list
when the server refuses the parameter (``ApiServer(watch_list=False)``: 422, as
a 1.33 server) or never sends the end bookmark (``omit_initial_events_end``).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from kubecache import meta_namespace_key_func, new_store
from kubecache.aio import AsyncReflector
from kubecache.backoff import Backoff
from kubecache.kube import AsyncClient, Client, Config, new_list_watch_from_client
from kubecache.testing import ApiServer
from tests.support.front import Front
from tests.support.objects import new_pod
from tests.support.sync import wait_for


class Mirror:
    """A reflector of ``front`` over the server's pods through that front end's client."""

    def __init__(self, front: Front, server: ApiServer, **kw: Any) -> None:
        self.front = front
        self.thread = front.name == "thread"
        config = Config(server=server.url)
        self.client: Any = Client(config) if self.thread else AsyncClient(config)
        self.lw = new_list_watch_from_client(self.client, "pods")
        self.store = new_store(meta_namespace_key_func)
        kw.setdefault("backoff", Backoff(initial=0.02, maximum=0.2))
        if self.thread:
            self.stop: Any = threading.Event()
            self.reflector = front.start_reflector(self.lw, self.store, self.stop, **kw)
        else:  # on the front's loop, where the AsyncClient then lives and is closed
            self.reflector = AsyncReflector(self.lw, None, self.store, **kw)
            self.stop = front.call(asyncio.Event)
            self.run = front.submit(self.reflector.run, self.stop)

    def close(self) -> None:
        if self.thread:
            self.stop.set()
            assert self.reflector.join(5)
            self.client.close()
            return
        self.front.call(self.stop.set)
        self.run.result(5)
        self.front.submit(self.client.aclose).result(5)

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fill(server: ApiServer, n: int = 5) -> set[str]:
    return {meta_namespace_key_func(server.create("pods", new_pod(f"p{i}"))) for i in range(n)}


def test_both_clients_list_watches_declare_streamed_lists() -> None:
    for client in (Client(Config(server="http://h")), AsyncClient(Config(server="http://h"))):
        lw = new_list_watch_from_client(client, "pods")
        assert lw.supports_watch_list is True
        assert lw.raw_objects().supports_watch_list is True



def test_a_reflector_syncs_from_one_streamed_list(front: Front, server: ApiServer) -> None:
    keys = _fill(server)
    with Mirror(front, server) as m:
        assert wait_for(lambda: set(m.store.list_keys()) == keys and m.reflector.stats.lists, 10)
        stats = m.reflector.stats
        assert stats.list_pages == 0 and stats.stream_fallbacks == 0  # no list call at all
        server.create("pods", new_pod("late"))  # the same watch goes on as a live one
        assert wait_for(lambda: "default/late" in m.store.list_keys(), 10)
        assert m.reflector.stats.watch_starts == 1


@pytest.mark.apiserver(watch_list=False)
def test_a_server_refusing_streamed_lists_gets_a_paginated_list(front: Front,
                                                                server: ApiServer) -> None:
    keys = _fill(server)
    with Mirror(front, server) as m:
        assert wait_for(lambda: set(m.store.list_keys()) == keys, 10)
        stats = m.reflector.stats
        assert stats.stream_fallbacks >= 1 and stats.list_pages >= 1


def test_a_missing_end_bookmark_falls_back_after_the_bounded_wait(front: Front,
                                                                  server: ApiServer) -> None:
    keys = _fill(server)
    server.omit_initial_events_end()
    with Mirror(front, server, stream_timeout=1.0) as m:
        assert wait_for(lambda: set(m.store.list_keys()) == keys, 15)
        stats = m.reflector.stats
        assert stats.stream_fallbacks >= 1 and stats.list_pages >= 1
