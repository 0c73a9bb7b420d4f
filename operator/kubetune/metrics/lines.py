"""One line splitter for every log kubetune reads: local trials, finished and followed pod logs.

The rule (docs/design/log-lines.md): a line is what a terminal shows once the line ends. ``\\n``
ends a line (``\\r\\n`` too: its ``\\r`` is a redraw of nothing); a ``\\r`` inside a line
starts it over (a progress bar's redraw), and the line is its last non-empty ``\\r``-segment.
So a tqdm bar redrawn 200,000 times is one line, its last redraw, the same locally and on a
cluster whatever chunks the bytes arrive in; the redraws before it are progress display, not
reports. Text is UTF-8, bad bytes replaced. Only the first ``MAX_LINE_BYTES`` of a line's
segment are kept; the rest is dropped as it arrives, so memory stays bounded and time linear
however long a line is or however often it is redrawn.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from functools import partial
from typing import BinaryIO, Final

MAX_LINE_BYTES: Final = 64 * 1024
"""What is kept of one line; the parser reads a quarter of it in characters (UTF-8 takes at
most 4 bytes a character, so the kept bytes always hold every character the parser reads)."""
READ_CHUNK_BYTES: Final = 256 * 1024


def shown(line: bytes) -> bytes:
    """What a terminal shows of a whole line (without its ``\\n``): its last non-empty
    ``\\r``-segment, or nothing. Two scans at C speed however many redraws it holds."""
    text = line.rstrip(b"\r")
    return text[text.rfind(b"\r") + 1 :]


class LineSplitter:
    """Cuts a byte stream, fed in chunks of any size, into lines of text as a terminal shows
    them (see the module's rule), decoded as UTF-8, bad bytes replaced.

    Only the first ``MAX_LINE_BYTES`` of a segment are kept, and of a line only its segment
    being written and the last non-empty one before it; a line is emitted once, when its
    ``\\n`` arrives. Each chunk is scanned a bounded number of times, whatever it holds.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._segment = bytearray()  # the segment being written, at most max_line_bytes
        self._segment_capped = False  # bytes of it were dropped
        self._shown = b""  # the line's last non-empty segment before that one
        self._shown_capped = False

    def feed(self, data: bytes) -> list[str]:
        """The lines that ``data`` completes; a partial last line waits for its end."""
        if not data:
            return []
        *complete, rest = data.split(b"\n")
        lines = []
        if complete:
            self._add(complete[0])  # ends the line begun in earlier chunks
            lines.append(self._end_line())
            # The lines wholly inside this chunk: what each shows, decoded straight from it.
            decode = self._decode
            lines += [decode(shown(line)) for line in complete[1:]]
        self._add(rest)
        return lines

    def flush(self) -> list[str]:
        """The last line when the stream ended without a line end (if it shows anything)."""
        return [self._end_line()] if self._segment or self._shown else []

    def _add(self, piece: bytes) -> None:
        """Bytes of the current line (no ``\\n`` in them)."""
        last = piece.rfind(b"\r")
        if last < 0:
            self._keep(piece)
            return
        ended = piece[:last].rstrip(b"\r")  # the segments that end in this piece
        if ended:
            start = ended.rfind(b"\r") + 1
            if start:  # a segment wholly in this piece supersedes the one being written
                self._segment = bytearray()
                self._segment_capped = False
            self._keep(ended[start:])
        if self._segment:  # the last non-empty segment so far
            self._shown = bytes(self._segment)
            self._shown_capped = self._segment_capped
        self._segment = bytearray()
        self._segment_capped = False
        self._keep(piece[last + 1 :])

    def _keep(self, piece: bytes) -> None:
        room = self.max_line_bytes - len(self._segment)
        if len(piece) > room:
            self._segment_capped = True
            piece = piece[:room]
        self._segment += piece

    def _end_line(self) -> str:
        line, capped = (
            (bytes(self._segment), self._segment_capped)
            if self._segment  # the segment being written shows, else the one before it
            else (self._shown, self._shown_capped)
        )
        text = _decode_capped(line) if capped else line.decode(*_UTF8)
        self._segment = bytearray()
        self._segment_capped = False
        self._shown = b""
        self._shown_capped = False
        return text

    def _decode(self, line: bytes) -> str:
        if len(line) > self.max_line_bytes:
            return _decode_capped(line[: self.max_line_bytes])
        return line.decode(*_UTF8)


_UTF8 = ("utf-8", "replace")


def _decode_capped(line: bytes) -> str:
    # A capped segment may end inside a character: drop that partial character rather than
    # replace it, as it is cut by us, not broken in the log.
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(line, final=False)


def iter_lines(chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[str]:
    """Every line of a log that arrives as chunks (a streamed HTTP response, a file's reads)."""
    splitter = LineSplitter(max_line_bytes)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.flush()


def read_lines(stream: BinaryIO) -> Iterator[str]:
    """Every line of a binary stream, read in bounded chunks."""
    return iter_lines(iter(partial(stream.read, READ_CHUNK_BYTES), b""))
