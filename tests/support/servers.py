"""Raw servers and hooks for the Kubernetes-source tests.

:class:`RawServer` runs a handler on each TCP connection (to answer what the
embedded API server never would); :class:`HeaderRecorder` is an
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
