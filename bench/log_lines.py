"""How fast, and in how much memory, trial logs are cut into lines and parsed.

Every log path (the local runner, finished and followed pod logs) cuts logs with
``kubetune.metrics.lines`` and parses them with ``LogMetricsParser``. Each case streams a
synthetic log in 64 KiB chunks (a finished pod log's chunk size) and compares with iterating
the same chunks without cutting or parsing ("read once"). Memory: the growth of peak RSS.

    .venv/bin/python -m bench.log_lines            # the issue's cases, ~30 s on 2 cores
    .venv/bin/python -m bench.log_lines --mb 20 --lines 20000   # smaller

Cases: one line of ``--mb`` MiB without a line end; a tqdm bar redrawn ``--lines`` times with
``\r``, a metric in each redraw (one line: its last redraw, as a terminal shows it); ``--lines``
short ``\n`` lines. Every metric on a line is a report; the parser keeps aggregates and a
bounded curve of them (``kubetune.metrics.series``), so memory does not grow with the number
of reports.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kubetune.api.spec import Metrics
from kubetune.metrics.lines import iter_lines
from kubetune.metrics.logs import LogMetricsParser

from bench.common import describe, machine

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    chunks: Callable[[int], Iterator[bytes]]  # the log for a size in bytes, in chunks
    expect_reports: Callable[[int], int]
    expect_last: float


def one_long_line(size: int) -> Iterator[bytes]:
    piece = b"x" * CHUNK
    for _ in range(size // CHUNK):
        yield piece
    yield b"\nloss=0.5\n"


BAR_UPDATE = b"\r 50%|#####     | 1/2 [00:01<00:01, loss=0.25]"


def progress_bar(size: int) -> Iterator[bytes]:
    """One tqdm bar redrawn with \\r, a metric in each redraw; the final value on a line."""
    per_chunk = CHUNK // len(BAR_UPDATE)
    piece = BAR_UPDATE * per_chunk
    for _ in range(size // len(piece)):
        yield piece
    yield b"\nloss=0.5\n"


def short_lines(size: int) -> Iterator[bytes]:
    line = b"epoch=3 loss=0.25 accuracy=0.93\n"
    piece = line * (CHUNK // len(line))
    for _ in range(size // len(piece)):
        yield piece
    yield b"loss=0.5\n"


def _updates(size: int, unit: int, per_chunk: int) -> int:
    return size // (unit * per_chunk) * per_chunk + 1


CASES = [
    Case("one line, no line end", one_long_line, lambda size: 1, 0.5),
    # A bar is the line a terminal shows: its last redraw (loss=0.25), then loss=0.5.
    Case("tqdm bar, \\r redraws", progress_bar, lambda size: 2, 0.5),
    Case("short \\n lines", short_lines, lambda size: _updates(size, 32, CHUNK // 32), 0.5),
]


@dataclass(frozen=True)
class Result:
    case: str
    megabytes: float
    seconds: float
    cpu_seconds: float
    read_once: float
    rss_growth_mib: float
    reports: int
    correct: bool


def size_of(case: Case, megabytes: int, lines: int) -> int:
    if case.chunks is one_long_line:
        return megabytes << 20
    return lines * (len(BAR_UPDATE) if case.chunks is progress_bar else 32)


def run(case: Case, size: int) -> Result:
    start = time.perf_counter()
    for _ in case.chunks(size):
        pass
    read_once = time.perf_counter() - start
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parser = LogMetricsParser(Metrics(), ["loss"])
    start, cpu = time.perf_counter(), time.process_time()
    parser.feed_lines(iter_lines(case.chunks(size)))
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu  # what wall time is on an idle machine
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    reports = parser.series.count("loss")
    correct = reports == case.expect_reports(size) and parser.series.latest("loss") == (
        case.expect_last
    )
    return Result(
        case.name, size / (1 << 20), seconds, cpu_seconds, read_once, growth, reports, correct
    )


def table(results: list[Result]) -> str:
    rows = [
        "| log | MiB | cut and parsed (s) | of which CPU (s) | read once (s) "
        "| peak RSS growth (MiB) | loss reports | right |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r.case} | {r.megabytes:.1f} | {r.seconds:.2f} | {r.cpu_seconds:.2f} "
            f"| {r.read_once:.2f} "
            f"| {r.rss_growth_mib:.1f} | {r.reports:,} | {'yes' if r.correct else 'NO'} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="the long line in MiB (200)")
    parser.add_argument("--lines", type=int, default=200_000, help="bar redraws, lines (200,000)")
    args = parser.parse_args()
    print(describe(machine()))
    print(f"load average (1 min) before: {os.getloadavg()[0]:.1f}")
    print(table([run(case, size_of(case, args.mb, args.lines)) for case in CASES]))


if __name__ == "__main__":
    main()
