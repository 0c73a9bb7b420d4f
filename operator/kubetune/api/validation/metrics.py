"""``spec.metrics``: regex definitions, a query per metric for Prometheus, known query variables."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubetune.api.duration import parse_duration
from kubetune.api.errors import FieldError
from kubetune.api.patterns import PatternError, compile_metric_regex
from kubetune.api.validation.objective import metric_names
from kubetune.api.validation.parts import Parts


def metrics_errors(parts: Parts) -> Iterator[FieldError]:
    defined: set[str] = set()
    all_defined = parts.definitions is not None
    for index, part in parts.definitions or ():
        definition = part.model  # both fields are required: no model when either broke
        if definition is None:
            all_defined = False
            continue
        path = f"spec.metrics.definitions[{index}]"
        if definition.name in defined:
            yield FieldError(f"{path}.name", f"duplicate metric {definition.name!r}")
        defined.add(definition.name)
        try:
            groups = compile_metric_regex(definition.regex).groups
        except PatternError as error:
            yield FieldError(f"{path}.regex", f"not a valid regular expression: {error}")
            continue
        if groups != 1:
            yield FieldError(f"{path}.regex", f"must have exactly one capture group (has {groups})")
    names = metric_names(parts) or []
    metrics = parts.metrics.ok("source", "format")
    if metrics is not None and metrics.source == "logs" and metrics.format == "regex":
        for name in names if all_defined else ():
            if name not in defined:
                yield FieldError(
                    "spec.metrics.definitions",
                    f"format regex needs a definition for metric {name!r}",
                )
    metrics = parts.metrics.ok("source", "prometheus")
    if metrics is not None and metrics.source == "prometheus":
        prometheus = metrics.prometheus
        queried = {query.metric for query in prometheus.queries} if prometheus else set()
        for name in names:
            if name not in queried:
                yield FieldError(
                    "spec.metrics.prometheus.queries",
                    f"source prometheus needs a query for metric {name!r}",
                )
    metrics = parts.metrics.ok("prometheus")
    if metrics is not None and metrics.prometheus is not None:
        try:
            parse_duration(metrics.prometheus.interval)
        except ValueError as error:
            yield FieldError("spec.metrics.prometheus.interval", str(error))
        for index, query in enumerate(metrics.prometheus.queries):
            for variable in unknown_query_variables(query.query):
                yield FieldError(
                    f"spec.metrics.prometheus.queries[{index}].query",
                    f"unknown variable ${{{variable}}}; known: "
                    + ", ".join(f"${{{name}}}" for name in QUERY_VARIABLES),
                )


# The trial variables of a Prometheus query (kubetune.metrics.prometheus substitutes them).
QUERY_VARIABLES = ("trial.name", "trial.number", "trial.namespace", "trial.pod", "tuningjob")
QUERY_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def unknown_query_variables(template: str) -> list[str]:
    """The ``${...}`` names of a query template that are not trial variables."""
    names = (match.group(1) for match in QUERY_VARIABLE.finditer(template))
    return [name for name in names if name.strip() not in QUERY_VARIABLES]
