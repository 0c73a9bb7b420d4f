"""A smoke-sized run of ``bench/log_lines.py`` so the benchmark does not rot."""

from __future__ import annotations

from bench import log_lines


def test_every_case_reads_every_report_right() -> None:
    results = [log_lines.run(case, log_lines.size_of(case, 1, 30_000)) for case in log_lines.CASES]
    assert all(result.correct for result in results), results
    # The bar is one line, as a terminal shows it: its last redraw, then the final line.
    assert results[1].reports == 2
    assert results[2].reports > 25_000  # short \n lines (32 bytes each): every one a report
    text = log_lines.table(results)
    assert "| one line, no line end | 1.0 |" in text
