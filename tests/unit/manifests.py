"""TuningJob manifests for unit tests: valid ones to start from, and a way to tweak one field.

``manifest()`` is a small valid TuningJob (a dict, as a user would write it) with keyword
arguments for the parts tests vary most; ``api_example()`` is the full example of API.md with
every field set. ``tweak(manifest, "spec.parameters[1].min", 0)`` returns a changed deep copy,
so a parametrized test can start from a valid manifest and break exactly one thing.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from kubetune.api import TuningJob, TuningJobSpec, parse_tuningjob

# The example of /work/shared/API.md (the product's contract), status filled in with real values.
API_EXAMPLE_YAML = """\
apiVersion: kubetune.io/v1alpha1
kind: TuningJob
metadata: {name: gbm-diabetes, namespace: ml}
spec:
  objective:
    metric: validation-rmse
    direction: minimize
    target: 50.0
    additionalMetrics: [train-rmse]
  parameters:
    - {name: learning_rate, type: float, min: 0.001, max: 0.5, scale: log}
    - {name: max_depth, type: int, min: 2, max: 8}
    - {name: subsample, type: float, min: 0.5, max: 1.0}
    - {name: loss, type: categorical, values: [squared_error, huber]}
  strategy:
    algorithm: bayesian
    seed: 7
    settings: {}
  earlyStopping:
    algorithm: none
    startStep: 3
  limits:
    maxTrials: 40
    parallelTrials: 4
    maxFailedTrials: 3
    maxRuntime: 2h
    trialTimeout: 30m
    pendingTimeout: 10m
    stopAfterTrialsWithoutImprovement: 10
  metrics:
    source: logs
    format: auto
    definitions:
      - {name: validation-rmse, regex: 'validation-rmse:([-+0-9.eE]+)'}
      - {name: train-rmse, regex: 'train-rmse:([-+0-9.eE]+)'}
    objectiveValue: last
    prometheus: {}
  trialTemplate:
    primaryContainer: train
    metadata: {labels: {}, annotations: {}}
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}
          tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
          containers:
            - name: train
              image: ghcr.io/example/gbm:1.0
              # API.md writes this as a flow list, which is not valid YAML: "{" of "${...}"
              # opens a flow mapping there. Block style (or quoting) is what users must write.
              command:
                - python
                - train.py
                - --learning-rate=${params.learning_rate}
                - --max-depth=${params.max_depth}
              resources: {limits: {nvidia.com/gpu: 1}}
status:
  conditions:
    - {type: Complete, status: "True", reason: MaxTrialsReached, message: "40 trials ran",
       lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1}
  observedGeneration: 1
  trials: {active: 0, succeeded: 37, failed: 1, pruned: 2, total: 40}
  bestTrial:
    name: gbm-diabetes-17
    number: 17
    parameters: {learning_rate: 0.042, max_depth: 4, subsample: 0.83, loss: huber}
    objective: 52.31
    metrics: {validation-rmse: 52.31, train-rmse: 41.02}
  startTime: "2026-01-01T00:00:00Z"
  completionTime: "2026-01-01T01:00:00Z"
"""

DEFAULT_PARAMETERS: tuple[dict[str, Any], ...] = (
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "n", "type": "int", "min": 1, "max": 5},
    {"name": "kind", "type": "categorical", "values": ["a", "b"]},
)

# Marks a field to delete in ``tweak``.
REMOVE = object()


def api_example() -> dict[str, Any]:
    """The full API.md example as a fresh dict (every field of the API set)."""
    document: dict[str, Any] = yaml.safe_load(API_EXAMPLE_YAML)
    return document


def container(
    name: str = "train", command: Sequence[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A trial container whose command uses every default parameter."""
    default = ["python", "train.py", "--x=${params.x}", "--n=${params.n}", "--kind=${params.kind}"]
    return {
        "name": name,
        "image": "example.com/train:1",
        "command": list(default if command is None else command),
        **extra,
    }


def manifest(
    *,
    name: str = "tune",
    parameters: Sequence[Mapping[str, Any]] | None = None,
    algorithm: str = "random",
    seed: int | None = 7,
    settings: Mapping[str, Any] | None = None,
    objective: Mapping[str, Any] | None = None,
    limits: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    containers: Sequence[Mapping[str, Any]] | None = None,
    pod: Mapping[str, Any] | None = None,
    job_spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A small valid TuningJob; each argument replaces (or extends) one part of it.

    ``limits`` and ``objective`` are merged over the defaults; ``limits={"maxTrials": REMOVE}``
    drops a default. When ``parameters`` are given without ``containers``, the container runs a
    command without placeholders, so any parameter list is valid on its own.
    """
    if containers is None:
        containers = [container()] if parameters is None else [container(command=["true"])]
    strategy: dict[str, Any] = {"algorithm": algorithm}
    if seed is not None:
        strategy["seed"] = seed
    if settings is not None:
        strategy["settings"] = dict(settings)
    spec: dict[str, Any] = {
        "objective": _merged({"metric": "loss", "direction": "minimize"}, objective),
        "parameters": copy.deepcopy(list(parameters or DEFAULT_PARAMETERS)),
        "strategy": strategy,
        "limits": _merged({"maxTrials": 10}, limits),
        "trialTemplate": {
            "spec": {
                **(job_spec or {}),
                "template": {
                    "spec": {**(pod or {}), "containers": copy.deepcopy(list(containers))}
                },
            }
        },
    }
    if metrics is not None:
        spec["metrics"] = dict(metrics)
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def _merged(base: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = {**base, **(extra or {})}
    return {key: value for key, value in merged.items() if value is not REMOVE}


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [key if key else int(index) for key, index in _PART.findall(path)]


def tweak(document: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with the field at ``path`` set (or removed with REMOVE).

    Paths are written as error messages write them: ``spec.parameters[1].min``. Missing
    mappings on the way are created.
    """
    result = copy.deepcopy(dict(document))
    steps = _steps(path)
    node: Any = result
    for step, following in itertools.pairwise(steps):
        if isinstance(step, str) and step not in node:
            node[step] = [] if isinstance(following, int) else {}
        node = node[step]
    last = steps[-1]
    if value is REMOVE:
        del node[last]
    else:
        node[last] = value
    return result


def job(document: Mapping[str, Any] | None = None, **options: Any) -> TuningJob:
    """A parsed TuningJob: ``document`` if given, else ``manifest(**options)``."""
    return parse_tuningjob(document if document is not None else manifest(**options))


def spec(document: Mapping[str, Any] | None = None, **options: Any) -> TuningJobSpec:
    return job(document, **options).spec
