"""A TCP proxy on 127.0.0.1 that a test can cut and restore (a network partition on demand).

``TcpProxy(target_port)`` forwards every connection made to ``proxy.port``
to ``127.0.0.1:target_port``. :meth:`TcpProxy.cut` makes the network silent,
as a pulled cable does: bytes already in flight and any sent later are
dropped in both directions, connections stay open (a request hangs until its
own timeout), and new connections are accepted but never forwarded.
``cut(refuse=True)`` instead resets every connection and refuses new ones.
:meth:`TcpProxy.restore` heals the network for new connections; those that
lived through the cut are closed (they lost bytes).

One thread runs a selector loop over every socket; commands reach it
through a socketpair. Use as a context manager (or ``start``/``stop``).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from types import TracebackType


class _Pair:
    __slots__ = ("client", "silent", "upstream")

    def __init__(self, client: socket.socket, upstream: socket.socket | None,
                 silent: bool) -> None:
        self.client = client
        self.upstream = upstream
        self.silent = silent

    def other(self, sock: socket.socket) -> socket.socket | None:
        return self.upstream if sock is self.client else self.client

    def sockets(self) -> list[socket.socket]:
        return [s for s in (self.client, self.upstream) if s is not None]


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port`` until cut."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._lock = threading.Lock()
        self._mode = "up"  # "up", "silent", "refuse"
        self._pairs: dict[socket.socket, _Pair] = {}
        self._commands: list[tuple[str, threading.Event]] = []
        self._thread: threading.Thread | None = None
        self.connections = 0  # connections accepted so far

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- control (any thread) -------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread = threading.Thread(target=self._loop, name=f"tcp proxy :{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def cut(self, refuse: bool = False) -> None:
        """Partition: silently drop everything (default), or reset and refuse (``refuse``)."""
        self._command("refuse" if refuse else "silent")

    def restore(self) -> None:
        """Heal: new connections are forwarded again; those that lived through the cut close."""
        self._command("up")

    def stop(self) -> None:
        self._command("stop")
        if self._thread is not None:
            self._thread.join(5)
        for sock in (self._wake_r, self._wake_w):
            sock.close()

    def _command(self, command: str) -> None:
        done = threading.Event()
        with self._lock:
            self._commands.append((command, done))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None and self._thread.is_alive():
            done.wait(5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- the loop (proxy thread) -----------------------------------------------------------

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while True:
                for key, _ in sel.select():
                    if key.data == "wake":
                        if not self._commands_run(sel):
                            return
                    elif key.data == "accept":
                        self._accept(sel)
                    else:
                        self._relay(sel, key.fileobj)  # type: ignore[arg-type]
        finally:
            for pair in list(self._pairs.values()):
                self._close(sel, pair)
            sel.close()
            self._listener.close()

    def _commands_run(self, sel: selectors.BaseSelector) -> bool:
        with contextlib.suppress(OSError):
            self._wake_r.recv(4096)
        with self._lock:
            commands, self._commands = self._commands, []
        running = True
        for command, _ in commands:
            if command == "stop":
                running = False
            elif command == "up":
                self._mode = "up"
                for pair in {id(p): p for p in self._pairs.values()}.values():
                    if pair.silent:
                        self._close(sel, pair)
            else:
                self._mode = command
                for pair in {id(p): p for p in self._pairs.values()}.values():
                    if command == "refuse":
                        self._close(sel, pair, reset=True)
                    else:
                        pair.silent = True
        for _, done in commands:
            done.set()
        return running

    def _accept(self, sel: selectors.BaseSelector) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        self.connections += 1
        if self._mode == "refuse":
            _reset(client)
            return
        upstream = None
        if self._mode == "up":
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                return
        pair = _Pair(client, upstream, silent=self._mode == "silent")
        for sock in pair.sockets():
            sock.setblocking(True)
            self._pairs[sock] = pair
            sel.register(sock, selectors.EVENT_READ, "relay")

    def _relay(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        pair = self._pairs.get(sock)
        if pair is None:
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(sel, pair)
            return
        if pair.silent:
            return  # dropped on the floor
        other = pair.other(sock)
        try:
            if other is not None:
                other.sendall(data)
        except OSError:
            self._close(sel, pair)

    def _close(self, sel: selectors.BaseSelector, pair: _Pair, reset: bool = False) -> None:
        for sock in pair.sockets():
            if self._pairs.pop(sock, None) is not None:
                with contextlib.suppress(KeyError, ValueError):
                    sel.unregister(sock)
            if reset:
                _reset(sock)
            else:
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a refused or broken connection looks."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
