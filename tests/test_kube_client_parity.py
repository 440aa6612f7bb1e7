"""Both HTTP clients take the same options and calls, and the options mean the same.

The threaded ``Client`` and the asyncio ``AsyncClient`` drifted once (``accept=``
existed only on the threaded one); these tests fail on any such drift.
"""

from __future__ import annotations

import inspect
import socket
import threading
from typing import Any

import pytest

from kubecache.kube import AsyncClient, Client, Config
from kubecache.kube._settings import ClientBase, ClientSettings
from tests.support.front import Front
from tests.support.servers import RawServer

TWINS = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
"""Calls whose asyncio twin has another name (the asyncio protocol's names)."""


def _shape(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def _public(cls: type) -> set[str]:
    twins = set(TWINS) | set(TWINS.values())
    return {name for name in dir(cls) if not name.startswith("_") or name in twins}


def test_both_constructors_take_the_same_options() -> None:
    assert _shape(Client.__init__) == _shape(AsyncClient.__init__)
    base = [p for p in inspect.signature(ClientBase.__init__).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert [p.name for p in base] == list(ClientSettings.__annotations__)


def test_both_clients_have_the_same_calls_with_the_same_parameters() -> None:
    sync_calls = _public(Client)
    async_calls = _public(AsyncClient)
    assert {TWINS.get(name, name) for name in sync_calls} == async_calls
    for name in sync_calls:
        sync_fn, async_fn = getattr(Client, name), getattr(AsyncClient, TWINS.get(name, name))
        if isinstance(sync_fn, property):
            assert isinstance(async_fn, property), name
            continue
        if name in TWINS:
            continue  # the context-manager protocols differ by design
        assert _shape(sync_fn) == _shape(async_fn), name
        assert inspect.iscoroutinefunction(async_fn) == (
            inspect.iscoroutinefunction(sync_fn) or name in ("request", "get", "post", "put",
                                                              "patch", "delete", "stream",
                                                              "watch")), name


class KeepAliveServer:
    """Answers every request on a kept-alive connection once ``parallel`` are in flight."""

    def __init__(self, parallel: int) -> None:
        self.barrier = threading.Barrier(parallel, timeout=10)
        self.server = RawServer(self._handle)
        self.url = self.server.url

    def _handle(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            buf = buf.split(b"\r\n\r\n", 1)[1]
            self.barrier.wait()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 2\r\n\r\n{}")

    def close(self) -> None:
        self.barrier.abort()
        self.server.close()


@pytest.mark.parametrize("pool_size", [1, 3])
def test_pool_size_is_how_many_idle_connections_are_kept(front: Front,
                                                         pool_size: int) -> None:
    server = KeepAliveServer(3)
    try:
        with front.client(Config(server=server.url), pool_size=pool_size) as d:
            assert d.concurrently(3, "get", "/api/v1/pods") == [{}, {}, {}]
            assert server.server.accepted == 3  # three in flight: three connections
            assert d.concurrently(3, "get", "/api/v1/pods") == [{}, {}, {}]
            # pool_size idle connections were kept and reused; the rest were new
            assert server.server.accepted == 3 + (3 - pool_size)
    finally:
        server.close()
