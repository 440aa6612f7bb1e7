"""The embedded API server rejects what kube-apiserver rejects, and nothing stored breaks a request.

Issue 9, defect 6: names that were ints, lists, ``a/b``, ``..``, NUL or 10,000
characters, a namespace ``../../etc`` and ``labels: ["x"]`` were stored (the
last made every label-selector list answer 500); ``Content-Length: abc`` and a
bad chunk size got 500; ``Content-Type: text/plain`` was accepted.
"""

from __future__ import annotations

import json
import socket
import string
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubecache.errors import StatusError
from kubecache.testing import ApiServer
from kubecache.testing._apiserver_params import compile_filter
from kubecache.testing._apiserver_resources import BUILTIN, ResourceType
from kubecache.testing._apiserver_storage import Storage
from tests.support.objects import bare_pod

PODS = "/api/v1/namespaces/default/pods"


pytestmark = pytest.mark.apiserver(bookmark_interval=0.1)


def fields_of(resp: httpx.Response) -> list[str]:
    return [c["field"] for c in resp.json()["details"]["causes"]]


def rt_of(plural: str) -> ResourceType:
    return next(t for t in BUILTIN if t.plural == plural)


# --- a model of the name rules, written without the implementation's regexes ---------

_LOWER_ALNUM = set(string.ascii_lowercase + string.digits)


def _is_label(text: str, first: set[str] = _LOWER_ALNUM) -> bool:
    return (0 < len(text) <= 63 and text[0] in first and text[-1] in _LOWER_ALNUM
            and all(c in _LOWER_ALNUM or c == "-" for c in text))


def model_accepts(plural: str, name: str) -> bool:
    if plural == "namespaces":
        return _is_label(name)
    if plural == "services":
        return _is_label(name, set(string.ascii_lowercase))
    return len(name) <= 253 and all(_is_label(part) for part in name.split("."))


_names = st.one_of(
    st.text(alphabet="ab-.0Z_/%\x00 é", max_size=70),
    st.lists(st.text(alphabet="az09-", min_size=1, max_size=63), min_size=1,
             max_size=6).map(".".join),
)


@settings(max_examples=300, deadline=None)
@given(plural=st.sampled_from(["pods", "namespaces", "services", "configmaps"]), name=_names)
def test_names_are_accepted_iff_the_kind_s_rule_allows_them(plural: str, name: str) -> None:
    rt = rt_of(plural)
    storage = Storage()
    obj: dict[str, Any] = {"metadata": {"name": name}}
    try:
        stored = storage.create(rt, obj, "default")
    except StatusError as exc:
        assert not model_accepts(plural, name), exc
        assert exc.code == 422
        assert exc.status["reason"] == "Invalid"
        causes = exc.status["details"]["causes"]
        assert {c["field"] for c in causes} == {"metadata.name"}
        assert len(exc.status["message"]) < 2000
    else:
        assert model_accepts(plural, name), name
        assert stored["metadata"]["name"] == name


@pytest.mark.parametrize("name", ["a/b", "..", ".", "a\x00b", "x" * 10_000, "Upper", "a_b",
                                  "-a", "a-", "a..b", "", " a"])
def test_bad_names_are_422_invalid_with_a_cause(http: httpx.Client, name: str) -> None:
    resp = http.post(PODS, json=bare_pod(name))
    assert resp.status_code == 422, resp.text
    st_ = resp.json()
    assert st_["kind"] == "Status" and st_["reason"] == "Invalid" and st_["code"] == 422
    assert st_["details"]["kind"] == "Pod"
    cause = st_["details"]["causes"][0]
    assert cause["field"] == "metadata.name"
    assert cause["reason"] == ("FieldValueRequired" if not name else "FieldValueInvalid")
    assert st_["message"].startswith('Pod "')
    assert len(resp.content) < 4000  # a 10,000-character name is not echoed back
    assert http.get(PODS).json()["items"] == []


def test_invalid_message_and_causes_are_worded_as_kube_does(http: httpx.Client) -> None:
    resp = http.post(PODS, json=bare_pod("Bad_Name"))
    msg = resp.json()["message"]
    assert msg.startswith('Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                          "a lowercase RFC 1123 subdomain must consist of lower case "
                          "alphanumeric characters, '-' or '.'")
    assert "regex used for validation is" in msg
    # several bad fields: one cause each, listed in the message
    resp = http.post(PODS, json=bare_pod("ok", labels={"-bad": "x", "k": "not ok!"},
                                    annotations={"a/b/c": "v"}))
    assert resp.status_code == 422
    assert fields_of(resp) == ["metadata.labels", "metadata.labels", "metadata.annotations"]
    assert resp.json()["message"].startswith('Pod "ok" is invalid: [metadata.labels: ')
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "A"}}
    resp = http.post("/apis/apps/v1/namespaces/default/deployments", json=deploy)
    assert resp.status_code == 422
    assert resp.json()["message"].startswith('Deployment.apps "A" is invalid: metadata.name')
    assert resp.json()["details"]["group"] == "apps"


@pytest.mark.parametrize("meta", [
    {"name": 5}, {"name": ["a"]}, {"name": {"a": 1}}, {"name": True},
    {"name": "p", "labels": ["x"]}, {"name": "p", "labels": "x"},
    {"name": "p", "labels": {"a": 5}}, {"name": "p", "labels": {"a": True}},
    {"name": "p", "annotations": ["x"]}, {"name": "p", "annotations": {"a": {"b": 1}}},
    {"name": "p", "namespace": 7}, {"generateName": 1},
    {"name": "p", "finalizers": "x"}, {"name": "p", "ownerReferences": [1]},
])
def test_fields_of_the_wrong_type_are_400_as_kube_s_decoder_answers(http: httpx.Client,
                                                                    meta: dict[str, Any]) -> None:
    resp = http.post(PODS, json={"metadata": meta})
    assert resp.status_code == 400, resp.text
    assert resp.json()["reason"] == "BadRequest"
    assert 'Pod in version "v1" cannot be handled as a Pod' in resp.json()["message"]
    for bad in ({"metadata": "x"}, {"metadata": ["x"]}, {"kind": 5, "metadata": {"name": "p"}}):
        assert http.post(PODS, json=bad).status_code == 400
    # after all that, a label-selector list still works (it answered 500 once)
    assert http.get(PODS, params={"labelSelector": "a=b"}).status_code == 200
    assert http.get(PODS).json()["items"] == []


def test_in_process_calls_are_validated_too(server: ApiServer) -> None:
    server.create("pods", bare_pod("p"))
    for bad, code in ((bare_pod("p", labels=["x"]), 400),
                      (dict(bare_pod("p"), metadata=["x"]), 400),
                      (bare_pod(5), 400), (bare_pod("p", labels={"a": "-"}), 422)):
        with pytest.raises(StatusError) as err:
            server.update("pods", bad)
        assert err.value.code == code, bad
    with pytest.raises(StatusError) as err:
        server.patch("pods", "p", {"metadata": {"annotations": {"a/b/c": "x"}}}, "default")
    assert err.value.code == 422
    with pytest.raises(StatusError) as err:
        server.create("pods", bare_pod("x" * 300))
    assert err.value.code == 422 and len(str(err.value)) < 4000
    assert server.get("pods", "p", "default")["metadata"].get("labels") is None


def test_null_label_values_decode_as_empty_strings(http: httpx.Client) -> None:
    resp = http.post(PODS, json=bare_pod("p", labels={"a": None}, annotations={"n": None}))
    assert resp.status_code == 201, resp.text
    assert resp.json()["metadata"]["labels"] == {"a": ""}
    assert resp.json()["metadata"]["annotations"] == {"n": ""}


def test_namespaces_are_dns_labels_and_must_match_the_url(http: httpx.Client,
                                                          server: ApiServer) -> None:
    for ns in ("../../etc", "a.b", "A", "x" * 64, "a/b"):
        resp = http.post(PODS, json=bare_pod("p", namespace=ns))
        assert resp.status_code == 400  # the body's namespace differs from the URL's
        with pytest.raises(StatusError) as err:
            server.create("pods", bare_pod("p", namespace=ns))
        assert err.value.code == 422
        assert [c["field"] for c in err.value.status["details"]["causes"]] == [
            "metadata.namespace"]
    assert http.post(PODS, json=bare_pod("p", namespace="default")).status_code == 201
    # a namespace in the path that cannot exist: nothing there, nothing stored there
    for ns in ("..%2F..%2Fetc", "a%2Fb", "Upper", "a.b"):
        path = f"/api/v1/namespaces/{ns}/pods"
        assert http.post(path, json=bare_pod("q")).status_code == 404
        assert http.get(path).status_code == 404
        assert http.get(f"{path}/p").status_code == 404
    assert [p["metadata"]["namespace"] for p in server.list_objects("pods")] == ["default"]
    # cluster-scoped names are checked too: a namespace's name is a label
    assert http.post("/api/v1/namespaces", json={"metadata": {"name": "a.b"}}).status_code == 422
    assert http.post("/api/v1/namespaces", json={"metadata": {"name": "ab"}}).status_code == 201


def test_a_name_in_the_url_path_must_be_a_path_segment(http: httpx.Client) -> None:
    for name, why in (("%2E%2E", "may not be '..'"), ("%2E", "may not be '.'"),
                      ("a%2Fb", "may not contain '/'"), ("a%25b", "may not contain '%'")):
        for method in ("GET", "PUT", "DELETE"):
            resp = http.request(method, f"{PODS}/{name}",
                                json=bare_pod("x") if method == "PUT" else None)
            assert resp.status_code == 400, (method, name, resp.text)
            assert resp.json()["message"].startswith("Name parameter invalid: ")
            assert why in resp.json()["message"]


def test_per_kind_name_rules_and_lengths(http: httpx.Client) -> None:
    cases = [
        ("/api/v1/namespaces/default/services", "1abc", 422),  # DNS-1035: starts with a letter
        ("/api/v1/namespaces/default/services", "a.b", 422),
        ("/api/v1/namespaces/default/services", "abc-1", 201),
        ("/api/v1/namespaces/default/services", "s" * 64, 422),
        ("/api/v1/namespaces/default/pods", "1abc.def", 201),
        ("/api/v1/namespaces/default/pods", ".".join(["a" * 63] * 4), 201),  # 255 > 253
        ("/api/v1/namespaces/default/pods", ".".join(["b" * 63] * 3 + ["b" * 61]), 201),
        ("/api/v1/nodes", "node-1.example.com", 201),
        ("/api/v1/namespaces", "x" * 63, 201),
        ("/api/v1/namespaces", "y" * 64, 422),
    ]
    for path, name, code in cases:
        resp = http.post(path, json={"metadata": {"name": name}})
        want = 422 if len(name) > 253 else code
        assert resp.status_code == want, (path, name[:20], resp.text[:300])


def test_generate_name_is_validated_and_leaves_room_for_the_suffix(http: httpx.Client) -> None:
    resp = http.post(PODS, json={"metadata": {"generateName": "web-"}})
    assert resp.status_code == 201
    name = resp.json()["metadata"]["name"]
    assert name.startswith("web-") and len(name) == 9
    resp = http.post(PODS, json={"metadata": {"generateName": "x" * 100}})
    assert resp.status_code == 201
    assert len(resp.json()["metadata"]["name"]) == 63  # 58 characters + 5 random
    resp = http.post("/api/v1/namespaces", json={"metadata": {"generateName": "n" * 60}})
    assert resp.status_code == 201  # a label: fits only because the base is cut to 58
    assert len(resp.json()["metadata"]["name"]) == 63
    resp = http.post("/api/v1/namespaces", json={"metadata": {"generateName": "n" * 64}})
    assert resp.status_code == 422  # the prefix itself must follow the kind's rule
    assert fields_of(resp) == ["metadata.generateName"]
    resp = http.post(PODS, json={"metadata": {"generateName": "Bad_"}})
    assert resp.status_code == 422
    assert fields_of(resp) == ["metadata.generateName", "metadata.name"]
    resp = http.post(PODS, json={"metadata": {"generateName": "a/"}})
    assert resp.status_code == 422


def test_labels_and_annotations(http: httpx.Client) -> None:
    good = {"app": "web", "example.com/tier": "front_end.1", "a": "", "A-b_c.d": "V",
            "k8s.io/" + "n" * 63: "v" * 63}
    resp = http.post(PODS, json=bare_pod("ok", labels=good,
                                    annotations={"Example.COM/Key": "any text at all ✓",
                                                 "big": "z" * 1000}))
    assert resp.status_code == 201, resp.text
    bad_labels: list[dict[str, str]] = [
        {"/a": "v"}, {"a/": "v"}, {"a/b/c": "v"}, {"-a": "v"}, {"a" * 64: "v"},
        {"Bad_Prefix/a": "v"}, {"a": "v" * 64}, {"a": "-v"}, {"a": "a b"}, {"a": "v\x00"},
        {"": "v"}, {"a": "x" * 10_000},
    ]
    for labels in bad_labels:
        resp = http.post(PODS, json=bare_pod("p", labels=labels))
        assert resp.status_code == 422, labels
        assert set(fields_of(resp)) == {"metadata.labels"}
        assert len(resp.content) < 4000
    resp = http.post(PODS, json=bare_pod("p", annotations={"bad key": "v"}))
    assert resp.status_code == 422 and fields_of(resp) == ["metadata.annotations"]
    # 256 KiB in total, keys and values counted
    at_limit = {"k": "v" * (256 * 1024 - 1)}
    assert http.post(PODS, json=bare_pod("p1", annotations=at_limit)).status_code == 201
    over = {"k": "v" * (256 * 1024 - 1), "j": ""}
    resp = http.post(PODS, json=bare_pod("p2", annotations=over))
    assert resp.status_code == 422
    cause = resp.json()["details"]["causes"][0]
    assert cause == {"reason": "FieldValueTooLong", "field": "metadata.annotations",
                     "message": "Too long: may not be more than 262144 bytes"}
    assert len(resp.content) < 4000


def test_updates_and_patches_are_validated_and_leave_the_object_alone(
        http: httpx.Client) -> None:
    created = http.post(PODS, json=bare_pod("p", labels={"a": "1"})).json()
    before = http.get(f"{PODS}/p").json()
    replaced = dict(created, metadata=dict(created["metadata"], labels={"a": "-1"}))
    resp = http.put(f"{PODS}/p", json=replaced)
    assert resp.status_code == 422 and fields_of(resp) == ["metadata.labels"]
    replaced["metadata"]["labels"] = ["x"]
    assert http.put(f"{PODS}/p", json=replaced).status_code == 400
    merge = {"Content-Type": "application/merge-patch+json"}
    jpatch = {"Content-Type": "application/json-patch+json"}
    for body, headers, code in (
            ({"metadata": {"labels": {"a": "not valid"}}}, merge, 422),
            ({"metadata": {"annotations": {"a/b/c": "x"}}}, merge, 422),
            ({"metadata": {"labels": ["x"]}}, merge, 400),
            ({"metadata": {"labels": {"a": 5}}}, merge, 400),
            ({"metadata": "x"}, merge, 400),
            ([{"op": "add", "path": "/metadata/labels", "value": ["x"]}], jpatch, 400),
            ([{"op": "add", "path": "/metadata/labels/b", "value": "-x"}], jpatch, 422),
            ([{"op": "add", "path": "/metadata/annotations", "value": {"k": "v" * 300_000}}],
             jpatch, 422)):
        resp = http.patch(f"{PODS}/p", content=json.dumps(body), headers=headers)
        assert resp.status_code == code, (body, resp.text[:300])
        assert len(resp.content) < 5000
    assert http.get(f"{PODS}/p").json() == before
    ok = http.patch(f"{PODS}/p", content=json.dumps({"metadata": {"labels": {"b": "2"}}}),
                    headers=merge)
    assert ok.status_code == 200 and ok.json()["metadata"]["labels"] == {"a": "1", "b": "2"}


def test_unsupported_media_types_get_415(http: httpx.Client) -> None:
    body = json.dumps(bare_pod("p")).encode()
    resp = http.post(PODS, content=body, headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert resp.json()["reason"] == "UnsupportedMediaType"
    assert resp.json()["message"].startswith("the body of the request was in an unknown format "
                                             "- accepted media types include: application/json")
    assert http.get(PODS).json()["items"] == []
    # no Content-Type: kube takes JSON; parameters are fine
    assert "content-type" not in httpx.Request("POST", "http://x", content=body).headers
    assert http.post(PODS, content=body).status_code == 201
    resp = http.put(f"{PODS}/p", content=json.dumps(http.get(f"{PODS}/p").json()),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415
    assert http.put(f"{PODS}/p", content=json.dumps(http.get(f"{PODS}/p").json()),
                    headers={"Content-Type": "application/json; charset=utf-8"}
                    ).status_code == 200
    resp = http.patch(f"{PODS}/p", content=b"{}", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    resp = http.request("DELETE", f"{PODS}/p", content=b"{}",
                        headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert http.get(f"{PODS}/p").status_code == 200


# --- HTTP framing ----------------------------------------------------------------------


def raw(server: ApiServer, request: bytes, timeout: float = 5.0) -> tuple[int, bytes, bool]:
    """Send ``request`` as is; (status code, body, whether the server then closed)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a response: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        code = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk
            body += chunk
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return code, body, closed


def _post(headers: str, body: bytes = b"") -> bytes:
    return (f"POST {PODS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{headers}\r\n").encode() + body


@pytest.mark.parametrize("request_bytes", [
    # (nothing is sent past what the server reads: unread bytes would turn its close into a
    # reset that can discard the answer)
    _post("Content-Length: abc\r\n"),
    _post("Content-Length: -1\r\n"),
    _post("Content-Length: 2, 3\r\n"),
    _post("Content-Length: 1e3\r\n"),
    f"GET {PODS} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".encode(),
    _post("Transfer-Encoding: chunked\r\n", b"zz\r\n"),
    _post("Transfer-Encoding: chunked\r\n", b"-2\r\n"),
    _post("Transfer-Encoding: chunked\r\n", b"2\r\n{}xxx"),
    _post("Transfer-Encoding: chunked\r\n", b"\r\n"),
])
def test_broken_framing_is_400_and_closes_the_connection(server: ApiServer,
                                                         request_bytes: bytes) -> None:
    code, body, closed = raw(server, request_bytes)
    assert code == 400, body
    assert json.loads(body)["reason"] == "BadRequest"
    assert closed
    assert server.list_objects("pods") == []


def test_oversized_and_unknown_encodings(server: ApiServer) -> None:
    # a body over kube's 3 MiB limit is refused before it is read
    code, body, closed = raw(server, _post(f"Content-Length: {10**10}\r\n"))
    assert code == 413 and json.loads(body)["reason"] == "RequestEntityTooLarge" and closed
    chunk = b"%x\r\n" % (3 * 1024 * 1024 + 1)
    code, body, closed = raw(server, _post("Transfer-Encoding: chunked\r\n", chunk))
    assert code == 413 and closed
    code, body, closed = raw(server, _post("Transfer-Encoding: gzip\r\n"))
    assert code == 501 and closed
    # a well-framed chunked body still works, and the connection stays open
    doc = json.dumps(bare_pod("c")).encode()
    code, body, closed = raw(server, _post("Transfer-Encoding: chunked\r\n",
                                           b"%x\r\n%s\r\n0\r\n\r\n" % (len(doc), doc)), 0.5)
    assert code == 201 and not closed


# --- nothing stored breaks a later request -------------------------------------------------


def test_selectors_tables_and_watches_survive_odd_stored_objects(server: ApiServer,
                                                                 http: httpx.Client) -> None:
    assert http.post(PODS, json=bare_pod("good", labels={"a": "b"})).status_code == 201
    # the path that stays open: a status subresource stores any status
    cur = http.post(PODS, json=bare_pod("odd")).json()
    odd = dict(cur, status={"containerStatuses": [5, "x", None], "phase": ["Running"],
                            "podIP": {"v": 1}})
    assert http.put(f"{PODS}/odd/status", json=odd).status_code == 200
    for params in ({"labelSelector": "a=b"}, {"labelSelector": "!a"},
                   {"fieldSelector": "status.phase=Running"},
                   {"fieldSelector": "status.podIP.v=1"},
                   {"labelSelector": "a in (b)", "fieldSelector": "metadata.name!=x"}):
        resp = http.get(PODS, params=params)
        assert resp.status_code == 200, (params, resp.text)
    assert [p["metadata"]["name"] for p in http.get(
        PODS, params={"labelSelector": "a=b"}).json()["items"]] == ["good"]
    table = http.get(PODS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert table.status_code == 200
    assert sorted(r["cells"][0] for r in table.json()["rows"]) == ["good", "odd"]
    with http.stream("GET", PODS, params={"watch": "1", "labelSelector": "a=b",
                                          "timeoutSeconds": "1"}) as resp:
        assert resp.status_code == 200
        events = [json.loads(line) for line in resp.iter_lines() if line]
    assert [e["object"]["metadata"]["name"] for e in events] == ["good"]
    # the path that is closed now: labels that are not a map (every selector list was 500)
    assert http.post(PODS, json=bare_pod("bad", labels=["x"])).status_code == 400
    assert http.get(PODS, params={"labelSelector": "a=b"}).status_code == 200


@pytest.mark.parametrize("obj", [
    {"metadata": {"name": "x", "labels": ["x"]}}, {"metadata": {"name": "x", "labels": "ab"}},
    {"metadata": {"name": "x", "labels": {"a": ["b"]}}}, {"metadata": None}, {},
    {"metadata": {"labels": {"a": 5}}},
])
def test_a_selector_answers_no_for_what_it_cannot_read(obj: dict[str, Any]) -> None:
    for sel in ("a=b", "!a", "a in (b)", "a>3", "a"):
        flt = compile_filter({"labelSelector": sel, "fieldSelector": "metadata.name=x"})
        assert flt is not None
        assert flt(obj) in (False, True)
    flt = compile_filter({"labelSelector": "!a"})
    assert flt is not None
    if isinstance((obj.get("metadata") or {}).get("labels"), (list, str)):
        assert flt(obj) is False  # labels that are not a map match nothing
