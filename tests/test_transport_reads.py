"""The threaded watch read path: any split of the byte stream into reads gives the same events.

The chunk decoder's tight loop over whole chunks, the line splitter's pass
over whole-line pieces and the decoder's BOOKMARK hook must answer exactly
what the joined stream answers, whatever the reads look like; a body that
stops inside a chunk is an error, and socket reads keep the read timeout.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache._wire.ndjson import EventLines, WatchDecoder
from kubecache._wire.silence import SilenceBound
from kubecache.errors import MalformedDataError
from kubecache.kube import Client
from kubecache.kube._chunked import ChunkedDecoder
from kubecache.kube._errors import TransportError, TransportTimeout
from kubecache.kube.config import Config
from kubecache.watch import EventType

_payload = st.binary(min_size=1, max_size=60)
"""Any chunk payload: CRLFs and newlines inside included."""

_size_text = st.sampled_from([b"%x", b"%X", b"0%x", b"%x;ext=1", b"%x ", b"%x\n"])
"""How a sender may write a chunk's size line (the tight loop takes only the first two)."""


def _frame(payload: bytes, form: bytes) -> bytes:
    text = form % len(payload)
    return text + payload + b"\r\n" if text.endswith(b"\n") else text + b"\r\n" + payload + b"\r\n"


def _reads(wire: bytes, cuts: list[int]) -> Iterator[bytes]:
    pos, i = 0, 0
    while pos < len(wire):
        step = cuts[i % len(cuts)]
        yield wire[pos:pos + step]
        pos += step
        i += 1


@given(st.lists(st.tuples(_payload, _size_text), max_size=30),
       st.lists(st.integers(1, 400), min_size=1, max_size=20))
def test_any_reads_of_any_chunks_give_the_payload_chunk_by_chunk(
        chunks: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    wire = b"".join(_frame(p, f) for p, f in chunks) + b"0\r\n\r\nafter the end"
    decoder = ChunkedDecoder("t")
    out: list[bytes] = []
    for data in _reads(wire, cuts):
        pieces = decoder.pieces(data)
        assert all(pieces)  # never an empty piece
        out += pieces
        if decoder.done:
            break
    assert decoder.done and b"".join(out) == b"".join(p for p, _ in chunks)
    if len(cuts) == 1 and cuts[0] >= len(wire):  # one read: one piece per chunk
        assert out == [p for p, _ in chunks]


@pytest.mark.parametrize("size", [b"0x5", b"+5", b"5_0", b"-5", b"5\t\t_"])
def test_the_tight_loop_takes_digits_only(size: bytes) -> None:
    good = b"5\r\nhello\r\n" * 3
    decoder = ChunkedDecoder("t")
    with pytest.raises(MalformedDataError):
        decoder.pieces(good + size + b"\r\nhello\r\n" + good)


def test_a_chunk_not_followed_by_crlf_is_malformed_after_the_good_ones() -> None:
    decoder = ChunkedDecoder("t")
    with pytest.raises(MalformedDataError, match="not followed by CRLF"):
        decoder.pieces(b"5\r\nhello\r\n" * 3 + b"5\r\nhelloXY")


_line = st.binary(max_size=50).map(lambda b: b.replace(b"\n", b" ") + b"\n")


@given(st.lists(st.lists(_line, min_size=1, max_size=3).map(b"".join), max_size=30),
       st.lists(st.integers(1, 300), min_size=1, max_size=20), st.integers(5, 80))
def test_any_reads_give_the_lines_of_the_joined_stream(
        chunks: list[bytes], cuts: list[int], limit: int) -> None:
    """Chunks of one line or several, any reads, a line limit: lines and the error as joined."""
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    joined = WatchDecoder("w", max_line_bytes=limit)
    expected: list[bytes] = []
    expected_error = False
    try:
        expected = joined.split(b"".join(chunks))
        joined.check()
    except MalformedDataError:
        expected_error = True
    framing, lines = ChunkedDecoder("t"), WatchDecoder("w", max_line_bytes=limit)
    got: list[bytes] = []
    got_error = False
    try:
        for data in _reads(wire, cuts):
            pieces = framing.pieces(data)
            if pieces:
                got += lines.split_pieces(pieces)
                lines.check()
    except MalformedDataError:
        got_error = True
    assert got_error == expected_error
    def text(lines: list[bytes]) -> list[bytes]:  # a blank line decodes to nothing either way
        return [x.rstrip(b"\n") for x in lines if x.strip()]

    assert text(got) == text(expected)


def test_whole_line_pieces_are_passed_on_as_they_are() -> None:
    pieces = [b'{"n":%d}\n' % i for i in range(5)]
    assert WatchDecoder("w").split_pieces(pieces) is pieces


@pytest.mark.parametrize("raw", [False, True])
def test_the_decoder_tells_the_silence_bound_of_a_bookmark(raw: bool) -> None:
    bound = SilenceBound("w", {"timeoutSeconds": 600}, bookmark_idle=100.0)
    decoder = WatchDecoder("w", raw=raw, on_bookmark=bound.saw_bookmark)
    lines = [b'{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"1"}}}\n',
             b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"2"}}}\n']
    events = list(EventLines(lines[:1], decoder.decoder))
    assert events[0].type is EventType.ADDED and not bound.bookmarked
    assert not bound.take_drop()
    events = list(EventLines(lines[1:], decoder.decoder))
    assert events[0].type is EventType.BOOKMARK and bound.bookmarked
    assert bound.take_drop() and bound.seconds == 100.0
    assert not bound.take_drop()


# --- through a socket: the client's reads ------------------------------------------------------


def _serve(parts: list[bytes], hold: threading.Event) -> tuple[int, threading.Thread]:
    """One connection: answer any request with a chunked head, then ``parts`` one write each."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            for part in parts:
                conn.sendall(part)
            hold.wait(10.0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def _client(port: int) -> Client:
    return Client(Config(server=f"http://127.0.0.1:{port}"))


def _events(n: int) -> list[bytes]:
    return [b'{"type":"ADDED","object":{"metadata":{"name":"p%d","resourceVersion":"%d"}}}\n'
            % (i, i + 1) for i in range(n)]


@given(st.lists(st.integers(1, 700), min_size=1, max_size=8))
def test_any_writes_give_the_same_events_through_the_client(cuts: list[int]) -> None:
    lines = _events(40)
    wire = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in lines) + b"0\r\n\r\n"
    hold = threading.Event()
    port, thread = _serve(list(_reads(wire, cuts)), hold)
    client = _client(port)
    try:
        response = client.stream("/api/v1/pods", {"watch": "1"})
        with response:
            got = [piece for pieces in response.pieces() for piece in pieces]
    finally:
        hold.set()
        client.close()
        thread.join(10.0)
    assert b"".join(got) == b"".join(lines)


def test_a_catching_up_stream_through_the_reused_read_buffer() -> None:
    """Megabytes at once (the read buffer grows), then a lone event: every piece is its own
    ``bytes`` (none refers to the reused buffer), and they join to the stream."""
    lines = [line * 30 for line in _events(3000)]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in lines)
    hold = threading.Event()
    port, thread = _serve([wire[:len(wire) // 2], wire[len(wire) // 2:], b"0\r\n\r\n"], hold)
    client = _client(port)
    try:
        with client.stream("/api/v1/pods", {"watch": "1"}) as response:
            got = [piece for pieces in response.pieces() for piece in pieces]
    finally:
        hold.set()
        client.close()
        thread.join(10.0)
    assert all(type(piece) is bytes for piece in got)
    assert b"".join(got) == b"".join(lines)
    assert _ends(lines) <= _ends(got)  # a piece never spans two chunks


def _ends(parts: list[bytes]) -> set[int]:
    ends, pos = set(), 0
    for part in parts:
        pos += len(part)
        ends.add(pos)
    return ends


def test_a_body_cut_inside_a_chunk_is_an_error() -> None:
    line = _events(1)[0]
    hold = threading.Event()
    hold.set()  # the server closes right after its writes
    port, thread = _serve([b"%x\r\n%s\r\n" % (len(line), line) * 3 + b"%x\r\n%s" % (
        len(line), line[:10])], hold)
    client = _client(port)
    try:
        with client.stream("/api/v1/pods") as response:
            got: list[bytes] = []
            with pytest.raises(TransportError, match="closed inside the body"):
                for pieces in response.pieces():
                    got += pieces
    finally:
        client.close()
        thread.join(10.0)
    assert got[:3] == [line] * 3


def test_an_event_that_arrives_alone_is_read_at_once_and_silence_times_out() -> None:
    """A lone event is handed over without waiting for more; then the read timeout holds."""
    line = _events(1)[0]
    hold = threading.Event()
    port, thread = _serve([b"%x\r\n%s\r\n" % (len(line), line)], hold)
    client = _client(port)
    try:
        with client.stream("/api/v1/pods", read_timeout=0.3) as response:
            it = response.pieces()
            assert next(it) == [line]  # the server sends nothing more until hold is set
            with pytest.raises(TransportTimeout):
                next(it)
    finally:
        hold.set()
        client.close()
        thread.join(10.0)


_any_line = st.one_of(st.binary(max_size=40), st.binary(min_size=500, max_size=3000)).map(
    lambda b: b.replace(b"\n", b"x"))
"""Short lines and lines of kilobytes (found by memchr rather than split), blank ones too."""


@given(st.lists(_any_line, max_size=12), st.lists(st.integers(1, 4000), min_size=1, max_size=8),
       st.sampled_from([100, 1000, 2500, 1 << 20]))
def test_any_reads_of_long_and_short_lines_give_the_models_lines(
        lines: list[bytes], cuts: list[int], limit: int) -> None:
    """The model: the stream's lines, blank ones left out, up to the first one over the limit."""
    too_long = next((i for i, x in enumerate(lines) if len(x) > limit), None)
    expected = [x for x in lines[:too_long] if x.strip()]
    decoder = WatchDecoder("w", max_line_bytes=limit)
    got: list[bytes] = []
    raised = False
    try:
        for data in _reads(b"".join(x + b"\n" for x in lines), cuts):
            got += decoder.split(data)
            decoder.check()
    except MalformedDataError:
        raised = True
    assert raised == (too_long is not None)
    assert [x.rstrip(b"\n") for x in got if x.strip()] == expected  # blank: decoded to none
