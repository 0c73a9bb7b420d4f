"""``spec.metrics``: how trial metrics are collected (logs or Prometheus)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kubetune.api.spec.base import (
    DURATION_HELP,
    MAX_METRICS,
    METRIC_NAME_HELP,
    Duration,
    MetricName,
    SpecModel,
)

MetricsSource = Literal["logs", "prometheus"]
LogFormat = Literal["auto", "keyValue", "json", "regex"]
ObjectiveValue = Literal["last", "min", "max"]


class MetricDefinition(SpecModel):
    """A regular expression that finds one metric's values in a trial's log lines."""

    name: MetricName = Field(
        description=f"The metric this expression reports, unique. {METRIC_NAME_HELP}"
    )
    regex: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        description=(
            "A regular expression (Python syntax, at most 1024 characters) with exactly one "
            "capture group around the number, for example 'validation-rmse:([-+0-9.eE]+)'. It is "
            "searched in every log line."
        )
    )


class SecretKeyRef(SpecModel):
    """A key of a Secret in the TuningJob's namespace."""

    name: Annotated[str, Field(min_length=1)] = Field(description="Name of the Secret.")
    key: Annotated[str, Field(min_length=1)] = Field(description="Key within the Secret's data.")


class PrometheusQuery(SpecModel):
    """The PromQL query that yields one metric of a trial."""

    metric: MetricName = Field(description=f"The metric this query reports. {METRIC_NAME_HELP}")
    # PromQL with ${trial.name}, ${trial.number}, ${trial.namespace}, ${trial.pod}, ${tuningjob}.
    query: Annotated[str, Field(min_length=1)] = Field(
        description=(
            "A PromQL instant query returning one value. ${trial.name}, ${trial.number}, "
            "${trial.namespace}, ${trial.pod} and ${tuningjob} are replaced per trial."
        )
    )


class PrometheusSource(SpecModel):
    """Where and how to read metrics from Prometheus (for metrics.source prometheus)."""

    url: Annotated[str, Field(pattern=r"^https?://")] | None = Field(
        default=None,
        description=(
            "Base URL of the Prometheus HTTP API, starting with http:// or https:// (for example "
            "http://prometheus.monitoring:9090)."
        ),
    )
    queries: list[PrometheusQuery] = Field(
        default_factory=list,
        max_length=MAX_METRICS,
        description=(
            "One query per metric; the objective metric and every additional metric need one "
            f"(at most {MAX_METRICS}). Default: none."
        ),
    )
    interval: Duration = Field(
        default="15s",
        description=f"How often running trials are queried. {DURATION_HELP} Default 15s.",
    )
    bearer_token_secret: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding a bearer token sent to Prometheus. Unset: no token.",
    )
    ca_secret: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret key holding a PEM CA bundle that signs Prometheus' TLS certificate. Unset: "
            "the system's trusted CAs."
        ),
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Skip TLS certificate verification (testing only). Default false.",
    )


class Metrics(SpecModel):
    """How trial metrics are collected and turned into the objective value."""

    source: MetricsSource = Field(
        default="logs",
        description=(
            "Where metrics come from: logs (the primary container's output, the default) or "
            "prometheus (queries in metrics.prometheus)."
        ),
    )
    format: LogFormat = Field(
        default="auto",
        description=(
            "How log lines are parsed (source logs): auto (the default: name=value pairs and "
            "JSON-object lines), keyValue (name=value only), json (JSON-object lines only) or "
            "regex (the expressions in definitions)."
        ),
    )
    definitions: list[MetricDefinition] = Field(
        default_factory=list,
        max_length=MAX_METRICS,
        description=(
            f"Regular expressions that extract metrics from log lines, names unique, at most "
            f"{MAX_METRICS}. In every format a definition takes precedence for its metric; format "
            "regex needs one for the objective metric and each additional metric. Default: none."
        ),
    )
    objective_value: ObjectiveValue = Field(
        default="last",
        description=(
            "Which of a trial's reported values is its result: last (the default), min or max."
        ),
    )
    prometheus: PrometheusSource | None = Field(
        default=None,
        description="Prometheus connection and queries; required for source prometheus.",
    )
