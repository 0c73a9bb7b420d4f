"""Restarts for a search stuck in one basin: where the Gaussian process's current run begins.

A Gaussian process that has piled its trials into one basin becomes confident there is nothing
better elsewhere, and its expected improvement then keeps it polishing that basin until the
budget ends (Hartmann6 has a second basin that traps some seeds). Global exploration terms did
not rescue those seeds (``bench/results.md``). What does is what TuRBO does: when the search
stagnates, start again. The model then sees only the trials of
the new run (after a few random ones), so it is not confident anywhere yet, and the study's best
trial is still the best over every run.

The runs are a pure function of the finished results in trial order, so every operator replica,
restart or re-creation of the sampler agrees on them without storing anything.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_PATIENCE = 20
"""Finished trials without a clear improvement before the search starts again."""

IMPROVEMENT = 1e-3
"""A clear improvement beats the run's best by this share of the spread of all results."""


def current_run_start(
    values: Sequence[float], *, patience: int | None = None, improvement: float = IMPROVEMENT
) -> int:
    """The index (in ``values``, finished results in trial order, smaller is better) of the
    first result of the current run: 0 until some run has gone ``patience`` results without
    improving on its own best by ``improvement`` times the spread of the results so far."""
    patience = DEFAULT_PATIENCE if patience is None else patience
    start = 0
    best = float("inf")
    stale = 0
    low, high = float("inf"), float("-inf")
    for index, value in enumerate(values):
        low, high = min(low, value), max(high, value)
        if value < best - improvement * (high - low):
            best, stale = value, 0
        else:
            stale += 1
        if stale >= patience:
            start, best, stale = index + 1, float("inf"), 0
    return start
