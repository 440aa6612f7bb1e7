"""Issue 9, defect 2: an informer stops promptly while its request waits on a silent server.

The server accepts the connection (the kernel completes the handshake) and
reads the request, then never answers: no status line, no headers. Before
cancel scopes the informer's ``run`` was still blocked 55 s after ``stop``
(the bound was the request's read timeout). Both front ends, over real HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache.aio import AsyncSharedIndexInformer
from kubecache.informer import SharedIndexInformer
from kubecache.kube import (
    AsyncClient,
    Client,
    Config,
    new_async_list_watch_from_client,
    new_list_watch_from_client,
)
from tests.support.sync import await_for, wait_for


class SilentServer:
    """Accepts connections, reads what comes, answers nothing until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self.conns: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="silent server")
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(2.0)
            try:
                if conn.recv(65536):
                    self.requests += 1
            except OSError:
                pass
            self.conns.append(conn)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2.0)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_threaded_informer_stops_within_a_second_while_the_list_waits_for_headers(
        silent: SilentServer) -> None:
    with Client(Config(server=silent.url)) as client:
        informer = SharedIndexInformer(new_list_watch_from_client(client, "pods"))
        stop = threading.Event()
        runner = threading.Thread(target=informer.run, args=(stop,), name="informer.run")
        runner.start()
        assert wait_for(lambda: silent.requests >= 1, timeout=5.0)
        t0 = time.monotonic()
        stop.set()
        runner.join(5.0)
        took = time.monotonic() - t0
        assert not runner.is_alive() and took < 1.5, f"run() returned {took:.1f}s after stop"
        reflector = informer.reflector
        assert reflector is not None and reflector.stats.errors == 0  # a stop is no failure


def test_asyncio_informer_stops_within_a_second_while_the_list_waits_for_headers(
        silent: SilentServer) -> None:
    async def main() -> float:
        async with AsyncClient(Config(server=silent.url)) as client:
            informer = AsyncSharedIndexInformer(new_async_list_watch_from_client(client, "pods"))
            stop = asyncio.Event()
            task = asyncio.ensure_future(informer.run(stop))
            assert await await_for(lambda: silent.requests >= 1)
            t0 = time.monotonic()
            stop.set()
            await asyncio.wait_for(task, 5.0)
            took = time.monotonic() - t0
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert not left, left
            return took

    took: Any = asyncio.run(main())
    assert took < 1.5, f"run() returned {took:.1f}s after stop"
