"""What the benchmarks share: the machine they ran on, TuningJob manifests, finished trials for
the in-memory backends, and the scikit-learn diabetes data.

Only the standard library is imported here at module level: ``kubetune`` and scikit-learn are
imported where they are used, and PyTorch never (its version comes from the package metadata),
so importing this module changes nothing that the benchmarks time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# Reported by ``machine()`` when installed, in this order: distribution name -> printed name.
PACKAGES = {"optuna": "Optuna", "torch": "torch", "greenlet": "greenlet", "kopf": "kopf"}
# A trial container for backends that never run it (the template is validated, not used).
NOOP_CONTAINER: Mapping[str, Any] = {"name": "t", "image": "x"}


# ---- the machine -----------------------------------------------------------------------------
def machine() -> dict[str, str]:
    """Cores, CPU model, Python and the versions of the installed ``PACKAGES`` (a package that
    is not installed is left out). Nothing is imported: versions come from package metadata."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as lines:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    info = {"cores": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            info[package] = version(package)
    return info


def describe(info: Mapping[str, str]) -> str:
    """``machine()`` as the one line the scripts print first: ``machine: 2 cores, <CPU>;
    Python 3.11.7, Optuna 5.0.0, torch 2.13.0+cpu, ...``."""
    versions = "".join(
        f", {shown} {info[package]}" for package, shown in PACKAGES.items() if package in info
    )
    return f"machine: {info['cores']} cores, {info['cpu']}; Python {info['python']}{versions}"


# ---- TuningJob manifests -----------------------------------------------------------------------
def tuningjob(
    name: str,
    parameters: Sequence[Mapping[str, Any]],
    *,
    metric: str,
    trials: int,
    parallel: int,
    algorithm: str = "random",
    seed: int | None = None,
    settings: Mapping[str, Any] | None = None,
    target: float | None = None,
    early_stopping: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    container: Mapping[str, Any] = NOOP_CONTAINER,
) -> dict[str, Any]:
    """A TuningJob (``direction: minimize``) with one trial container: the keys left out of the
    arguments (``seed``, ``target``, ``early_stopping``, ``namespace``) are left out of it."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    objective: dict[str, Any] = {"metric": metric, "direction": "minimize"}
    if target is not None:
        objective["target"] = target
    strategy: dict[str, Any] = {"algorithm": algorithm}
    if seed is not None:
        strategy["seed"] = seed
    strategy["settings"] = dict(settings or {})
    spec: dict[str, Any] = {
        "objective": objective,
        "parameters": [dict(parameter) for parameter in parameters],
        "strategy": strategy,
    }
    if early_stopping is not None:
        spec["earlyStopping"] = dict(early_stopping)
    spec["limits"] = {"maxTrials": trials, "parallelTrials": parallel}
    spec["trialTemplate"] = {"spec": {"template": {"spec": {"containers": [dict(container)]}}}}
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": metadata,
        "spec": spec,
    }


# ---- trials of the in-memory backends ----------------------------------------------------------
def metric_series(metric: str, curve: Sequence[float]) -> Any:
    """A ``MetricSeries`` of one metric: ``curve[step]`` reported at each step."""
    from kubetune.metrics.logs import MetricSeries, Observation

    series = MetricSeries()
    for step, value in enumerate(curve):
        series.add(Observation(metric, step, value))
    return series


def succeeded(number: int, metric: str, curve: Sequence[float]) -> Any:
    """A ``RuntimeTrial`` that finished and reported ``curve`` (one value per step) of ``metric``:
    what a backend observes of a trial whose pod has completed."""
    from kubetune.controller.model import Phase, RuntimeTrial

    return RuntimeTrial(number, Phase.SUCCEEDED, metrics=metric_series(metric, curve))


# ---- data --------------------------------------------------------------------------------------
@functools.cache
def diabetes(holdout: float | None = None) -> tuple[Any, ...]:
    """scikit-learn's bundled diabetes data (442 patients, 10 features), loaded once per process:
    ``(features, target)``, or with ``holdout`` a fraction kept for validation,
    ``(x_train, x_valid, y_train, y_valid)`` (a fixed split, ``random_state=0``)."""
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True)
    if holdout is None:
        return features, target
    from sklearn.model_selection import train_test_split

    return tuple(train_test_split(features, target, test_size=holdout, random_state=0))
