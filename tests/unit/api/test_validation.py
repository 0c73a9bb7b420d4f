"""``parse_tuningjob``: what a valid TuningJob looks like, and what users are told when it is not.

Bad manifests start from a valid one with exactly one thing broken, and the test pins the
complete list of errors (field path and message), so a change of wording or a second, spurious
error is noticed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kubetune.api import FieldError, SpecError, TuningJob, parse_tuningjob
from kubetune.cli.main import cli

from tests.unit.manifests import REMOVE, api_example, container, manifest, tweak

TEMPLATE_POD = "spec.trialTemplate.spec.template.spec"


def errors_of(document: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(document)
    assert str(caught.value) == "\n".join(str(error) for error in caught.value.errors)
    return [str(error) for error in caught.value.errors]


def params(*parameters: dict[str, Any], **options: Any) -> dict[str, Any]:
    return manifest(parameters=list(parameters), **options)


# --- valid manifests ------------------------------------------------------------------------


def test_api_example_sets_every_field() -> None:
    job = parse_tuningjob(api_example())
    spec = job.spec

    assert (job.name, job.metadata.namespace) == ("gbm-diabetes", "ml")
    assert spec.objective is not None
    assert spec.objective.metric == "validation-rmse"
    assert spec.objective.direction == "minimize"
    assert spec.objective.target == 50.0
    assert spec.objective.metric_names == ["validation-rmse", "train-rmse"]
    by_name = {p.name: p for p in spec.parameters}
    assert list(by_name) == ["learning_rate", "max_depth", "subsample", "loss"]
    rate = by_name["learning_rate"]
    assert (rate.type, rate.min, rate.max, rate.scale) == ("float", 0.001, 0.5, "log")
    assert (by_name["max_depth"].type, by_name["max_depth"].scale) == ("int", "linear")
    assert by_name["loss"].values == ["squared_error", "huber"]
    assert (spec.strategy.algorithm, spec.strategy.seed, spec.strategy.settings) == (
        "bayesian",
        7,
        {},
    )
    assert (spec.early_stopping.algorithm, spec.early_stopping.start_step) == ("none", 3)
    limits = spec.limits
    assert (limits.max_trials, limits.parallel_trials, limits.max_failed_trials) == (40, 4, 3)
    assert limits.max_runtime_seconds == 7200
    assert limits.trial_timeout_seconds == 1800
    assert limits.pending_timeout_seconds == 600
    assert limits.stop_after_trials_without_improvement == 10
    metrics = spec.metrics
    assert (metrics.source, metrics.format, metrics.objective_value) == ("logs", "auto", "last")
    assert [d.name for d in metrics.definitions] == ["validation-rmse", "train-rmse"]
    assert spec.trial_template.primary_container == "train"
    pod = spec.trial_template.spec["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert pod["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": 1}}


def test_defaults_of_a_minimal_manifest() -> None:
    document = manifest()
    del document["spec"]["strategy"]
    spec = parse_tuningjob(document).spec

    assert spec.strategy.algorithm == "bayesian"
    assert spec.strategy.seed is None
    assert spec.early_stopping.algorithm == "none"
    assert (spec.limits.parallel_trials, spec.limits.max_failed_trials) == (1, 3)
    assert spec.limits.max_runtime_seconds is None
    assert spec.limits.trial_timeout_seconds is None
    assert (spec.metrics.source, spec.metrics.format) == ("logs", "auto")
    assert spec.metrics.objective_value == "last"
    assert spec.trial_template.primary_container is None
    assert spec.parameters[0].scale == "linear"


def test_status_read_back_from_a_cluster_is_accepted() -> None:
    document = tweak(api_example(), "metadata.uid", "0b3f6a5e")
    document = tweak(document, "metadata.resourceVersion", "42")
    assert parse_tuningjob(document).status is not None


@pytest.mark.parametrize(
    "parameter",
    [
        {"name": "a", "type": "float", "min": -1.5, "max": 2.5},
        {"name": "a", "type": "float", "min": 1e-6, "max": 1.0, "scale": "log"},
        {"name": "a", "type": "float", "min": 0.0, "max": 0.999, "scale": "reverseLog"},
        {"name": "a", "type": "float", "min": 0.0, "max": 1.0, "step": 0.25},
        {"name": "a", "type": "float", "min": 0.0, "max": 1.0, "step": 1.0},
        {"name": "a", "type": "int", "min": 0, "max": 100, "step": 10},
        {"name": "a", "type": "int", "min": 0.0, "max": 100.0, "step": 2.0},
        {"name": "a", "type": "int", "min": 1, "max": 1024, "scale": "log"},
        {"name": "a", "type": "int", "min": 1, "max": 1024, "scale": "log", "step": 1},
        {"name": "a", "type": "categorical", "values": ["relu", 3, 0.5, True]},
        {"name": "a", "type": "categorical", "values": ["only"]},
        {"name": "_Private9", "type": "int", "min": -3, "max": 3},
    ],
)
def test_valid_parameter(parameter: dict[str, Any]) -> None:
    job = parse_tuningjob(params(parameter))
    assert job.spec.parameters[0].name == parameter["name"]


@pytest.mark.parametrize("algorithm", ["random", "bayesian", "gp", "cmaes", "grid"])
def test_every_algorithm_is_accepted(algorithm: str) -> None:
    limits = {"maxTrials": REMOVE} if algorithm == "grid" else None
    document = params(
        {"name": "n", "type": "int", "min": 1, "max": 3}, algorithm=algorithm, limits=limits
    )
    job = parse_tuningjob(document)
    assert job.spec.strategy.algorithm == algorithm


@pytest.mark.parametrize(
    ("algorithm", "settings"),
    [
        (
            "bayesian",
            {
                "nStartupTrials": 0,
                "nEiCandidates": 50,
                "multivariate": False,
                "constantLiar": False,
            },
        ),
        ("gp", {"nStartupTrials": 3, "deterministicObjective": True}),
        (
            "cmaes",
            {
                "sigma0": 0.3,
                "nStartupTrials": 2,
                "popsize": 8,
                "useSeparableCma": True,
                "withMargin": True,
                "lrAdapt": True,
            },
        ),
        ("random", {}),
        ("grid", {}),
    ],
)
def test_documented_strategy_settings_are_accepted(
    algorithm: str, settings: dict[str, Any]
) -> None:
    parameters = [{"name": "n", "type": "int", "min": 1, "max": 3}]
    job = parse_tuningjob(manifest(parameters=parameters, algorithm=algorithm, settings=settings))
    assert job.spec.strategy.settings == settings


@pytest.mark.parametrize("duration", ["90s", "30m", "2h", "1h30m", "1.5h", "0.5s", "1h0m30s"])
def test_durations_are_accepted(duration: str) -> None:
    job = parse_tuningjob(
        manifest(
            limits={"maxRuntime": duration, "trialTimeout": duration, "pendingTimeout": duration}
        )
    )
    assert job.spec.limits.max_runtime == duration


def test_grid_needs_no_max_trials() -> None:
    document = params(
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0, "step": 0.5},
        {"name": "k", "type": "categorical", "values": ["a", "b"]},
        algorithm="grid",
        limits={"maxTrials": REMOVE},
    )
    assert parse_tuningjob(document).spec.limits.max_trials is None


def test_prometheus_source_with_a_query_per_metric() -> None:
    document = manifest(
        objective={"additionalMetrics": ["acc"]},
        metrics={
            "source": "prometheus",
            "prometheus": {
                "url": "http://prometheus.monitoring:9090",
                "queries": [
                    {"metric": "loss", "query": 'trial_loss{job="${trial.name}"}'},
                    {"metric": "acc", "query": 'trial_acc{job="${trial.name}"}'},
                ],
                "interval": "30s",
            },
        },
    )
    assert parse_tuningjob(document).spec.metrics.source == "prometheus"


# --- one problem, one error -----------------------------------------------------------------

LOG_MIN_ZERO = params(
    {"name": "a", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "b", "type": "float", "min": 0, "max": 1.0, "scale": "log"},
)
DEF = "spec.metrics.definitions[0]"

BAD_MANIFESTS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "log scale from 0",
        LOG_MIN_ZERO,
        ["spec.parameters[1].min: must be > 0 for scale log (got 0.0)"],
    ),
    (
        "log scale below 0",
        params({"name": "b", "type": "int", "min": -4, "max": 4, "scale": "log"}),
        ["spec.parameters[0].min: must be > 0 for scale log (got -4.0)"],
    ),
    (
        "unknown spec field",
        tweak(manifest(), "spec.limits.maxTrial", 3),
        ["spec.limits.maxTrial: unknown field"],
    ),
    (
        "unknown top-level field",
        tweak(manifest(), "spec.search", {}),
        ["spec.search: unknown field"],
    ),
    (
        "unknown parameter field",
        tweak(manifest(), "spec.parameters[0].distribution", "normal"),
        ["spec.parameters[0].distribution: unknown field"],
    ),
    (
        "direction enum",
        tweak(manifest(), "spec.objective.direction", "lower"),
        ["spec.objective.direction: must be one of 'minimize' or 'maximize' (got 'lower')"],
    ),
    (
        "algorithm enum",
        tweak(manifest(), "spec.strategy.algorithm", "hyperopt"),
        [
            "spec.strategy.algorithm: must be one of 'random', 'grid', 'bayesian', 'gp' or 'cmaes' "
            "(got 'hyperopt')"
        ],
    ),
    (
        "type enum",
        tweak(manifest(), "spec.parameters[0].type", "double"),
        ["spec.parameters[0].type: must be one of 'float', 'int' or 'categorical' (got 'double')"],
    ),
    (
        "scale enum",
        tweak(manifest(), "spec.parameters[0].scale", "logarithmic"),
        [
            "spec.parameters[0].scale: must be one of 'linear', 'log', 'reverseLog' or 'auto' "
            "(got 'logarithmic')"
        ],
    ),
    (
        "format enum",
        manifest(metrics={"format": "csv"}),
        ["spec.metrics.format: must be one of 'auto', 'keyValue', 'json' or 'regex' (got 'csv')"],
    ),
    (
        "objectiveValue enum",
        manifest(metrics={"objectiveValue": "mean"}),
        ["spec.metrics.objectiveValue: must be one of 'last', 'min' or 'max' (got 'mean')"],
    ),
    (
        "early stopping enum",
        tweak(manifest(), "spec.earlyStopping.algorithm", "asha"),
        [
            "spec.earlyStopping.algorithm: must be one of 'none', 'median', 'percentile' or "
            "'hyperband' (got 'asha')"
        ],
    ),
    (
        "duration unit",
        tweak(manifest(), "spec.limits.maxRuntime", "2d"),
        ["spec.limits.maxRuntime: must be a duration such as 90s, 30m, 2h or 1h30m (got '2d')"],
    ),
    (
        "duration without unit",
        tweak(manifest(), "spec.limits.trialTimeout", "90"),
        ["spec.limits.trialTimeout: must be a duration such as 90s, 30m, 2h or 1h30m (got '90')"],
    ),
    (
        "duration order",
        tweak(manifest(), "spec.limits.pendingTimeout", "m30"),
        [
            "spec.limits.pendingTimeout: must be a duration such as 90s, 30m, 2h or 1h30m "
            "(got 'm30')"
        ],
    ),
    (
        "zero duration",
        tweak(manifest(), "spec.limits.maxRuntime", "0s"),
        ["spec.limits.maxRuntime: must be longer than zero (got '0s')"],
    ),
    (
        "duration as a number",
        tweak(manifest(), "spec.limits.trialTimeout", 90),
        ["spec.limits.trialTimeout: must be a string (got 90)"],
    ),
    (
        "grid over a continuous float",
        manifest(algorithm="grid", limits={"maxTrials": REMOVE}),
        [
            "spec.parameters[0].step: grid search needs a finite space: "
            "float parameter 'x' needs a step (or use type int or categorical)"
        ],
    ),
    (
        "maxTrials missing",
        manifest(limits={"maxTrials": REMOVE}),
        ["spec.limits.maxTrials: required for strategy random (only grid has a default)"],
    ),
    (
        "maxTrials missing for bayesian",
        manifest(algorithm="bayesian", limits={"maxTrials": REMOVE}),
        ["spec.limits.maxTrials: required for strategy bayesian (only grid has a default)"],
    ),
    (
        "maxTrials zero",
        tweak(manifest(), "spec.limits.maxTrials", 0),
        ["spec.limits.maxTrials: must be >= 1 (got 0)"],
    ),
    (
        "categorical with min",
        tweak(manifest(), "spec.parameters[2].min", 1),
        ["spec.parameters[2].min: not allowed for type categorical"],
    ),
    (
        "categorical with scale",
        tweak(manifest(), "spec.parameters[2].scale", "linear"),
        ["spec.parameters[2].scale: not allowed for type categorical"],
    ),
    (
        "categorical without values",
        tweak(manifest(), "spec.parameters[2].values", REMOVE),
        ["spec.parameters[2].values: required for type categorical (at least one value)"],
    ),
    (
        "categorical duplicate",
        tweak(manifest(), "spec.parameters[2].values", ["a", "b", "a"]),
        ["spec.parameters[2].values[2]: duplicate value 'a'"],
    ),
    (
        "float with values",
        tweak(manifest(), "spec.parameters[0].values", [0.1, 0.2]),
        ["spec.parameters[0].values: not allowed for type float (use min and max)"],
    ),
    (
        "float without max",
        tweak(manifest(), "spec.parameters[0].max", REMOVE),
        ["spec.parameters[0].max: required for type float"],
    ),
    (
        "infinite bound",
        tweak(manifest(), "spec.parameters[0].max", float("inf")),
        ["spec.parameters[0].max: must be finite (got inf)"],
    ),
    (
        "int with fractional min",
        tweak(manifest(), "spec.parameters[1].min", 1.5),
        ["spec.parameters[1].min: must be a whole number for type int (got 1.5)"],
    ),
    (
        "int with fractional max",
        tweak(manifest(), "spec.parameters[1].max", 4.5),
        ["spec.parameters[1].max: must be a whole number for type int (got 4.5)"],
    ),
    (
        "int with fractional step",
        tweak(manifest(), "spec.parameters[1].step", 0.5),
        ["spec.parameters[1].step: must be a whole number for type int (got 0.5)"],
    ),
    (
        "min equals max",
        tweak(manifest(), "spec.parameters[0].min", 1.0),
        ["spec.parameters[0].max: must be greater than min (1.0 <= 1.0)"],
    ),
    (
        "negative step",
        tweak(manifest(), "spec.parameters[0].step", -0.1),
        ["spec.parameters[0].step: must be > 0.0 (got -0.1)"],
    ),
    (
        "step larger than the range",
        tweak(manifest(), "spec.parameters[1].step", 5),
        ["spec.parameters[1].step: must not exceed max - min (5.0 > 4.0)"],
    ),
    (
        "log float with step",
        params({"name": "a", "type": "float", "min": 0.1, "max": 1.0, "scale": "log", "step": 0.1}),
        ["spec.parameters[0].step: not supported with scale log (only step 1 for int)"],
    ),
    (
        "log int with step 2",
        params({"name": "a", "type": "int", "min": 1, "max": 64, "scale": "log", "step": 2}),
        ["spec.parameters[0].step: not supported with scale log (only step 1 for int)"],
    ),
    (
        "reverseLog up to 1",
        params({"name": "m", "type": "float", "min": 0.5, "max": 1.0, "scale": "reverseLog"}),
        ["spec.parameters[0].max: reverseLog needs 0 <= min < max < 1 (got min 0.5, max 1.0)"],
    ),
    (
        "reverseLog below 0",
        params({"name": "m", "type": "float", "min": -0.5, "max": 0.9, "scale": "reverseLog"}),
        ["spec.parameters[0].min: reverseLog needs 0 <= min < max < 1 (got min -0.5, max 0.9)"],
    ),
    (
        "reverseLog with step",
        params(
            {
                "name": "m",
                "type": "float",
                "min": 0.5,
                "max": 0.9,
                "scale": "reverseLog",
                "step": 0.1,
            }
        ),
        ["spec.parameters[0].step: not supported with scale reverseLog"],
    ),
    (
        "reverseLog int",
        params({"name": "m", "type": "int", "min": 0, "max": 1, "scale": "reverseLog"}),
        [
            "spec.parameters[0].scale: reverseLog is only for type float",
            "spec.parameters[0].max: reverseLog needs 0 <= min < max < 1 (got min 0.0, max 1.0)",
        ],
    ),
    (
        "duplicate parameter names",
        params(
            {"name": "a", "type": "int", "min": 0, "max": 3},
            {"name": "a", "type": "float", "min": 0, "max": 3},
        ),
        ["spec.parameters[1].name: duplicate parameter name 'a'"],
    ),
    (
        "parameter name pattern",
        params({"name": "learning-rate", "type": "float", "min": 0.0, "max": 1.0}),
        ["spec.parameters[0].name: must match ^[A-Za-z_][A-Za-z0-9_]*$ (got 'learning-rate')"],
    ),
    (
        "no parameters",
        tweak(manifest(), "spec.parameters", []),
        ["spec.parameters: must have at least 1 item(s)"],
    ),
    (
        "51 parameters",
        manifest(
            parameters=[{"name": f"p{i}", "type": "int", "min": 0, "max": 1} for i in range(51)]
        ),
        ["spec.parameters: must have at most 50 item(s)"],
    ),
    (
        "regex that does not compile",
        manifest(metrics={"definitions": [{"name": "loss", "regex": "loss=([0-9.]+"}]}),
        [
            f"{DEF}.regex: not a valid regular expression: missing ): loss=([0-9.]+ "
            "(RE2 syntax: no backreferences or lookaround)"
        ],
    ),
    (
        "regex without a group",
        manifest(metrics={"definitions": [{"name": "loss", "regex": "loss=[0-9.]+"}]}),
        [f"{DEF}.regex: must have exactly one capture group (has 0)"],
    ),
    (
        "regex with two groups",
        manifest(metrics={"definitions": [{"name": "loss", "regex": "(loss)=([0-9.]+)"}]}),
        [f"{DEF}.regex: must have exactly one capture group (has 2)"],
    ),
    (
        "empty regex",
        manifest(metrics={"definitions": [{"name": "loss", "regex": ""}]}),
        [f"{DEF}.regex: string should have at least 1 character"],
    ),
    (
        "duplicate definitions",
        manifest(
            metrics={
                "definitions": [
                    {"name": "loss", "regex": "loss=(.+)"},
                    {"name": "loss", "regex": "l=(.+)"},
                ]
            }
        ),
        ["spec.metrics.definitions[1].name: duplicate metric 'loss'"],
    ),
    (
        "format regex without definitions",
        manifest(metrics={"format": "regex"}),
        ["spec.metrics.definitions: format regex needs a definition for metric 'loss'"],
    ),
    (
        "format regex missing an additional metric",
        manifest(
            objective={"additionalMetrics": ["acc"]},
            metrics={"format": "regex", "definitions": [{"name": "loss", "regex": "l=(.*)"}]},
        ),
        ["spec.metrics.definitions: format regex needs a definition for metric 'acc'"],
    ),
    (
        "prometheus without queries",
        manifest(metrics={"source": "prometheus"}),
        ["spec.metrics.prometheus.queries: source prometheus needs a query for metric 'loss'"],
    ),
    (
        "prometheus query with an unknown variable",
        manifest(
            metrics={
                "source": "prometheus",
                "prometheus": {
                    "queries": [{"metric": "loss", "query": 'loss{trial="${trial.nmae}"}'}]
                },
            }
        ),
        [
            "spec.metrics.prometheus.queries[0].query: unknown variable ${trial.nmae}; known: "
            "${trial.name}, ${trial.number}, ${trial.namespace}, ${trial.pod}, ${tuningjob}"
        ],
    ),
    (
        "unknown placeholder",
        manifest(containers=[container(command=["python", "t.py", "--lr=${params.unknown}"])]),
        [f"{TEMPLATE_POD}.containers[0].command[2]: ${{params.unknown}} names no parameter"],
    ),
    (
        "placeholder in env",
        manifest(containers=[container(env=[{"name": "LR", "value": "${params.lr}"}])]),
        [f"{TEMPLATE_POD}.containers[0].env[0].value: ${{params.lr}} names no parameter"],
    ),
    (
        "restartPolicy Always",
        manifest(pod={"restartPolicy": "Always"}),
        [f"{TEMPLATE_POD}.restartPolicy: must be Never or OnFailure for a Job (got 'Always')"],
    ),
    (
        "no containers",
        manifest(containers=[]),
        [f"{TEMPLATE_POD}.containers: required (at least one container)"],
    ),
    (
        "container without a name",
        manifest(containers=[{"image": "x", "command": ["true"]}]),
        [f"{TEMPLATE_POD}.containers[0].name: required"],
    ),
    (
        "no pod template",
        tweak(manifest(), "spec.trialTemplate.spec.template", REMOVE),
        [f"{TEMPLATE_POD}: required (a pod spec)"],
    ),
    (
        "unknown primary container",
        tweak(manifest(), "spec.trialTemplate.primaryContainer", "sidecar"),
        ["spec.trialTemplate.primaryContainer: no container named 'sidecar' (containers: train)"],
    ),
    (
        "unknown bayesian setting",
        manifest(algorithm="bayesian", settings={"popsize": 8}),
        ["spec.strategy.settings.popsize: unknown field"],
    ),
    (
        "random takes no settings",
        manifest(settings={"nStartupTrials": 5}),
        ["spec.strategy.settings.nStartupTrials: unknown field"],
    ),
    (
        "grid takes no settings",
        manifest(
            algorithm="grid",
            settings={"shuffle": True},
            parameters=[{"name": "n", "type": "int", "min": 1, "max": 3}],
        ),
        ["spec.strategy.settings.shuffle: unknown field"],
    ),
    (
        "gp has no multivariate",
        manifest(algorithm="gp", settings={"multivariate": True}),
        ["spec.strategy.settings.multivariate: unknown field"],
    ),
    (
        "bad setting values",
        manifest(algorithm="cmaes", settings={"sigma0": 0, "popsize": 1}),
        [
            "spec.strategy.settings.sigma0: must be > 0.0 (got 0)",
            "spec.strategy.settings.popsize: must be >= 2 (got 1)",
        ],
    ),
    (
        "negative startup trials",
        manifest(algorithm="bayesian", settings={"nStartupTrials": -1}),
        ["spec.strategy.settings.nStartupTrials: must be >= 0 (got -1)"],
    ),
    (
        "seed out of range",
        tweak(manifest(), "spec.strategy.seed", 2**32),
        ["spec.strategy.seed: must be <= 4294967295 (got 4294967296)"],
    ),
    (
        "parallelTrials zero",
        tweak(manifest(), "spec.limits.parallelTrials", 0),
        ["spec.limits.parallelTrials: must be >= 1 (got 0)"],
    ),
    (
        "fractional maxTrials",
        tweak(manifest(), "spec.limits.maxTrials", 2.5),
        ["spec.limits.maxTrials: must be an integer (got 2.5)"],
    ),
    (
        "duplicate additional metric",
        manifest(objective={"additionalMetrics": ["acc", "loss"]}),
        ["spec.objective.additionalMetrics[1]: duplicate metric 'loss'"],
    ),
    (
        "infinite target",
        manifest(objective={"target": float("-inf")}),
        ["spec.objective.target: must be finite (got -inf)"],
    ),
    (
        "missing objective",
        tweak(manifest(), "spec.objective", REMOVE),
        ["spec.objective: required (or spec.objectives, for 2-4 metrics)"],
    ),
    (
        "missing metric",
        tweak(manifest(), "spec.objective.metric", REMOVE),
        ["spec.objective.metric: required"],
    ),
    (
        "metadata name",
        tweak(manifest(), "metadata.name", "My_Tuning"),
        ["metadata.name: must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ (got 'My_Tuning')"],
    ),
    (
        "apiVersion",
        tweak(manifest(), "apiVersion", "kubetune.io/v1"),
        ["apiVersion: must be one of 'kubetune.io/v1alpha1' (got 'kubetune.io/v1')"],
    ),
    ("kind", tweak(manifest(), "kind", "Job"), ["kind: must be one of 'TuningJob' (got 'Job')"]),
    (
        "hyperband resources",
        tweak(
            manifest(),
            "spec.earlyStopping",
            {"algorithm": "hyperband", "minResource": 4, "maxResource": 2},
        ),
        ["spec.earlyStopping.maxResource: must be greater than minResource (2 <= 4)"],
    ),
    (
        "percentile out of range",
        tweak(manifest(), "spec.earlyStopping", {"algorithm": "percentile", "percentile": 100}),
        ["spec.earlyStopping.percentile: must be < 100.0 (got 100)"],
    ),
]


@pytest.mark.parametrize(
    ("document", "expected"),
    [pytest.param(document, expected, id=label) for label, document, expected in BAD_MANIFESTS],
)
def test_bad_manifest_is_reported_with_path_and_message(
    document: dict[str, Any], expected: list[str]
) -> None:
    assert errors_of(document) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, True], "values[1]: duplicate value True (equals 1; quote one)"),
        ([0, False], "values[1]: duplicate value False (equals 0; quote one)"),
        ([1, 1.0], "values[1]: duplicate value 1.0 (equals 1; quote one)"),
        (["a", 3, 3.0], "values[2]: duplicate value 3.0 (equals 3; quote one)"),
    ],
)
def test_categorical_values_equal_across_types_are_duplicates(
    values: list[Any], expected: str
) -> None:
    """Optuna stores a categorical choice as the index of the first *equal* choice, so
    ``[1, true]`` would record (and launch) 1 whenever true is drawn; such lists are refused."""
    errors = errors_of(params({"name": "c", "type": "categorical", "values": values}))
    assert errors == [f"spec.parameters[0].{expected}"]


def test_categorical_values_of_different_types_that_differ_are_kept() -> None:
    document = params({"name": "c", "type": "categorical", "values": [1, "1", 2.5, False]})
    assert parse_tuningjob(document).spec.parameters[0].values == [1, "1", 2.5, False]


def test_categorical_value_must_be_finite() -> None:
    document = params({"name": "c", "type": "categorical", "values": [0.5, float("nan")]})
    assert errors_of(document) == ["spec.parameters[0].values[1]: must be finite (got nan)"]


# --- several problems at once ---------------------------------------------------------------


def test_every_semantic_error_is_reported_at_once() -> None:
    document = manifest(
        parameters=[
            {"name": "lr", "type": "float", "min": 0.0, "max": 1.0, "scale": "log"},
            {"name": "depth", "type": "int", "min": 1.5, "max": 8},
            {"name": "lr", "type": "categorical", "values": ["a"], "min": 0},
        ],
        limits={"maxTrials": REMOVE},
        metrics={"format": "regex"},
        pod={"restartPolicy": "Always"},
        containers=[container(command=["run", "${params.nope}"])],
    )
    assert errors_of(document) == [
        "spec.parameters[0].min: must be > 0 for scale log (got 0.0)",
        "spec.parameters[1].min: must be a whole number for type int (got 1.5)",
        "spec.parameters[2].name: duplicate parameter name 'lr'",
        "spec.parameters[2].min: not allowed for type categorical",
        "spec.limits.maxTrials: required for strategy random (only grid has a default)",
        "spec.metrics.definitions: format regex needs a definition for metric 'loss'",
        f"{TEMPLATE_POD}.restartPolicy: must be Never or OnFailure for a Job (got 'Always')",
        f"{TEMPLATE_POD}.containers[0].command[1]: ${{params.nope}} names no parameter",
    ]


def test_every_structural_error_is_reported_at_once() -> None:
    document = tweak(manifest(), "spec.objective.direction", "up")
    document = tweak(document, "spec.limits.maxRuntime", "forever")
    document = tweak(document, "spec.parameters[1].colour", "red")
    document = tweak(document, "spec.trialTemplate", REMOVE)
    errors = errors_of(document)
    assert sorted(errors) == sorted(
        [
            "spec.objective.direction: must be one of 'minimize' or 'maximize' (got 'up')",
            "spec.parameters[1].colour: unknown field",
            "spec.limits.maxRuntime: must be a duration such as 90s, 30m, 2h or 1h30m "
            "(got 'forever')",
            "spec.trialTemplate: required",
        ]
    )


# Structural errors (pydantic) and cross-field errors together: a manifest with both kinds lists
# all of them in one go, so fixing the first list does not reveal a second one.
MIXED = manifest(
    parameters=[
        {"name": "lr", "type": "float", "min": 0.0, "max": 1.0, "scale": "log"},
        {"name": "depth", "type": "int", "min": 1, "max": 8, "scale": "sideways"},
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0, "step": 0.1},
        {"name": "drop", "type": "float", "min": 0.0, "max": 0.5},
    ],
    algorithm="grid",
    settings={"nStartupTrials": 5},
    limits={"maxTrials": 0, "trialTimeout": "5x", "maxRuntime": "0s"},
    metrics={"definitions": [{"name": "loss", "regex": "loss=([0-9.]+"}]},
    containers=[container(command=["run", "${params.lr}", "${params.depth}", "${params.zz}"])],
)
MIXED_STRUCTURAL = [
    "spec.parameters[1].scale: must be one of 'linear', 'log', 'reverseLog' or 'auto' "
    "(got 'sideways')",
    "spec.limits.maxTrials: must be >= 1 (got 0)",
    "spec.limits.trialTimeout: must be a duration such as 90s, 30m, 2h or 1h30m (got '5x')",
]
MIXED_SEMANTIC = [
    "spec.parameters[0].min: must be > 0 for scale log (got 0.0)",
    "spec.strategy.settings.nStartupTrials: unknown field",
    "spec.parameters[0].step: grid search needs a finite space: float parameter 'lr' needs a "
    "step (or use type int or categorical)",
    "spec.parameters[3].step: grid search needs a finite space: float parameter 'drop' needs a "
    "step (or use type int or categorical)",
    "spec.limits.maxRuntime: must be longer than zero (got '0s')",
    f"{DEF}.regex: not a valid regular expression: missing ): loss=([0-9.]+ "
    "(RE2 syntax: no backreferences or lookaround)",
    f"{TEMPLATE_POD}.containers[0].command[3]: ${{params.zz}} names no parameter",
]


def test_structural_and_semantic_errors_are_reported_together() -> None:
    assert errors_of(MIXED) == MIXED_STRUCTURAL + MIXED_SEMANTIC


def test_fixing_the_structural_errors_reveals_nothing_new() -> None:
    fixed = tweak(MIXED, "spec.parameters[1].scale", "linear")
    fixed = tweak(fixed, "spec.limits.maxTrials", 4)
    fixed = tweak(fixed, "spec.limits.trialTimeout", "5m")
    assert errors_of(fixed) == MIXED_SEMANTIC


def test_kubetune_validate_prints_both_kinds(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(MIXED, sort_keys=False))

    result = CliRunner().invoke(cli, ["validate", str(path)])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: {error}" for error in MIXED_STRUCTURAL + MIXED_SEMANTIC
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            tweak(manifest(), "spec.parameters[0].min", "zero"),
            ["spec.parameters[0].min: must be a number (got 'zero')"],
            id="a broken min is not reported as missing",
        ),
        pytest.param(
            tweak(manifest(), "spec.parameters[0].type", "double"),
            [
                "spec.parameters[0].type: must be one of 'float', 'int' or 'categorical' (got "
                "'double')"
            ],
            id="a parameter of unknown type is still a parameter its placeholder may name",
        ),
        pytest.param(
            tweak(manifest(), "spec.parameters", {"x": {}}),
            ["spec.parameters: must be a list (got {'x': {}})"],
            id="no list of parameters: placeholders are not checked",
        ),
        pytest.param(
            tweak(
                manifest(algorithm="grid", limits={"maxTrials": REMOVE}),
                "spec.strategy.algorithm",
                "gird",
            ),
            [
                "spec.strategy.algorithm: must be one of 'random', 'grid', 'bayesian', 'gp' or "
                "'cmaes' (got 'gird')"
            ],
            id="an unknown algorithm has no settings or maxTrials rules",
        ),
        pytest.param(
            manifest(metrics={"format": "regex", "definitions": [{"name": "loss", "regex": ""}]}),
            [f"{DEF}.regex: string should have at least 1 character"],
            id="a broken definition is not reported as missing",
        ),
        pytest.param(
            manifest(metrics={"source": "prometheus", "prometheus": {"url": "ftp://p"}}),
            ["spec.metrics.prometheus.url: must match ^https?:// (got 'ftp://p')"],
            id="broken prometheus settings are not reported as missing queries",
        ),
        pytest.param(
            tweak(
                tweak(manifest(), "spec.trialTemplate.primaryContainer", 3),
                "spec.earlyStopping",
                {"algorithm": "hyperband", "minResource": 4, "maxResource": 2, "x": 1},
            ),
            [
                "spec.earlyStopping.x: unknown field",
                "spec.trialTemplate.primaryContainer: must be a string (got 3)",
                "spec.earlyStopping.maxResource: must be greater than minResource (2 <= 4)",
            ],
            id="an unknown field does not hide the rules of its section",
        ),
        pytest.param(
            tweak(manifest(), "spec", "all of it"),
            ["spec: must be a mapping (got 'all of it')"],
            id="spec not a mapping",
        ),
    ],
)
def test_checks_skip_what_failed_structurally(document: Any, expected: list[str]) -> None:
    """A rule whose inputs did not validate stays silent: no second message for one mistake."""
    assert errors_of(document) == expected


@pytest.mark.parametrize("document", [["a", "list"], "text", 42, None])
def test_a_non_mapping_is_an_error_not_a_crash(document: Any) -> None:
    [message] = errors_of(document)
    assert message.startswith("a TuningJob must be a mapping, got ")


def test_spec_error_renders_its_source() -> None:
    error = SpecError([FieldError("spec.a", "bad"), FieldError("", "whole thing")])
    assert str(error) == "spec.a: bad\nwhole thing"
    assert str(error.with_source("f.yaml")) == "f.yaml: spec.a: bad\nf.yaml: whole thing"


def test_parsed_job_is_immutable() -> None:
    job = parse_tuningjob(manifest())
    assert isinstance(job, TuningJob)
    with pytest.raises(ValueError, match="frozen"):
        job.spec.limits.max_trials = 3  # type: ignore[misc]
