"""One request to the API server, without I/O: what both clients send, and the 401 retry.

:func:`build_request` turns a call (``get``, ``watch``, ``request(...)``) into
a :class:`Request`: the target with its query, the body as bytes, every
header but ``Authorization`` (``User-Agent``, ``Accept``, ``Accept-Encoding``
by :meth:`~._settings.ClientBase.accept_encoding`, ``Content-Type``), the
read timeout. :func:`exchange` is the sans-I/O flow of sending it (stepped by
:class:`~._flow.FlowRun`, as the auth flows are); each client is its driver
and performs the steps:

- :data:`AUTHORIZE`: run the credential flow; send its ``Authorization``
  value (``None``: none). Only asked when the client has credentials.
- :class:`Send` ``(request, authorization)``: send it; send back the answer's
  head (anything with ``status``, ``reason``, ``headers``), keeping the
  response. A transport failure is raised by the driver (the flow is
  abandoned).
- :data:`READ_ERROR_BODY`: read the failure answer's body (its first
  :data:`~._answers.MAX_ERROR_BODY` bytes), release the response; send the bytes.
  A redirect (3xx) is a failure too: it is never followed, so no credential
  goes to another server.
- :data:`REFRESH`: after a 401, drop cached credentials; send whether a
  retry could help (a token file or exec plugin: yes, once, as client-go).

The flow ends (``StopIteration``) when the answer is a success (2xx): the
driver returns the response it kept. A failure answer raises the server's
:class:`~kubecache.errors.StatusError` out of the flow, its text redacted of
the credential sent and of the client's ``secrets``: a proxy or server whose
error page quotes the request must not put the token into an error or a log.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..__about__ import __version__
from .._json import dumps
from .._wire.redact import redact
from .._wire.status import status_error_from
from ._resources import with_query
from ._settings import ClientBase

__all__ = ["AUTHORIZE", "READ_ERROR_BODY", "REFRESH", "USER_AGENT", "Answer", "Exchange",
           "Request", "Send", "Step", "build_request", "exchange"]

USER_AGENT = f"kubecache/{__version__}"

Body = Any
"""A request body: bytes as they are, anything else encoded as JSON."""


@dataclass(frozen=True)
class Request:
    """Everything a client sends but the ``Authorization`` header."""

    method: str
    path: str
    target: str  # path?query
    body: bytes | None = field(repr=False)
    headers: Mapping[str, str]
    read_timeout: float


def build_request(client: ClientBase, method: str, path: str,
                  params: Mapping[str, str | int] | None = None, body: Body = None, *,
                  content_type: str = "application/json", accept: str | None = None,
                  streaming: bool = False, timeout: float | None = None) -> Request:
    """The :class:`Request` for one call of either client (``timeout``: read timeout).

    ``path`` must begin with ``/``: it is appended to the server's URL, and
    ``@host/...`` would send the request, credentials included, to ``host``.
    """
    if not path.startswith("/"):
        raise ValueError(f"request path {path[:100]!r} must begin with '/' (a path on the "
                         f"API server, such as '/api/v1/pods')")
    content = None if body is None else (body if isinstance(body, bytes) else dumps(body))
    headers = {"User-Agent": USER_AGENT, "Accept": accept or "application/json",
               "Accept-Encoding": client.accept_encoding(streaming)}
    if content is not None:
        headers["Content-Type"] = content_type
    return Request(method, path, with_query(path, params), content, headers,
                   client.timeout if timeout is None else timeout)


class Answer(Protocol):
    """The head of an answer, as both HTTP libraries' responses have it."""

    @property
    def status(self) -> int: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Send:
    """Step: send ``request`` with ``authorization`` (``None``: no header)."""

    request: Request
    authorization: str | None = field(repr=False)


AUTHORIZE = _Marker("AUTHORIZE")
READ_ERROR_BODY = _Marker("READ_ERROR_BODY")
REFRESH = _Marker("REFRESH")

Step = _Marker | Send
Exchange = Generator[Step, Any, None]


def exchange(request: Request, authenticated: bool, secrets: tuple[str, ...] = ()) -> Exchange:
    """The flow of sending ``request`` (see the module docstring for the steps).

    ``secrets``: credentials the client knows (the endpoint's), removed from a
    failure's text along with the ``Authorization`` value sent.
    """
    for attempt in (0, 1):
        authorization = (yield AUTHORIZE) if authenticated else None
        answer: Answer = yield Send(request, authorization)
        if answer.status < 300:
            return
        body: bytes = yield READ_ERROR_BODY
        if answer.status == 401 and attempt == 0 and authenticated and (yield REFRESH):
            continue  # refreshed credentials may help: one retry, as client-go does
        known = (*secrets, *_credential_parts(authorization))
        if answer.status < 400:
            body = _redirect_text(answer, known)
        elif body:
            body = redact(body.decode("utf-8", "replace"), known).encode()
        raise status_error_from(answer.status, answer.reason or "", answer.headers, body)


def _credential_parts(authorization: str | None) -> tuple[str, ...]:
    """The ``Authorization`` value sent and its credential (``Bearer X``: ``X``)."""
    if not authorization:
        return ()
    return authorization, authorization.partition(" ")[2].strip()


def _redirect_text(answer: Answer, secrets: tuple[str, ...]) -> bytes:
    """The message of a redirect answer: where it pointed (redacted); it is not followed."""
    location = redact(str(answer.headers.get("Location") or ""), secrets)[:120]
    where = f" to {location}" if location else ""
    return (f"the server answered {answer.status} {answer.reason or ''}".rstrip() +
            f", a redirect{where}: redirects are not followed").encode()
