"""One read's payload as pieces: the chunked decoder's pieces and the watch line splitter.

Whatever the pieces, the lines (and so the events) are those of the joined
stream; a piece that is one whole line is passed on as it is (no copy).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecache._wire.ndjson import WatchDecoder
from kubecache.errors import MalformedDataError
from kubecache.kube._chunked import ChunkedDecoder

_line = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x"))
"""Any bytes but a newline (blank and whitespace-only lines included)."""


@given(st.lists(st.lists(_line, max_size=4).map(lambda ls: b"\n".join(ls)), max_size=8),
       st.lists(st.integers(1, 30), min_size=1, max_size=10))
def test_pieces_give_the_lines_of_the_joined_stream(pieces: list[bytes],
                                                    reads: list[int]) -> None:
    whole = WatchDecoder("w")
    expected = [line for line in whole.split(b"".join(pieces) + b"\n")]
    by_pieces = WatchDecoder("w")
    got: list[bytes] = []
    groups, i = [], 0
    while i < len(pieces):  # one read's pieces at a time
        n = reads[len(groups) % len(reads)] % 4 + 1
        groups.append(pieces[i:i + n])
        i += n
    for group in groups:
        got += by_pieces.split_pieces(group)
    got += by_pieces.split_pieces([b"\n"])
    def text(lines: list[bytes]) -> list[bytes]:  # blank lines decode to nothing either way
        return [x.rstrip(b"\n") for x in lines if x.strip()]

    assert text(got) == text(expected)


def test_a_whole_line_piece_is_passed_on_as_it_is() -> None:
    pieces = [b'{"type":"ADDED","object":{}}\n', b'{"type":"DELETED","object":{}}\n']
    lines = WatchDecoder("w").split_pieces(pieces)
    assert lines[0] is pieces[0] and lines[1] is pieces[1]


def test_a_long_line_after_good_ones_is_raised_after_them() -> None:
    decoder = WatchDecoder("w", max_line_bytes=10)
    lines = decoder.split_pieces([b"ok\n", b"x" * 20 + b"\n"])
    assert lines == [b"ok\n"]
    with pytest.raises(MalformedDataError, match="max_line_bytes"):
        decoder.check()


def encode(chunks: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"


@given(st.lists(st.binary(min_size=1, max_size=50), max_size=10),
       st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_chunk_pieces_join_to_the_payload(chunks: list[bytes], cuts: list[int]) -> None:
    wire = encode(chunks)
    decoder = ChunkedDecoder("t")
    out, pos, i = [], 0, 0
    while pos < len(wire) and not decoder.done:
        out += decoder.pieces(wire[pos:pos + cuts[i % len(cuts)]])
        pos += cuts[i % len(cuts)]
        i += 1
    assert decoder.done and b"".join(out) == b"".join(chunks)
    assert all(out)


def test_each_chunk_of_a_read_is_its_own_piece() -> None:
    events = [b'{"n":%d}\n' % i for i in range(5)]
    assert ChunkedDecoder().pieces(encode(events)[:-5]) == events
