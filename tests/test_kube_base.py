"""The no-I/O core shared by the sync and async Kubernetes clients (kubecache.kube._base)."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache.errors import MalformedDataError
from kubecache.kube._base import (
    CredentialError,
    ExecAuthenticator,
    ExecResult,
    FileContent,
    LoadClientCert,
    ReadFile,
    RunExec,
    TokenFileAuthenticator,
    WatchDecoder,
    decode_json_body,
    list_params,
    parse_retry_after,
    status_error_from,
    watch_params,
    with_query,
)
from kubecache.kube.config import ExecConfig
from kubecache.listwatch import ListOptions
from kubecache.watch import EventType

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


def drive(flow: Any, perform: Any) -> Any:
    try:
        request = next(flow)
        while True:
            try:
                result = perform(request)
            except (OSError, TimeoutError) as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        return stop.value


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
