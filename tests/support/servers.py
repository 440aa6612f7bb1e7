"""Raw servers and hooks for the Kubernetes-source tests.

:class:`RawServer` runs a handler on each TCP connection (to answer what the
embedded API server never would); :class:`SilentServer` reads requests and then
never answers (or answers a head and then nothing), counting open connections;
:class:`HeaderRecorder` is an
``authenticate`` hook for ``ApiServer`` that accepts one header value.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class RawServer:
    """A raw TCP server running ``handler(conn)`` for each connection, on threads."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.conns: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            t = threading.Thread(target=self._run, args=(conn,))
            self.threads.append(t)
            t.start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handler(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        for t in self.threads:
            t.join()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_head(conn: socket.socket) -> bytes:
    """What ``conn`` sends up to the end of a request's head (less if it hangs up)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            break
        buf += data
    return buf


class HeaderRecorder:
    """An ``authenticate`` hook that accepts one header value and records what it saw."""

    def __init__(self, accept: str | None) -> None:
        self.accept = accept
        self.seen: list[str | None] = []

    def __call__(self, header: str | None) -> bool:
        self.seen.append(header)
        return header == self.accept


class SilentServer:
    """Reads each request, optionally answers with ``head``, then never says more.

    ``open`` counts connections whose client has not hung up yet.
    """

    CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")

    def __init__(self, head: bytes = b"") -> None:
        self.head = head
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = 0
        self.open = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.listener.settimeout(0.05)
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.05)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _recv(self, conn: socket.socket) -> bytes | None:
        """The next bytes (``b""``: hung up); ``None`` when the server is stopping."""
        while not self.stopping.is_set():
            try:
                return conn.recv(65536)
            except TimeoutError:
                continue
        return None

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.open += 1
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                more = self._recv(conn)
                if not more:
                    return
                data += more
            with self.lock:
                self.requests += 1
            if self.head:
                conn.sendall(self.head)
            while self._recv(conn):
                pass
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(5)
        self.listener.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
