"""The chunked-coding decoder: any split of the stream gives back the payload; bounded lines."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache.errors import MalformedDataError
from kubecache.kube._chunked import MAX_LINE, ChunkedDecoder


def encode(chunks: list[bytes], trailers: bytes = b"") -> bytes:
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) if i % 2 else b"%X\r\n%s\r\n" % (
        len(c), c) for i, c in enumerate(chunks) if c)
    return body + b"0\r\n" + trailers + b"\r\n"


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=12),
       st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=40),
       st.booleans())
def test_any_split_of_a_chunked_stream_gives_back_the_payload(
        chunks: list[bytes], cuts: list[int], trailer: bool) -> None:
    wire = encode(chunks, b"X-Check: 1\r\n" if trailer else b"") + b"junk after the end"
    decoder = ChunkedDecoder("test")
    out, pos, i = [], 0, 0
    while pos < len(wire) and not decoder.done:
        step = cuts[i % len(cuts)]
        out.append(decoder.feed(wire[pos:pos + step]))
        pos += step
        i += 1
    assert decoder.done
    assert b"".join(out) == b"".join(chunks)


def test_events_that_arrive_together_come_out_in_one_piece() -> None:
    events = [b'{"type":"MODIFIED","object":{"n":%d}}\n' % i for i in range(64)]
    decoder = ChunkedDecoder()
    payload = decoder.feed(b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events))
    assert payload == b"".join(events) and not decoder.done


@pytest.mark.parametrize("wire", [b"zz\r\n", b"-5\r\nabc", b"3\r\nabcXY", b"1" * (MAX_LINE + 2)])
def test_broken_framing_is_malformed_data(wire: bytes) -> None:
    with pytest.raises(MalformedDataError):
        ChunkedDecoder("watch /api/v1/pods").feed(wire)


def test_a_size_line_split_across_reads_is_bounded() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"1" * 4000)
    with pytest.raises(MalformedDataError, match="chunk-size line"):
        decoder.feed(b"1" * 200)


def test_a_reads_event_lines_decode_one_at_a_time_as_they_are_applied() -> None:
    from kubecache._wire.ndjson import EventLines, WatchDecoder

    decoder = WatchDecoder("watch /api/v1/pods")
    lines = decoder.split(b'{"type":"ADDED","object":{"n":1}}\n\n'
                          b'{"type":"ADDED","object":{"n":2}}\n{"type":"BOOK')
    assert len(lines) == 2 and decoder.buffered == len(b'{"type":"BOOK')
    decoded: list[bytes] = []

    def decode(line: bytes) -> Any:
        decoded.append(line)
        return decoder.decode(line)

    it = iter(EventLines(lines, decode))
    assert next(it).object == {"n": 1} and len(decoded) == 1  # the second is not decoded yet
    assert next(it).object == {"n": 2} and len(decoded) == 2


@pytest.mark.parametrize("size", [b"0x5", b"+5", b"5_0", b"-0"])
def test_chunk_sizes_are_hex_digits_only(size: bytes) -> None:
    with pytest.raises(MalformedDataError, match="bad chunk size"):
        ChunkedDecoder().feed(size + b"\r\nhello\r\n")


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "byte-by-byte"])
def test_the_size_line_limit_does_not_count_the_terminator(ending: bytes, split: bool) -> None:
    def feed(line_len: int) -> bytes:
        ext = b"5;" + b"x" * (line_len - 2)  # a size line of exactly line_len bytes
        wire = ext + ending + b"hello\r\n0\r\n\r\n"
        decoder = ChunkedDecoder("w")
        pieces = [wire[i:i + 1] for i in range(len(wire))] if split else [wire]
        out = b"".join(decoder.feed(p) for p in pieces)
        assert decoder.done
        return out

    assert feed(MAX_LINE) == b"hello"  # exactly the limit: accepted, CRLF or LF alike
    with pytest.raises(MalformedDataError, match="longer than 4096 bytes"):
        feed(MAX_LINE + 1)
