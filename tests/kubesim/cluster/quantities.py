"""Kubernetes resource quantities (``500m``, ``1Gi``, ``2``, ``1e3``) as exact numbers.

The scheduler compares sums of requests against node allocatable, so rounding must never make a
pod that fits look like it does not (``3 x 333m`` against ``1``). Quantities are therefore parsed
into :class:`fractions.Fraction` rather than floats, and printed back in the canonical-ish form
the apiserver would show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fractions import Fraction

# Binary suffixes (powers of 1024), decimal SI suffixes (powers of 1000). Note ``m`` is milli and
# ``M`` is mega; ``E`` alone is exa, while ``e<n>`` / ``E<n>`` is a decimal exponent.
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)

Resources = dict[str, Fraction]


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse a quantity into an exact number of base units (cores, bytes, GPUs, pods)."""
    if isinstance(value, bool):
        raise QuantityError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    match = _QUANTITY_RE.match(value.strip())
    if not match:
        raise QuantityError(f"not a quantity: {value!r}")
    number = Fraction(match["num"])
    if match["exp"]:
        return number * Fraction(10) ** int(match["exp"][1:])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]


def format_quantity(value: Fraction) -> str:
    """Render a quantity the short way: whole numbers plainly, fractions of a unit as milli."""
    if value.denominator == 1:
        return str(value.numerator)
    milli = value * 1000
    if milli.denominator == 1:
        return f"{milli.numerator}m"
    return str(float(value))


def parse_resource_list(resources: Mapping[str, object] | None) -> Resources:
    """Parse a ``ResourceList`` (``{"cpu": "500m", "memory": "1Gi"}``); bad values are skipped
    rather than crashing a controller, because the apiserver is where validation belongs."""
    parsed: Resources = {}
    for name, raw in (resources or {}).items():
        if isinstance(raw, str | int | float):
            try:
                parsed[name] = parse_quantity(raw)
            except QuantityError:
                continue
    return parsed


def add(total: Resources, extra: Mapping[str, Fraction]) -> None:
    """``total += extra`` in place, key by key."""
    for name, amount in extra.items():
        total[name] = total.get(name, Fraction(0)) + amount


def subtract(total: Resources, extra: Mapping[str, Fraction]) -> None:
    """``total -= extra`` in place; keys that reach zero are dropped to keep the maps small."""
    for name, amount in extra.items():
        left = total.get(name, Fraction(0)) - amount
        if left:
            total[name] = left
        else:
            total.pop(name, None)


def maximum(items: Iterable[Mapping[str, Fraction]]) -> Resources:
    """Key-wise maximum of several resource maps."""
    result: Resources = {}
    for item in items:
        for name, amount in item.items():
            if amount > result.get(name, Fraction(0)):
                result[name] = amount
    return result
