"""Answers over HTTP: bodies within their bound, content codings, failure answers.

``BodyCollector(what, limit, error=...)`` gathers a body within
``max_list_bytes`` (the clients default to no bound: see
:data:`DEFAULT_MAX_LIST_BYTES`), a failure answer's within
:data:`MAX_ERROR_BODY`. ``content_decoder(content_encoding, what)`` undoes
gzip or deflate incrementally (:class:`ContentDecoder`). What a failure answer
means (the 401 retry) is :mod:`._exchange`'s.
"""

from __future__ import annotations

import zlib

from ..errors import MalformedDataError

__all__ = ["DECODED_PIECE", "DEFAULT_MAX_LIST_BYTES", "MAX_ERROR_BODY", "BodyCollector",
           "ContentDecoder", "check_body_size", "content_decoder"]


DEFAULT_MAX_LIST_BYTES: int | None = None
"""No default bound on a list body: lists are paged (the Reflector asks 500
items a page), a full list of 100k pods is ~500 MB and legitimate. Clients take
``max_list_bytes`` to cap it."""

def check_body_size(size: int, limit: int | None, what: str) -> None:
    """Raise ``MalformedDataError`` once ``size`` bytes of an answer exceed ``limit``."""
    if limit is not None and size > limit:
        raise MalformedDataError(f"{what}: the answer exceeds the limit of {limit} bytes "
                                 f"(max_list_bytes)")


MAX_ERROR_BODY = 1 << 20
"""Bytes of a failure answer kept for its Status; the rest is not waited for."""

class BodyCollector:
    """An answer's body gathered chunk by chunk within its bound.

    A success answer over ``limit`` (``max_list_bytes``; ``None``: no bound)
    is a ``MalformedDataError`` -- as soon as ``Content-Length`` says so, or
    once the bytes read pass it. A failure answer (``error=True``) is cut at
    :data:`MAX_ERROR_BODY`: a Status fits, the rest of a huge error page is
    not needed. ``add`` says whether more is wanted.
    """

    __slots__ = ("_parts", "error", "limit", "size", "what")

    def __init__(self, what: str, limit: int | None, *, error: bool = False,
                 content_length: str | None = None) -> None:
        self.what = what
        self.error = error
        self.limit = MAX_ERROR_BODY if error else limit
        self.size = 0
        self._parts: list[bytes] = []
        if not error and content_length and content_length.isdigit():
            check_body_size(int(content_length), limit, what)

    def add(self, chunk: bytes) -> bool:
        """Take ``chunk``; false when no more is wanted (a failure answer's cap reached)."""
        self.size += len(chunk)
        self._parts.append(chunk)
        if self.limit is not None and self.size > self.limit:
            if self.error:
                return False
            self._parts.clear()
            check_body_size(self.size, self.limit, self.what)
        return True

    def body(self) -> bytes:
        return b"".join(self._parts)


DECODED_PIECE = 1 << 20
"""Most bytes one compressed chunk may expand to at once (the rest follows in pieces)."""

class ContentDecoder:
    """A body's ``Content-Encoding`` (gzip or deflate) undone incrementally, without I/O.

    ``feed(chunk)`` returns the decoded pieces (each at most
    :data:`DECODED_PIECE` bytes, so a small compressed chunk never expands in
    memory at once); ``deflate`` accepts both the zlib form (RFC 9110) and the
    raw form some servers send. A corrupt stream is a ``MalformedDataError``
    naming ``what``. :func:`content_decoder` picks one for a header value.
    """

    __slots__ = ("_d", "_raw_fallback", "encoding", "what")

    def __init__(self, encoding: str, what: str) -> None:
        self.encoding = encoding
        self.what = what
        self._raw_fallback = encoding == "deflate"
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        data = chunk
        while data:
            try:
                piece = self._d.decompress(data, DECODED_PIECE)
            except zlib.error:
                if self._raw_fallback:  # not zlib-wrapped: raw deflate
                    self._raw_fallback = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise MalformedDataError(f"{self.what}: the {self.encoding} body is corrupt "
                                         f"(Content-Encoding: {self.encoding})") from None
            self._raw_fallback = False
            if piece:
                out.append(piece)
            data = self._d.unconsumed_tail
        return out

    def __repr__(self) -> str:
        return f"ContentDecoder({self.encoding!r}, {self.what!r})"


def content_decoder(content_encoding: str | None, what: str) -> ContentDecoder | None:
    """The decoder for a ``Content-Encoding`` value (``None``: the body is as sent).

    gzip (``x-gzip``) and deflate; anything else is a ``MalformedDataError``
    (the client asks for gzip only, so another coding is a misbehaving peer).
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return ContentDecoder("gzip", what)
    if encoding == "deflate":
        return ContentDecoder("deflate", what)
    raise MalformedDataError(f"{what}: unsupported Content-Encoding {encoding[:40]!r} "
                             f"(gzip and deflate are understood)")
