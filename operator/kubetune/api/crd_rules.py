"""The spec's cross-field rules as CEL (``x-kubernetes-validations``) in the CRD, so the API
server refuses a broken TuningJob at ``kubectl apply`` with the field path, instead of the
operator reporting ``InvalidSpec`` afterwards (a green GitOps sync of a spec not in effect).

Each rule mirrors one check of the :mod:`kubetune.api.validation` package, which still runs (for
``kubetune validate``, ``kubetune run`` and clusters with the CRD of an older release) and
alone covers what CEL cannot say: Python regular expressions, duration arithmetic, the
strategy settings models, placeholders naming parameters, duplicate categorical values of
mixed types. ``fieldPath`` cannot hold a list index of the rule's own choosing, so rules about
one parameter sit on the parameter (the API server adds ``[i]``), and rules about a list as a
whole name the list. ``docs/security.md`` lists which rule is where.
"""

from __future__ import annotations

from typing import Any

Rule = dict[str, str]
Schema = dict[str, Any]


def _set(field: str, var: str = "self") -> str:
    """``field`` is present and not null (nullable fields may hold an explicit null)."""
    return f"(has({var}.{field}) && {var}.{field} != null)"


def _rule(rule: str, message: str, field: str = "", **extra: str) -> Rule:
    item = {"rule": rule, "message": message, **extra}
    if field:
        item["fieldPath"] = field
    return item


_NUMERIC = "self.type != 'categorical'"
_LOG = "(has(self.scale) && self.scale == 'log')"
_REVERSE_LOG = "(has(self.scale) && self.scale == 'reverseLog')"
_RANGE = f"({_set('min')} && {_set('max')} && self.min < self.max)"

PARAMETER_RULES: list[Rule] = [
    *(
        _rule(
            f"self.type != 'categorical' || !{_set(field)}",
            "not allowed for type categorical",
            f".{field}",
        )
        for field in ("min", "max", "step")
    ),
    _rule(
        "self.type != 'categorical' || !has(self.scale)",
        "not allowed for type categorical",
        ".scale",
    ),
    _rule(
        f"self.type != 'categorical' || ({_set('values')} && size(self.values) > 0)",
        "required for type categorical (at least one value)",
        ".values",
    ),
    _rule(
        f"self.type == 'categorical' || !{_set('values')}",
        "not allowed for type float or int (use min and max)",
        ".values",
    ),
    *(
        _rule(
            f"self.type == 'categorical' || {_set(field)}",
            "required for type float and int",
            f".{field}",
            messageExpression="'required for type ' + self.type",
        )
        for field in ("min", "max")
    ),
    *(
        _rule(
            f"self.type != 'int' || !{_set(field)} || self.{field} == double(int(self.{field}))",
            "must be a whole number for type int",
            f".{field}",
        )
        for field in ("min", "max", "step")
    ),
    _rule(
        f"!{_set('min')} || !{_set('max')} || self.min < self.max",
        "must be greater than min",
        ".max",
    ),
    _rule(
        f"!{_set('step')} || !{_RANGE} || self.step <= self.max - self.min",
        "must not exceed max - min",
        ".step",
    ),
    _rule(
        f"!({_NUMERIC} && {_LOG}) || !{_set('min')} || self.min > 0.0",
        "must be > 0 for scale log",
        ".min",
    ),
    _rule(
        f"!({_NUMERIC} && {_LOG}) || !{_set('step')} || (self.type == 'int' && self.step == 1.0)",
        "not supported with scale log (only step 1 for int)",
        ".step",
    ),
    _rule(
        f"!({_NUMERIC} && {_REVERSE_LOG}) || self.type == 'float'",
        "reverseLog is only for type float",
        ".scale",
    ),
    _rule(
        f"!({_NUMERIC} && {_REVERSE_LOG}) || !{_set('min')} || self.min >= 0.0",
        "reverseLog needs 0 <= min < max < 1",
        ".min",
    ),
    _rule(
        f"!({_NUMERIC} && {_REVERSE_LOG}) || !{_set('max')} || self.max < 1.0",
        "reverseLog needs 0 <= min < max < 1",
        ".max",
    ),
    _rule(
        f"!({_NUMERIC} && {_REVERSE_LOG}) || !{_set('step')}",
        "not supported with scale reverseLog",
        ".step",
    ),
]

_GRID = "(has(self.strategy) && self.strategy.algorithm == 'grid')"
_CONTINUOUS = f"p.type == 'float' && !{_set('step', 'p')}"

SPEC_RULES: list[Rule] = [
    _rule(
        f"!{_GRID} || !self.parameters.exists(p, {_CONTINUOUS})",
        "grid search needs a finite space: every float parameter needs a step "
        "(or use type int or categorical)",
        ".parameters",
        messageExpression="'grid search needs a finite space: float parameter ' + "
        f"self.parameters.filter(p, {_CONTINUOUS})[0].name + "
        "' needs a step (or use type int or categorical)'",
    ),
    _rule(
        f"{_GRID} || (has(self.limits) && {_set('maxTrials', 'self.limits')})",
        "required for this strategy (only grid has a default)",
        ".limits.maxTrials",
        messageExpression="'required for strategy ' + (has(self.strategy) ? "
        "self.strategy.algorithm : 'bayesian') + ' (only grid has a default)'",
    ),
    _rule(
        "self.parameters == oldSelf.parameters",
        "cannot be changed once the TuningJob exists (its study's search space is fixed): "
        "clone the TuningJob instead",
        ".parameters",
        reason="FieldValueForbidden",
    ),
]

_OBJECTIVE = _set("objective")
_OBJECTIVES = _set("objectives")
_METRIC_NAMES = (
    f"({_OBJECTIVES} ? self.objectives.map(o, o.metric) : {_OBJECTIVE} ? "
    "([self.objective.metric] + (has(self.objective.additionalMetrics) "
    "? self.objective.additionalMetrics : [])) : [])"
)
_SINGLE_ONLY = f"!{_OBJECTIVES}"

OBJECTIVES_RULES: list[Rule] = [
    _rule(
        f"{_OBJECTIVE} || {_OBJECTIVES}",
        "required (or spec.objectives, for 2-4 metrics)",
        ".objective",
    ),
    _rule(
        f"!({_OBJECTIVE} && {_OBJECTIVES})",
        "give objective (one metric) or objectives (2-4 metrics), not both",
        ".objectives",
    ),
    _rule(
        f"!{_OBJECTIVES} || size(self.objectives) >= 2",
        "need 2-4 items (for one metric use spec.objective)",
        ".objectives",
    ),
    _rule(
        f"!{_OBJECTIVES} || self.objectives.all(o, "
        "self.objectives.exists_one(p, p.metric == o.metric))",
        "metrics must be unique",
        ".objectives",
    ),
    _rule(
        f"{_SINGLE_ONLY} || !has(self.strategy) || "
        "self.strategy.algorithm in ['bayesian', 'random', 'grid', 'gp']",
        "optimizes a single objective; with spec.objectives use one of bayesian, random, grid, gp",
        ".strategy.algorithm",
    ),
    _rule(
        f"{_SINGLE_ONLY} || !has(self.earlyStopping) || self.earlyStopping.algorithm == 'none'",
        "compares one objective across trials; with spec.objectives use none",
        ".earlyStopping.algorithm",
    ),
    _rule(
        f"{_SINGLE_ONLY} || !{_set('diagnosis')}",
        "diagnoses the best trial of a single objective; not available with spec.objectives",
        ".diagnosis",
    ),
    _rule(
        f"{_SINGLE_ONLY} || !{_set('warmStart')} || self.warmStart.type != 'transferLearning'",
        "transferLearning relates one objective across jobs; with spec.objectives use "
        "identicalDataAndAlgorithm",
        ".warmStart.type",
    ),
    _rule(
        f"({_OBJECTIVES} ? size(self.objectives) : 1) == "
        f"({_set('objectives', 'oldSelf')} ? size(oldSelf.objectives) : 1)",
        "the number of objectives cannot change once the TuningJob exists (its study is "
        "single- or multi-objective): clone the TuningJob instead",
        ".objectives",
        reason="FieldValueForbidden",
    ),
]
_REGEX = "(has(self.metrics) && self.metrics.source == 'logs' && self.metrics.format == 'regex')"
_DEFINED = "(has(self.metrics.definitions) && self.metrics.definitions.exists(d, d.name == m))"
_PROMETHEUS = "(has(self.metrics) && self.metrics.source == 'prometheus')"
_QUERIED = (
    f"({_set('prometheus', 'self.metrics')} && has(self.metrics.prometheus.queries) "
    "&& self.metrics.prometheus.queries.exists(q, q.metric == m))"
)

METRICS_RULES: list[Rule] = [
    _rule(
        f"!{_REGEX} || {_METRIC_NAMES}.all(m, {_DEFINED})",
        "format regex needs a definition for the objective metric and every additional metric",
        ".metrics.definitions",
        messageExpression="'format regex needs a definition for metric ' + "
        f"{_METRIC_NAMES}.filter(m, !{_DEFINED})[0]",
    ),
    _rule(
        f"!{_PROMETHEUS} || {_METRIC_NAMES}.all(m, {_QUERIED})",
        "source prometheus needs a query for the objective metric and every additional metric",
        ".metrics.prometheus.queries",
        messageExpression="'source prometheus needs a query for metric ' + "
        f"{_METRIC_NAMES}.filter(m, !{_QUERIED})[0]",
    ),
]

OBJECTIVE_RULES: list[Rule] = [
    _rule(
        "!has(self.additionalMetrics) || !(self.metric in self.additionalMetrics)",
        "must not repeat the objective metric",
        ".additionalMetrics",
        messageExpression="'must not repeat the objective metric ' + self.metric",
    ),
]

_DIAGNOSIS = _set("diagnosis")
_ADDITIONAL = (
    f"({_OBJECTIVE} && has(self.objective.additionalMetrics) "
    "? self.objective.additionalMetrics : [])"
)
_TEST_METRIC = _set("testMetric", "self.diagnosis")

DIAGNOSIS_RULES: list[Rule] = [
    _rule(
        f"!{_DIAGNOSIS} || self.diagnosis.trainMetric in {_ADDITIONAL}",
        "must be one of objective.additionalMetrics",
        ".diagnosis.trainMetric",
    ),
    _rule(
        f"!{_DIAGNOSIS} || !{_TEST_METRIC} || self.diagnosis.testMetric in {_ADDITIONAL}",
        "must be one of objective.additionalMetrics",
        ".diagnosis.testMetric",
    ),
    _rule(
        f"!{_DIAGNOSIS} || !{_TEST_METRIC} "
        "|| self.diagnosis.testMetric != self.diagnosis.trainMetric",
        "must differ from trainMetric",
        ".diagnosis.testMetric",
    ),
]

EARLY_STOPPING_RULES: list[Rule] = [
    _rule(
        f"self.algorithm != 'hyperband' || !{_set('maxResource')} "
        "|| self.maxResource > self.minResource",
        "must be greater than minResource",
        ".maxResource",
    ),
]


def add_rules(spec: Schema) -> Schema:
    """Attach the rules to the spec's schema (from ``build_schema``); returns it."""
    props = spec["properties"]
    spec.setdefault("x-kubernetes-validations", []).extend(
        [*SPEC_RULES, *OBJECTIVES_RULES, *DIAGNOSIS_RULES, *METRICS_RULES]
    )
    props["parameters"]["items"].setdefault("x-kubernetes-validations", []).extend(PARAMETER_RULES)
    props["objective"].setdefault("x-kubernetes-validations", []).extend(OBJECTIVE_RULES)
    props["earlyStopping"].setdefault("x-kubernetes-validations", []).extend(EARLY_STOPPING_RULES)
    return spec
