"""Durations as users write them in manifests: ``90s``, ``30m``, ``2h``, ``1h30m``."""

from __future__ import annotations

import re

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(s|m|h)")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration string; raises ValueError when it is not one."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"must be a duration such as 90s, 30m, 2h or 1h30m (got {text!r})")
    seconds = sum(float(value) * _UNIT_SECONDS[unit] for value, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"must be longer than zero (got {text!r})")
    return seconds
