"""What every part of the spec shares: the model base class, name rules and help texts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kubetune.api.duration import DURATION_PATTERN, MAX_DURATION_CHARS

METRIC_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:/-]*$"
# DNS-1123 label: a TuningJob name becomes part of Job names and label values.
RESOURCE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=MAX_DURATION_CHARS)]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN, max_length=128)]
# At most this many additional metrics, metric definitions and Prometheus queries: bounded
# lists keep the CRD's CEL rules over them within the API server's cost budget.
MAX_METRICS = 32

DURATION_HELP = (
    "A duration: a number with unit s, m or h, parts may be combined (90s, 30m, 1h30m); at "
    "most 8784h (366 days)."
)
METRIC_NAME_HELP = (
    "Starts with a letter or underscore, then letters, digits and _ . : / - (at most 128)."
)


class SpecModel(BaseModel):
    """camelCase aliases, unknown fields rejected, immutable once loaded."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        frozen=True,
        strict=True,
    )
