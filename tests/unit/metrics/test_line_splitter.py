"""The one line splitter of every log path: a log read in chunks, cut into the lines a terminal
shows (a ``\r`` redraws the line), with bounded memory, the same lines whatever the chunks (a
file's reads, a finished or a followed pod log)."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubetune.api.spec import Metrics
from kubetune.metrics.lines import MAX_LINE_BYTES, LineSplitter, iter_lines, read_lines
from kubetune.metrics.logs import MAX_LINE_CHARS, LogMetricsParser


def split(data: bytes, cuts: list[int], max_line_bytes: int = MAX_LINE_BYTES) -> list[str]:
    """``data`` fed to a splitter in pieces cut at ``cuts``, then flushed."""
    splitter = LineSplitter(max_line_bytes)
    lines: list[str] = []
    start = 0
    for cut in sorted(cuts):
        lines += splitter.feed(data[start:cut])
        start = max(start, cut)
    lines += splitter.feed(data[start:])
    return lines + splitter.flush()


def terminal_lines(data: bytes) -> list[str]:
    """The lines a terminal shows: each ``\n``-line as its last non-empty ``\r``-segment (a
    last line without ``\n`` only when it shows something)."""

    def last_segment(line: bytes) -> bytes:
        segments = [segment for segment in line.split(b"\r") if segment]
        return segments[-1] if segments else b""

    *complete, partial = data.split(b"\n")
    shown = [last_segment(line) for line in complete]
    if last_segment(partial):
        shown.append(last_segment(partial))
    return [line.decode("utf-8", errors="replace") for line in shown]


LOG_BYTES = st.lists(
    st.sampled_from([b"loss=0.5", b"\n", b"\r", b"\r\n", b"", b"epoch=3 ", "é€😀".encode()])
    | st.binary(max_size=8),
    max_size=30,
).map(b"".join)


@given(LOG_BYTES, st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_lines_are_what_a_terminal_shows_wherever_the_chunks_end(
    data: bytes, cuts: list[int]
) -> None:
    assert split(data, cuts) == terminal_lines(data)


def test_a_crlf_is_one_line_end_wherever_the_chunks_end() -> None:
    assert split(b"a=1\r\nb=2\r\n", [4]) == ["a=1", "b=2"]
    assert split(b"a=1\r\n\nb=2", [4, 5]) == ["a=1", "", "b=2"]  # the \n alone, then one more
    assert split(b"a=1\r\n\nb=2", [4, 4, 5, 5]) == ["a=1", "", "b=2"]  # and empty chunks


def test_a_carriage_return_redraws_the_line() -> None:
    assert split(b"a=1\r\rb=2", [4]) == ["b=2"]
    assert split(b"a=1\rb=2\r\n", [2, 5]) == ["b=2"]
    assert split(b"long line\rab\n", []) == ["ab"]  # not "abng line": the redraw, not the screen
    assert split(b"a=1\r\r\r\n\r\r\n", [1, 5]) == ["a=1", ""]  # a redraw of nothing is not one
    assert split(b"a=1\r", [2]) == ["a=1"]  # the log ends: the last line shows what it drew
    assert split(b"a=1\n\r\r", [4]) == ["a=1"]  # ...and nothing when it drew nothing


def test_a_partial_last_line_waits_for_its_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"loss=0.") == []
    assert splitter.feed(b"5\nacc") == ["loss=0.5"]
    assert splitter.flush() == ["acc"]
    assert splitter.flush() == []


def test_a_long_line_keeps_its_first_bytes_only() -> None:
    line = b"loss=0.5 " + b"x" * (3 * MAX_LINE_BYTES)
    assert split(line + b"\nloss=0.25\n", [100, MAX_LINE_BYTES + 5]) == [
        line[:MAX_LINE_BYTES].decode(),
        "loss=0.25",
    ]


@pytest.mark.parametrize("char", ["a", "é", "€", "😀", "\udcff"])
@pytest.mark.parametrize(
    ("room", "read"), [(0, None), (3, None), (9, 0.2), (10, 0.25), (11, 0.25), (40, 0.75)]
)
def test_the_parser_reads_the_same_of_a_cut_line(char: str, room: int, read: float | None) -> None:
    """The cap in bytes keeps every character the parser's cap in characters looks at, whatever
    the width of the characters before the values near the parser's cap."""
    text = char * (MAX_LINE_CHARS - room) + " loss=0.25 loss=0.75 " + char * MAX_LINE_CHARS
    line = text.encode("utf-8", errors="surrogateescape")  # \udcff: the invalid byte 0xff
    whole = LogMetricsParser(Metrics(), ["loss"])
    whole.feed(line.decode("utf-8", errors="replace"))
    cut = LogMetricsParser(Metrics(), ["loss"])
    for piece in split(line + b"\n", [7, MAX_LINE_BYTES - 1]):
        cut.feed(piece)
    assert cut.series == whole.series
    assert cut.series.latest("loss") == read


def test_a_50_mb_line_is_read_in_bounded_memory() -> None:
    chunk = b"x" * (256 * 1024)
    chunks = 200  # 50 MiB in one line, no newline in it
    splitter = LineSplitter()
    parser = LogMetricsParser(Metrics(), ["loss"])
    tracemalloc.start()
    try:
        for _ in range(chunks):
            for line in splitter.feed(chunk):
                parser.feed(line)
        for line in splitter.feed(b"\nloss=0.5\n"):
            parser.feed(line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert parser.series.latest("loss") == 0.5
    assert peak < 1024 * 1024  # the line's first MAX_LINE_BYTES, not its 50 MiB


def test_read_lines_reads_a_stream_to_its_end() -> None:
    data = b"a=1\r\n" + b"y" * (5 * MAX_LINE_BYTES) + b"\nloss=0.5"
    assert list(read_lines(io.BytesIO(data))) == ["a=1", "y" * MAX_LINE_BYTES, "loss=0.5"]


@given(LOG_BYTES, st.lists(st.integers(min_value=0, max_value=200), max_size=6), st.integers(1, 9))
def test_capped_lines_are_the_same_wherever_the_chunks_end(
    data: bytes, cuts: list[int], cap: int
) -> None:
    lines = split(data, cuts, cap)
    assert lines == split(data, [], cap)
    assert all(len(line) <= cap for line in lines)  # a character takes a byte at least
    # Each line is the start of the uncapped one: nothing of one line spills into the next.
    assert all(whole.startswith(line) for line, whole in zip(lines, split(data, []), strict=True))


def test_a_line_cut_inside_a_character_loses_that_character_only() -> None:
    assert split("ab€€".encode() + b"\n", [], max_line_bytes=6) == ["ab€"]
    assert split(b"ab\xff\xffcd\n", [], max_line_bytes=3) == ["ab\ufffd"]  # broken, not cut


def test_a_progress_bar_is_the_line_it_shows_last() -> None:
    bar = b"".join(b"\r 40%%|####  | %d/10 [loss=0.%d]" % (n, 9 - n) for n in range(10))
    assert split(bar + b"\n" + bar + b"\r\n", [13, 50, 300]) == [" 40%|####  | 9/10 [loss=0.0]"] * 2


def test_a_bar_redrawn_200000_times_is_cut_at_the_speed_of_reading_it() -> None:
    """No redraw becomes a line: a chunk is scanned by a few C calls, whatever it holds."""
    bar = b"".join(b"\r%d/200000 [step=%d loss=%d]" % (n, n, n) for n in range(200_000))
    chunks = [bar[i : i + 64 * 1024] for i in range(0, len(bar), 64 * 1024)]
    splitter = LineSplitter()
    started = time.process_time()
    lines = [line for chunk in chunks for line in splitter.feed(chunk)] + splitter.feed(b"\n")
    elapsed = time.process_time() - started
    assert lines == ["199999/200000 [step=199999 loss=199999]"]
    assert elapsed < 0.5  # ~0.01 s; a line per redraw took ~0.6 s to cut and parse


@pytest.mark.parametrize("chunk", [1, 7, 16 * 1024, 64 * 1024, 256 * 1024])
def test_local_and_cluster_reads_give_the_same_metrics(chunk: int) -> None:
    """The local runner reads the log file in 256 KiB reads; a finished pod log streams in
    64 KiB chunks and a followed one in 16 KiB: each trial reports the same values."""
    log = b"".join(b"\rbatch 1 loss=9\rbatch 2 epoch=%d loss=%d\r\n" % (n, n) for n in range(3000))
    log += b"x" * 300_000 + b"\r\nloss=0.5\r\n"
    local = LogMetricsParser(Metrics(), ["loss"])
    local.feed_lines(read_lines(io.BytesIO(log)))
    cluster = LogMetricsParser(Metrics(), ["loss"])
    cluster.feed_lines(iter_lines(log[i : i + chunk] for i in range(0, len(log), chunk)))
    assert cluster.series == local.series
    assert local.series.count("loss") == 3001
    assert local.series.latest("loss") == 0.5


def test_a_long_line_is_scanned_once() -> None:
    """Time linear in the log: bytes past the cap are neither kept nor copied again."""
    splitter = LineSplitter(max_line_bytes=16)
    for _ in range(1000):
        assert splitter.feed(b"y" * 1000) == []
        assert len(splitter._segment) <= 16
    assert splitter.feed(b"\n") == ["y" * 16]
    for n in range(1000):  # and a line redrawn without end: what it keeps stays capped too
        assert splitter.feed(b"\r%d" % n + b"z" * 1000) == []
        assert len(splitter._segment) <= 16
        assert len(splitter._shown) <= 16
    assert splitter.feed(b"\r\n") == ["999" + "z" * 13]
