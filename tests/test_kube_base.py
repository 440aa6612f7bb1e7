"""The no-I/O core shared by the sync and async Kubernetes clients (kubecache._wire and
kubecache.kube's sans-I/O modules)."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache._wire.ndjson import WatchDecoder
from kubecache._wire.silence import BOOKMARK_IDLE_TIMEOUT, SilenceBound
from kubecache._wire.status import decode_json_body, parse_retry_after, status_error_from
from kubecache.errors import MalformedDataError, StatusError
from kubecache.kube._answers import MAX_ERROR_BODY, BodyCollector
from kubecache.kube._endpoint import Endpoint, environment_proxy
from kubecache.kube._errors import CredentialError
from kubecache.kube._exchange import (
    AUTHORIZE,
    READ_ERROR_BODY,
    REFRESH,
    Send,
    build_request,
    exchange,
)
from kubecache.kube._flow import (
    ExecResult,
    FileContent,
    FlowRun,
    LoadClientCert,
    ReadFile,
    RunExec,
    drive,  # the sync driver: FlowRun stepped by blocking I/O
)
from kubecache.kube._resources import ResourceQuery, list_params, watch_params, with_query
from kubecache.kube._settings import ClientBase
from kubecache.kube.auth import ExecAuthenticator, TokenFileAuthenticator
from kubecache.kube.config import Config, ExecConfig
from kubecache.listwatch import ListOptions
from kubecache.watch import Event, EventType

SECRET = "hunter2-very-secret"


def line(i: int, pad: int = 0) -> bytes:
    obj = {"metadata": {"name": f"p{i}", "resourceVersion": str(i)}, "pad": "x" * pad}
    return json.dumps({"type": "ADDED", "object": obj}).encode() + b"\n"


# --- decoder ---------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 300), min_size=1, max_size=12), st.data())
def test_decoder_yields_every_event_whatever_the_split(pads: list[int], data: Any) -> None:
    stream = b"".join(line(i, p) + (b"\n" if i % 3 == 0 else b"") for i, p in enumerate(pads))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    dec = WatchDecoder("/api/v1/pods")
    names = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        names += [e.object["metadata"]["name"] for e in dec.feed(stream[prev:cut])]
        prev = cut
    assert names == [f"p{i}" for i in range(len(pads))]
    assert dec.buffered == 0 and dec.finish() == 0


def test_decoder_event_types_and_blank_lines() -> None:
    dec = WatchDecoder("/w")
    assert dec.feed(b"\n") == [] and dec.feed(b"  \n") == []
    (ev,) = dec.feed(b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"5"}}}\n')
    assert ev.type is EventType.BOOKMARK
    (ev,) = dec.feed(b'{"type":"FUTURE","object":{}}\n')
    assert ev.type == "FUTURE"
    dec.feed(b'{"type":"ADDED"')
    assert dec.buffered == 15 and dec.finish() == 15


def test_decoder_limits_a_line_without_holding_more_than_the_limit() -> None:
    dec = WatchDecoder("/api/v1/secrets", max_line_bytes=1000)
    dec.feed(b'{"type":"ADDED","object":{"data":"' + SECRET.encode())
    with pytest.raises(MalformedDataError) as info:
        for _ in range(100):
            dec.feed(b"y" * 100)
            assert dec.buffered <= 1000
    message = str(info.value)
    assert "/api/v1/secrets" in message and "1000" in message and SECRET not in message
    assert dec.buffered == 0
    assert [e.object["metadata"]["name"] for e in dec.feed(b"\n" + line(1))] == ["p1"]


def test_decoder_limits_a_complete_long_line() -> None:
    dec = WatchDecoder("/w", max_line_bytes=100)
    with pytest.raises(MalformedDataError, match="longer than max_line_bytes"):
        dec.feed(line(1, pad=200))
    events = dec.feed(line(1) + line(2, pad=200))  # the good event first, then the error
    assert [e.object["metadata"]["name"] for e in events] == ["p1"]
    with pytest.raises(MalformedDataError):
        dec.check()
    dec.check()  # raised once


@pytest.mark.parametrize("bad", [b'{"type":"ADDED","object":{"s":"' + SECRET.encode() + b'"',
                                 b'{"type":"ADDED"}', b'["ADDED", {}]', b'{"type":1,"object":{}}'])
def test_decoder_malformed_lines_name_the_path_not_the_content(bad: bytes) -> None:
    with pytest.raises(MalformedDataError) as info:
        WatchDecoder("/api/v1/pods").feed(bad + b"\n")
    assert "/api/v1/pods" in str(info.value) and SECRET not in str(info.value)


def test_decode_json_body_names_the_path() -> None:
    assert decode_json_body(b'{"items": []}', "/api/v1/pods") == {"items": []}
    assert decode_json_body(b"", "/x") is None
    with pytest.raises(MalformedDataError) as info:
        decode_json_body(b'{"items": [{"token": "' + SECRET.encode() + b'"', "/api/v1/pods")
    assert "/api/v1/pods" in str(info.value) and SECRET not in str(info.value)


# --- requests and answers ----------------------------------------------------------------------


def test_params() -> None:
    opts = ListOptions(resource_version="5", limit=10, label_selector="a=b")
    assert list_params(opts, label_selector="c=d") == {
        "labelSelector": "c=d", "resourceVersion": "5", "limit": 10}
    assert list_params(ListOptions(resource_version="5", continue_="tok")) == {"continue": "tok"}
    w = watch_params(ListOptions(resource_version="7", send_initial_events=True,
                                 resource_version_match="NotOlderThan"))
    assert w == {"watch": 1, "allowWatchBookmarks": "true", "timeoutSeconds": 300,
                 "resourceVersion": "7", "sendInitialEvents": "true",
                 "resourceVersionMatch": "NotOlderThan"}
    assert with_query("/p", {"a": "x y", "b": 1}) == "/p?a=x+y&b=1"


def test_status_error_from_a_status_body_and_plain_text() -> None:
    body = json.dumps({"kind": "Status", "code": 410, "reason": "Expired",
                       "message": "too old"}).encode()
    err = status_error_from(410, "Gone", {}, body)
    assert (err.code, err.reason, err.message) == (410, "Expired", "too old")
    err = status_error_from(503, "Service Unavailable", [("retry-after", "7")], b"upstream down")
    assert (err.code, err.reason, err.message, err.retry_after) == (
        503, "ServiceUnavailable", "upstream down", 7)
    err = status_error_from(500, "Internal Server Error", {}, b'{"data": "' + SECRET.encode()
                            + b'"}')
    assert SECRET not in str(err) and "500" in str(err)


def test_retry_after_as_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == 30
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) is None
    assert parse_retry_after("soon") is None and parse_retry_after("0") is None
    soon = email.utils.formatdate(time.time() + 60, usegmt=True)
    err = status_error_from(429, "Too Many Requests", {"Retry-After": soon}, b"")
    assert err.retry_after is not None and 50 <= err.retry_after <= 61


# --- auth flows --------------------------------------------------------------------------------


def test_token_file_flow_rereads_only_when_changed() -> None:
    auth = TokenFileAuthenticator("/t")
    seen: list[Any] = []

    def perform(req: ReadFile) -> FileContent:
        seen.append(req.known)
        return FileContent((1, 2, 3), b"tok1\n" if req.known is None else None)

    assert drive(auth.flow(), perform) == "Bearer tok1"
    assert drive(auth.flow(), perform) == "Bearer tok1"
    assert seen == [None, (1, 2, 3)]

    def gone(req: ReadFile) -> FileContent:
        raise FileNotFoundError(req.path)

    assert drive(auth.flow(), gone) == "Bearer tok1"  # being replaced: keep the last one
    with pytest.raises(CredentialError, match="'/t' cannot be read"):
        drive(TokenFileAuthenticator("/t").flow(), gone)


def test_exec_flow_caches_and_never_keeps_stderr() -> None:
    auth = ExecAuthenticator(ExecConfig(command="plugin", args=("a",)), "https://h")
    runs: list[RunExec] = []

    def ok(req: Any) -> Any:
        if isinstance(req, LoadClientCert):
            return None
        runs.append(req)
        cred = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                "status": {"token": SECRET}}
        return ExecResult(0, json.dumps(cred).encode(), 0)

    assert drive(auth.flow(), ok) == "Bearer " + SECRET
    assert drive(auth.flow(), ok) == "Bearer " + SECRET
    assert len(runs) == 1 and runs[0].argv == ("plugin", "a")
    assert "KUBERNETES_EXEC_INFO" in runs[0].env and SECRET not in repr(runs[0])
    assert auth.refresh()
    drive(auth.flow(), ok)
    assert len(runs) == 2

    failing = ExecAuthenticator(ExecConfig(command="plugin"))
    with pytest.raises(CredentialError) as info:
        drive(failing.flow(), lambda req: ExecResult(3, b"", 42))
    assert "exit status 3" in str(info.value) and "42 bytes on stderr" in str(info.value)
    with pytest.raises(CredentialError, match="not found"):
        drive(failing.flow(), lambda req: (_ for _ in ()).throw(FileNotFoundError()))


def test_flow_run_reports_the_cached_value_at_once_and_closes_a_failed_flow() -> None:
    auth = TokenFileAuthenticator("/t")
    run = FlowRun(auth.flow())
    assert isinstance(run.request, ReadFile) and run.value is None
    run.send(FileContent((1, 2, 3), b"tok\n"))
    assert run.request is None and run.value == "Bearer tok"
    broken = FlowRun(TokenFileAuthenticator("/t").flow())
    with pytest.raises(CredentialError):
        broken.throw(FileNotFoundError("/t"))
    assert broken.request is None


# --- silence bound, bodies, failure answers, the server ----------------------------------------


def bookmark() -> Event:
    return Event(EventType.BOOKMARK, {"metadata": {"resourceVersion": "9"}})


def test_silence_bound_drops_to_the_bookmark_idle_timeout_once_a_bookmark_came() -> None:
    bound = SilenceBound("/api/v1/pods", {"timeoutSeconds": 300})
    assert bound.seconds == 305.0 and not bound.bookmarked
    added = Event(EventType.ADDED, {"metadata": {"name": "a"}})
    assert not bound.note([added]) and bound.seconds == 305.0  # other events change nothing
    assert "past its timeoutSeconds" in bound.message()
    assert bound.note([added, bookmark()]) and bound.seconds == BOOKMARK_IDLE_TIMEOUT
    assert not bound.note([bookmark()])  # once
    assert bound.message().startswith("watch /api/v1/pods: no bytes for 150 s although")


def test_silence_bound_never_grows_and_can_be_disabled() -> None:
    short = SilenceBound("p", {"timeoutSeconds": 10}, margin=1.0)
    assert not short.note([bookmark()]) and short.seconds == 11.0 and short.bookmarked
    off = SilenceBound("p", {}, bookmark_idle=None)
    assert off.seconds == 305.0 and not off.note([bookmark()]) and off.seconds == 305.0


def test_body_collector_bounds_answers_and_cuts_error_pages() -> None:
    with pytest.raises(MalformedDataError, match="/p: the answer exceeds the limit of 10"):
        BodyCollector("/p", 10, content_length="11")
    body = BodyCollector("/p", 10)
    assert body.add(b"x" * 6)
    with pytest.raises(MalformedDataError, match="max_list_bytes"):
        body.add(b"x" * 6)
    error = BodyCollector("/p", 10, error=True, content_length="99999999")  # not checked
    assert error.add(b"{}") and not error.add(b"x" * MAX_ERROR_BODY)
    assert len(error.body()) == MAX_ERROR_BODY + 2
    unbounded = BodyCollector("/p", None)
    assert unbounded.add(b"x" * 100) and unbounded.body() == b"x" * 100


class Head:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status, self.reason, self.headers = status, "Reason", headers or {}


def run_exchange(statuses: list[int], authenticated: bool,
                 refresh: bool = True) -> tuple[list[str], BaseException | None]:
    """Drive an exchange the way a client does; the steps it asked for and what it raised."""
    request = build_request(ClientBase(Config(server="http://h")), "GET", "/api/v1/pods")
    run = FlowRun(exchange(request, authenticated))
    steps: list[str] = []
    answers = iter(statuses)
    tokens = iter(["Bearer one", "Bearer two"])
    try:
        while (step := run.request) is not None:
            if isinstance(step, Send):
                steps.append(f"send({step.authorization})")
                assert step.request is request
                run.send(Head(next(answers), {"Retry-After": "7"}))
            else:
                steps.append(repr(step))
                run.send({AUTHORIZE: lambda: next(tokens), READ_ERROR_BODY: lambda: b"",
                          REFRESH: lambda: refresh}[step]())
    except StatusError as exc:
        return steps, exc
    return steps, None


def test_the_exchange_retries_a_refreshable_401_once() -> None:
    steps, error = run_exchange([401, 200], authenticated=True)
    assert steps == ["AUTHORIZE", "send(Bearer one)", "READ_ERROR_BODY", "REFRESH",
                     "AUTHORIZE", "send(Bearer two)"] and error is None
    steps, error = run_exchange([401, 401], authenticated=True)
    assert steps.count("REFRESH") == 1 and isinstance(error, StatusError) and error.code == 401
    steps, error = run_exchange([401], authenticated=True, refresh=False)  # static token
    assert steps[-1] == "REFRESH" and isinstance(error, StatusError) and error.code == 401
    steps, error = run_exchange([401], authenticated=False)  # no credentials: nothing to ask
    assert steps == ["send(None)", "READ_ERROR_BODY"] and isinstance(error, StatusError)
    steps, error = run_exchange([410], authenticated=True)  # only a 401 refreshes
    assert "REFRESH" not in steps and isinstance(error, StatusError)
    assert error.code == 410 and error.retry_after == 7


def test_build_request_headers_body_and_target() -> None:
    client = ClientBase(Config(server="http://h"))
    get = build_request(client, "GET", "/api/v1/pods", {"labelSelector": "a in (x,y)"})
    assert get.target == "/api/v1/pods?labelSelector=a+in+%28x%2Cy%29" and get.body is None
    assert get.headers["Accept"] == "application/json" and get.read_timeout == 60.0
    assert get.headers["Accept-Encoding"] == "gzip" and "Content-Type" not in get.headers
    meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    watch = build_request(client, "GET", "/p", accept=meta, streaming=True, timeout=9.0)
    assert watch.headers["Accept"] == meta and watch.headers["Accept-Encoding"] == "identity"
    assert watch.read_timeout == 9.0
    post = build_request(client, "POST", "/p", body={"a": 1})
    assert json.loads(post.body or b"") == {"a": 1}
    assert post.headers["Content-Type"] == "application/json"
    client.compress = False
    assert build_request(client, "GET", "/p").headers["Accept-Encoding"] == "identity"


def test_endpoint_strips_and_redacts_url_credentials_and_finds_the_proxy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "skip.example:6443")
    ep = Endpoint.of(Config(server=f"https://admin:{SECRET}@k8s.example:6443/"))
    assert ep.base == "https://k8s.example:6443" and ep.https
    assert ep.proxy == "http://proxy.example:3128" and SECRET not in ep.text
    assert ep.authenticator is not None and SECRET not in repr(ep)
    assert environment_proxy("https://skip.example:6443") is None  # host:port in NO_PROXY
    assert environment_proxy("https://127.0.0.1:6443") is None


def test_resource_query_fixed_selectors_win() -> None:
    q = ResourceQuery.of("deployments.v1.apps", "ns", field_selector="a=b", label_selector="")
    assert q.path == "/apis/apps/v1/namespaces/ns/deployments"
    params = q.watch_params(ListOptions(field_selector="x=y", label_selector="app=web"))
    assert params["fieldSelector"] == "a=b" and params["labelSelector"] == "app=web"
    assert q.list_params(ListOptions(limit=5)) == {"fieldSelector": "a=b", "limit": 5}
