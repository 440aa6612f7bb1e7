"""What both clients are configured with: :class:`ClientSettings` and :class:`ClientBase`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

from .._wire.ndjson import MAX_LINE_BYTES
from .._wire.silence import BOOKMARK_IDLE_TIMEOUT, WATCH_MARGIN, SilenceBound
from ._answers import DEFAULT_MAX_LIST_BYTES
from ._endpoint import Endpoint
from ._resources import Params
from .config import Config

if TYPE_CHECKING:
    from ..listwatch import ListWatch
    from ..listwatch_async import AsyncListWatch
    from ._resources import ResourceQuery

__all__ = ["ClientBase", "ClientSettings"]


class ClientSettings(TypedDict, total=False):
    """The keywords both clients take (see :class:`ClientBase`)."""

    timeout: float
    connect_timeout: float
    watch_margin: float
    max_line_bytes: int
    max_list_bytes: int | None
    bookmark_idle_timeout: float | None
    compress: bool


class ClientBase:
    """The settings, endpoint and watch bound both clients share; they add the I/O.

    ``timeout``: seconds a request may wait for the next bytes;
    ``connect_timeout``: seconds to establish a connection (TCP and TLS);
    ``watch_margin``: seconds added to a watch's ``timeoutSeconds`` for its
    read timeout; ``max_line_bytes``: the longest watch event line
    (``MalformedDataError`` beyond); ``max_list_bytes``: the largest answer
    body accepted (``None``: no bound); ``bookmark_idle_timeout``: the
    silence that ends a watch once it has seen a bookmark (``None``: only
    ``timeoutSeconds`` + ``watch_margin``); ``compress``: ask for gzip on
    lists and other single answers (``Accept-Encoding: gzip``, as client-go's
    transport does; kube-apiserver compresses answers over 128 KiB). Watches
    ask for none (events are small and flushed one by one), but every answer
    is decoded whatever ``Content-Encoding`` (gzip, deflate) it comes with.
    """

    def __init__(self, config: Config, *, timeout: float = 60.0, connect_timeout: float = 10.0,
                 watch_margin: float = WATCH_MARGIN, max_line_bytes: int = MAX_LINE_BYTES,
                 max_list_bytes: int | None = DEFAULT_MAX_LIST_BYTES,
                 bookmark_idle_timeout: float | None = BOOKMARK_IDLE_TIMEOUT,
                 compress: bool = True) -> None:
        self.config = config
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.watch_margin = watch_margin
        self.max_line_bytes = max_line_bytes
        self.max_list_bytes = max_list_bytes
        self.bookmark_idle_timeout = bookmark_idle_timeout
        self.compress = compress
        self.endpoint = Endpoint.of(config)

    def accept_encoding(self, streaming: bool) -> str:
        """The ``Accept-Encoding`` of a request: gzip for single answers when ``compress``."""
        return "gzip" if self.compress and not streaming else "identity"

    @property
    def namespace(self) -> str:
        """The namespace of the configured context (``"default"`` when it names none)."""
        return self.config.namespace

    def _watch_request(self, path: str,
                       params: Mapping[str, str | int] | None) -> tuple[Params, SilenceBound]:
        """A watch's query (``watch=1`` ensured) and the bound on its silence."""
        query: Params = dict(params or {})
        query.setdefault("watch", 1)
        return query, SilenceBound(path, query, margin=self.watch_margin,
                                   bookmark_idle=self.bookmark_idle_timeout)

    def _list_watch(self, query: ResourceQuery) -> ListWatch | AsyncListWatch:
        """The list-watch of ``query`` through this client (each client builds its own)."""
        raise NotImplementedError
