"""Both HTTP clients on the wire: credentials never in errors, Content-Encoding honoured,
bookmarks judged by event type (issue 14). Each test runs on both clients
(the ``front`` fixture's ``client``, a :class:`tests.support.clients.ClientDriver`)."""

from __future__ import annotations

import base64
import gzip
import logging
import socket
import threading
import traceback
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from kubecache._json import dumps
from kubecache.errors import MalformedDataError, StatusError
from kubecache.keys import meta_namespace_key_func
from kubecache.kube import Config, TransportError, TransportTimeout
from kubecache.listwatch import ListOptions
from kubecache.reflector import Reflector
from kubecache.store import new_store
from kubecache.watch import EventType
from tests.support.clients import ClientDriver
from tests.support.front import Front
from tests.support.servers import RawServer, read_head
from tests.support.sync import wait_for

PASSWORD = "pw-s3cr3t-proxy-value"
USER = "puser"


# --- a proxy that refuses CONNECT with 407 (expired proxy credentials) ----------------------


class RefusingProxy:
    """Answers every request 407 and records the request heads it got."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.server = RawServer(self._handle)
        self.url = self.server.url.replace("http://", f"http://{USER}:{PASSWORD}@")

    def _handle(self, conn: socket.socket) -> None:
        self.heads.append(read_head(conn))
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"proxy\"\r\n"
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def refusing_proxy() -> Iterator[RefusingProxy]:
    p = RefusingProxy()
    yield p
    p.close()


def _leaks(text: str) -> list[str]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [s for s in (PASSWORD, token) if s in text]


def _everything(exc: BaseException) -> str:
    """str, repr, and the formatted traceback with every chained exception and their reprs."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        parts += [repr(link), repr(vars(link)) if hasattr(link, "__dict__") else ""]
        link = link.__cause__ or link.__context__
    return "\n".join(parts)


def test_a_refusing_proxy_never_shows_its_password(
        front: Front, refusing_proxy: RefusingProxy,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = Config(server="https://cluster.example:6443", proxy_url=refusing_proxy.url)
    errors: list[BaseException] = []
    with front.client(cfg) as driver:
        lw = driver.list_watch("pods")
        for attempt in (lambda: driver.call("get", "/api/v1/pods"),
                        lambda: driver.list(lw, ListOptions(limit=500)),
                        lambda: driver.watch(lw, ListOptions(timeout_seconds=5))):
            with pytest.raises(TransportError) as info:
                attempt()
            errors.append(info.value)
        text = repr(driver.client)
    assert refusing_proxy.heads, "the proxy was never asked"
    assert b"Proxy-Authorization: Basic " in refusing_proxy.heads[0]
    for exc in errors:
        assert "407" in str(exc) and "cluster.example:6443" in str(exc)
        # no third-party exception (holding the URL or the header) is kept in the chain
        assert exc.__cause__ is None and exc.__context__ is None
        text += _everything(exc)
    text += "\n".join(r.getMessage() for r in caplog.records)
    assert _leaks(text) == []


def test_a_reflector_retrying_through_a_refusing_proxy_keeps_the_password_out(
        refusing_proxy: RefusingProxy, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = Config(server="https://cluster.example:6443", proxy_url=refusing_proxy.url)
    with ClientDriver("sync", cfg) as driver:
        store = new_store(meta_namespace_key_func)
        r = Reflector(driver.list_watch("pods"), None, store)
        stop = threading.Event()
        r.run_until(stop)
        try:
            assert wait_for(lambda: r.stats.last_error and len(refusing_proxy.heads) >= 2, 10)
        finally:
            stop.set()
            r.join(5)
        text = r.stats.last_error + repr(r.stats) + "\n".join(
            r.getMessage() for r in caplog.records)
    assert "407" in r.stats.last_error
    assert _leaks(text) == []


def test_redact_removes_userinfo_auth_headers_and_known_secrets() -> None:
    from kubecache._wire.redact import redact

    text = ("407, url='http://bob:hunter22@proxy:3128' headers={'Proxy-Authorization': "
            "'Basic Ym9iOmh1bnRlcjIy', 'Authorization': 'Bearer abcdef123456'} tok=XYZsecret")
    out = redact(text, ["XYZsecret"])
    for secret in ("hunter22", "Ym9iOmh1bnRlcjIy", "abcdef123456", "XYZsecret"):
        assert secret not in out
    assert "proxy:3128" in out and "407" in out


# --- Content-Encoding ---------------------------------------------------------------------------

POD_LIST = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
            "items": [{"metadata": {"name": f"p{i}", "namespace": "default",
                                    "resourceVersion": "7"}} for i in range(50)]}


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class GzipServer:
    """Answers lists with a gzipped body and watches with a gzipped chunked stream."""

    EVENTS = 5

    def __init__(self, encoding: str = "gzip") -> None:
        self.encoding = encoding
        self.heads: list[bytes] = []
        self.server = RawServer(self._handle)
        self.url = self.server.url

    def _compressor(self) -> Any:
        if self.encoding == "gzip":
            return zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)

    def _handle(self, conn: socket.socket) -> None:
        from kubecache._json import dumps

        head = read_head(conn)
        self.heads.append(head)
        enc = self.encoding.encode()
        if b"watch=1" in head.split(b"\r\n", 1)[0]:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Encoding: " + enc + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
            z = self._compressor()
            for i in range(self.EVENTS):
                line = dumps({"type": "ADDED", "object": {"metadata": {
                    "name": f"w{i}", "namespace": "default",
                    "resourceVersion": str(10 + i)}}}) + b"\n"
                conn.sendall(_chunk(z.compress(line) + z.flush(zlib.Z_SYNC_FLUSH)))
            conn.sendall(_chunk(z.flush()) + b"0\r\n\r\n")
            return
        body = dumps(POD_LIST)
        z = self._compressor()
        data = z.compress(body) + z.flush()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Encoding: " + enc + b"\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % len(data) + data)

    def close(self) -> None:
        self.server.close()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_lists_and_watches_are_decoded(front: Front, encoding: str) -> None:
    server = GzipServer(encoding)
    try:
        with front.client(Config(server=server.url)) as driver:
            lw = driver.list_watch("pods")
            listed = driver.list(lw, ListOptions(limit=500))
            assert listed == POD_LIST
            w = driver.watch(lw, ListOptions(resource_version="7", timeout_seconds=30))
            events = driver.next_events(w, 10)
            driver.stop_watch(w)
    finally:
        server.close()
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [
        (EventType.ADDED, f"w{i}") for i in range(GzipServer.EVENTS)]
    list_head, watch_head = server.heads[0].lower(), server.heads[1].lower()
    assert b"accept-encoding: gzip" in list_head  # lists ask for gzip, as client-go does
    assert b"gzip" not in watch_head  # watches ask for none (small events, flushed one by one)


def test_no_gzip_asked_when_compress_is_off(front: Front) -> None:
    server = GzipServer()
    try:
        with front.client(Config(server=server.url), compress=False) as driver:
            assert driver.list(driver.list_watch("pods")) == POD_LIST  # still decoded
    finally:
        server.close()
    assert b"gzip" not in server.heads[0].lower()


def test_content_decoder_pieces_corruption_and_unknown_codings() -> None:
    from kubecache.kube._answers import content_decoder

    assert content_decoder(None, "x") is None and content_decoder("identity", "x") is None
    data = gzip.compress(b"a" * 5_000_000)
    dec = content_decoder("gzip", "/p")
    assert dec is not None
    pieces = [p for i in range(0, len(data), 100) for p in dec.feed(data[i:i + 100])]
    assert b"".join(pieces) == b"a" * 5_000_000 and max(map(len, pieces)) <= 1 << 20
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    dec = content_decoder("deflate", "/p")
    assert dec is not None
    assert b"".join(dec.feed(raw.compress(b"hello") + raw.flush())) == b"hello"
    with pytest.raises(MalformedDataError, match="/p: the gzip body is corrupt"):
        content_decoder("gzip", "/p").feed(b"not gzip at all")  # type: ignore[union-attr]
    with pytest.raises(MalformedDataError, match="unsupported Content-Encoding 'br'"):
        content_decoder("br", "/p")


# --- the silence bound decides from decoded event types ---------------------------------------


class BookmarkTextServer:
    """A watch whose object holds the text "BOOKMARK", then a real bookmark on request."""

    def __init__(self) -> None:
        self.send_bookmark = threading.Event()
        self.server = RawServer(self._handle)
        self.url = self.server.url

    def _handle(self, conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        conn.sendall(_chunk(b'{"type":"ADDED","object":{"metadata":{"name":"a","namespace":'
                            b'"default","resourceVersion":"8","labels":{"kind":"BOOKMARK"}},'
                            b'"data":{"note":"\\"BOOKMARK\\""}}}\n'))
        if self.send_bookmark.wait(10):
            conn.sendall(_chunk(b'{"type":"BOOKMARK","object":{"metadata":'
                                b'{"resourceVersion":"9"}}}\n'))
        while conn.recv(65536):
            pass

    def close(self) -> None:
        self.send_bookmark.set()
        self.server.close()


def test_a_bookmark_string_inside_an_object_does_not_shorten_the_silence_bound(
        front: Front) -> None:
    server = BookmarkTextServer()
    try:
        with front.client(Config(server=server.url)) as driver:
            w = driver.watch(driver.list_watch("pods"),
                             ListOptions(resource_version="7", timeout_seconds=300))
            (added,) = driver.next_events(w, 1)
            assert added.type is EventType.ADDED
            assert not w.silence.bookmarked and w.silence.seconds == 305.0
            server.send_bookmark.set()
            (bookmark,) = driver.next_events(w, 1)
            assert bookmark.type is EventType.BOOKMARK
            assert w.silence.bookmarked and w.silence.seconds == 150.0
            driver.stop_watch(w)
    finally:
        server.close()


# --- a stream's read failures are kubecache errors too (the threaded client's chunks()) -------


def _cut_after_one_chunk(conn: socket.socket) -> None:
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunk(b"{}\n"))
    conn.shutdown(socket.SHUT_RDWR)


def _silent_after_one_chunk(conn: socket.socket) -> None:
    read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunk(b"{}\n"))
    while conn.recv(65536):
        pass


@pytest.mark.parametrize(("handler", "kind"), [(_cut_after_one_chunk, TransportError),
                                               (_silent_after_one_chunk, TransportTimeout)])
def test_a_broken_or_silent_stream_raises_a_transport_error_without_chained_causes(
        handler: Any, kind: type[TransportError]) -> None:
    from kubecache.kube import Client

    with RawServer(handler) as server, Client(Config(server=server.url)) as client:
        stream = client.stream("/api/v1/pods", {"watch": 1}, read_timeout=0.3)
        chunks = stream.chunks()
        assert next(chunks) == b"{}\n"
        with pytest.raises(TransportError) as info:
            next(chunks)
    assert type(info.value) is kind and "/api/v1/pods" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


# --- redirects are failures, never followed; an echoed credential never reaches an error ---------


class Recording:
    """A server answering each request with ``answer(head)`` and recording the heads."""

    def __init__(self, answer: Any) -> None:
        self.heads: list[bytes] = []
        self.answer = answer
        self.server = RawServer(self._handle)
        self.url = self.server.url

    def _handle(self, conn: socket.socket) -> None:
        head = read_head(conn)
        self.heads.append(head)
        conn.sendall(self.answer(head))

    def close(self) -> None:
        self.server.close()


def _answer(status: bytes, body: bytes, extra: bytes = b"",
            content_type: bytes = b"text/plain") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type + b"\r\n" + extra +
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


TOKEN = "tok-s3cr3t-bearer-value"


def test_a_redirect_is_a_status_error_and_never_followed(front: Front) -> None:
    other = Recording(lambda head: _answer(b"200 OK", b"{}", content_type=b"application/json"))
    target = other.url.replace("127.0.0.1", "localhost") + "/api/v1/pods"
    redirecting = Recording(lambda head: _answer(
        b"302 Found", b"", b"Location: " + target.encode() + b"\r\n"))
    try:
        with front.client(Config(server=redirecting.url, token=TOKEN)) as driver:
            lw = driver.list_watch("pods")
            for attempt in (lambda: driver.call("get", "/api/v1/pods"),
                            lambda: driver.list(lw, ListOptions(limit=500)),
                            lambda: driver.watch(lw, ListOptions(timeout_seconds=5))):
                with pytest.raises(StatusError) as info:
                    attempt()
                assert info.value.code == 302
                assert "redirect" in str(info.value) and "not followed" in str(info.value)
                assert target in str(info.value)
    finally:
        redirecting.close()
        other.close()
    assert len(redirecting.heads) == 3 and other.heads == []  # nothing went to the other host


def _echo_head(head: bytes) -> bytes:
    return _answer(b"400 Bad Request", head)  # a proxy's error page quoting the request


def _echo_in_status(head: bytes) -> bytes:
    text = head.decode("latin-1").replace("\r\n", " | ")
    body = dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
                  "reason": "Forbidden", "message": f"denied: {text}"})
    return _answer(b"403 Forbidden", body, content_type=b"application/json")


def _credentials(kind: str, tmp_path: Any) -> tuple[dict[str, Any], list[str]]:
    if kind == "token":
        return {"token": TOKEN}, [TOKEN]
    if kind == "token-file":
        path = tmp_path / "token"
        path.write_text(TOKEN + "\n")
        return {"token_file": str(path)}, [TOKEN]
    basic = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    return {"username": "bob", "password": PASSWORD}, [PASSWORD, basic]


@pytest.mark.parametrize("answer", [_echo_head, _echo_in_status], ids=["text", "status"])
@pytest.mark.parametrize("auth", ["token", "token-file", "basic"])
def test_a_failure_answer_echoing_the_request_never_shows_the_credential(
        front: Front, answer: Any, auth: str, tmp_path: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings, secrets = _credentials(auth, tmp_path)
    server = Recording(answer)
    try:
        with front.client(Config(server=server.url, **settings)) as driver:
            lw = driver.list_watch("pods")
            errors = []
            for attempt in (lambda: driver.call("get", "/api/v1/pods"),
                            lambda: driver.list(lw, ListOptions(limit=500)),
                            lambda: driver.watch(lw, ListOptions(timeout_seconds=5))):
                with pytest.raises(StatusError) as info:
                    attempt()
                errors.append(info.value)
    finally:
        server.close()
    assert b"Authorization: " in server.heads[0]  # the credential was sent, and echoed
    text = "\n".join(r.getMessage() for r in caplog.records)
    for exc in errors:
        assert exc.code in (400, 403) and "/api/v1/pods" in str(exc)  # the rest is kept
        text += _everything(exc) + repr(exc.status)
    assert [s for s in secrets if s in text] == []


# --- a corrupt compressed watch is a MalformedDataError on both clients --------------------------


def _corrupt_gzip_watch(conn: socket.socket) -> None:
    read_head(conn)
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    event = b'{"type":"ADDED","object":{"metadata":{"name":"a","namespace":"d",' \
            b'"resourceVersion":"8"}}}\n'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
                 _chunk(z.compress(event) + z.flush(zlib.Z_SYNC_FLUSH)) +
                 _chunk(b"this is not deflate data at all"))
    while conn.recv(65536):
        pass


def test_a_corrupt_compressed_watch_is_malformed_data(front: Front) -> None:
    with RawServer(_corrupt_gzip_watch) as server, \
            front.client(Config(server=server.url)) as driver:
        w = driver.watch(driver.list_watch("pods"),
                         ListOptions(resource_version="7", timeout_seconds=30))
        with pytest.raises(MalformedDataError, match=r"/api/v1/pods: the gzip body is corrupt"):
            driver.next_events(w, 5)  # on both: not a quiet end of the stream
        driver.stop_watch(w)


# --- a credential failure keeps no third-party exception holding the secret in its chain ----------


def _chain_text(exc: BaseException) -> str:
    """The exception and every linked one (cause or context, suppressed or not), attributes too."""
    parts: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        link = todo.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        parts += [str(link), repr(link), repr(getattr(link, "__dict__", ""))]
        parts += [repr(getattr(link, a, "")) for a in ("doc", "object", "stdout", "stderr",
                                                       "output", "cmd", "problem_mark")]
        mark = getattr(link, "problem_mark", None)
        parts.append(repr(getattr(mark, "buffer", "")))
        todo += [link.__cause__, link.__context__]
    return "\n".join(parts)


_PLUGIN_BAD_JSON = f"""#!/bin/sh
echo '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",\
"status":{{"token":"{TOKEN}"'
"""

_PLUGIN_SLOW = f"""#!/bin/sh
echo '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",\
"status":{{"token":"{TOKEN}"}}}}'
exec sleep 30
"""


@pytest.mark.parametrize("case", ["exec-invalid-json", "exec-timeout", "token-file-not-text"])
def test_a_credential_failure_chains_nothing_that_holds_the_secret(
        front: Front, case: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubecache.kube import auth
    from kubecache.kube.auth import CredentialError
    from kubecache.kube.config import ExecConfig

    settings: dict[str, Any]
    if case == "token-file-not-text":
        path = tmp_path / "token"
        path.write_bytes(b"\xff" + TOKEN.encode())
        settings = {"token_file": str(path)}
    else:
        plugin = tmp_path / "plugin.sh"
        plugin.write_text(_PLUGIN_BAD_JSON if case == "exec-invalid-json" else _PLUGIN_SLOW)
        plugin.chmod(0o755)
        monkeypatch.setattr(auth, "EXEC_TIMEOUT", 1.0)
        settings = {"exec": ExecConfig(command=str(plugin),
                                       api_version="client.authentication.k8s.io/v1")}
    with RawServer(lambda conn: None) as server, \
            front.client(Config(server=server.url, **settings)) as driver, \
            pytest.raises(CredentialError) as info:
        driver.call("get", "/api/v1/pods")
    assert TOKEN not in _chain_text(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_a_path_not_beginning_with_a_slash_is_refused_before_anything_is_sent(
        front: Front) -> None:
    other = Recording(lambda head: _answer(b"200 OK", b"{}", content_type=b"application/json"))
    try:
        with front.client(Config(server="http://127.0.0.1:1", token=TOKEN)) as driver:
            for path in (f"@127.0.0.1:{other.server.port}/api", "api/v1/pods"):
                with pytest.raises(ValueError, match="must begin with '/'"):
                    driver.call("get", path)
    finally:
        other.close()
    assert other.heads == []  # the threaded client sent the token to that host


# --- the exchange's 401 rule behaves alike on both clients (not only its signature) ------------


_UNAUTHORIZED = dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "reason": "Unauthorized", "code": 401, "message": "Unauthorized"})


@pytest.mark.parametrize("auth", ["token", "token-file"])
def test_a_401_is_retried_once_with_refreshable_credentials_and_never_with_a_static_token(
        front: Front, auth: str, tmp_path: Any) -> None:
    settings, _ = _credentials(auth, tmp_path)
    server = Recording(lambda head: _answer(b"401 Unauthorized", _UNAUTHORIZED,
                                            content_type=b"application/json"))
    tries = 2 if auth == "token-file" else 1  # a file may have rotated: one retry, as client-go
    try:
        with front.client(Config(server=server.url, **settings)) as driver:
            lw = driver.list_watch("pods")
            for n, attempt in enumerate((lambda: driver.call("get", "/api/v1/pods"),
                                         lambda: driver.list(lw, ListOptions(limit=500)),
                                         lambda: driver.watch(lw, ListOptions(timeout_seconds=5)),
                                         lambda: driver.call("post", "/api/v1/pods", {"a": 1})),
                                        start=1):
                with pytest.raises(StatusError) as info:
                    attempt()
                assert info.value.code == 401 and len(server.heads) == n * tries
    finally:
        server.close()
    # the retry carries the same credential; a POST is sent again as well
    posts = [h for h in server.heads if h.startswith(b"POST")]
    assert len(posts) == tries and all(b"Authorization: Bearer " + TOKEN.encode() in h
                                       for h in server.heads)


def test_a_stream_broken_mid_body_ends_and_is_not_sent_again(front: Front) -> None:
    read = threading.Event()

    def one_event_then_cut(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" +
                     _chunk(b'{"type":"ADDED","object":{"metadata":{"name":"a","namespace":'
                            b'"d","resourceVersion":"8"}}}\n'))
        read.wait(10)  # (aiohttp drops bytes it buffered once the connection has broken)
        conn.shutdown(socket.SHUT_RDWR)

    with RawServer(one_event_then_cut) as server, \
            front.client(Config(server=server.url, token=TOKEN)) as driver:
        w = driver.watch(driver.list_watch("pods"),
                         ListOptions(resource_version="7", timeout_seconds=30))
        (event,) = driver.next_events(w, 1)
        assert event.object["metadata"]["name"] == "a"
        read.set()
        assert driver.next_events(w, 5) == []  # the cut: a quiet end
        assert server.accepted == 1  # resuming is the reflector's decision, not the client's


# --- a server or proxy URL that cannot work is a ConfigError at construction, redacted ----------


@pytest.mark.parametrize(("server", "proxy"), [
    (f"bob:{PASSWORD}@cluster.example:6443", None),  # no scheme: quoted whole by both libraries
    (f"https://bob:{PASSWORD}@cluster.example:notaport", None),
    ("https://cluster.example:6443", f"http://{USER}:{PASSWORD}@127.0.0.1:notaport"),
    ("https://cluster.example:6443", f"socks5://{USER}:{PASSWORD}@127.0.0.1:1080"),
    ("https://cluster.example:6443", f"http://{USER}:{PASSWORD}@[::1"),
], ids=["server-no-scheme", "server-port", "proxy-port", "proxy-scheme", "proxy-ipv6"])
def test_an_unusable_server_or_proxy_url_is_a_config_error_without_its_password(
        front: Front, server: str, proxy: str | None) -> None:
    from kubecache.kube import ConfigError

    cfg = Config(server=server, proxy_url=proxy)
    assert _leaks(repr(cfg)) == []
    with pytest.raises(ConfigError) as info:
        front.client(cfg).close()
    assert ("proxy-url" if proxy else "server") in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert _leaks(_everything(info.value)) == []


def test_an_environment_proxy_without_a_scheme_is_http(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubecache.kube._endpoint import environment_proxy

    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert environment_proxy("https://cluster.example:6443") == "http://proxy.example:3128"


# --- timeouts: a connect timeout is not a read timeout, on both clients ---------------------------


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: a connect to it waits (no SYN-ACK) until it times out."""
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    yield port
    for c in fillers:
        c.close()
    server.close()


def _hangs_after_the_head(conn: socket.socket) -> None:
    read_head(conn)
    while conn.recv(65536):
        pass


def test_a_connect_timeout_is_a_transport_error_and_a_read_timeout_a_transport_timeout(
        front: Front, unanswered_port: int) -> None:
    with front.client(Config(server=f"http://127.0.0.1:{unanswered_port}"),
                      connect_timeout=0.3) as driver, pytest.raises(TransportError) as info:
        driver.call("get", "/api/v1/pods")
    assert type(info.value) is TransportError  # TransportTimeout means a read waited too long
    assert str(info.value).endswith("/api/v1/pods: connect timed out")
    with RawServer(_hangs_after_the_head) as server, \
            front.client(Config(server=server.url), timeout=0.3) as driver, \
            pytest.raises(TransportTimeout) as timeout:
        driver.call("get", "/api/v1/pods")
    assert str(timeout.value).endswith("/api/v1/pods: no answer for 0.3 s (read timeout)")


def _answer_cut_mid_body(conn: socket.socket) -> None:
    read_head(conn)
    conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"kind\":")
    conn.shutdown(socket.SHUT_RDWR)


def test_an_answer_cut_mid_body_names_the_request_method(front: Front) -> None:
    with RawServer(_answer_cut_mid_body) as server, \
            front.client(Config(server=server.url)) as driver, \
            pytest.raises(TransportError) as info:
        driver.call("post", "/api/v1/namespaces/d/pods", {"metadata": {"name": "a"}})
    assert str(info.value).startswith(f"POST {server.url}/api/v1/namespaces/d/pods: ")
