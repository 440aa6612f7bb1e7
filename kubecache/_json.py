"""Fast JSON: orjson when it is installed, the standard library otherwise.

Watch streams and list pages are decoded on the hot path, so the decoder
matters (see ``bench/bench_decode.py``). Both functions work on ``bytes``.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    _orjson = None  # type: ignore[assignment]

__all__ = ["HAVE_ORJSON", "JSONDecodeError", "dumps", "loads"]

HAVE_ORJSON = _orjson is not None
JSONDecodeError = ValueError
"""What :func:`loads` raises for malformed input (both decoders raise a ValueError)."""

if _orjson is not None:
    _dumps = _orjson.dumps
    _loads = _orjson.loads

    def dumps(obj: Any) -> bytes:
        """Compact UTF-8 JSON bytes."""
        return _dumps(obj)

    def loads(data: bytes | bytearray | memoryview | str) -> Any:
        """Decode one JSON document."""
        return _loads(data)

else:  # pragma: no cover - exercised only without orjson
    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def dumps(obj: Any) -> bytes:
        """Compact UTF-8 JSON bytes."""
        return _encoder.encode(obj).encode()

    def loads(data: bytes | bytearray | memoryview | str) -> Any:
        """Decode one JSON document."""
        if isinstance(data, memoryview):
            data = bytes(data)
        return json.loads(data)
