"""``spec.parameters``: the search space, one parameter at a time."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kubetune.api.spec.base import (
    SpecModel,
)

PARAMETER_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ParameterType = Literal["float", "int", "categorical"]
Scale = Literal["linear", "log", "reverseLog", "auto"]
MAX_CATEGORICAL_VALUES = 1_000
MAX_CATEGORICAL_CHARS = 1_024
CategoricalValue = Annotated[str, Field(max_length=MAX_CATEGORICAL_CHARS)] | int | float | bool


class Parameter(SpecModel):
    """One dimension of the search space: a numeric range or a list of categorical values."""

    name: Annotated[str, Field(pattern=PARAMETER_NAME_PATTERN, max_length=64)] = Field(
        description=(
            "Parameter name, unique within the TuningJob: a letter or underscore, then letters, "
            "digits or underscores (at most 64). Referenced as ${params.NAME} in trialTemplate "
            "and passed to trials in KUBETUNE_PARAMS."
        )
    )
    type: ParameterType = Field(
        description=(
            "float (a real number in [min, max]), int (a whole number in [min, max]) or "
            "categorical (one of values)."
        )
    )
    min: float | None = Field(
        default=None,
        description=(
            "Lower bound, inclusive. Required for float and int (a whole number for int), not "
            "allowed for categorical. Must be less than max; greater than 0 for scale log."
        ),
    )
    max: float | None = Field(
        default=None,
        description=(
            "Upper bound, inclusive. Required for float and int (a whole number for int), not "
            "allowed for categorical. Must be greater than min; below 1 for scale reverseLog."
        ),
    )
    step: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Optional spacing of the values tried: min, min+step, min+2*step, ... up to max. "
            "Greater than 0 and at most max - min; a whole number for int. Unset: any value "
            "(float) or every whole number (int). Grid search needs it on float parameters. Not "
            "allowed for categorical, nor with scale reverseLog (log: only 1 for int)."
        ),
    )
    scale: Scale = Field(
        default="linear",
        description=(
            "How values are spread between min and max: linear (uniform, the default), log "
            "(uniform in log space, for rates; needs min > 0) or reverseLog (dense near 1, for "
            "values such as momentum; float only, needs 0 <= min < max < 1) or auto (float only, "
            "no step: the bayesian and gp strategies decide from the results whether a log "
            "scale fits better, and explore both until then; see docs/search.md). Not allowed "
            "for categorical."
        ),
    )
    values: Annotated[list[CategoricalValue], Field(max_length=MAX_CATEGORICAL_VALUES)] | None = (
        Field(
            default=None,
            description=(
                "The choices of a categorical parameter: strings (at most 1,024 characters), "
                "numbers or booleans; 1 to 1,000 of them, no duplicates. Required for "
                "categorical, not allowed for float and int."
            ),
        )
    )
