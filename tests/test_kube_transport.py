"""The clients' transports against hostile and odd peers: prompt cancel, proxies,
secrets in logs, silent watches, unbounded lines, Retry-After dates, TLS without verification.

What both clients have (silent watches, proxies, TLS, secrets, list bounds, Retry-After)
runs on both through the ``front`` fixture; cancel scopes, the shared pool and the
unbounded line's memory bound are the threaded client's own."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import resource
import select
import socket
import ssl
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from kubecache import cancel
from kubecache.errors import MalformedDataError, StatusError
from kubecache.kube import AsyncClient, Client, Config, RequestCancelled, TransportError
from kubecache.kube import new_list_watch_from_client as lw_from
from kubecache.kube._endpoint import environment_proxy
from kubecache.listwatch import ListOptions
from kubecache.testing import ApiServer
from kubecache.watch import EventType
from tests.support.front import Front
from tests.support.servers import RawServer, read_head

PASSWORD = "pw-s3cr3t-value"


def never_answer(conn: socket.socket) -> None:
    read_head(conn)
    while conn.recv(65536):  # until the client hangs up
        pass


CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def headers_then_silence(conn: socket.socket) -> None:
    read_head(conn)
    conn.sendall(CHUNKED)
    while conn.recv(65536):
        pass


class Blocked:
    """A handler that reads the request, optionally sends chunked headers, sets ``reached``,
    then stays silent until the client hangs up."""

    def __init__(self, send_headers: bool) -> None:
        self.send_headers = send_headers
        self.reached = threading.Event()

    def __call__(self, conn: socket.socket) -> None:
        read_head(conn)
        if self.send_headers:
            conn.sendall(CHUNKED)
        self.reached.set()
        while conn.recv(65536):
            pass


def in_thread(fn: Callable[[], Any], scope: cancel.CancelScope) -> dict[str, Any]:
    """Run ``fn`` inside ``scope`` on a thread; the dict gets "error"/"result" and "thread"."""
    out: dict[str, Any] = {}

    def run() -> None:
        with cancel.scope(scope):
            try:
                out["result"] = fn()
            except BaseException as exc:
                out["error"] = exc

    out["thread"] = threading.Thread(target=run)
    out["thread"].start()
    return out


# --- prompt cancel (defect 2) ----------------------------------------------------------------


@pytest.mark.parametrize("call", ["get", "watch-open", "watch-read"])
def test_a_cancelled_scope_ends_a_blocked_call_within_a_second(call: str) -> None:
    handler = Blocked(send_headers=call == "watch-read")
    with RawServer(handler) as srv, Client(Config(server=srv.url)) as client:
        lw = lw_from(client, "pods")

        def work() -> Any:
            if call == "get":
                return client.get("/api/v1/pods")
            w = lw.watch(ListOptions(resource_version="1", timeout_seconds=300))
            return list(w)

        s = cancel.CancelScope()
        out = in_thread(work, s)
        # the server has the request (and sent headers for watch-read): the call is waiting
        # for bytes, or about to (a cancel just before the read is also fine)
        assert handler.reached.wait(5) and srv.accepted == 1
        start = time.monotonic()
        s.cancel()
        out["thread"].join(5)
        assert not out["thread"].is_alive(), "the call did not return after cancel"
        assert time.monotonic() - start < 1.0
        if call == "watch-read":
            assert out.get("result") == []  # a stopped watch simply ends
        else:
            assert isinstance(out.get("error"), RequestCancelled), out


def test_a_cancel_aborts_a_connect_in_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    target = ("10.255.255.1", 9)  # not routable: a connect hangs until its timeout
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(target)
        pytest.skip("the unroutable address answered here")
    except TimeoutError:
        pass
    except OSError:
        pytest.skip("no route at all here: connect fails at once")
    finally:
        probe.close()
    resolved = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        infos = real_getaddrinfo(*args, **kwargs)
        resolved.set()  # the client's connect to the address starts right after this
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with Client(Config(server=f"http://{target[0]}:{target[1]}"), connect_timeout=30) as client:
        s = cancel.CancelScope()
        out = in_thread(lambda: client.get("/api"), s)
        assert resolved.wait(5), "the client never began to connect"
        start = time.monotonic()
        s.cancel()
        out["thread"].join(5)
        assert not out["thread"].is_alive() and time.monotonic() - start < 1.0
        assert isinstance(out.get("error"), RequestCancelled)


def test_a_scope_cancelled_before_the_call_sends_nothing() -> None:
    with RawServer(never_answer) as srv, Client(Config(server=srv.url)) as client:
        s = cancel.CancelScope()
        s.cancel()
        with cancel.scope(s), pytest.raises(RequestCancelled):
            client.get("/api")
        assert srv.accepted == 0


def test_stop_from_another_thread_ends_a_blocked_watch() -> None:
    handler = Blocked(send_headers=True)
    with RawServer(handler) as srv, Client(Config(server=srv.url)) as client:
        w = lw_from(client, "pods").watch(ListOptions(resource_version="1", timeout_seconds=300))
        out: dict[str, Any] = {}
        t = threading.Thread(target=lambda: out.setdefault("events", list(w)))
        t.start()
        assert handler.reached.wait(5)  # the watch is open; its reader blocks (or is about to)
        w.stop()
        t.join(2)
        assert not t.is_alive() and out["events"] == []


def test_after_a_cancel_the_pool_still_works() -> None:
    with ApiServer() as api, Client(Config(server=api.url)) as client:
        s = cancel.CancelScope()
        with cancel.scope(s):
            assert client.get("/api/v1/pods")["items"] == []
        s.cancel()  # after the call: must not break the pooled connection
        assert client.get("/api/v1/pods")["items"] == []


def test_threads_share_one_pool() -> None:
    with ApiServer() as api, Client(Config(server=api.url), pool_size=4) as client:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(20):
                    client.get("/api/v1/pods")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []


# --- timeouts --------------------------------------------------------------------------------


def watch_to_end(front: Front, url: str, options: ListOptions, **client_kw: Any) -> list[Any]:
    """The events of one watch of pods at ``url``, read to its end by the ``front`` end's client.

    Both go through ``new_list_watch_from_client``; asyncio hands it an AsyncClient.
    """
    if front.name == "thread":
        with Client(Config(server=url), **client_kw) as client:
            return list(lw_from(client, "pods").watch(options))

    async def main() -> list[Any]:
        async with AsyncClient(Config(server=url), **client_kw) as client:
            watch = await lw_from(client, "pods").watch(options)
            return [ev async for ev in watch]

    return asyncio.run(main())


def test_a_silent_watch_ends_with_a_warning(front: Front, caplog: pytest.LogCaptureFixture) -> None:
    with RawServer(headers_then_silence) as srv:
        start = time.monotonic()
        events = watch_to_end(front, srv.url, ListOptions(resource_version="1", timeout_seconds=1),
                              watch_margin=0.3)
        elapsed = time.monotonic() - start
    assert events == [] and 1.3 <= elapsed < 5
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and "/api/v1/pods" in warning[0].getMessage()
    assert "no bytes for 1.3 s past its timeoutSeconds" in warning[0].getMessage()


def test_after_a_bookmark_silence_is_bounded_by_the_bookmark_idle_timeout(
        front: Front, caplog: pytest.LogCaptureFixture) -> None:
    bookmark = b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\n'

    def handler(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(CHUNKED + chunk(bookmark))
        while conn.recv(65536):
            pass

    with RawServer(handler) as srv:
        start = time.monotonic()
        events = watch_to_end(front, srv.url,
                              ListOptions(resource_version="1", timeout_seconds=300),
                              bookmark_idle_timeout=0.5)
        elapsed = time.monotonic() - start
    assert [e.type for e in events] == [EventType.BOOKMARK] and 0.5 <= elapsed < 4
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and "/api/v1/pods" in warning[0]
    assert "no bytes for 0.5 s although the server had been sending bookmarks" in warning[0]


def test_without_a_bookmark_the_bound_stays_at_timeout_seconds(front: Front) -> None:
    """Events that are not bookmarks do not shorten the bound (the server may never send any)."""
    added = b'{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"9"}}}\n'

    def handler(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(CHUNKED + chunk(added))
        time.sleep(1.0)  # the server's pace: quieter than bookmark_idle_timeout allows
        conn.sendall(chunk(added) + b"0\r\n\r\n")
        while conn.recv(65536):
            pass

    with RawServer(handler) as srv:
        events = watch_to_end(front, srv.url,
                              ListOptions(resource_version="1", timeout_seconds=300),
                              bookmark_idle_timeout=0.3)
    assert [e.type for e in events] == [EventType.ADDED, EventType.ADDED]


# --- bounded memory (issue 9) ----------------------------------------------------------------


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_huge_line_without_newline_is_refused_without_growing_memory() -> None:
    sent = [0]
    total = 400 * 1024 * 1024
    piece = b"x" * (1 << 20)

    def handler(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(CHUNKED + chunk(b'{"type":"ADDED","object":{"a":"'))
        while sent[0] < total:
            conn.sendall(chunk(piece))
            sent[0] += len(piece)

    before = _rss_peak_mb()
    with RawServer(handler) as srv, \
            Client(Config(server=srv.url), max_line_bytes=8 << 20) as client:
        w = lw_from(client, "pods").watch(ListOptions(resource_version="1"))
        with pytest.raises(MalformedDataError) as info:
            for _ in w:
                pass
        assert w.buffered == 0
    message = str(info.value)
    assert "/api/v1/pods" in message and str(8 << 20) in message and "xxxx" not in message
    assert sent[0] < total / 4, "the client kept reading after refusing the line"
    assert _rss_peak_mb() - before < 100


def test_a_list_body_that_is_not_json_names_the_path(front: Front) -> None:
    body = b'{"items": [{"data": {"token": "' + PASSWORD.encode() + b'"'

    def handler(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    with RawServer(handler) as srv, front.client(Config(server=srv.url)) as client, \
            pytest.raises(MalformedDataError) as info:
        client.list(client.list_watch("pods", namespace="ns"))
    assert "/api/v1/namespaces/ns/pods" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_max_list_bytes_bounds_an_answer(front: Front) -> None:
    with ApiServer() as api, \
            front.client(Config(server=api.url), max_list_bytes=2000) as client:
        for i in range(20):
            api.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "default"},
                                      "data": {"k": "v" * 100}})
        with pytest.raises(MalformedDataError, match="max_list_bytes"):
            client.call("get", "/api/v1/configmaps")
        assert client.call("get", "/api/v1/configmaps", {"limit": 1})["items"]


# --- Retry-After (issue 9, defect 5) ---------------------------------------------------------


def test_retry_after_as_an_http_date_reaches_the_status_error(front: Front) -> None:
    date = email.utils.formatdate(time.time() + 30, usegmt=True).encode()

    def handler(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: " + date +
                     b"\r\nContent-Length: 0\r\n\r\n")

    with RawServer(handler) as srv, front.client(Config(server=srv.url)) as client, \
            pytest.raises(StatusError) as info:
        client.call("get", "/api/v1/pods")
    assert info.value.code == 429 and info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 31


# --- secrets (defect 4) ----------------------------------------------------------------------


def _everything(caplog: pytest.LogCaptureFixture, *objs: Any) -> str:
    parts = [caplog.text]
    for obj in objs:
        parts.append(repr(obj))
        parts.append(str(obj))
        if isinstance(obj, BaseException):
            parts.append("".join(traceback.format_exception(obj)))
    return "\n".join(parts)


def test_a_password_in_the_server_url_is_used_but_never_logged(
        front: Front, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included...
    for name in ("urllib3", "urllib3.connectionpool"):  # ...even if another test set its level
        caplog.set_level(logging.DEBUG, logger=name)
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    seen: list[str | None] = []

    def authenticate(header: str | None) -> bool:
        seen.append(header)
        return header == expected

    with ApiServer(authenticate=authenticate) as api:
        url = api.url.replace("http://", f"http://alice:{PASSWORD}@")
        with front.client(Config(server=url)) as client:
            assert client.call("get", "/api/v1/pods")["items"] == []
            w = client.watch(client.list_watch("pods"), ListOptions(timeout_seconds=1))
            client.next_events(w, 1000)  # to its end
            text = _everything(caplog, client.client, client.client.config)
    assert seen and seen[0] == expected
    assert PASSWORD not in text
    if front.name == "thread":
        assert "urllib3" in caplog.text  # the library did log its request lines


def test_config_repr_hides_a_proxy_password() -> None:
    cfg = Config(server="https://h:6443", proxy_url=f"http://bob:{PASSWORD}@proxy:3128")
    assert PASSWORD not in repr(cfg) and "proxy:3128" in repr(cfg)


def test_transport_errors_name_the_server_without_credentials(front: Front) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with front.client(Config(server=f"http://alice:{PASSWORD}@127.0.0.1:{port}")) as client, \
            pytest.raises(TransportError) as info:
        client.call("get", "/api")
    text = "".join(traceback.format_exception(info.value))
    assert f"127.0.0.1:{port}" in str(info.value) and PASSWORD not in text
    assert isinstance(info.value, ConnectionError)


# --- proxies ---------------------------------------------------------------------------------


class ConnectProxy:
    """A minimal HTTP proxy: CONNECT tunnels and absolute-URI forwarding; records requests."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.server = RawServer(self._handle)
        self.url = self.server.url

    def _handle(self, conn: socket.socket) -> None:
        head = read_head(conn)
        self.requests.append(head)
        request_line = head.split(b"\r\n", 1)[0].decode()
        method, target, _ = request_line.split(" ", 2)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                upstream.sendall(rest)
        else:  # forwarding: GET http://host:port/path HTTP/1.1
            hostport = target.split("/")[2]
            host, _, port = hostport.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            path = "/" + target.split("/", 3)[3]
            upstream.sendall(head.replace(target.encode(), path.encode(), 1))
        with upstream:
            pipes = [conn, upstream]
            while True:
                ready, _, _ = select.select(pipes, [], [], 5)
                if not ready:
                    return
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (upstream if src is conn else conn).sendall(data)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    p = ConnectProxy()
    yield p
    p.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA, *names: str) -> ApiServer:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1",))).configure_cert(ctx)
    return ApiServer(ssl_context=ctx)


def test_https_through_a_connect_proxy_with_credentials(
        front: Front, proxy: ConnectProxy, ca: trustme.CA,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with tls_server(ca) as api:
        proxy_url = proxy.url.replace("http://", f"http://bob:{PASSWORD}@")
        cfg = Config(server=api.url, ca_data=ca.cert_pem.bytes(), proxy_url=proxy_url)
        with front.client(cfg) as client:
            assert client.call("get", "/api/v1/pods")["items"] == []
            w = client.watch(client.list_watch("pods"), ListOptions(timeout_seconds=1))
            events = client.next_events(w, 100)  # until the watch ends
            # The server's bookmark (every 1 s) may beat its 1 s watch timeout: no other event.
            assert all(e.type is EventType.BOOKMARK for e in events)
            text = _everything(caplog, client.client, cfg)
    assert proxy.requests and proxy.requests[0].startswith(
        f"CONNECT 127.0.0.1:{api.url.rsplit(':', 1)[1]} ".encode())
    auth = base64.b64encode(f"bob:{PASSWORD}".encode())
    assert b"Proxy-Authorization: Basic " + auth in proxy.requests[0]
    assert PASSWORD not in text and auth.decode() not in text


def test_http_through_a_forwarding_proxy(front: Front, proxy: ConnectProxy) -> None:
    # an explicit proxy-url applies even to loopback (only $HTTP(S)_PROXY does not)
    with ApiServer() as api, \
            front.client(Config(server=api.url, proxy_url=proxy.url)) as client:
        assert client.call("get", "/api/v1/pods")["items"] == []
    assert proxy.requests[0].startswith(f"GET {api.url}/api/v1/pods".encode())


def test_environment_proxies_never_apply_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert environment_proxy("https://127.0.0.1:6443") is None
    assert environment_proxy("https://localhost:6443") is None
    assert environment_proxy("https://[::1]:6443") is None
    assert environment_proxy("https://k8s.example:6443") == "http://proxy.example:3128"
    assert environment_proxy("https://api.internal.example:6443") is None


# --- TLS -------------------------------------------------------------------------------------


def test_insecure_skip_tls_verify_warns_once_and_works(
        front: Front, ca: trustme.CA, caplog: pytest.LogCaptureFixture) -> None:
    with tls_server(ca) as api, warnings.catch_warnings():
        warnings.simplefilter("error")  # no urllib3 InsecureRequestWarning per request
        with front.client(Config(server=api.url, insecure_skip_tls_verify=True)) as client:
            for _ in range(3):
                assert client.call("get", "/api/v1/pods")["items"] == []
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "insecure-skip-tls-verify" in warned[0].getMessage()


def test_tls_server_name_is_checked(front: Front, ca: trustme.CA, tmp_path: Path) -> None:
    with tls_server(ca, "kubernetes.internal") as api:
        good = Config(server=api.url, ca_data=ca.cert_pem.bytes(),
                      tls_server_name="kubernetes.internal")
        with front.client(good) as client:
            assert client.call("get", "/api/v1/pods")["items"] == []
        bad = Config(server=api.url, ca_data=ca.cert_pem.bytes(), tls_server_name="other.name")
        with front.client(bad) as client, pytest.raises(
                TransportError,
                match=r"TLS failed: .*CERTIFICATE_VERIFY_FAILED.*not valid for 'other.name'"):
            client.call("get", "/api/v1/pods")
