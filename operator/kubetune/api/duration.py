"""Durations as users write them in manifests: ``90s``, ``30m``, ``2h``, ``1h30m``."""

from __future__ import annotations

import math
import re

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(s|m|h)")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
# Longer than any trial or study; keeps every duration a finite number that fits the int64
# fields it becomes (a Job's activeDeadlineSeconds): "1" followed by 400 digits and "s" parses
# to infinity in a float, and crashed whoever rendered it.
MAX_DURATION_SECONDS = 366 * 24 * 3600.0
MAX_DURATION_CHARS = 32


def parse_duration(text: str, bounded: bool = True) -> float:
    """Seconds in a duration string; raises ValueError when it is not one. ``bounded``: at
    most ``MAX_DURATION_CHARS`` long and ``MAX_DURATION_SECONDS`` (what a TuningJob's spec
    takes); finite in any case."""
    if bounded and len(text) > MAX_DURATION_CHARS:
        raise ValueError(f"must be at most {MAX_DURATION_CHARS} characters (got {_shown(text)})")
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"must be a duration such as 90s, 30m, 2h or 1h30m (got {_shown(text)})")
    seconds = sum(float(value) * _UNIT_SECONDS[unit] for value, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"must be longer than zero (got {text!r})")
    if not math.isfinite(seconds):
        raise ValueError(f"must be a finite duration (got {_shown(text)})")
    if bounded and seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"must be at most {MAX_DURATION_SECONDS / 3600:.0f}h (got {_shown(text)})")
    return seconds


def _shown(text: str) -> str:
    """The value as quoted in a message, cut short: the message must stay readable."""
    return repr(text) if len(text) <= 40 else repr(text[:40]) + f"... ({len(text)} characters)"
