"""Raw storage without msgspec (the core stays dependency-free): same objects, full decode.

Run in a fresh interpreter where ``import msgspec`` fails, so the fallback
definitions of :mod:`kubecache.raw` are the ones in use.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import builtins, copy, pickle
real_import = builtins.__import__
def no_msgspec(name, *args, **kwargs):
    if name == "msgspec" or name.startswith("msgspec."):
        raise ImportError("msgspec is blocked for this test")
    return real_import(name, *args, **kwargs)
builtins.__import__ = no_msgspec

import orjson
from kubecache import raw
from kubecache._wire.ndjson import WatchDecoder
from kubecache.compact import thaw, to_json
from kubecache.keys import meta_namespace_key_func

assert not raw.HAVE_MSGSPEC
obj = {"kind": "Pod", "apiVersion": "v1",
       "metadata": {"name": "a", "namespace": "n", "resourceVersion": "7",
                    "labels": {"app": "web"}, "uid": "u-1"},
       "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]}}
data = orjson.dumps(obj)
for r in (raw.from_json(data), raw.raw_object(obj)):
    assert raw.is_raw(r) and r == obj and thaw(r) == obj and list(r) == list(obj)
    assert r["metadata"]["uid"] == "u-1" and dict(r["metadata"]) == obj["metadata"]
    assert list(r["metadata"]) == list(obj["metadata"])
    assert r["metadata"].to_json() == orjson.dumps(obj["metadata"])
    assert r["spec"] == obj["spec"] and to_json(r) == data
    assert meta_namespace_key_func(r) == "n/a"
    assert pickle.loads(pickle.dumps(r)) == obj and copy.deepcopy(r) == obj
assert raw.decode_event(b'{"type":"ADDED","object":' + data + b"}") is None
ev = WatchDecoder("w", raw=True).feed(b'{"type":"ADDED","object":' + data + b"}\n")[0]
assert raw.is_raw(ev.object) and ev.object == obj
page = raw.decode_list(orjson.dumps({"metadata": {"resourceVersion": "9"}, "items": [obj]}))
assert raw.is_raw(page["items"][0]) and page["items"][0] == obj
c = raw.codec(["spec.nodeName", "status.phase"])
line = b'{"type":"ADDED","object":' + data + b"}\n"
for r in (c.from_json(data), c.raw_object(obj), WatchDecoder("w", raw=c).feed(line)[0].object,
          c.decode_list(orjson.dumps({"metadata": {}, "items": [obj]}))["items"][0]):
    assert raw.is_raw(r) and r == obj and r["spec"] == obj["spec"]
    assert type(r["spec"]) is raw.RawPart and r["spec"]["nodeName"] == "node-1"
    assert "status" not in r and r.get("status") is None
    assert r["spec"]["containers"] == [{"name": "c"}] and list(r["spec"]) == list(obj["spec"])
    assert pickle.loads(pickle.dumps(r))["spec"]["nodeName"] == "node-1"
print("ok")
"""


def test_raw_storage_works_without_msgspec() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
