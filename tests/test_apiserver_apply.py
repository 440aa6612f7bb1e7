"""Server-side apply, field managers, strategic merge patch and OpenAPI on the embedded server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache.errors import StatusError
from kubecache.testing import ApiServer
from kubecache.testing._apiserver_apply import decode, encode, fields_of, path_text
from kubecache.testing._apiserver_patch import strategic_merge_patch
from kubecache.testing._apiserver_resources import BUILTIN
from kubecache.testing._apiserver_storage import Storage

CM = "/api/v1/namespaces/default/configmaps"
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def cm(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data}


def apply(http: httpx.Client, body: Any, manager: str, **params: str) -> httpx.Response:
    return http.patch(f"{CM}/cfg", content=json.dumps(body).encode(), headers=APPLY,
                      params={"fieldManager": manager, **params})


def owners(obj: dict[str, Any]) -> dict[str, Any]:
    return {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def test_apply_creates_then_reapply_is_a_no_op_and_drops_what_it_left_out(
        http: httpx.Client) -> None:
    r = apply(http, cm(a="1", b="2"), "alice")
    assert r.status_code == 201, r.text
    created = r.json()
    assert owners(created) == {"alice": {"f:data": {"f:a": {}, "f:b": {}}}}
    entry = created["metadata"]["managedFields"][0]
    assert entry["operation"] == "Apply" and entry["apiVersion"] == "v1"
    again = apply(http, cm(a="1", b="2"), "alice")
    assert again.status_code == 200
    assert again.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    r = apply(http, cm(a="1"), "alice")
    assert r.json()["data"] == {"a": "1"}  # b was alice's alone: removed


def test_conflicts_name_fields_and_managers_and_force_takes_them(http: httpx.Client) -> None:
    apply(http, cm(a="1", b="2", c="3"), "alice")
    r = apply(http, cm(a="1", b="9", c="9"), "bob")
    assert r.status_code == 409
    body = r.json()
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Apply failed with 2 conflicts: conflicts with "alice":\n'
                               "- .data.b\n- .data.c")
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": f}
        for f in (".data.b", ".data.c")]
    r = apply(http, cm(a="1", b="9"), "bob", force="true")
    assert r.status_code == 200
    assert r.json()["data"] == {"a": "1", "b": "9", "c": "3"}
    # a (same value) is shared; b was taken; c stays alice's
    assert owners(r.json()) == {"alice": {"f:data": {"f:a": {}, "f:c": {}}},
                                "bob": {"f:data": {"f:a": {}, "f:b": {}}}}
    r = apply(http, cm(c="3"), "alice")  # alice lets a go: bob still owns it, it stays
    assert r.json()["data"] == {"a": "1", "b": "9", "c": "3"}


def test_updates_take_the_fields_they_change_and_conflict_with_appliers(
        http: httpx.Client) -> None:
    apply(http, cm(a="1", b="2"), "alice")
    r = http.patch(f"{CM}/cfg", content=b'{"data":{"b":"5"}}',
                   headers={"Content-Type": "application/merge-patch+json"},
                   params={"fieldManager": "editor"})
    assert owners(r.json()) == {"alice": {"f:data": {"f:a": {}}},
                                "editor": {"f:data": {"f:b": {}}}}
    assert r.json()["metadata"]["managedFields"][1]["operation"] == "Update"
    r = apply(http, cm(a="1", b="2"), "alice")
    assert r.status_code == 409
    assert r.json()["message"] == ('Apply failed with 1 conflict: conflict with "editor" '
                                   "using v1: .data.b")
    r = http.put(f"{CM}/cfg", json=dict(http.get(f"{CM}/cfg").json(), data={"a": "1", "b": "5",
                                                                            "z": "0"}),
                 headers={"User-Agent": "my-tool/1.0 (linux)"})
    assert owners(r.json())["my-tool"] == {"f:data": {"f:z": {}}}  # named after User-Agent


def test_apply_options_are_validated(http: httpx.Client) -> None:
    r = http.patch(f"{CM}/cfg", content=json.dumps(cm(a="1")).encode(), headers=APPLY)
    assert r.status_code == 422
    assert r.json()["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                   "Required value: is required for apply patch")
    apply(http, cm(a="1"), "alice")
    r = http.patch(f"{CM}/cfg", content=b"{}", params={"force": "true"},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and "force: Forbidden" in r.json()["message"]
    r = http.patch(f"{CM}/cfg", content=b"data: [", headers=APPLY,
                   params={"fieldManager": "x"})
    assert r.status_code == 400


def test_keyed_lists_are_owned_item_by_item(server: ApiServer, http: httpx.Client) -> None:
    base = "/apis/apps/v1/namespaces/default/deployments/d"

    def deploy(*containers: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": list(containers)}}}}

    r = http.patch(base, content=json.dumps(deploy({"name": "a", "image": "1"})).encode(),
                   headers=APPLY, params={"fieldManager": "alice"})
    assert r.status_code == 201
    r = http.patch(base, content=json.dumps(deploy({"name": "b", "image": "2"})).encode(),
                   headers=APPLY, params={"fieldManager": "bob"})
    assert r.status_code == 200, r.text
    spec = server.get("deployments.v1.apps", "d")["spec"]["template"]["spec"]
    assert spec["containers"] == [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]
    r = http.patch(base, content=json.dumps(deploy({"name": "a", "image": "3"})).encode(),
                   headers=APPLY, params={"fieldManager": "bob"})
    assert r.status_code == 409
    assert r.json()["details"]["causes"][0]["field"] == \
        '.spec.template.spec.containers[name="a"].image'


def test_strategic_merge_patch_directives() -> None:
    cur = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}],
                    "finalizers": ["x"], "args": ["1", "2"]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                      "containers": [{"name": "a", "image": "2"}], "args": ["3"]}}
    assert strategic_merge_patch(cur, patch) == {"spec": {
        "containers": [{"name": "b", "image": "1"}, {"name": "a", "image": "2"}],
        "finalizers": ["x"], "args": ["3"]}}
    out = strategic_merge_patch(cur, {"spec": {
        "containers": [{"name": "a", "$patch": "delete"}],
        "$deleteFromPrimitiveList/finalizers": ["x"], "$retainKeys": ["containers",
                                                                      "finalizers"]}})
    assert out == {"spec": {"containers": [{"name": "b", "image": "1"}], "finalizers": []}}
    assert strategic_merge_patch(cur, {"spec": {"$patch": "replace", "x": 1}}) == {
        "spec": {"x": 1}}
    assert cur["spec"]["containers"][0] == {"name": "a", "image": "1"}  # input untouched


def test_openapi_v3_lists_every_group_version_and_field_validation(
        server: ApiServer, http: httpx.Client) -> None:
    server.register_resource("example.com", "v1", "widgets", "Widget")
    index = http.get("/openapi/v3").json()["paths"]
    assert set(index) == {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1",
                          "apis/events.k8s.io/v1", "apis/example.com/v1"}
    doc = http.get(index["apis/example.com/v1"]["serverRelativeURL"]).json()
    item = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "example.com",
                                                        "version": "v1", "kind": "Widget"}
    assert {"fieldValidation", "fieldManager", "force"} <= {
        p["name"] for p in patch["parameters"]}
    assert "application/apply-patch+yaml" in patch["requestBody"]["content"]
    assert http.get("/openapi/v3/apis/nope/v1").status_code == 404


_value = st.recursive(
    st.one_of(st.integers(), st.text(max_size=3)),
    lambda inner: st.one_of(st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
                            st.lists(inner, max_size=3)), max_leaves=10)
_named = st.lists(st.fixed_dictionaries({"name": st.sampled_from("xyz")},
                                        optional={"image": st.text(max_size=2)}),
                  max_size=3, unique_by=lambda c: c["name"])


@given(spec=st.dictionaries(st.sampled_from(["a", "b", "c"]), _value, max_size=3),
       containers=_named)
def test_field_sets_round_trip_through_fields_v1(spec: dict[str, Any],
                                                 containers: list[dict[str, Any]]) -> None:
    obj = {"metadata": {"name": "n", "labels": {"k": "v"}},
           "spec": dict(spec, containers=containers)}
    fields = fields_of(obj)
    assert decode(json.loads(json.dumps(encode(fields)))) == fields
    assert ("f:metadata", "f:name") not in fields and ("f:metadata", "f:labels", "f:k") in fields
    for c in containers:
        item = ("f:spec", "f:containers", 'k:{"name":' + json.dumps(c["name"]) + '}')
        assert item in fields
        assert path_text((*item, "f:image")) == f'.spec.containers[name="{c["name"]}"].image'


@pytest.mark.parametrize("body", [b"apiVersion: v1\nkind: ConfigMap\ndata: {a: '1'}\n"])
def test_apply_accepts_yaml(http: httpx.Client, body: bytes) -> None:
    pytest.importorskip("yaml")
    r = http.patch(f"{CM}/cfg", content=body, headers=APPLY, params={"fieldManager": "y"})
    assert r.status_code == 201 and r.json()["data"] == {"a": "1"}


# --- property: server-side apply on a flat map against a simple model ------------------

_config = st.dictionaries(st.sampled_from("abcd"), st.sampled_from("12"), max_size=4)
_step = st.tuples(st.sampled_from(["alice", "bob", "carol"]), _config, st.booleans())


@given(steps=st.lists(_step, min_size=1, max_size=12))
def test_apply_matches_a_model_of_ownership(steps: list[tuple[str, dict[str, str], bool]]) -> None:
    """Owners and data after any sequence of applies (with and without force) equal a model:
    conflicts are fields another manager owns with another value; force takes them; a field
    its applier dropped goes when nobody else owns it; equal values are shared."""
    rt = next(t for t in BUILTIN if t.plural == "configmaps")
    storage = Storage()
    data: dict[str, str] = {}
    owned: dict[str, set[str]] = {}
    exists = False
    for manager, config, force in steps:
        others = {k for m, ks in owned.items() if m != manager for k in ks}
        clash = sorted(k for k in config if k in others and data.get(k) != config[k])
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "cfg"}}
        if config:
            body["data"] = dict(config)
        if clash and not force:
            with pytest.raises(StatusError) as exc:
                storage.apply(rt, "default", "cfg", body, manager)
            assert exc.value.code == 409  # one cause per field and owner
            assert {c["field"] for c in exc.value.status["details"]["causes"]} == {
                f".data.{k}" for k in clash}
            continue
        obj, created = storage.apply(rt, "default", "cfg", body, manager, force)
        assert created == (not exists)
        exists = True
        for m in owned:
            if m != manager:
                owned[m] -= set(clash)
        dropped = owned.get(manager, set()) - set(config) - {
            k for m, ks in owned.items() if m != manager for k in ks}
        data.update(config)
        for k in dropped:
            data.pop(k, None)
        owned[manager] = set(config)
        owned = {m: ks for m, ks in owned.items() if ks}
        assert (obj.get("data") or {}) == data
        got = {e["manager"]: {p[1][2:] for p in decode(e["fieldsV1"])}
               for e in obj["metadata"].get("managedFields") or []}
        assert got == owned


def test_dry_run_answers_as_a_write_would_and_commits_nothing(server: ApiServer,
                                                              http: httpx.Client) -> None:
    rv = server.resource_version
    r = http.post(CM, json=cm(a="1"), params={"dryRun": "All", "fieldManager": "m"})
    assert r.status_code == 201 and r.json()["metadata"]["uid"]
    assert "resourceVersion" not in r.json()["metadata"]
    assert http.get(f"{CM}/cfg").status_code == 404 and server.resource_version == rv
    r = apply(http, cm(a="1"), "alice", dryRun="All")  # kubectl diff's request
    assert r.status_code == 201 and http.get(f"{CM}/cfg").status_code == 404
    created = apply(http, cm(a="1"), "alice").json()
    r = apply(http, cm(a="2"), "bob", dryRun="All")
    assert r.status_code == 409  # conflicts are found in a dry run too
    r = apply(http, cm(a="2"), "alice", dryRun="All")
    assert r.json()["data"] == {"a": "2"}
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert http.delete(f"{CM}/cfg", params={"dryRun": "All"}).status_code == 200
    assert server.get("configmaps", "cfg")["data"] == {"a": "1"}
    r = http.post(CM, json=cm(a="1"), params={"dryRun": "Some"})
    assert r.status_code == 422 and r.json()["details"]["kind"] == "CreateOptions"
