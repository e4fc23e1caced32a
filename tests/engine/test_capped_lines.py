"""CappedLines: lines out of a body's chunks as they arrive, each at most its cap, never holding more."""

from __future__ import annotations

from moetui.engine.capped_lines import CappedLines


def test_lines_across_chunks_and_the_last_one_without_a_break() -> None:
    lines = CappedLines(cap=100)
    got = lines.feed(b"data: a\n\nda") + lines.feed(b"ta: b") + lines.feed(b"\ndata: c\n") + lines.feed(b"tail")
    assert got == [b"data: a", b"", b"data: b", b"data: c"]
    assert lines.end() == b"tail" and lines.end() == b""
    assert not lines.too_long


def test_an_over_long_line_is_dropped_as_it_comes_never_held_whole() -> None:
    """10 MB with no line break, in 64 KB chunks as a socket gives them: the cap is passed well before the end
    of the line, and the bytes held never exceed the cap."""
    cap = 1_000_000
    lines = CappedLines(cap=cap)
    assert lines.feed(b"data: first\n") == [b"data: first"]
    piece = b"x" * 65536
    fed = 0
    while fed < 10_000_000 and not lines.too_long:
        assert lines.feed(piece) == []
        fed += len(piece)
        assert lines.held <= cap
    assert lines.too_long and fed <= cap + len(piece)
    assert lines.held == 0
    assert lines.feed(b"\ndata: after\n") == []  # the answer is over: nothing more is read from it
    assert lines.end() == b""


def test_a_whole_over_long_line_in_one_chunk_is_too_long() -> None:
    lines = CappedLines(cap=10)
    assert lines.feed(b"short\n" + b"y" * 11 + b"\n") == []
    assert lines.too_long


def test_a_line_at_the_cap_is_kept() -> None:
    lines = CappedLines(cap=10)
    assert lines.feed(b"y" * 6) == []
    assert lines.feed(b"y" * 4 + b"\n") == [b"y" * 10]
    assert not lines.too_long


def test_a_whole_document_is_one_line_under_the_same_cap() -> None:
    lines = CappedLines(cap=22, whole=True)  # the document below is 22 bytes
    assert lines.feed(b'{\n  "a": 1,\n') == [] and lines.feed(b'  "b": 2\n}') == []
    assert lines.end() == b'{\n  "a": 1,\n  "b": 2\n}'
    over = CappedLines(cap=20, whole=True)
    over.feed(b"{" + b" " * 15)
    over.feed(b" " * 5 + b"}")
    assert over.too_long and over.end() == b""
