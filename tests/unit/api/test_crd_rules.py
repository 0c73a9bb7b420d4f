"""The CRD's CEL rules, evaluated as the API server would (the emulator's CEL): each broken
manifest is refused with its field path; every rule agrees with ``kubetune validate`` (a
manifest the rules refuse, the operator's validation refuses too), checked on fuzzed manifests;
and the rules fit the API server's cost budget."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubetune.api import SpecError, parse_tuningjob
from kubetune.api.crd import build_crd
from kubetune.api.crd_rules import add_rules

from tests.kubesim import cel_validation, schema_validation
from tests.unit.manifests import REMOVE, api_example, manifest, tweak


def _schema() -> dict[str, Any]:
    crd = build_crd()
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    if not any("oldSelf" in r["rule"] for r in spec.get("x-kubernetes-validations") or []):
        add_rules(spec)  # until crd.py attaches them itself
    return dict(schema)


SCHEMA = _schema()


def refusals(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """What the API server answers for ``obj`` (schema, then CEL), as ``field: message``."""
    obj = schema_validation.prune_and_default(copy.deepcopy(obj), SCHEMA, root=True, dropped=[])
    causes = schema_validation.validate(obj, SCHEMA) or cel_validation.validate(obj, old, SCHEMA)
    return [c["message"] for c in causes]


def python_refuses(obj: dict[str, Any]) -> bool:
    try:
        parse_tuningjob(obj)
    except SpecError:
        return True
    return False


def test_the_rules_fit_the_cost_budget_and_compile() -> None:
    assert cel_validation.check_schema(SCHEMA, "openAPIV3Schema") == []


def test_valid_manifests_pass() -> None:
    assert refusals(manifest()) == []
    assert refusals(api_example()) == []


LOG_PARAMETER = {"name": "lr", "type": "float", "min": 0, "max": 1, "scale": "log"}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.parameters[1]", LOG_PARAMETER, "spec.parameters[1].min: Invalid value: "
         '"object": must be > 0 for scale log'),
        ("spec.parameters[0].min", 5, "spec.parameters[0].max: Invalid value: \"object\": "
         "must be greater than min"),
        ("spec.parameters[0]", {"name": "m", "type": "float", "min": 0.5, "max": 1.5,
                                "scale": "reverseLog"},
         'spec.parameters[0].max: Invalid value: "object": reverseLog needs 0 <= min < max < 1'),
        ("spec.parameters[0]", {"name": "m", "type": "float", "min": -0.5, "max": 0.5,
                                "scale": "reverseLog"},
         'spec.parameters[0].min: Invalid value: "object": reverseLog needs 0 <= min < max < 1'),
        ("spec.parameters[0]", {"name": "c", "type": "categorical", "values": ["a"], "min": 1},
         'spec.parameters[0].min: Invalid value: "object": not allowed for type categorical'),
        ("spec.parameters[0]", {"name": "i", "type": "int", "min": 0.5, "max": 3},
         'spec.parameters[0].min: Invalid value: "object": must be a whole number for type int'),
        ("spec.parameters[0]", {"name": "f", "type": "float", "min": 0, "max": 1, "step": 2},
         'spec.parameters[0].step: Invalid value: "object": must not exceed max - min'),
        ("spec.parameters[0]", {"name": "f", "type": "float", "max": 1},
         'spec.parameters[0].min: Invalid value: "object": required for type float'),
        ("spec.diagnosis", {"trainMetric": "train-loss"},
         'spec.diagnosis.trainMetric: Invalid value: "object": must be one of '
         "objective.additionalMetrics"),
        ("spec.diagnosis", {"trainMetric": "loss", "testMetric": "test-loss"},
         'spec.diagnosis.trainMetric: Invalid value: "object": must be one of '
         "objective.additionalMetrics"),
        ("spec.earlyStopping", {"algorithm": "hyperband", "minResource": 5, "maxResource": 5},
         'spec.earlyStopping.maxResource: Invalid value: "object": must be greater than '
         "minResource"),
    ],
)  # fmt: skip
def test_each_cross_field_mistake_is_refused_with_its_path(
    path: str, value: Any, expected: str
) -> None:
    broken = tweak(manifest(), path, value)
    assert expected in refusals(broken)
    assert python_refuses(broken)


def test_diagnosis_metrics_among_the_additional_metrics() -> None:
    document = tweak(manifest(), "spec.objective.additionalMetrics", ["train-loss", "test-loss"])
    good = tweak(
        document, "spec.diagnosis", {"trainMetric": "train-loss", "testMetric": "test-loss"}
    )
    assert refusals(good) == []
    same = tweak(
        document, "spec.diagnosis", {"trainMetric": "train-loss", "testMetric": "train-loss"}
    )
    assert refusals(same) == [
        'spec.diagnosis.testMetric: Invalid value: "object": must differ from trainMetric'
    ]
    assert python_refuses(same)
    unknown = tweak(document, "spec.diagnosis", {"trainMetric": "train-loss", "testMetric": "acc"})
    assert refusals(unknown) == [
        'spec.diagnosis.testMetric: Invalid value: "object": must be one of '
        "objective.additionalMetrics"
    ]
    assert python_refuses(unknown)


def test_grid_over_a_continuous_range() -> None:
    broken = tweak(manifest(), "spec.strategy", {"algorithm": "grid"})
    (refusal,) = refusals(broken)
    assert refusal.startswith('spec.parameters: Invalid value: "object": grid search needs a')
    assert "float parameter" in refusal
    assert python_refuses(broken)


def test_duplicate_parameter_names_are_refused_by_the_list_map_keys() -> None:
    obj = manifest()
    obj["spec"]["parameters"].append(copy.deepcopy(obj["spec"]["parameters"][0]))
    assert any("Duplicate value" in r for r in refusals(obj))


def test_edits_of_parameters_are_refused_other_edits_pass() -> None:
    old = schema_validation.prune_and_default(manifest(), SCHEMA, root=True, dropped=[])
    edited = tweak(old, "spec.parameters[0].max", 0.9)
    (refusal,) = refusals(edited, old)
    assert refusal.startswith("spec.parameters: Forbidden: cannot be changed")
    assert "clone the TuningJob instead" in refusal
    assert refusals(tweak(old, "spec.limits.parallelTrials", 3), old) == []


_numbers = st.one_of(st.integers(-3, 3), st.floats(-2.0, 2.0, allow_nan=False))
_parameters = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "c"]),
     "type": st.sampled_from(["float", "int", "categorical"])},
    optional={
        "min": _numbers,
        "max": _numbers,
        "step": st.one_of(st.just(1), st.floats(0.01, 3.0)),
        "scale": st.sampled_from(["linear", "log", "reverseLog"]),
        "values": st.lists(st.sampled_from(["x", "y", 1, True]), max_size=3),
    },
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    parameters=st.lists(_parameters, min_size=1, max_size=3, unique_by=lambda p: str(p["name"])),
    algorithm=st.sampled_from(["random", "grid", "bayesian"]),
    hyperband=st.one_of(st.none(), st.tuples(st.integers(1, 5), st.integers(1, 5))),
)
def test_the_rules_never_refuse_what_kubetune_validate_accepts(
    parameters: list[dict[str, Any]], algorithm: str, hyperband: tuple[int, int] | None
) -> None:
    obj = tweak(manifest(), "spec.parameters", parameters)
    obj = tweak(obj, "spec.strategy", {"algorithm": algorithm})
    if hyperband is not None:
        obj = tweak(obj, "spec.earlyStopping", {"algorithm": "hyperband",
                                                 "minResource": hyperband[0],
                                                 "maxResource": hyperband[1]})  # fmt: skip
    refused = refusals(obj)
    if refused:
        assert python_refuses(obj), refused


def test_every_metric_needs_its_regex_definition_or_prometheus_query() -> None:
    objective = {"metric": "loss", "direction": "minimize", "additionalMetrics": ["acc"]}
    obj = tweak(manifest(), "spec.objective", objective)
    definitions = [{"name": "loss", "regex": "l=(.*)"}]
    regex = tweak(obj, "spec.metrics", {"format": "regex", "definitions": definitions})
    (refusal,) = refusals(regex)
    assert refusal == (
        'spec.metrics.definitions: Invalid value: "object": format regex needs a definition for '
        "metric acc"
    )
    assert python_refuses(regex)
    queries = [{"metric": "acc", "query": "acc"}]
    prometheus = tweak(obj, "spec.metrics", {"source": "prometheus",
                                             "prometheus": {"queries": queries}})  # fmt: skip
    (refusal,) = refusals(prometheus)
    assert refusal == (
        'spec.metrics.prometheus.queries: Invalid value: "object": source prometheus needs a '
        "query for metric loss"
    )
    assert python_refuses(prometheus)
    queries.append({"metric": "loss", "query": "loss"})
    complete = tweak(obj, "spec.metrics", {"source": "prometheus",
                                           "prometheus": {"queries": queries}})  # fmt: skip
    assert refusals(complete) == []


OBJECTIVES = [
    {"metric": "loss", "direction": "minimize"},
    {"metric": "latency-ms", "direction": "minimize"},
]


def _multi(**options: Any) -> dict[str, Any]:
    return tweak(
        tweak(manifest(**options), "spec.objective", REMOVE), "spec.objectives", OBJECTIVES
    )


def test_a_multi_objective_manifest_passes() -> None:
    assert refusals(_multi()) == []
    assert refusals(_multi(), old=_multi()) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (tweak(manifest(), "spec.objective", REMOVE),
         'spec.objective: Invalid value: "object": required (or spec.objectives, for 2-4 '
         "metrics)"),
        (tweak(manifest(), "spec.objectives", OBJECTIVES),
         'spec.objectives: Invalid value: "object": give objective (one metric) or objectives '
         "(2-4 metrics), not both"),
        (tweak(_multi(), "spec.objectives", OBJECTIVES[:1]),
         'spec.objectives: Invalid value: "object": need 2-4 items (for one metric use '
         "spec.objective)"),
        (tweak(_multi(), "spec.objectives", [OBJECTIVES[0], OBJECTIVES[0]]),
         'spec.objectives: Invalid value: "object": metrics must be unique'),
        (_multi(algorithm="cmaes"),
         'spec.strategy.algorithm: Invalid value: "object": optimizes a single objective; with '
         "spec.objectives use one of bayesian, random, grid, gp"),
        (tweak(_multi(), "spec.earlyStopping", {"algorithm": "median"}),
         'spec.earlyStopping.algorithm: Invalid value: "object": compares one objective across '
         "trials; with spec.objectives use none"),
    ],
)  # fmt: skip
def test_objectives_mistakes_are_refused_by_both(document: dict[str, Any], expected: str) -> None:
    assert expected in refusals(document)
    assert python_refuses(document)


def test_switching_between_one_and_several_objectives_is_forbidden() -> None:
    refused = refusals(_multi(), old=manifest())
    assert any("the number of objectives cannot change" in message for message in refused)
