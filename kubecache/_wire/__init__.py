"""The Kubernetes wire protocol, without I/O: what every Kubernetes-speaking source shares.

Used by kubecache's own HTTP clients (:mod:`kubecache.kube`) and by the
official-client adapters (:mod:`kubecache._official`), so it sits in the core
below both; it imports no HTTP library and no front end.

- :mod:`.ndjson`: watch streams (newline-delimited ``{type, object}`` events),
  decoded incrementally within a line bound (:class:`~.ndjson.WatchDecoder`),
  one read's events decoded lazily as applied (:class:`~.ndjson.EventLines`).
- :mod:`.status`: failure answers as :class:`~kubecache.errors.StatusError`
  (the server's ``Status`` or a synthesized one; ``Retry-After`` as seconds),
  JSON bodies (:func:`~.status.decode_json_body`).
- :mod:`.silence`: how long a watch may stay silent (:class:`~.silence.SilenceBound`).
- :mod:`.redact`: third-party failure texts without credentials.
- :mod:`.async_watch`: the asyncio watch over an aiohttp-style response.
- :mod:`.watch_stream`: the base both HTTP watch streams (threads, asyncio) share.
"""
