"""Validation errors that name the field path and say what was wrong.

Every problem in a manifest is reported at once, each as ``path: reason`` (for example
``spec.parameters[1].min: must be > 0 for scale log``), never as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kubetune.api.duration import DURATION_PATTERN


@dataclass(frozen=True)
class FieldError:
    """One problem in a manifest: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(ValueError):
    """A manifest that cannot be accepted, with every problem found in it."""

    def __init__(self, errors: Sequence[FieldError], source: str = "") -> None:
        self.errors = tuple(errors)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(prefix + str(error) for error in self.errors)

    def with_source(self, source: str) -> SpecError:
        return SpecError(self.errors, source)


def format_path(location: Iterable[str | int]) -> str:
    """``("spec", "parameters", 1, "min")`` → ``spec.parameters[1].min``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


_TYPE_NAMES = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


# Unknown fields users reach for by analogy, keyed by (list or object they sit in, field name).
_UNKNOWN_FIELD_HINTS = {
    ("objectives", "target"): (
        "a target ends a search on one objective; a multi-objective job ends on maxTrials, "
        "maxRuntime or stopAfterTrialsWithoutImprovement"
    ),
    ("objectives", "additionalMetrics"): (
        "with spec.objectives a trial records its objectives and the metrics of spec.constraints"
    ),
}


def _unknown_field(loc: tuple[Any, ...]) -> str:
    fields = [part for part in loc if isinstance(part, str)]
    hint = _UNKNOWN_FIELD_HINTS.get((fields[-2], fields[-1])) if len(fields) >= 2 else None
    return f"unknown field: {hint}" if hint else "unknown field"


def _describe(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return _unknown_field(tuple(error.get("loc") or ()))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {got!r})"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']} (got {got!r})"
    if kind == "greater_than":
        return f"must be > {ctx['gt']} (got {got!r})"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']} (got {got!r})"
    if kind == "less_than":
        return f"must be < {ctx['lt']} (got {got!r})"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == DURATION_PATTERN:
        return f"must be a duration such as 90s, 30m, 2h or 1h30m (got {got!r})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']} (got {got!r})"
    if kind in ("too_short", "too_long"):
        bound = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"must have {bound} {limit} item(s)"
    expected = _TYPE_NAMES.get(kind)
    if expected is not None:
        return f"must be {expected} (got {got!r})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    message: str = error["msg"]
    return message[:1].lower() + message[1:]


def from_validation_error(
    error: ValidationError, prefix: Sequence[str | int] = ()
) -> list[FieldError]:
    """Translate pydantic's errors into field errors with Kubernetes-style paths."""
    return [
        FieldError(format_path((*prefix, *item["loc"])), _describe(item))
        for item in error.errors(include_url=False)
    ]
