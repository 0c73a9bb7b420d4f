"""One line splitter for every log kubetune reads: local trials, finished and followed pod logs.

The rule (docs/design/log-lines.md): ``\\n``, ``\\r`` and ``\\r\\n`` each end a line, a ``\\r\\n``
being one line end even when it arrives split between two reads, so every ``\\r`` update of a
progress bar is a line of its own, the same locally and on a cluster. Text is UTF-8, bad bytes
replaced. Only the first ``MAX_LINE_BYTES`` of a line are kept; the rest is dropped as it
arrives, so memory stays bounded and time linear however long a line is.
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


class LineSplitter:
    """Cuts a byte stream, fed in chunks of any size, into lines of text.

    Lines end as in Python's text mode (``\\n``, ``\\r\\n`` or ``\\r``; a ``\\r\\n`` split
    between two chunks is one line end) and are decoded as UTF-8, bad bytes replaced. Only the
    first ``MAX_LINE_BYTES`` of a line are kept, emitted once when the line ends; the rest is
    dropped as it arrives: memory stays bounded however long a line is, and each chunk is
    scanned once.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._line = bytearray()  # the start of the current line, at most max_line_bytes
        self._capped = False  # bytes of the current line were dropped
        self._after_cr = False  # the last chunk ended with \r: a \n first in the next is its end

    def feed(self, data: bytes) -> list[str]:
        """The lines that ``data`` completes; a partial last line waits for its end."""
        if not data:
            return []
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]  # the \n of a \r\n whose \r ended the last chunk
        self._after_cr = data.endswith(b"\r")
        if not data:
            return []
        if b"\n" not in data and b"\r" not in data:  # inside a long line: no copy into pieces
            self._keep(data)
            return []
        # bytes.splitlines ends lines at \n, \r and \r\n only (str.splitlines at more).
        pieces = data.splitlines()
        partial = None if data.endswith((b"\n", b"\r")) else pieces.pop()
        first, *rest = pieces  # data holds a line end: one line at least ends in it
        if self._line or self._capped:  # the first piece ends a line begun in earlier chunks
            self._keep(first)
            lines = [self._take()]
        else:
            lines = [self._decode(first)]
        # The lines wholly inside this chunk: decoded straight from their bytes, no copy.
        decode = self._decode
        lines += [decode(piece) for piece in rest]
        if partial is not None:
            self._keep(partial)
        return lines

    def flush(self) -> list[str]:
        """The last line when the stream ended without a line end."""
        self._after_cr = False
        return [self._take()] if self._line else []

    def _keep(self, piece: bytes) -> None:
        room = self.max_line_bytes - len(self._line)
        if len(piece) > room:
            self._capped = True
            piece = piece[:room]
        self._line += piece

    def _take(self) -> str:
        text = _decode_capped(bytes(self._line)) if self._capped else self._line.decode(*_UTF8)
        self._line = bytearray()
        self._capped = False
        return text

    def _decode(self, line: bytes) -> str:
        if len(line) > self.max_line_bytes:
            return _decode_capped(line[: self.max_line_bytes])
        return line.decode(*_UTF8)


_UTF8 = ("utf-8", "replace")


def _decode_capped(line: bytes) -> str:
    # A capped line may end inside a character: drop that partial character rather than
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
